"""Cutting decoded indices into stanzas and digesting them."""

from __future__ import annotations

import gzip
import lzma
import subprocess

import pytest

from repoversion.errors import DigestMismatch
from repoversion.mirror import parse
from repoversion.mirror.parse import _split, iter_stanzas, stanza_digest, stanza_digests

STANZAS = [
    b"Package: p%d\nVersion: 1.%d\nDescription: %s" % (i, i, b"y" * (i % 300)) for i in range(40000)
]
TEXT = b"\n\n".join(STANZAS) + b"\n"


def _xz_blocks(data: bytes) -> bytes:
    argv = ["xz", "-0", "-T1", "--block-size=1MiB", "-c"]
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize(
    ("piece", "stanzas"),
    [
        (b"A: 1\n\nA: 2\n", [b"A: 1", b"A: 2"]),
        (b"\n\nA: 1\n\n\n\nA: 2\n\n\n", [b"A: 1", b"A: 2"]),
        (b"A: 1\n\n\nA: 2", [b"A: 1", b"A: 2"]),
        (b"A: 1\n B\n .\n\nA: 2", [b"A: 1\n B\n .", b"A: 2"]),
        (b"\n\n", []),
        (b"", []),
    ],
)
def test_split(piece: bytes, stanzas: list[bytes]) -> None:
    assert _split(piece) == stanzas


def test_digests_in_bulk_equal_one_by_one() -> None:
    sample = [*STANZAS[:1000], b"", b"\xff\xfe not utf-8"]
    assert stanza_digests(sample) == tuple(map(stanza_digest, sample))
    assert len(set(stanza_digests(STANZAS))) == len(STANZAS)
    assert all(-(2**63) <= d < 2**63 for d in stanza_digests(sample))  # a BIGINT


@pytest.mark.parametrize("kind", ["", "gz", "xz", "xz-blocks"])
def test_every_stanza_comes_out_once_across_pieces(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse, "PIECE", 256 << 10)  # many pieces, cut inside stanzas
    data = {
        "": TEXT,
        "gz": gzip.compress(TEXT),
        "xz": lzma.compress(TEXT),
        "xz-blocks": _xz_blocks(TEXT),
    }[kind]
    pieces = list(
        iter_stanzas(data, kind.split("-")[0], max_size=1 << 30, what="x", expected_size=len(TEXT))
    )
    assert len(pieces) > 1
    assert [s for piece in pieces for s in piece] == STANZAS


def test_a_size_other_than_the_release_lists_is_refused() -> None:
    with pytest.raises(DigestMismatch, match=f"decompresses to {len(TEXT)} bytes"):
        for _ in iter_stanzas(
            lzma.compress(TEXT), "xz", max_size=1 << 30, what="x", expected_size=len(TEXT) + 1
        ):
            pass


def test_any_chunking_gives_the_same_stanzas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blank lines straddling chunk boundaries, chunks of one byte, pieces cut right at a
    chunk's end: the stanzas are always those of the whole text."""
    import random

    from repoversion.mirror.parse import _pieces

    rng = random.Random(7)
    text = b"".join(
        b"P: %d\n%s\n%s" % (i, b"x" * rng.randrange(0, 40), b"\n" * rng.choice((1, 1, 1, 2, 3)))
        for i in range(3000)
    )
    expected = _split(text)
    monkeypatch.setattr(parse, "PIECE", 64)
    # a piece cut at the very end of a chunk, the next chunk starting with the third
    # newline of a run
    monkeypatch.setattr(parse, "PIECE", 1)
    cut_at_end = list(_pieces([b"A: 1\n\n", b"\nB: 2"], "x", None))
    assert [s for piece in cut_at_end for s in piece] == [b"A: 1", b"B: 2"]
    monkeypatch.setattr(parse, "PIECE", 64)
    for sizes in ([1], [2, 3], [7, 64, 1, 200], [4096]):
        chunks, pos, i = [], 0, 0
        while pos < len(text):
            n = sizes[i % len(sizes)]
            chunks.append(text[pos : pos + n])
            pos, i = pos + n, i + 1
        got = [s for piece in _pieces(chunks, "x", len(text)) for s in piece]
        assert got == expected, sizes
