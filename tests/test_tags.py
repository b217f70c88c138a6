"""Tags (SPEC section 2): the CLI on a real mirror, the domain on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from repoversion.db.models import Repoversion, TagEvent
from repoversion.db.session import make_engine, make_sessionmaker, transaction, upgrade
from repoversion.errors import Gone, InvalidInput, NotFound
from repoversion.versions.refs import resolve, resolve_ref
from repoversion.versions.tags import delete_tag, list_tags, set_tag, tag_history
from tests.fixtures.archives import Pkg
from tests.mirror.conftest import NOW, Mirror


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def mirror(home: Path, run_cli) -> Mirror:  # type: ignore[no-untyped-def]
    """The ``tests/mirror`` fixture, for this module at the top of ``tests/``."""
    return Mirror(home, run_cli, {"REPOVERSION_NOW": NOW})


@pytest.fixture
def two_versions(mirror: Mirror, fixture_archive) -> Mirror:  # type: ignore[no-untyped-def]
    """A mirror holding 1.0.0 (made at 00:00) and 1.1.0 (at 01:00) of one fixture archive."""
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    mirror.env = {**mirror.env, "REPOVERSION_NOW": "2025-06-01T01:00:00Z"}
    assert mirror.sync()["repoversion"] == "1.1.0"
    return mirror


def tags_json(mirror: Mirror) -> list[dict[str, str]]:
    result = mirror.cli("tags", "--json")
    assert result.code == 0, result.stderr
    data: list[dict[str, str]] = json.loads(result.stdout)
    return data


# --------------------------------------------------------------------------- CLI


def test_tags_on_a_mirror_without_versions_is_empty(mirror: Mirror) -> None:
    assert tags_json(mirror) == []


def test_tag_create_move_list_and_delete(two_versions: Mirror) -> None:
    m = two_versions
    assert tags_json(m) == [
        {"name": "latest", "repoversion": "1.1.0", "moved": m.show("1.1.0")["created"]}
    ]

    created = m.cli("tag", "stable", "1.0.0")
    assert created.code == 0 and created.stdout == ""
    assert "1.0.0" in one_sentence(created.stderr)
    assert m.show("stable")["repoversion"] == "1.0.0"

    moved = m.cli("tag", "stable", "latest")
    assert moved.code == 0
    assert "1.0.0 -> 1.1.0" in one_sentence(moved.stderr)
    again = m.cli("tag", "stable", "1.1.0")
    assert "nothing changed" in one_sentence(again.stderr)

    m.cli("tag", "pinned", "stable")
    listed = tags_json(m)
    assert [(t["name"], t["repoversion"]) for t in listed] == [
        ("latest", "1.1.0"),
        ("pinned", "1.1.0"),
        ("stable", "1.1.0"),
    ]
    assert all(t["moved"].endswith("Z") for t in listed)

    # A timestamp names the newest version at or before it.
    first_created = m.show("1.0.0")["created"]
    stamp = first_created.replace("-", "").replace(":", "")
    assert m.cli("tag", "stable", stamp).code == 0
    assert m.show("stable")["repoversion"] == "1.0.0"

    deleted = m.cli("tag", "--delete", "stable")
    assert deleted.code == 0 and "1.0.0" in one_sentence(deleted.stderr)
    assert [t["name"] for t in tags_json(m)] == ["latest", "pinned"]
    gone = m.cli("show", "stable", "--json")
    assert gone.code != 0 and gone.stdout == ""

    history = m.cli("tags", "--history", "stable", "--json")
    assert history.code == 0, history.stderr
    assert [h["repoversion"] for h in json.loads(history.stdout)] == [
        "1.0.0",
        "1.1.0",
        "1.0.0",
        None,
    ]


def test_tags_table_is_readable(two_versions: Mirror) -> None:
    two_versions.cli("tag", "stable", "1.0.0")
    out = two_versions.cli("tags").stdout.splitlines()
    assert out[0].split() == ["NAME", "REPOVERSION", "MOVED"]
    assert [line.split()[:2] for line in out[1:]] == [["latest", "1.1.0"], ["stable", "1.0.0"]]


MISTAKES: list[tuple[tuple[str, ...], str | None]] = [
    (("tag", "latest", "1.0.0"), "read-only"),
    (("tag", "--delete", "latest"), "read-only"),
    (("tag", "Stable", "1.0.0"), "[a-z]"),
    (("tag", "2.0.0", "1.0.0"), "version"),
    (("tag", "-x", "1.0.0"), None),
    (("tag", "stable", "9.9.9"), "9.9.9"),
    (("tag", "stable", "nosuchtag"), "nosuchtag"),
    (("tag", "stable", "19990101T000000Z"), "19990101T000000Z"),
    (("tag", "stable"), "REF"),
    (("tag", "--delete", "stable", "1.0.0"), "REF"),
    (("tag", "--delete", "nosuchtag"), "nosuchtag"),
    (("tags", "--history", "never"), "never"),
]


def test_tag_mistakes_are_one_sentence_and_change_nothing(two_versions: Mirror) -> None:
    before = tags_json(two_versions)
    for args, needle in MISTAKES:
        result = two_versions.cli(*args)
        assert result.code != 0 and result.stdout == "", args
        assert "Traceback" not in result.stderr, args
        if needle is not None:
            assert needle in one_sentence(result.stderr), args
    assert tags_json(two_versions) == before


# --------------------------------------------------------------------------- domain


T0 = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Session]:
    """A migrated database (SQLite and PostgreSQL) holding versions 1.0.0, 1.1.0, 2.0.0;
    2.0.0 is dropped."""
    upgrade(db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as s:
        parent = None
        for i, (number, dropped) in enumerate(
            [((1, 0, 0), False), ((1, 1, 0), False), ((2, 0, 0), True)]
        ):
            v = Repoversion(
                major=number[0],
                minor=number[1],
                patch=number[2],
                version="{}.{}.{}".format(*number),
                state="sha256:" + f"{i}" * 64,
                parent_id=parent,
                bump="minor",
                created=T0 + timedelta(hours=i),
                index_sha256=f"{i}" * 64,
                changes={},
                dropped=T0 + timedelta(days=1) if dropped else None,
            )
            s.add(v)
            s.flush()
            parent = v.id
    session = sessions()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


def test_domain_set_move_delete_and_history(db: Session) -> None:
    first = set_tag(db, "stable", "1.0.0", T0 + timedelta(days=2))
    assert (first.previous, first.changed, first.tag.repoversion) == (None, True, "1.0.0")
    db.commit()
    same = set_tag(db, "stable", "1.0.0", T0 + timedelta(days=3))
    assert not same.changed and same.tag.moved == T0 + timedelta(days=2)
    moved = set_tag(db, "stable", "latest", T0 + timedelta(days=4))
    assert (moved.previous, moved.tag.repoversion) == ("1.0.0", "1.1.0")
    back = set_tag(db, "stable", "1.0.0", T0 + timedelta(days=5))
    db.commit()
    assert back.tag.moved == T0 + timedelta(days=5)

    # Under the tag, a signed Release is dated when the tag moved, not when 1.0.0 was made.
    resolved = resolve(db, "stable")
    assert resolved.version.version == "1.0.0" and not resolved.immutable
    assert resolved.release_date == T0 + timedelta(days=5)

    infos = list_tags(db)
    assert [(t.name, t.repoversion, t.builtin) for t in infos] == [
        ("latest", "1.1.0", True),
        ("stable", "1.0.0", False),
    ]
    assert infos[0].moved == T0 + timedelta(hours=1)  # 2.0.0 is dropped: latest is 1.1.0

    assert delete_tag(db, "stable", T0 + timedelta(days=6)) == "1.0.0"
    db.commit()
    with pytest.raises(NotFound):
        resolve_ref(db, "stable")
    history = tag_history(db, "stable")
    assert history == [
        {"repoversion": "1.0.0", "at": "2025-06-03T00:00:00Z"},
        {"repoversion": "1.1.0", "at": "2025-06-05T00:00:00Z"},
        {"repoversion": "1.0.0", "at": "2025-06-06T00:00:00Z"},
        {"repoversion": None, "at": "2025-06-07T00:00:00Z"},
    ]
    assert len(db.scalars(select(TagEvent)).all()) == 4


def test_domain_refusals(db: Session) -> None:
    now = T0 + timedelta(days=2)
    for bad in ("latest", "Stable", "1.0.0", "20250101T000000Z", "9lives", "a b", "", "x" * 101):
        with pytest.raises(InvalidInput):
            set_tag(db, bad, "1.0.0", now)
    with pytest.raises(Gone):
        set_tag(db, "old", "2.0.0", now)
    with pytest.raises(NotFound):
        set_tag(db, "old", "3.0.0", now)
    with pytest.raises(InvalidInput):
        delete_tag(db, "latest", now)
    with pytest.raises(NotFound):
        delete_tag(db, "never", now)
    with pytest.raises(InvalidInput):
        tag_history(db, "latest")
    assert [t.name for t in list_tags(db)] == ["latest"]
    assert db.scalars(select(TagEvent)).all() == []
