"""No request makes a 5xx: random refs, paths and validators against the app, on SQLite and
on PostgreSQL.

Hypothesis draws URLs (refs with NUL bytes, thousands of digits or unicode; paths with
``..``, ``%2e%2e``, NUL, backslashes, very long segments) and headers (``Range`` with
numbers past what ``int()`` reads, ``If-None-Match``, ``If-Modified-Since`` and ``If-Range``
with years and offsets no date has) and sends them to ``create_app``'s test client over a
home synced from a small fixture archive. Every answer is below 500, and every 4xx is a
JSON ``{code, message}`` that no cache keeps. Bounded and derandomized, so CI sees the
same examples each run.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from repoversion.config import load_settings
from repoversion.errors import NotFound
from repoversion.versions.refs import resolve
from repoversion.web import create_app
from repoversion.web.apt import EXTENSION
from tests.fixtures.archives import Pkg, SrcPkg
from tests.mirror.conftest import NOW, Mirror

#: URL pieces sent as they are (already percent-encoded, or raw)
RAW = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e",
    ".%2e",
    "%00",
    "%2f",
    "%5c",
    "\\",
    "",
    "%c0%ae%c0%ae",
    "%ff%fe",
    "%",
    "%zz",
    "~",
    "?x=1",
    "#frag",
    "%0a",
    "%0d%0a",
]
#: refs that name 1.0.0 (the last one is the last second a timestamp can name: adding a
#: second to it overflowed)
GOOD_REFS = ["1.0.0", "latest", "stable", "20250601T000000Z", "99991231T235959Z"]
BAD_REFS = [
    "00000000T000000Z",
    "20251399T256161Z",
    "1.0.0%00",
    "stable%00",
    "%00",
    "9" * 5000 + ".0.0",
    "1." + "0" * 120 + ".0",
    "a" * 100,
    "a" * 101,
    "Stable",
    "1.0",
    "1.0.0.0",
    "%D9%A1.%D9%A0.%D9%A0",  # Arabic-Indic digits: \d matches them, versions do not
]
HEADERS = ("Range", "If-None-Match", "If-Modified-Since", "If-Range")
DATES = [
    "Sun, 01 Jun 2025 00:00:00 GMT",
    "Sun, 01 Jun 99999999999999999999 00:00:00 GMT",
    "Sun, 01 Jun 2025 00:00:00 +99999999999999999",
    "Mon, 31 Dec 9999 23:59:59 -2359",
    "Sat, 01 Jan 0001 00:00:00 +2359",
    "Sun, 01 Jun 2025 99:99:99 GMT",
    "0",
]
#: printable Latin-1: what an HTTP header value can carry (a newline cannot)
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)


def _quoted(text: str) -> str:
    return quote(text, safe="")


digits = st.one_of(
    st.just(""),
    st.integers(0, 10**7).map(str),
    st.integers(19, 6000).map(lambda n: "9" * n),
    st.integers(1, 6000).map(lambda n: "0" * n + "7"),
)
range_value = st.one_of(
    st.builds(lambda a, b: f"bytes={a}-{b}", digits, digits),
    st.sampled_from(["bytes=0-0,5-6", "bytes=-0", "bytes=--1", "items=0-1", "bytes=5-1", "bytes"]),
    HEADER_TEXT,
)
date_value = st.one_of(st.sampled_from(DATES), HEADER_TEXT)
etag_value = st.one_of(
    st.just("*"),
    st.lists(st.text("0123456789abcdef", max_size=64).map(lambda h: f'"{h}"'), max_size=3).map(
        ", ".join
    ),
    HEADER_TEXT,
)
headers = st.builds(
    lambda *values: {k: v for k, v in zip(HEADERS, values, strict=True) if v is not None},
    *(st.one_of(st.none(), value) for value in (range_value, etag_value, date_value)),
    st.one_of(st.none(), date_value, etag_value),
)
segment = st.one_of(
    st.sampled_from(RAW),
    st.text(max_size=30).map(_quoted),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=20),
    st.integers(200, 5000).map(lambda n: "a" * n),
)
bad_ref = st.one_of(
    st.sampled_from(BAD_REFS + RAW),
    st.text(max_size=120).map(_quoted),
    st.from_regex(r"[0-9]{1,40}\.[0-9]{1,40}\.[0-9]{1,40}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9._-]{0,120}", fullmatch=True),
)


def _mutated(known: list[str]) -> st.SearchStrategy[str]:
    """Paths near the known ones: extended, prefixed, or made of odd segments."""
    a_file = st.sampled_from(known)
    return st.one_of(
        st.builds(lambda k, s: f"{k}/{s}", a_file, segment),
        st.builds(lambda s, k: f"{s}/{k}", segment, a_file),
        st.builds(lambda k, s: f"{k.rpartition('/')[0]}/{s}", a_file, segment),
        st.lists(segment, max_size=6).map("/".join),
    )


def _elsewhere(known: list[str]) -> st.SearchStrategy[str]:
    """The other routes, and no route at all."""
    return st.one_of(
        segment.map(lambda s: f"/blobs/sha256/{s}"),
        segment.map(lambda s: f"/keys/{s}"),
        _mutated(known).map(lambda p: f"/{p}"),
        bad_ref.map(lambda r: f"/v/{r}"),
        st.sampled_from(["/healthz", "/metrics", "/keys/repoversion.asc", "/", "//", "/v/"]),
    )


@pytest.fixture
def client(tmp_path: Path, run_cli: Any, db_url: str, fixture_archive: Any) -> Iterator[Any]:
    """(test client, known paths) over a home synced into 1.0.0, tagged ``stable``."""
    set_hypothesis_home_dir(tmp_path / "hypothesis")  # not the working directory
    env = {"REPOVERSION_NOW": NOW, "REPOVERSION_DATABASE_URL": db_url}
    mirror = Mirror(tmp_path / "home", run_cli, env)
    assert mirror.cli("init").code == 0
    arc = fixture_archive([Pkg("hello", "1.0"), SrcPkg("hello", "1.0-1")])
    mirror.add(arc, archs=("amd64", "source"))
    assert mirror.sync()["repoversion"] == "1.0.0"
    assert mirror.cli("tag", "stable", "1.0.0").code == 0
    packages = arc.path("dists/bookworm/main/binary-amd64/Packages").read_bytes()
    known = [
        "index.json",
        "packages.json",
        "debian/dists/bookworm/InRelease",
        "debian/dists/bookworm/Release",
        "debian/dists/bookworm/Release.gpg",
        "debian/dists/bookworm/main/binary-amd64/Packages",
        "debian/dists/bookworm/main/binary-amd64/Packages.xz",
        "debian/dists/bookworm/main/source/Sources.xz",
        f"debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/{hashlib.sha256(packages).hexdigest()}",
        f"debian/{arc.packages()[0].filename}",
    ]
    app = create_app(load_settings(mirror.home, environ=env))
    try:
        yield app.test_client(), known
    finally:
        app.extensions[EXTENSION].close()
        app.extensions["repoversion"].close()


def _check(client: FlaskClient, method: str, url: str, headers: dict[str, str]) -> int:
    # with its scheme and host, so the client reads "//…" as a path, not as a host
    resp = client.open(f"http://localhost{url}", method=method, headers=headers)
    try:
        status = resp.status_code
        assert status < 500, (method, url, headers, status, resp.get_data()[:300])
        if status >= 400 and method != "HEAD":
            body = resp.get_json(silent=True)
            assert isinstance(body, dict), (url, headers, status, resp.get_data()[:300])
            assert set(body) == {"code", "message"}, (url, body)
            assert all(isinstance(v, str) and v for v in body.values()), (url, body)
            assert resp.headers["Cache-Control"] == "no-store", (url, status)
    finally:
        resp.close()
    return status


def test_no_request_makes_a_5xx_and_every_4xx_is_json(client: Any) -> None:
    """Three properties over one home, 100 examples each: files of 1.0.0 under every
    header; bad refs before known paths; odd paths under good refs, and other routes."""
    test_client, known = client
    bounded = settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    method = st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "OPTIONS"])
    seen: set[int] = set()

    huge = "9" * 5000
    deb = known[-1]

    # the inputs that made 500s, always tried besides the drawn ones
    @bounded
    @example("GET", "1.0.0", deb, {"Range": f"bytes={huge}-"})
    @example("GET", "1.0.0", deb, {"Range": f"bytes=0-{huge}"})
    @example("GET", "1.0.0", deb, {"Range": f"bytes=-{huge}"})
    @example("GET", "stable", deb, {"If-Modified-Since": DATES[1]})
    @example("GET", "stable", deb, {"Range": "bytes=0-1", "If-Range": DATES[2]})
    @example("GET", "99991231T235959Z", "index.json", {})
    @given(method, st.sampled_from(GOOD_REFS), st.sampled_from(known), headers)
    def a_file(method: str, ref: str, path: str, headers: dict[str, str]) -> None:
        seen.add(_check(test_client, method, f"/v/{ref}/{path}", headers))

    @bounded
    @example("GET", "stable%00", "index.json", {})
    @example("GET", "%00", deb, {})
    @example("GET", f"{huge}.0.0", "index.json", {})
    @given(method, bad_ref, st.sampled_from(known), headers)
    def a_bad_ref(method: str, ref: str, path: str, headers: dict[str, str]) -> None:
        seen.add(_check(test_client, method, f"/v/{ref}/{path}", headers))

    @bounded
    @given(method, st.sampled_from(GOOD_REFS), _mutated(known), _elsewhere(known), headers)
    def a_bad_path(method: str, ref: str, path: str, other: str, headers: dict[str, str]) -> None:
        seen.add(_check(test_client, method, f"/v/{ref}/{path}", headers))
        seen.add(_check(test_client, method, other, headers))

    a_file()
    a_bad_ref()
    a_bad_path()
    # the examples reached the files with their headers, not only the errors
    assert {200, 206, 304, 404, 416} <= seen, seen


def test_a_ref_that_names_nothing_is_refused_before_any_query() -> None:
    """Garbage refs are 404 without a query: a session on a closed port proves it (a NUL
    byte would otherwise reach PostgreSQL, which cannot take it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/rv")
    arabic_digits = "\u0661.\u0660.\u0660"  # \d takes them; a version has ASCII digits
    garbage = ["stable\x00", "\x00", "a" * 101, "9" * 5000 + ".0.0", "Stable", arabic_digits, ""]
    try:
        with Session(engine) as session:
            for ref in garbage:
                with pytest.raises(NotFound, match="No repoversion, tag or timestamp"):
                    resolve(session, ref)
            with pytest.raises(OperationalError):  # a well-formed ref is looked up
                resolve(session, "stable")
    finally:
        engine.dispose()
