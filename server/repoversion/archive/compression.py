"""Bounded decompression of the index files an upstream archive serves.

An upstream is not trusted to be honest about sizes: :func:`decompress` streams the
input and stops as soon as the output would exceed ``max_size``, so a decompression
bomb costs at most ``max_size`` bytes of memory and the time to produce them. Callers
pass the uncompressed size that the (signed) Release lists when they know it.

Decoding speed of bookworm's main/binary-amd64 Packages (50 MB) on the reference
machine: ``zst`` 0.09 s (CLI), ``gz`` 0.17 s, ``xz`` 0.50 s, ``bz2`` 1.06 s; this is
the order :mod:`repoversion.archive.release` prefers.

>>> import gzip
>>> decompress(gzip.compress(b"Package: hello\\n"), "gz", max_size=100)
b'Package: hello\\n'
>>> kind_from_path("main/binary-amd64/Packages.xz")
'xz'
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import shutil
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Literal, Protocol

from repoversion.errors import BadUpstream, ConfigError

Kind = Literal["xz", "gz", "bz2", "zst", ""]

#: File name suffix of each compression, as Debian archives name them.
SUFFIXES: dict[str, Kind] = {".xz": "xz", ".gz": "gz", ".bz2": "bz2", ".zst": "zst"}

#: How each format's data starts.
MAGIC: dict[str, bytes] = {
    "xz": b"\xfd7zXZ\x00",
    "gz": b"\x1f\x8b",
    "bz2": b"BZh",
    "zst": b"\x28\xb5\x2f\xfd",
}

_IN_CHUNK = 1 << 20
_OUT_CHUNK = 1 << 20


class _Decompressor(Protocol):
    """The part of the stdlib decompressor objects this module relies on."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


def kind_from_path(path: str) -> Kind:
    """The compression of an index file, from its name.

    :param path: a path such as ``main/binary-amd64/Packages.xz``.
    :returns: ``"xz"``, ``"gz"``, ``"bz2"``, ``"zst"``, or ``""`` for a name without a
        known compression suffix (an uncompressed file).
    """
    for suffix, kind in SUFFIXES.items():
        if path.endswith(suffix):
            return kind
    return ""


def available(kind: str) -> bool:
    """Whether this machine can decompress ``kind``.

    :param kind: a compression kind, as returned by :func:`kind_from_path`.
    """
    if kind in ("", "xz", "gz", "bz2"):
        return True
    if kind == "zst":
        return _zstandard() is not None or shutil.which("zstd") is not None
    return False


def decompress(
    data: bytes | BinaryIO, kind: str, *, max_size: int, what: str = "the index file"
) -> bytes:
    """Decompress ``data`` completely, refusing more than ``max_size`` bytes of output.

    Concatenated streams (several xz streams, gzip members or zstd frames) are
    decompressed one after the other, as ``xz -d`` and ``gzip -d`` do.

    :param data: the compressed bytes, or a binary file object read in chunks.
    :param kind: ``"xz"``, ``"gz"``, ``"bz2"``, ``"zst"``, or ``""`` (not compressed).
    :param max_size: the most output bytes accepted.
    :param what: names the file in error messages, e.g. ``dists/bookworm/main/…``.
    :returns: the decompressed bytes.
    :raises BadUpstream: the output exceeds ``max_size``, the input is truncated or is
        not in the ``kind`` format.
    :raises ConfigError: ``kind`` is ``zst`` and neither the ``zstandard`` module nor
        the ``zstd`` program is installed.
    :raises ValueError: ``kind`` is not a known compression.
    """
    chunks = _input_chunks(data)
    if kind == "":
        return _join(chunks, max_size, what)
    if kind not in MAGIC:
        raise ValueError(f"unknown compression {kind!r}")
    chunks = _check_magic(chunks, kind, what)
    if kind == "zst":
        return _decompress_zstd(chunks, max_size, what)
    return _join(_stream(chunks, _FACTORIES[kind], kind, what), max_size, what)


