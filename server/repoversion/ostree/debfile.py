"""A .deb read for ostree: its ``ar`` members, the control paragraph, and its tar members
checked (:mod:`.tarcheck`) before ``ostree commit --tree=tar=`` sees them.

A deb is ``debian-binary``, ``control.tar[.COMP]`` and ``data.tar[.COMP]`` in an ``ar``
archive, COMP one of gz, xz, zst, bz2 (or none). data.tar is decoded by its own program
(``xz``, ``gzip``, ``zstd``, ``bzip2``) straight into a temporary file, so no byte of it
passes through Python and nothing of it is held in memory; its headers are then read and
checked, and the file is committed as it is unless a member must be dropped. The control
archive, small, is decoded in memory."""

from __future__ import annotations

import bz2
import io
import lzma
import os
import subprocess
import tempfile
import zlib
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from repoversion.errors import BadDeb, ConfigError
from repoversion.ostree.tarcheck import rewrite, scan

AR_MAGIC = b"!<arch>\n"
#: the program decoding each member compression (read from stdin, written to stdout)
DECODERS: dict[str, list[str]] = {
    ".gz": ["gzip", "-dc"],
    ".xz": ["xz", "-dc"],
    ".zst": ["zstd", "-dc", "-q", "--no-progress"],
    ".bz2": ["bzip2", "-dc"],
    "": [],
}
#: the most a control archive may hold once decoded (it is kept in memory)
MAX_CONTROL = 64 << 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    """One ``ar`` member: its name and where its bytes are in the file."""

    name: str
    offset: int
    size: int


@dataclass
class Control:
    """What the control archive says: the paragraph, its fields, the filtered archive."""

    paragraph: str
    fields: dict[str, str]
    tar: bytes
    dropped: list[str] = field(default_factory=list)
    what: str = "the deb"

    def field(self, name: str) -> str:
        """:raises BadDeb: the paragraph lacks it."""
        value = self.fields.get(name.lower(), "")
        if not value:
            raise BadDeb(f"{self.what}: its control paragraph has no {name} field.")
        return value


def ar_members(fh: BinaryIO, what: str) -> list[Member]:
    """The members of the ``ar`` archive ``fh``, in order (headers read, data skipped).

    :raises BadDeb: not an ``ar`` archive, or a header is malformed or truncated.
    """
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    fh.seek(0)
    if fh.read(8) != AR_MAGIC:
        raise BadDeb(f"{what} is not a Debian package (no ar archive header).")
    members: list[Member] = []
    pos = 8
    while pos < end:
        fh.seek(pos)
        header = fh.read(60)
        if len(header) == 1 and header == b"\n":
            break  # padding after an odd last member
        if len(header) < 60 or header[58:60] != b"`\n":
            raise BadDeb(f"{what} has a malformed ar member header at byte {pos}.")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise BadDeb(f"{what} has an ar member {name!r} without a size.") from None
        if pos + 60 + size > end:
            raise BadDeb(f"{what} is truncated (its member {name!r} ends past the file).")
        members.append(Member(name, pos + 60, size))
        pos += 60 + size + (size & 1)
    return members


def _compression(member: Member, kind: str, what: str) -> str:
    suffix = member.name[len(kind) :]
    if suffix not in DECODERS:
        raise BadDeb(f"{what} has {member.name} in a compression this server cannot read.")
    return suffix


def deb_parts(members: list[Member], what: str) -> tuple[Member, str, Member, str]:
    """The control and data members of a deb and their compressions (``.xz``, ``""`` …).

    :raises BadDeb: ``debian-binary`` is not first, or either tar member is missing or
        out of order.
    """
    if not members or members[0].name != "debian-binary":
        raise BadDeb(f"{what} is not a Debian package (debian-binary is not its first member).")
    rest = [m for m in members[1:] if not m.name.startswith("_")]
    if (
        len(rest) < 2
        or not rest[0].name.startswith("control.tar")
        or not rest[1].name.startswith("data.tar")
    ):
        names = ", ".join(m.name for m in members)
        raise BadDeb(f"{what} lacks control.tar and data.tar in that order (it has {names}).")
    control, data = rest[0], rest[1]
    return (
        control,
        _compression(control, "control.tar", what),
        data,
        _compression(data, "data.tar", what),
    )


def _copy_range(src: int, offset: int, size: int, dst: int) -> None:
    """Copy ``size`` bytes of the file ``src`` from ``offset`` to ``dst`` (a pipe or a
    file), in the kernel."""
    while size > 0:
        sent = os.sendfile(dst, src, offset, min(size, _CHUNK))
        if sent == 0:
            raise BadDeb("The deb ended while it was read.")
        offset += sent
        size -= sent


