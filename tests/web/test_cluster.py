"""Two nodes sharing one database and one blob store serve the same bytes for an immutable
URL: a signed Release is generated once, by whichever node asks first."""

from __future__ import annotations

import time
from pathlib import Path

from repoversion.config import load_settings
from repoversion.web import create_app
from tests.fixtures.archives import Pkg
from tests.mirror.conftest import NOW


def node(home: Path, shared: Path, **extra: str):  # type: ignore[no-untyped-def]
    home.mkdir(exist_ok=True)
    return create_app(
        load_settings(
            home,
            environ={
                "REPOVERSION_NOW": NOW,
                "REPOVERSION_DATABASE_URL": f"sqlite:///{shared / 'repoversion.db'}",
                "REPOVERSION_STORAGE_URL": (shared / "blobs").as_uri(),
                "REPOVERSION_SIGNING_KEY": str(shared / "keys" / "signing-key.asc"),
                **extra,
            },
        )
    )


def test_an_immutable_release_keeps_its_bytes_whatever_a_node_is_configured_with(  # type: ignore[no-untyped-def]
    mirror, fixture_archive, tmp_path
) -> None:
    """A node with another public_url and another signing key (a misconfigured node, or
    one node after a config change) serves the stored bytes, not bytes of its own."""
    from repoversion.archive.signing import generate_signing_key

    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    a = node(tmp_path / "node-a", mirror.home).test_client()
    first = a.get("/v/1.0.0/debian/dists/bookworm/InRelease")
    assert first.status_code == 200
    assert b"Snapshots: http://127.0.0.1:8080/v/@SNAPSHOTID@/debian/\n" in first.data
    other_key = tmp_path / "other-key.asc"
    generate_signing_key(other_key)
    b = node(
        tmp_path / "node-b",
        mirror.home,
        REPOVERSION_PUBLIC_URL="https://elsewhere.example",
        REPOVERSION_SIGNING_KEY=str(other_key),
    ).test_client()
    for name in ("InRelease", "Release", "Release.gpg"):
        url = f"/v/1.0.0/debian/dists/bookworm/{name}"
        assert b.get(url).data == a.get(url).data, name


def test_nodes_serve_identical_signed_releases(mirror, fixture_archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    a = node(tmp_path / "node-a", mirror.home).test_client()
    b = node(tmp_path / "node-b", mirror.home).test_client()
    names = ("InRelease", "Release.gpg", "Release")
    first_answers = {n: a.get(f"/v/1.0.0/debian/dists/bookworm/{n}") for n in names}
    time.sleep(1.1)  # a signature made now would carry another creation time
    for name in names:
        first = first_answers[name]
        second = b.get(f"/v/1.0.0/debian/dists/bookworm/{name}")
        assert first.status_code == second.status_code == 200, name
        assert first.data == second.data, name
        assert first.headers["ETag"] == second.headers["ETag"], name
    tag_url = "/v/latest/debian/dists/bookworm/InRelease"
    assert b.get(tag_url).data == a.get(tag_url).data


def test_a_node_that_loses_the_race_serves_the_winners_bytes(mirror, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from repoversion.context import Context
    from repoversion.serving.derived import Derived

    ctx = Context(load_settings(mirror.home, environ={"REPOVERSION_NOW": NOW}))
    a = Derived(ctx.store, tmp_path / "a", lambda: ctx.sessions, ctx.settings.clock)
    b = Derived(ctx.store, tmp_path / "b", lambda: ctx.sessions, ctx.settings.clock)
    won: dict[str, object] = {}

    def make_a() -> dict[str, bytes]:
        # while node a generates, node b generates and records the same key first
        won.update(b.get("release/1/x", lambda: {"InRelease": b"signed by b"}))
        return {"InRelease": b"signed by a"}

    got = a.get("release/1/x", make_a)
    assert got == won
    assert ctx.store.read_bytes(got["InRelease"].sha256) == b"signed by b"
    # and every later reader, on any node, gets the same
    c = Derived(ctx.store, tmp_path / "c", lambda: ctx.sessions, ctx.settings.clock)
    assert c.get("release/1/x", lambda: {"InRelease": b"signed by c"}) == won
    ctx.close()


def test_a_lost_generated_blob_is_made_again_once_the_memory_expires(mirror, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """fsck --repair drops the row of a generated blob that was lost; a node that
    remembered it generates it again once its memory of the key expires."""
    from repoversion.context import Context
    from repoversion.serving.derived import Derived

    ctx = Context(load_settings(mirror.home, environ={"REPOVERSION_NOW": NOW}))
    clock = [0.0]
    node = Derived(ctx.store, tmp_path / "a", lambda: ctx.sessions, ctx.settings.clock, ttl=60)
    node._memo._clock = lambda: clock[0]
    first = node.get("release/1/y", lambda: {"InRelease": b"first"})["InRelease"]
    ctx.store.delete(first.sha256)  # lost (its row stays: a row naming a lost blob is stale)
    remade = {"InRelease": b"made again"}
    assert node.get("release/1/y", lambda: remade)["InRelease"] == first  # remembered
    clock[0] = 61.0
    again = node.get("release/1/y", lambda: remade)["InRelease"]
    assert ctx.store.read_bytes(again.sha256) == b"made again"
    ctx.close()
