"""What a URL names: the value the serving modules pass to the web layer."""

from __future__ import annotations

from dataclasses import dataclass

from repoversion.storage.base import BlobRef


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL names in a version: a blob, and where upstream has it if not stored.

    :ivar sha256: the blob's digest (what its bytes must hash to).
    :ivar size: its size in bytes.
    :ivar name: the file name the client asked for (for the content type).
    :ivar archive: the archive to fetch it from when it is not stored; ``None`` when it is
        generated here and cannot be fetched.
    :ivar upstream: paths relative to the archive's URL, tried in order.
    """

    sha256: str
    size: int
    name: str
    archive: str | None = None
    upstream: tuple[str, ...] = ()

    @property
    def blob(self) -> BlobRef:
        return BlobRef(self.sha256, self.size)
