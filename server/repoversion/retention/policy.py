"""What a garbage collection is asked to do: which versions to keep, the grace, a dry run.

The same parameters come from the command line (``repoversion gc``) and from the API
(``POST /api/v1/gc``, stored in the job); :meth:`Policy.from_params` checks them once for
both, and :meth:`Policy.to_params` is what the job stores.

>>> Policy.from_params({"keep": 3, "grace": "0"}).to_params()
{'keep': 3, 'keep_since': None, 'grace': '0', 'dry_run': False}
>>> parse_grace("90m"), parse_grace("0")
(datetime.timedelta(seconds=5400), datetime.timedelta(0))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from repoversion.config import parse_duration, parse_instant
from repoversion.errors import InvalidInput
from repoversion.timefmt import iso

#: unreferenced blobs younger than this survive (a writer's rows may not be committed yet)
DEFAULT_GRACE = "1h"
PARAMS = ("keep", "keep_since", "grace", "dry_run")


def parse_grace(text: str) -> timedelta:
    """``0`` (free at once) or a duration such as ``1h``, ``30m``, ``2d``.

    :raises InvalidInput: anything else.
    """
    text = str(text).strip()
    if text in ("0", "0s", "0m", "0h", "0d"):
        return timedelta(0)
    try:
        return parse_duration(text)
    except ValueError:
        raise InvalidInput(
            f"The grace must be 0 or a duration like 1h, 30m or 2d, got {text!r}."
        ) from None


def parse_since(text: str) -> datetime:
    """A date (``2026-01-31``, midnight UTC) or an instant (``2026-01-31T12:00:00Z``,
    ``20260131T120000Z``).

    :raises InvalidInput: anything else.
    """
    try:
        return parse_instant(str(text))
    except ValueError:
        raise InvalidInput(
            f"keep-since must be a date like 2026-01-31 or an instant like "
            f"2026-01-31T12:00:00Z, got {str(text)[:80]!r}."
        ) from None


@dataclass(frozen=True)
class Policy:
    """What to keep and what to free.

    :ivar keep: keep the newest ``keep`` versions (None: this rule keeps none).
    :ivar keep_since: keep the versions created at or after it (None: this rule keeps none).
    :ivar grace: unreferenced blobs written (or reused) within it are not freed.
    :ivar grace_text: the grace as given, for the report.
    :ivar dry_run: decide and count, change nothing.
    """

    keep: int | None = None
    keep_since: datetime | None = None
    grace: timedelta = timedelta(hours=1)
    grace_text: str = DEFAULT_GRACE
    dry_run: bool = False

    @classmethod
    def of(
        cls,
        keep: int | None = None,
        keep_since: str | None = None,
        grace: str | None = None,
        dry_run: bool = False,
    ) -> Policy:
        """The policy from values as a user gives them.

        :raises InvalidInput: ``keep`` is below 1, or a date or duration is malformed.
        """
        if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            raise InvalidInput(
                f"keep must be a whole number of versions, at least 1, got {keep!r}."
            )
        grace_text = DEFAULT_GRACE if grace is None else str(grace).strip()
        return cls(
            keep=keep,
            keep_since=parse_since(keep_since) if keep_since is not None else None,
            grace=parse_grace(grace_text),
            grace_text=grace_text,
            dry_run=bool(dry_run),
        )

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Policy:
        """The policy a job's (or a request's) parameters ask for.

        :raises InvalidInput: an unknown parameter, or a bad value.
        """
        unknown = sorted(set(params) - set(PARAMS))
        if unknown:
            raise InvalidInput(f"Unknown gc parameter {unknown[0]!r}.")
        dry_run = params.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise InvalidInput(f"dry_run must be true or false, got {dry_run!r}.")
        return cls.of(params.get("keep"), params.get("keep_since"), params.get("grace"), dry_run)

    def to_params(self) -> dict[str, Any]:
        """The parameters that give this policy back (what a job stores)."""
        return {
            "keep": self.keep,
            "keep_since": iso(self.keep_since) if self.keep_since is not None else None,
            "grace": self.grace_text,
            "dry_run": self.dry_run,
        }
