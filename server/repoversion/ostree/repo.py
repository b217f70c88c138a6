"""One archive-mode ostree repository, through the ``ostree`` command line.

Debian 12's libostree (2022.7) has no Python API for importing tar archives (PyGObject
skips ``import_archive_to_mtree``), so every operation runs the ``ostree`` program.
Commits are reproducible: a fixed ``--timestamp=@N`` (``--timestamp=0`` would mean today's
midnight), no parent, and only the metadata given. Commits and the summary are signed with
GPG (this ostree has no ed25519 signing): the server's key, from its private GnuPG home.

Several processes may commit at once (ostree stages each transaction apart); the summary,
rewritten from every ref, is updated by one process at a time under an ``flock``.

>>> valid_ref("dpkg/data/" + "0" * 64), valid_ref("../x"), valid_ref("a//b")
(True, False, False)
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from repoversion.errors import InvalidInput, OstreeError
from repoversion.serving.locks import file_lock

if TYPE_CHECKING:
    from repoversion.archive.signing import Signer
    from repoversion.context import Context

#: ostree's own rule for ref names (``ostree_validate_rev``), one segment at a time
_SEGMENT = re.compile(r"[\w\d][-._\w\d]*")
#: the lock file serialising summary updates, inside the repository (never served)
SUMMARY_LOCK = ".repoversion-summary.lock"
#: a tree read from the commit's standard input (:meth:`Repo.commit` with ``stdin``)
STDIN_TAR = "tar=/dev/stdin"


def valid_ref(ref: str) -> bool:
    """Whether ``ref`` is a branch name ostree accepts (``a/b-c.d_e``), so it names a file
    under ``refs/heads/`` and never leaves it."""
    return bool(ref) and all(_SEGMENT.fullmatch(part) for part in ref.split("/"))


@dataclass(frozen=True)
class GpgKey:
    """Who signs: a key id (fingerprint) and the GnuPG home holding its secret key."""

    key_id: str
    homedir: Path

    def args(self) -> list[str]:
        return [f"--gpg-sign={self.key_id}", f"--gpg-homedir={self.homedir}"]


class Repo:
    """An archive-mode ostree repository at ``path``.

    :param path: the repository's directory (created by :meth:`ensure`).
    :param signer: signs commits and the summary (None: nothing is signed).
    """

    def __init__(self, path: Path, signer: Callable[[], GpgKey | None] | None = None) -> None:
        self.path = path
        self._signer = signer or (lambda: None)

    # -- the repository -------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the repository (``archive`` mode) unless it exists; safe to race."""
        if (self.path / "config").is_file():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path / SUMMARY_LOCK):
            if not (self.path / "config").is_file():
                self.run("init", "--mode=archive")

    def run(self, *args: str, stdin: bytes | IO[bytes] | None = None) -> str:
        """Run ``ostree ARGS --repo=PATH`` and return its standard output.

        :param stdin: its standard input: bytes, or an open file (read from where it is).
        :raises OstreeError: it failed (its own message in the sentence).
        """
        cmd = ["ostree", *args[:1], f"--repo={self.path}", *args[1:]]
        data, source = (stdin, None) if isinstance(stdin, bytes) else (None, stdin)
        try:
            proc = subprocess.run(cmd, input=data, stdin=source, capture_output=True, check=False)
        except OSError as exc:
            raise OstreeError(f"Cannot run ostree: {exc.strerror}.") from None
        if proc.returncode != 0:
            raise OstreeError(_failure(args[0], proc.stderr))
        return proc.stdout.decode("utf-8", "replace")

    def rev_parse(self, ref: str) -> str | None:
        """The commit ``ref`` points at, or None when there is no such ref.

        A plain branch name is read from ``refs/heads/`` (as a static HTTP client reads
        it), anything else (``REF^``, a checksum prefix) through ``ostree rev-parse``.
        """
        if valid_ref(ref):
            try:
                return (self.path / "refs" / "heads" / ref).read_text().strip() or None
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
        try:
            return self.run("rev-parse", ref).strip()
        except OstreeError as exc:
            if "not found" in exc.message:
                return None
            raise

    def refs(self, prefix: str = "") -> list[str]:
        """Every local ref (under ``prefix``, e.g. ``dpkg/data``), sorted."""
        args = ["refs", prefix] if prefix else ["refs"]
        return sorted(line for line in self.run(*args).splitlines() if line)

    # -- writing --------------------------------------------------------------------------
    def commit(
        self,
        *,
        ref: str | None,
        trees: Sequence[str],
        subject: str,
        metadata: Mapping[str, str] = {},
        timestamp: int = 0,
        stdin: bytes | IO[bytes] | None = None,
        bindings: bool = True,
        extra: Sequence[str] = (),
    ) -> str:
        """Commit the union of ``trees`` (``tar=FILE``, ``dir=PATH``, ``ref=COMMIT``, in
        order, later ones winning) and point ``ref`` at it (``None``: an orphan commit).

        :param subject: the commit's one-line subject.
        :param metadata: string metadata (``--add-metadata-string``).
        :param timestamp: seconds since the epoch (fixed, so the checksum is reproducible).
        :param stdin: what a :data:`STDIN_TAR` tree reads: bytes or a file.
        :param bindings: bind the commit to ``ref`` (``ostree.ref-binding``); False adds
            ``--no-bindings``.
        :param extra: more ``ostree commit`` options (``--owner-uid=0``, …).
        :returns: the commit's checksum.
        :raises OstreeError: ostree refused (nothing committed).
        """
        args = ["commit", "--parent=none", f"--timestamp=@{int(timestamp)}", f"--subject={subject}"]
        if ref is None:
            args.append("--orphan")
        else:
            if not valid_ref(ref):
                raise InvalidInput(f"{ref!r} is not a valid ostree ref name.")
            args.append(f"--branch={ref}")
        if not bindings or ref is None:
            args.append("--no-bindings")
        if any(t.startswith("tar=") for t in trees):
            args.append("--tar-autocreate-parents")
        args += [f"--tree={t}" for t in trees]
        args += [f"--add-metadata-string={k}={v}" for k, v in sorted(metadata.items())]
        key = self._signer()
        if key is not None:
            args += key.args()
        args += list(extra)
        return self.run(*args, stdin=stdin).strip()

    def update_summary(self) -> None:
        """Regenerate the summary (every ref and its commit), signed; one process at a time.

        :raises OstreeError: ostree failed.
        """
        key = self._signer()
        with file_lock(self.path / SUMMARY_LOCK):
            self.run("summary", "--update", *(key.args() if key is not None else []))


