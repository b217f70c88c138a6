"""Reading debs for ostree with the real ``ostree`` CLI: every compression, what is kept,
what is dropped, and hostile members refused with nothing committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from repoversion.errors import BadDeb
from repoversion.ostree.export import commit_deb, control_ref, data_ref
from repoversion.ostree.repo import Repo
from tests.ostree.debs import RICH, Entry, build_deb, sha256


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    r.ensure()
    return r


def _commit(repo: Repo, tmp_path: Path, deb: bytes) -> tuple[str, list[str]]:
    path = tmp_path / f"{sha256(deb)}.deb"
    path.write_bytes(deb)
    exported = commit_deb(repo, path, sha256(deb), path.name)
    return exported.data_commit, exported.dropped


def _ls(repo: Repo, ref: str) -> dict[str, str]:
    """path → ``ostree ls`` line (type+mode, uid, gid, size, link target)."""
    out = repo.run("ls", "-R", ref)
    entries: dict[str, str] = {}
    for line in out.splitlines():
        mode, uid, gid, size, rest = line.split(None, 4)
        path = rest.split(" -> ")[0]
        entries[path] = f"{mode} {uid} {gid} {size}" + (
            f" -> {rest.split(' -> ', 1)[1]}" if " -> " in rest else ""
        )
    return entries


@pytest.mark.parametrize("compression", ["gz", "xz", "zst", "bz2", ""])
def test_every_compression_gives_the_same_tree(
    repo: Repo, tmp_path: Path, compression: str
) -> None:
    deb = build_deb(RICH, compression=compression)
    commit, dropped = _commit(repo, tmp_path, deb)
    assert dropped == []
    # the tree does not depend on the compression: compare with the plain tar's
    plain = build_deb(RICH, compression="")
    plain_commit, _ = _commit(repo, tmp_path, plain)
    show = repo.run("show", "--print-metadata-key=dpkg.sha256", commit)
    assert sha256(deb) in show
    tree = repo.run("show", "--print-metadata-key=ostree.ref-binding", commit)
    assert data_ref(sha256(deb)) in tree
    assert _ls(repo, commit) == _ls(repo, plain_commit)
    assert repo.rev_parse(data_ref(sha256(deb))) == commit
    assert repo.rev_parse(control_ref(sha256(deb))) is not None


def test_modes_ownership_links_are_kept(repo: Repo, tmp_path: Path) -> None:
    commit, _ = _commit(repo, tmp_path, build_deb(RICH, compression="xz"))
    ls = _ls(repo, commit)
    assert ls["/usr/bin/suid"].startswith("-04755 0 0 ")
    assert ls["/usr/bin/sgid"].startswith("-02755 0 42 ")
    assert ls["/etc/tool.conf"].startswith("-00640 0 42 ")
    assert ls["/usr/bin/tool-link"].endswith("-> tool")
    assert ls["/usr/bin/abs-link"].endswith("-> /lib64/ld-linux-x86-64.so.2")
    # a hard link: the same content object as its target
    checksums = {
        line.split()[-1]: line.split()[4]
        for line in repo.run("ls", "-C", commit, "/usr/bin").splitlines()
        if line.startswith("-")
    }
    assert checksums["/usr/bin/hard"] == checksums["/usr/bin/tool"]


def test_fifo_and_devices_are_dropped_and_listed(repo: Repo, tmp_path: Path) -> None:
    entries = [
        Entry("dev", type="dir"),
        Entry("dev/console", type="chr"),
        Entry("dev/loop0", type="blk"),
        Entry("run", type="dir"),
        Entry("run/initctl", type="fifo"),
        Entry("etc", type="dir"),
        Entry("etc/kept", b"kept\n"),
    ]
    deb = build_deb(entries, compression="gz")
    commit, dropped = _commit(repo, tmp_path, deb)
    assert dropped == ["/dev/console", "/dev/loop0", "/run/initctl"]
    meta = repo.run("show", "--print-metadata-key=dpkg.dropped", commit)
    assert "/dev/console\\n/dev/loop0\\n/run/initctl" in meta
    ls = _ls(repo, commit)
    assert "/etc/kept" in ls and "/dev" in ls and "/dev/console" not in ls


def test_odd_names_are_normalised_to_the_same_tree(repo: Repo, tmp_path: Path) -> None:
    """Names without ``./``, with ``//`` or ``/./``: rewritten, the tree is the same."""
    canonical = [
        Entry("usr", type="dir"),
        Entry("usr/bin", type="dir"),
        Entry("usr/bin/plain", b"plain\n", mode=0o755),
        Entry("usr/bin/again", type="hardlink", link="./usr/bin/plain"),
        Entry("usr/lib", type="dir"),
        Entry("usr/lib/x", b"x\n"),
    ]
    odd = [
        Entry("usr", type="dir", raw=True),
        Entry("./usr//bin", type="dir", raw=True),
        Entry("usr/bin/plain", b"plain\n", mode=0o755, raw=True),
        Entry("usr/bin/again", type="hardlink", link="usr/bin/plain", raw=True),
        Entry("./usr/./lib", type="dir", raw=True),
        Entry("usr/lib/x", b"x\n", raw=True),
    ]
    good, _ = _commit(repo, tmp_path, build_deb(canonical))
    normalised, _ = _commit(repo, tmp_path, build_deb(odd))
    assert _ls(repo, normalised) == _ls(repo, good)


