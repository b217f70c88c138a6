"""A timestamp names the newest repoversion created at or before the end of that second,
so the ``created`` time ``versions`` prints (whole seconds) names that very version, in
apt's snapshot ID form and in the printed ISO form alike."""

from __future__ import annotations

import json

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror


def test_the_printed_created_time_names_its_version(mirror: Mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.env["REPOVERSION_NOW"] = "2026-12-01T04:24:14.280000Z"  # a fraction of a second
    mirror.sync()
    arc.add(Pkg("hello", "2.0"))
    arc.publish()
    mirror.env["REPOVERSION_NOW"] = "2026-12-01T04:24:15.900000Z"
    mirror.sync()
    listed = json.loads(mirror.cli("versions", "--json").stdout)
    assert [(v["repoversion"], v["created"]) for v in listed] == [
        ("1.1.0", "2026-12-01T04:24:15Z"),
        ("1.0.0", "2026-12-01T04:24:14Z"),
    ]
    for ref, want in (
        ("20261201T042414Z", "1.0.0"),
        ("2026-12-01T04:24:14Z", "1.0.0"),
        ("20261201T042415Z", "1.1.0"),
        ("2026-12-01T04:24:15Z", "1.1.0"),
    ):
        shown = mirror.cli("show", ref, "--json")
        assert shown.code == 0, (ref, shown.stderr)
        assert json.loads(shown.stdout)["repoversion"] == want, ref
    before = mirror.cli("show", "20261201T042413Z")
    assert before.code != 0 and "No repoversion was created at or before" in before.stderr
