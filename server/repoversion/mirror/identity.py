"""Release identity: is this validly signed Release the suite it is served as?

One key signs every suite of an archive, so a verified signature does not say which
distribution a Release describes: sid's InRelease served at ``dists/stable/`` verifies
too, and would make ``stable`` hold sid's packages. apt refuses that, and so does the
sync (:func:`check_identity`), refusing a Release when

- its ``Codename`` differs from the one last synced for that suite (apt refuses a changed
  Codename unless given ``--allow-releaseinfo-change``), or
- neither its ``Suite`` nor its ``Codename`` is the name the suite is configured as, the
  ``<name>`` of ``dists/<name>/`` (apt's own "conflicting distribution" check, which apt
  only warns about; here it also protects a first sync, which has nothing to compare).

A changed ``Suite`` alone is fine: on Debian's release day ``dists/bookworm/`` goes from
Suite ``stable`` to ``oldstable`` and keeps Codename ``bookworm``.
``sync --allow-releaseinfo-change ARCHIVE/SUITE`` (:func:`allowed_changes`) accepts both
for that suite in that sync, for a deliberate change such as a suite configured as
``stable`` on release day (Codename ``bookworm`` → ``trixie``).

>>> names_suite("stable", suite="stable", codename="trixie")
True
>>> names_suite("stable", suite="unstable", codename="sid")
False
>>> names_suite("bookworm/updates", suite="oldstable", codename="bookworm")
True
"""

from __future__ import annotations

from collections.abc import Iterable

from repoversion.archive.release import Release
from repoversion.errors import BadUpstream, InvalidInput
from repoversion.upstream.archives import ArchiveConf
from repoversion.versions.base import SuiteState

OPTION = "--allow-releaseinfo-change"


def allowed_changes(
    values: Iterable[str], archives: Iterable[ArchiveConf]
) -> frozenset[tuple[str, str]]:
    """The (archive, suite) pairs whose identity change a sync accepts.

    :param values: the ``--allow-releaseinfo-change`` values, each ``ARCHIVE/SUITE``.
    :param archives: the configured archives.
    :raises InvalidInput: a value is not ``ARCHIVE/SUITE`` or names no configured suite.
    """
    suites = {(a.name, s) for a in archives for s in a.suites}
    allowed: set[tuple[str, str]] = set()
    for value in values:
        # an archive name has no "/", a suite name may ("bookworm/updates")
        archive, _, suite = value.partition("/")
        if not archive or not suite:
            raise InvalidInput(f"{OPTION} {value!r} is not of the form ARCHIVE/SUITE.")
        if (archive, suite) not in suites:
            raise InvalidInput(
                f"{OPTION} {value!r} names no configured suite (see `repoversion archive list`)."
            )
        allowed.add((archive, suite))
    return frozenset(allowed)


def names_suite(configured: str, *, suite: str | None, codename: str | None) -> bool:
    """Whether a Release's Suite or Codename is the configured suite name.

    As apt's ``metaIndex::CheckDist``, a name with a ``/`` also matches on what precedes
    its last ``/`` (``bookworm/updates`` is Codename ``bookworm``).

    :param configured: the suite name, as in ``dists/<configured>/``.
    :param suite: the Release's Suite, if any.
    :param codename: the Release's Codename, if any.
    """
    claimed = {v for v in (suite, codename) if v}
    return configured in claimed or configured.rpartition("/")[0] in claimed


def check_identity(
    release: Release,
    what: str,
    archive: str,
    suite: str,
    last: SuiteState | None,
    *,
    allowed: bool = False,
) -> list[str]:
    """Refuse a Release that is not the suite it is served as (see the module docstring).

    :param release: the verified, parsed Release.
    :param what: names the file in messages (``debian: dists/stable/InRelease``).
    :param archive: the archive's name.
    :param suite: the configured suite name.
    :param last: the suite in the newest repoversion (None when it has none).
    :param allowed: ``--allow-releaseinfo-change`` names this suite.
    :returns: notices of changes accepted because ``allowed`` (for the sync's warnings).
    :raises BadUpstream: one sentence naming both values and the option accepting them.
    """
    problems: list[str] = []
    # a suite in the newest version has a Date exactly when it has a Release recorded
    if last is not None and last.date is not None and release.codename != last.codename:
        was = last.codename or "no Codename"
        problems.append(
            f"{what} says {_field('Codename', release.codename)}, but {was} was synced before"
        )
    if not names_suite(suite, suite=release.suite, codename=release.codename):
        problems.append(
            f"{what} says {_field('Suite', release.suite)} and "
            f"{_field('Codename', release.codename)}, neither of which is {suite}"
        )
    if problems and not allowed:
        raise BadUpstream(f"{problems[0]}; sync {OPTION} {archive}/{suite} accepts the change.")
    return [f"{p}; accepted by {OPTION} {archive}/{suite}." for p in problems]


def _field(name: str, value: str | None) -> str:
    return f"{name} {value}" if value else f"no {name}"