HOSTILE = {
    "absolute name": ([Entry("/etc/passwd", b"x", raw=True)], "leaves its root"),
    "dot-dot": ([Entry("usr/../../etc/passwd", b"x")], "leaves its root"),
    "dot-dot raw": ([Entry("../escape", b"x", raw=True)], "leaves its root"),
    "hard link out": (
        [Entry("usr", type="dir"), Entry("usr/x", type="hardlink", link="../../etc/shadow")],
        "hard link whose target leaves its root",
    ),
    "hard link absolute": (
        [Entry("x", type="hardlink", link="/etc/shadow")],
        "hard link whose target leaves its root",
    ),
    "hard link to nothing": (
        [Entry("x", type="hardlink", link="./missing")],
        "hard link to no earlier member",
    ),
    "through a symlink": (
        [
            Entry("lib", type="symlink", link="/etc"),
            Entry("lib/cron.d/evil", b"* * * * * root x\n"),
        ],
        "through an earlier symlink",
    ),
    "through a relative symlink": (
        [Entry("a", type="symlink", link="../../.."), Entry("a/b", b"x")],
        "through an earlier symlink",
    ),
    "hard link through a symlink": (
        [
            Entry("lib", type="symlink", link="/etc"),
            Entry("x", type="hardlink", link="./lib/shadow"),
        ],
        "through an earlier symlink",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_members_are_refused_and_nothing_is_committed(
    repo: Repo, tmp_path: Path, case: str
) -> None:
    entries, words = HOSTILE[case]
    # harmless members first: they must not be committed either
    deb = build_deb([Entry("usr", type="dir"), Entry("usr/ok", b"ok\n"), *entries])
    with pytest.raises(BadDeb, match=words) as raised:
        _commit(repo, tmp_path, deb)
    assert sha256(deb) in raised.value.message
    assert "\n" not in raised.value.message
    assert repo.refs() == []
    commits = list((repo.path / "objects").rglob("*.commit"))
    assert commits == []


def test_hostile_control_archive_is_refused(repo: Repo, tmp_path: Path) -> None:
    deb = build_deb([Entry("usr/ok", b"ok\n")], compression="gz")
    # rebuild with a control.tar member leaving its root
    from tests.ostree import debs

    ctl = debs.tar_of([Entry("control", debs.control_text().encode()), Entry("../postinst", b"x")])
    bad = (
        b"!<arch>\n"
        + debs._ar_member("debian-binary", b"2.0\n")
        + debs._ar_member("control.tar", ctl)
        + debs._ar_member(
            "data.tar.gz", debs.compress(debs.tar_of([Entry("usr/ok", b"ok\n")]), "gz")
        )
    )
    assert deb != bad
    with pytest.raises(BadDeb, match="leaves its root"):
        _commit(repo, tmp_path, bad)
    assert repo.refs() == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not a deb at all", "no ar archive header"),
        (
            b"!<arch>\n" + b"debian-binary   0           0     0     100644  4         `\n2.0\n",
            "lacks control.tar and data.tar",
        ),
        (
            b"!<arch>\ndebian-binary   0           0     0     100644  400       `\n2.0\n",
            "truncated",
        ),
    ],
    ids=["not ar", "no members", "truncated"],
)
def test_malformed_debs_get_one_sentence(
    repo: Repo, tmp_path: Path, data: bytes, words: str
) -> None:
    with pytest.raises(BadDeb, match=words):
        _commit(repo, tmp_path, data)
    assert repo.refs() == []


def test_corrupt_compressed_member_is_refused(repo: Repo, tmp_path: Path) -> None:
    deb = bytearray(build_deb(RICH, compression="xz"))
    deb[-40:-20] = b"\0" * 20  # inside data.tar.xz
    with pytest.raises(BadDeb, match=r"data\.tar\.xz"):
        _commit(repo, tmp_path, bytes(deb))
    assert repo.refs() == []


def test_a_real_dpkg_deb_build_is_read(repo: Repo, tmp_path: Path) -> None:
    """dpkg-deb's own output (zstd members, as Ubuntu builds them) reads the same."""
    root = tmp_path / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: real\nVersion: 2\nArchitecture: all\nMaintainer: T <t@example.invalid>\n"
        "Description: real\n"
    )
    (root / "usr" / "share").mkdir(parents=True)
    (root / "usr" / "share" / "real").write_text("real\n")
    (root / "usr" / "share" / "alias").symlink_to("real")
    deb = tmp_path / "real.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    members = subprocess.run(["ar", "t", str(deb)], capture_output=True, check=True, text=True)
    assert "data.tar.zst" in members.stdout
    commit, _ = _commit(repo, tmp_path, deb.read_bytes())
    ls = _ls(repo, commit)
    assert ls["/usr/share/alias"].endswith("-> real")
    assert ls["/usr/share/real"].startswith("-00644 0 0 5")


def test_a_control_paragraph_without_version_is_refused(repo: Repo, tmp_path: Path) -> None:
    deb = build_deb(RICH, control="Package: tool\nArchitecture: amd64\nDescription: x\n")
    with pytest.raises(BadDeb, match="its control paragraph has no Version field") as raised:
        _commit(repo, tmp_path, deb)
    assert sha256(deb) in raised.value.message
    assert repo.refs() == []
