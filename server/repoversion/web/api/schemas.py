"""What the API answers: the JSON objects of SPEC section 4, declared once as pydantic models.

flask-openapi3 turns each model into a schema of ``/api/v1/openapi.json``; the views return
the plain values of :mod:`repoversion.actions` (the same ones the CLI prints with
``--json``), and the schemathesis test checks that they match these declarations. Extra
keys are allowed in answers (a later version may add fields); request bodies, in
:mod:`repoversion.web.api.params`, refuse unknown fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from repoversion.web.api.params import Names, Strict, Text


class Answer(BaseModel):
    """Base of every answer: unknown keys are kept, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Error(Answer):
    """Every error: a machine-readable code and one sentence."""

    code: str = Field(description="for example `not_found`, `unauthorized`, `invalid`")
    message: str


# -- versions ---------------------------------------------------------------------------


class Version(Answer):
    """A repoversion as ``versions --json`` lists it."""

    repoversion: str = Field(examples=["1.1.0"])
    state: str = Field(description="`sha256:` + the digest of the served files' manifest")
    created: str = Field(examples=["2026-11-25T21:00:00Z"])
    bump: str
    parent: str | None


class VersionPage(Answer):
    """One page of repoversions, newest first."""

    items: list[Version]
    next: str | None = Field(description="the cursor of the next page; null on the last")


class Counts(Answer):
    added: int
    removed: int
    upgraded: int
    downgraded: int


class FileEntry(Answer):
    sha256: str
    size: int


class SuiteIndex(Answer):
    release: dict[str, Any] = Field(description="the upstream Release it serves, summarised")
    files: dict[str, FileEntry]


class ArchiveIndex(Answer):
    url: str
    mode: str
    policy: str
    suites: dict[str, SuiteIndex]


class IndexJson(Answer):
    """A repoversion's ``index.json`` (SPEC section 3)."""

    format: int
    repoversion: str
    state: str
    parent: str | None
    bump: str
    created: str
    changes: Counts
    archives: dict[str, ArchiveIndex]


class Package(Answer):
    """A binary or source package of a version."""

    name: str
    version: str
    architecture: str
    archive: str
    suite: str
    component: str
    filename: str | None
    sha256: str | None
    size: int | None


class PackagePage(Answer):
    """One page of a version's packages (empty ``items`` when nothing matches)."""

    items: list[Package]
    next: str | None


class DiffEntry(Answer):
    name: str
    version: str
    architecture: str
    archive: str
    suite: str


class DiffChange(Answer):
    name: str
    from_: str = Field(alias="from")
    to: str
    architecture: str
    archive: str
    suite: str


class Diff(Answer):
    """The ``diff --json`` object; with ``summary=true`` only ``from``, ``to`` and ``counts``."""

    from_: str = Field(alias="from")
    to: str
    counts: Counts
    added: list[DiffEntry] | None = None
    removed: list[DiffEntry] | None = None
    upgraded: list[DiffChange] | None = None
    downgraded: list[DiffChange] | None = None


class HistoryEntry(Answer):
    """One (version, architecture) of a package and the repoversions that held it."""

    name: str
    version: str
    architecture: str
    archive: str
    suite: str
    repoversions: list[str]


class History(RootModel[list[HistoryEntry]]):
    pass


# -- archives ---------------------------------------------------------------------------


class Archive(Answer):
    """An upstream archive as ``archive list --json`` prints it."""

    name: str
    url: str
    suites: list[str]
    components: list[str]
    architectures: list[str]
    policy: str
    mode: str
    required: bool


class ArchiveDetail(Archive):
    """One archive, as ``archive show --json`` prints it."""

    keyring_fingerprints: list[str]
    ca: bool
    ostree_export: bool = Field(description="every stored deb is also committed to ostree")
    created: str


class ArchiveList(RootModel[list[Archive]]):
    pass


# -- syncs ------------------------------------------------------------------------------


class Progress(Answer):
    files: int
    bytes: int


class Job(Answer):
    """A job of the queue: a sync and what became of it."""

    id: int
    kind: str
    state: Literal["queued", "running", "succeeded", "failed"]
    progress: Progress | None
    result: dict[str, Any] | None = Field(description="the `sync --json` object once done")
    error: str | None = Field(description="why it failed, one sentence")
    created: str
    started: str | None
    finished: str | None