def iter_decompress(
    data: bytes | BinaryIO, kind: str, *, max_size: int, what: str = "the index file"
) -> Iterator[bytes]:
    """Like :func:`decompress`, yielding the output in chunks as it is produced.

    The stdlib decoders release the GIL, so a consumer in another thread (the parser)
    runs while the next chunk decompresses (see
    :func:`repoversion.archive.decoding.start_decoding`). An .xz goes
    through the ``xz`` program when it is installed: it decodes a multi-block file on every
    core.

    :raises BadUpstream: as :func:`decompress`, when the offending chunk is reached.
    """
    if kind == "zst":
        yield decompress(data, kind, max_size=max_size, what=what)
        return
    chunks = _input_chunks(data)
    if kind != "":
        if kind not in MAGIC:
            raise ValueError(f"unknown compression {kind!r}")
        checked = _check_magic(chunks, kind, what)
        if kind == "xz" and shutil.which("xz"):
            chunks = _stream_xz_cli(checked, what)
        else:
            chunks = _stream(checked, _FACTORIES[kind], kind, what)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_size:
            raise BadUpstream(f"{what} decompresses to more than {max_size} bytes")
        yield chunk


def _stream_xz_cli(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    """xz through the ``xz`` program: it decodes the blocks of a multi-block file (Debian
    writes Packages.xz in several) on every core, where Python's lzma uses one."""
    proc = subprocess.Popen(
        ["xz", "--decompress", "--stdout", "--threads=0", "--quiet", "--no-warn"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdin = proc.stdin

    def feed() -> None:
        try:
            for chunk in chunks:
                stdin.write(chunk)
        except (BrokenPipeError, BadUpstream):
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    feeder = threading.Thread(target=feed, name="xz-feed", daemon=True)
    feeder.start()
    finished = False
    try:
        while block := proc.stdout.read(_OUT_CHUNK):
            yield block
        finished = True
    finally:
        if not finished:
            proc.kill()
        proc.stdout.close()
        error = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        code = proc.wait()
        feeder.join()
    if code != 0:
        if "Unexpected end of input" in error:
            raise BadUpstream(f"{what} is truncated: its xz stream ends early")
        raise BadUpstream(f"{what} is not valid xz data ({error.removeprefix('xz: (stdin): ')})")


def _check_magic(chunks: Iterator[bytes], kind: str, what: str) -> Iterator[bytes]:
    """Refuse data that does not start like ``kind``, before any decoder sees it."""
    magic = MAGIC[kind]
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(magic):
            break
    if not head:
        raise BadUpstream(f"{what} is truncated: it is empty")
    if not head.startswith(magic[: len(head)]):
        raise BadUpstream(f"{what} is not {kind} data: it does not start with the {kind} magic")
    if len(head) < len(magic):
        raise BadUpstream(f"{what} is truncated: it ends inside the {kind} header")
    yield head
    yield from chunks


def _gzip_decompressor() -> _Decompressor:
    # zlib's object keeps input it could not use yet in ``unconsumed_tail`` instead of
    # honouring max_length by buffering: adapt it to the lzma/bz2 interface.
    return _ZlibAdapter(zlib.decompressobj(16 + zlib.MAX_WBITS))


class _ZlibAdapter:
    """Gives a zlib decompress object the ``max_length`` semantics of lzma and bz2."""

    def __init__(self, inner: zlib._Decompress) -> None:
        self._inner = inner
        self.needs_input = True

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self._inner.decompress(self._inner.unconsumed_tail + data, max_length)
        self.needs_input = not self._inner.unconsumed_tail
        return out


_FACTORIES: dict[str, Callable[[], _Decompressor]] = {
    "xz": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ),
    "bz2": bz2.BZ2Decompressor,
    "gz": _gzip_decompressor,
}

_FORMAT_ERRORS = (lzma.LZMAError, OSError, zlib.error, EOFError, ValueError)


def _stream(
    chunks: Iterator[bytes], factory: Callable[[], _Decompressor], kind: str, what: str
) -> Iterator[bytes]:
    """Yield the output of a stdlib decompressor, at most ``_OUT_CHUNK`` bytes at a time."""
    dec = factory()
    fresh = True  # ``dec`` has not been given any input yet
    seen_input = False
    try:
        for chunk in chunks:
            data = chunk
            while True:
                if dec.eof:
                    # Another stream (xz), member (gzip) or bz2 stream may follow;
                    # zero bytes between them are padding, as xz and gzip skip them.
                    data = dec.unused_data + data
                    if kind != "bz2":
                        data = data.lstrip(b"\0")
                    dec, fresh = factory(), True
                if not data and dec.needs_input:
                    break
                out = dec.decompress(data, _OUT_CHUNK)
                fresh, seen_input, data = False, True, b""
                if out:
                    yield out
    except _FORMAT_ERRORS as exc:
        raise BadUpstream(f"{what} is not valid {kind} data ({exc})") from None
    if not seen_input:
        raise BadUpstream(f"{what} is truncated: it is empty")
    if not fresh and not dec.eof:
        raise BadUpstream(f"{what} is truncated: its {kind} stream ends early")


def _join(chunks: Iterator[bytes], max_size: int, what: str) -> bytes:
    """Concatenate output chunks, stopping as soon as ``max_size`` is exceeded."""
    out: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_size:
            raise BadUpstream(f"{what} decompresses to more than {max_size} bytes")
        out.append(chunk)
    return b"".join(out)


def _input_chunks(data: bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), _IN_CHUNK):
            yield bytes(view[start : start + _IN_CHUNK])
        return
    while chunk := data.read(_IN_CHUNK):
        yield chunk


def _zstandard():  # type: ignore[no-untyped-def]
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def _decompress_zstd(chunks: Iterator[bytes], max_size: int, what: str) -> bytes:
    zstandard = _zstandard()
    if zstandard is not None:
        return _join(_stream_zstandard(zstandard, chunks, what), max_size, what)
    if shutil.which("zstd") is None:
        raise ConfigError(
            f"cannot decompress {what}: install the 'zstandard' Python module or the zstd program"
        )
    return _decompress_zstd_cli(chunks, max_size, what)


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, for zstandard's stream reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        while not self._buffer:
            self._buffer = next(self._chunks, b"")
            if not self._buffer:
                return 0
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _stream_zstandard(zstandard, chunks: Iterator[bytes], what: str) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
    reader = zstandard.ZstdDecompressor().stream_reader(
        _ChunkReader(chunks), read_across_frames=True
    )
    produced = False
    try:
        while out := reader.read(_OUT_CHUNK):
            produced = True
            yield out
    except zstandard.ZstdError as exc:
        message = str(exc)
        if "truncated" in message or "premature" in message:
            raise BadUpstream(f"{what} is truncated: its zst stream ends early") from None
        raise BadUpstream(f"{what} is not valid zst data ({exc})") from None
    if not produced:
        raise BadUpstream(f"{what} is truncated: its zst stream ends early")


def _decompress_zstd_cli(chunks: Iterator[bytes], max_size: int, what: str) -> bytes:
    # The input goes through a temporary file so that no thread is needed to feed
    # stdin while stdout is read.
    with tempfile.TemporaryFile() as source:
        for chunk in chunks:
            source.write(chunk)
        source.seek(0)
        proc = subprocess.Popen(
            ["zstd", "-d", "-c", "-q", "--no-progress"],
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        out: list[bytes] = []
        total = 0
        try:
            while chunk := proc.stdout.read(_OUT_CHUNK):
                total += len(chunk)
                if total > max_size:
                    raise BadUpstream(f"{what} decompresses to more than {max_size} bytes")
                out.append(chunk)
            error = proc.stderr.read().decode("utf-8", "replace").strip()
            returncode = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
    if returncode != 0:
        if "premature end" in error or "unexpected end" in error or "truncated" in error:
            raise BadUpstream(f"{what} is truncated: its zst stream ends early")
        detail = error.rsplit(":", 1)[-1].strip() or f"zstd exited with {returncode}"
        raise BadUpstream(f"{what} is not valid zst data ({detail})")
    return b"".join(out)
