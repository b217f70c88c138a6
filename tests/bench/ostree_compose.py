"""ostree compose benchmark: build-essential's lockfile composed into one root.

Real debs: a home syncs this machine's Debian bookworm (main, amd64; the URL read from
/etc/apt/sources.list.d/ at run time, nothing here names a host), locks
``build-essential`` and exports its debs (fetched through repoversion, ``ostree export
--lockfile``). Then, each in a fresh process and timed:

1. **compose**: ``ostree compose --lockfile F --ref …`` (debs exported already): control
   checkouts, tree listings, the dpkg database, one commit merging the trees by
   reference, the lockfile metadata, signing, the summary;
2. **ostree's merge** (peer): ``ostree commit --tree=ref=…`` of the same data trees, the
   command-line way to merge them (what the compose computes itself; no dpkg database,
   no checks, no signature);
3. **naive merge** (peer): ``ostree checkout --union`` of every package tree into one
   directory, then ``ostree commit`` of that directory;

No target: the figures are printed, with the ratio of each peer to the compose.
Without this machine's Debian sources, or when they do not answer, the benchmark prints
why and reports nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.common import Row, fmt_s, run_measured, scratch, venv_bin

NAME = "ostree_compose"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--compose-package", default="build-essential", help="what the lockfile installs"
    )


def _debian_url() -> tuple[str | None, str]:
    """This machine's bookworm archive URL, or None and why not."""
    from repoversion.aptsources.host import read_system_sources

    debian = next((a for a in read_system_sources() if "bookworm" in a.suites), None)
    if debian is None:
        return None, "this machine's apt sources name no bookworm archive"
    try:
        with urllib.request.urlopen(f"{debian.url.rstrip('/')}/dists/bookworm/Release", timeout=10):
            pass
    except OSError as exc:
        return None, f"this machine's Debian archive does not answer ({exc})"
    return debian.url, ""


def run(opts: argparse.Namespace) -> list[Row]:
    url, why = _debian_url()
    if url is None:
        print(f"SKIPPED: {why}", flush=True)
        return [Row(NAME, "compose", f"not measured: {why}")]
    with scratch("rv-bench-compose-") as base:
        return _measure(base, url, opts.compose_package)


def _measure(base: Path, url: str, package: str) -> list[Row]:
    home = base / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    env["REPOVERSION_NOW"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rv = venv_bin("repoversion")

    def cli(*args: str) -> str:
        return run_measured([rv, "--home", str(home), *args], env=env).check().stdout

    cli("init")
    cli("archive", "add", "debian", url, "--suite", "bookworm", "--component", "main",
        "--arch", "amd64", "--keyring", KEYRING)  # fmt: skip
    version = json.loads(cli("sync", "--json"))["repoversion"]
    lockfile = base / "lock.json"
    cli("lock", "--version", version, "--arch", "amd64", package, "-o", str(lockfile))
    lock = json.loads(lockfile.read_text())
    exported = run_measured([rv, "--home", str(home), "ostree", "export", "--json",
                             "--lockfile", str(lockfile)], env=env).check()  # fmt: skip
    commits = [d["data"]["commit"] for d in json.loads(exported.stdout)["debs"]]
    compose_argv = [rv, "--home", str(home), "ostree", "compose", "--lockfile", str(lockfile)]
    compose = run_measured([*compose_argv, "--ref", "bench/plain", "--json"], env=env).check()
    repo = home / "ostree"
    trees = [f"--tree=ref={c}" for c in commits]
    merge = run_measured(["ostree", "commit", f"--repo={repo}", "--orphan", "--no-bindings",
                          *trees]).check().wall  # fmt: skip
    naive = _naive_merge(repo, commits, base / "naive")
    n = len(lock["packages"])
    rows = [
        Row(NAME, f"export of {n} debs ({package}, fetched)", fmt_s(exported.wall)),
        Row(NAME, f"compose of {n} debs", fmt_s(compose.wall)),
        Row(NAME, "ostree commit --tree=ref=… of the same trees", fmt_s(merge)),
        Row(NAME, "naive merge (checkout --union each, commit dir)", fmt_s(naive)),
        Row(NAME, "ostree's merge / compose", f"{merge / compose.wall:.1f}x"),
        Row(NAME, "naive merge / compose", f"{naive / compose.wall:.1f}x"),
    ]
    for row in rows:
        print(f"{row.measure}: {row.value}", flush=True)
    return rows


def _naive_merge(repo: Path, commits: list[str], target: Path) -> float:
    """Seconds to check every tree out into one directory and commit it, CLI only."""
    script = 'set -e; repo=$1; dir=$2; shift 2\nfor c in "$@"; do ostree checkout --repo="$repo" --union "$c" "$dir"; done\nostree commit --repo="$repo" --orphan --no-bindings --tree=dir="$dir" >/dev/null\n'  # noqa: E501
    return (
        run_measured(["sh", "-c", script, "naive", str(repo), str(target), *commits]).check().wall
    )