def _failure(what: str, stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")] or lines
    detail = errors[-1] if errors else "no message"
    detail = detail.removeprefix("error:").strip().rstrip(".")
    return f"ostree {what} failed: {detail}."


#: what a static HTTP client of an archive-mode repository reads, and nothing else
#: (never ``tmp/``, ``state/``, lock files): the top-level names and directories
_SERVED_FILES = frozenset({"config", "summary", "summary.sig"})
_SERVED_DIRS = frozenset({"objects", "deltas", "delta-indexes", "refs"})
#: content-addressed, so never changed once written
_IMMUTABLE_DIRS = frozenset({"objects", "deltas"})
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")


def served_file(root: Path, rel: str) -> tuple[Path, bool] | None:
    """The file of the repository at ``root`` that ``/ostree/<rel>`` names, and whether it
    is immutable (``objects/``, ``deltas/``); None for anything else (a name starting
    with a dot, ``..``, a directory, something outside those a client reads).

    >>> served_file(Path("/nonexistent"), "objects/../config") is None
    True
    """
    parts = rel.split("/")
    if not all(_PART.fullmatch(p) for p in parts):
        return None
    if len(parts) == 1 and parts[0] not in _SERVED_FILES:
        return None
    if len(parts) > 1 and parts[0] not in _SERVED_DIRS:
        return None
    if parts[0] == "refs" and (len(parts) < 3 or parts[1] != "heads"):
        return None
    path = root.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
        inside = real.is_relative_to(root.resolve(strict=True))
    except (OSError, RuntimeError):
        return None
    if not inside or not real.is_file():
        return None
    return real, parts[0] in _IMMUTABLE_DIRS


def signer_key(signer: Signer) -> Callable[[], GpgKey]:
    """The server's key as ostree uses it, read when first needed."""
    return lambda: GpgKey(signer.fingerprint, signer.gnupg_home)


def open_repo(ctx: Context) -> Repo:
    """The server's repository (setting ``ostree_repo``), signing with its key, created
    if needed."""
    repo = Repo(ctx.settings.ostree_repo_path, signer_key(ctx.signer))
    repo.ensure()
    return repo