class Schedule(Answer):
    every: str | None = Field(description="the `sync_every` setting, null when unset")
    last: str | None
    next: str | None


class SyncList(Answer):
    """Recent syncs, newest first, and the schedule."""

    items: list[Job]
    schedule: Schedule


# -- tags -------------------------------------------------------------------------------


class Tag(Answer):
    name: str
    repoversion: str
    moved: str


class TagMove(Tag):
    """What ``PUT /tags/<name>`` did."""

    previous: str | None = Field(description="the version it named before; null when new")
    changed: bool = Field(description="false when it already named that version")


class TagList(RootModel[list[Tag]]):
    pass


class TagEvent(Answer):
    repoversion: str | None = Field(description="null marks a deletion")
    at: str


class TagHistory(RootModel[list[TagEvent]]):
    pass


# -- tokens -----------------------------------------------------------------------------


class TokenInfo(Answer):
    name: str
    scope: str
    created: str
    last_used: str | None


class TokenList(RootModel[list[TokenInfo]]):
    pass


class NewToken(Answer):
    """A new token: ``token`` is the secret, shown this once."""

    name: str
    token: str
    scope: str


# -- lockfiles --------------------------------------------------------------------------


class LockedPackage(Answer):
    """One package of a lockfile: where apt took it from, its file, what it depends on."""

    name: str
    version: str
    architecture: str
    archive: str
    suite: str
    component: str
    filename: str
    sha256: str
    size: int
    url: str = Field(description="`<public_url>/v/<repoversion>/<archive>/<filename>`")
    depends: list[str] = Field(description="the locked packages it needs")
    ostree: str = Field(description="its ostree ref, `dpkg/data/<sha256>`")


class LockSource(Answer):
    archive: str
    suite: str
    components: list[str]
    uri: str


class Lockfile(Answer):
    """A lockfile (SPEC section 6): canonical JSON, the same bytes for the same request."""

    format: int
    repoversion: str
    state: str
    architecture: str
    request: list[str]
    recommends: bool
    sources: list[LockSource]
    packages: list[LockedPackage]


class StoredLockfile(Answer):
    """A stored lockfile: its id and the apt source that serves exactly its packages."""

    id: str = Field(description="the sha256 of the lockfile's canonical JSON")
    sources: list[str] = Field(description="`deb` lines for `/l/<id>/<archive>`")
    key_command: str = Field(description="fetches the server's key for `signed-by=`")


# The lockfile endpoints' request bodies and path (the other requests are declared in
# params.py): shapes only, the domain checks the rest. Lockfile fields are strict (no
# "3" for 3) so that the stored lockfile is the one sent.


class ResolveBody(Strict):
    """What to resolve, as ``repoversion lock`` takes it."""

    packages: Names = Field(description="`PKG`, `PKG=VER` or `PKG/SUITE`, in apt's order")
    architecture: Text = Field(examples=["amd64"])
    recommends: bool = Field(False, description="install Recommends too")


class LockedPackageBody(Strict):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Text
    version: Text
    architecture: Text
    archive: Text
    suite: Text
    component: Text
    filename: Text
    sha256: Text
    size: int = Field(ge=0)
    url: Text
    depends: Names
    ostree: Text


class LockSourceBody(Strict):
    model_config = ConfigDict(extra="forbid", strict=True)

    archive: Text
    suite: Text
    components: Names
    uri: Text


class LockfileBody(Strict):
    """A lockfile as ``repoversion lock`` wrote it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal[1]
    repoversion: Text = Field(description="the version number, `X.Y.Z`")
    state: Text
    architecture: Text
    request: Names
    recommends: bool = False
    sources: list[LockSourceBody]
    packages: list[LockedPackageBody] = Field(min_length=1)

    def lockfile(self) -> dict[str, Any]:
        """The lockfile as a JSON object."""
        return self.model_dump()


class LockfilePath(BaseModel):
    id: str = Field(description="the lockfile's id: 64 hexadecimal digits")