def decode_to(fh: BinaryIO, member: Member, suffix: str, out: IO[bytes], what: str) -> None:
    """Write the decoded bytes of ``member`` to the file ``out``, by the decoding program
    (which writes to the file itself: no byte passes through Python).

    :raises BadDeb: the member is not valid data of its compression.
    :raises ConfigError: the decoding program is not installed.
    """
    out.flush()
    if not suffix:
        _copy_range(fh.fileno(), member.offset, member.size, out.fileno())
        return
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(DECODERS[suffix], stdin=subprocess.PIPE, stdout=out, stderr=err)
        except FileNotFoundError:
            raise ConfigError(
                f"Cannot read {member.name}: {DECODERS[suffix][0]} is not installed."
            ) from None
        assert proc.stdin is not None
        # the decoder writes to a file, never blocks on its output: feeding it here is safe
        with suppress(BrokenPipeError):  # it stopped early: its exit status says why
            _copy_range(fh.fileno(), member.offset, member.size, proc.stdin.fileno())
        with suppress(BrokenPipeError):
            proc.stdin.close()
        if proc.wait() != 0:
            err.seek(0)
            detail = err.read().decode("utf-8", "replace").strip().splitlines()
            why = (
                detail[-1].rsplit(":", 1)[-1].strip()
                if detail
                else f"exit status {proc.returncode}"
            )
            raise BadDeb(f"{what}: {member.name} is not valid {suffix[1:]} data ({why}).")
    out.seek(0, os.SEEK_END)


def _decompressor(suffix: str) -> Any:
    if suffix == ".gz":
        return zlib.decompressobj(wbits=47)  # gzip, several members too
    if suffix == ".xz":
        return lzma.LZMADecompressor()
    return bz2.BZ2Decompressor()


def decode_small(raw: bytes, suffix: str, limit: int, what: str) -> bytes:
    """``raw`` decoded in this process (zst by its program), at most ``limit`` bytes.

    :raises BadDeb: not valid data, or more than ``limit`` bytes once decoded.
    """
    if not suffix:
        data = raw
    elif suffix == ".zst":
        proc = subprocess.run(DECODERS[suffix], input=raw, capture_output=True, check=False)
        if proc.returncode != 0:
            raise BadDeb(f"{what} is not valid zst data.")
        data = proc.stdout
    else:
        try:
            data = _decompressor(suffix).decompress(raw, limit + 1)
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
            raise BadDeb(f"{what} is not valid {suffix[1:]} data.") from None
    if len(data) > limit:
        raise BadDeb(f"{what} decodes to more than {limit} bytes.")
    return data


def parse_paragraph(text: str) -> dict[str, str]:
    """A control paragraph's fields, lower-cased names (continuation lines joined).

    >>> parse_paragraph("Package: hello\\nDescription: hi\\n there\\n")["description"]
    'hi\\n there'
    """
    fields: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and last:
            fields[last] += "\n" + line
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            fields[last] = value.strip()
    return fields


def read_control(fh: BinaryIO, member: Member, suffix: str, what: str) -> Control:
    """The control archive of a deb (decoded in memory, it is small): checked, its
    paragraph parsed, rewritten when a member must be dropped or renamed.

    :raises BadDeb: hostile, malformed, too large, or without a ``control`` file.
    """
    where = f"{what} ({member.name})"
    if member.size > MAX_CONTROL:
        raise BadDeb(f"{where} is larger than {MAX_CONTROL} bytes.")
    fh.seek(member.offset)
    tar = decode_small(fh.read(member.size), suffix, MAX_CONTROL, where)
    found = scan(io.BytesIO(tar), where, frozenset({"control"}))
    if "control" not in found.kept:
        raise BadDeb(f"{what} has no control file in {member.name}.")
    if not found.verbatim:
        out = io.BytesIO()
        rewrite(io.BytesIO(tar), out, where)
        tar = out.getvalue()
    try:
        paragraph = found.kept["control"].decode("utf-8")
    except UnicodeDecodeError:
        raise BadDeb(f"{what}: its control file is not UTF-8.") from None
    paragraph = paragraph.strip("\n") + "\n"
    return Control(paragraph, parse_paragraph(paragraph), tar, found.dropped, what)


class DebFile:
    """A .deb on disk, opened for export. Use as a context manager.

    :param path: the file.
    :param what: names it in error sentences (``hello_1.0_amd64.deb (sha256 …)``).
    :raises BadDeb: it is not a deb.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.what = what
        self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            members = ar_members(self._fh, what)
            self._control, self._control_kind, self._data, self._data_kind = deb_parts(
                members, what
            )
            self._check_version(members[0])
        except BaseException:
            self._fh.close()
            raise

    def _check_version(self, member: Member) -> None:
        self._fh.seek(member.offset)
        if not self._fh.read(min(member.size, 16)).startswith(b"2."):
            raise BadDeb(f"{self.what} is not a format 2.x Debian package.")

    def __enter__(self) -> DebFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def control(self) -> Control:
        """:func:`read_control` of this deb."""
        return read_control(self._fh, self._control, self._control_kind, self.what)

    def write_data(self, out: IO[bytes], spare: IO[bytes]) -> tuple[IO[bytes], list[str]]:
        """Decode data.tar into ``out`` and check it; when members must be dropped or
        renamed, write the filtered archive to ``spare``.

        :param out: an empty temporary file.
        :param spare: another, used only then.
        :returns: the file holding the archive to commit (rewound) and the dropped entries.
        :raises BadDeb: a hostile member, or the member is not valid data.
        """
        what = f"{self.what} ({self._data.name})"
        decode_to(self._fh, self._data, self._data_kind, out, what)
        out.seek(0)
        found = scan(out, what)
        if found.verbatim:
            out.seek(0)
            return out, found.dropped
        out.seek(0)
        rewrite(out, spare, what)
        spare.seek(0)
        return spare, found.dropped
