"""ostree export benchmark: debs exported per second, against the ostree CLI alone.

A fixed sample of real debs (``--ostree-debs``, 60 by default) is taken from this
machine's apt cache (``/var/cache/apt/archives``): the debs sorted by size, one at each
of N evenly spaced ranks, so small, median and large ones all count. They are stored in
a fresh home's blob store once. Then, alternating and ``--ostree-rounds`` times each:

- **repoversion**: ``export_debs`` over the sample into an empty repository, as the
  worker runs it (verify each blob, check and filter its members, commit data.tar and
  control.tar signed with the metadata of SPEC section 7, record the rows, one signed
  summary update);
- **ostree CLI**: a shell loop doing the same work with the ``ostree`` command alone
  (``sha256sum``, ``ar x``, the control fields read with ``tar`` and ``sed``, two
  ``ostree commit --tree=tar=…`` with the same metadata, signed, one ``ostree summary``),
  into another empty repository.

The medians are compared: the target is at least 0.8 of the CLI loop's rate (issue 12).
Both loops give the same data commit checksum for a deb (same tree, same metadata),
which the run checks and reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
from pathlib import Path

from tests.bench.common import Row, fmt_s, scratch, timed, venv_bin

NAME = "ostree_export"
APT_CACHE = Path("/var/cache/apt/archives")
TARGET = 0.8

# The CLI loop: $1 repository, $2 file listing the debs, $3 key id, $4 GnuPG home.
_LOOP = r"""
set -eu
repo=$1 list=$2 key=$3 gpghome=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
while read -r deb; do
  sha=$(sha256sum "$deb" | cut -c1-64)
  rm -rf "$work"/* && (cd "$work" && ar x "$deb")
  control="$(tar -xOf "$work"/control.tar* ./control)"$'\n'
  field() { printf '%s' "$control" | sed -n "s/^$1: //p" | head -n1; }
  pkg=$(field Package) ver=$(field Version) arch=$(field Architecture)
  for part in data control; do
    ostree commit --repo="$repo" --branch="dpkg/$part/$sha" --parent=none \
      --timestamp=@0 --subject="$pkg $ver $arch $part" --tar-autocreate-parents \
      --tree=tar="$(echo "$work"/$part.tar*)" \
      --add-metadata-string=dpkg.architecture="$arch" \
      --add-metadata-string=dpkg.control="$control" \
      --add-metadata-string=dpkg.package="$pkg" \
      --add-metadata-string=dpkg.sha256="$sha" \
      --add-metadata-string=dpkg.version="$ver" \
      --gpg-sign="$key" --gpg-homedir="$gpghome" >/dev/null
  done
done < "$list"
ostree summary --repo="$repo" --update --gpg-sign="$key" --gpg-homedir="$gpghome"
"""


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--ostree-debs", type=int, default=60, help="debs in the sample")
    group.add_argument("--ostree-rounds", type=int, default=3, help="runs of each contender")


def sample(count: int) -> list[Path]:
    """``count`` debs of the apt cache at evenly spaced ranks by size (fixed by the cache)."""
    debs = sorted(APT_CACHE.glob("*.deb"), key=lambda p: (p.stat().st_size, p.name))
    if len(debs) <= count:
        return debs
    return [debs[int((i + 0.5) * len(debs) / count)] for i in range(count)]


def _ours(ctx: object, refs: list[object]) -> tuple[float, dict[str, str]]:
    from repoversion.ostree.export import export_debs

    with timed() as t:
        done = export_debs(ctx, refs)  # type: ignore[arg-type]
    return t[0], {e.sha256: e.data_commit for e in done}


def _cli(repo: Path, listing: Path, key: str, gpghome: Path) -> tuple[float, dict[str, str]]:
    subprocess.run(["ostree", "init", "--mode=archive", f"--repo={repo}"], check=True)
    with timed() as t:
        proc = subprocess.run(
            ["bash", "-c", _LOOP, "loop", str(repo), str(listing), key, str(gpghome)],
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the ostree CLI loop failed: {proc.stderr.strip()[-500:]}")
    heads = repo / "refs" / "heads" / "dpkg" / "data"
    return t[0], {p.name: p.read_text().strip() for p in heads.iterdir()}


def run(opts: argparse.Namespace) -> list[Row]:
    debs = sample(opts.ostree_debs)
    if not debs:
        return [Row(NAME, "(module)", f"no .deb in {APT_CACHE}", "runs", False, "NOT RUN")]
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.ostree.export import DebRef

    size = sum(p.stat().st_size for p in debs)
    print(f"{len(debs)} debs, {size / 1e6:.1f} MB, from {APT_CACHE}", flush=True)
    with scratch("rv-bench-ostree-") as tmp:
        home = tmp / "home"
        subprocess.run([venv_bin("repoversion"), "--home", str(home), "init"], check=True)
        base = load_settings(home, environ={})
        ctx = Context(base)
        try:
            refs: list[object] = []
            for path in debs:
                with path.open("rb") as fh:
                    refs.append(DebRef(ctx.store.put(fh).sha256))
            listing = tmp / "debs.txt"
            listing.write_text("".join(f"{p}\n" for p in debs))
            key, gpghome = ctx.signer.fingerprint, ctx.signer.gnupg_home
            ours_s: list[float] = []
            cli_s: list[float] = []
            same = True
            for r in range(opts.ostree_rounds):
                order = ("ours", "cli") if r % 2 == 0 else ("cli", "ours")
                for who in order:
                    if who == "ours":
                        settings = dataclasses.replace(base, ostree_repo=tmp / f"ours-{r}")
                        run_ctx = Context(settings)
                        run_ctx.signer.fingerprint  # noqa: B018 - key import outside the clock
                        try:
                            seconds, commits = _ours(run_ctx, refs)
                        finally:
                            run_ctx.close()
                        ours_s.append(seconds)
                        ours_commits = commits
                    else:
                        seconds, cli_commits = _cli(tmp / f"cli-{r}", listing, key, gpghome)
                        cli_s.append(seconds)
                    print(f"round {r + 1} {who}: {fmt_s(seconds)}", flush=True)
                same = same and ours_commits == cli_commits
        finally:
            ctx.close()
    ours_rate = len(debs) / statistics.median(ours_s)
    cli_rate = len(debs) / statistics.median(cli_s)
    ratio = ours_rate / cli_rate
    return [
        Row(
            NAME,
            f"repoversion export, {len(debs)} debs ({size / 1e6:.0f} MB)",
            f"{ours_rate:.2f} debs/s",
        ),
        Row(NAME, "ostree CLI loop, same debs and work", f"{cli_rate:.2f} debs/s"),
        Row(NAME, "export rate / CLI loop rate", f"{ratio:.2f}", f">= {TARGET}", ratio >= TARGET),
        Row(NAME, "same data commits as the CLI loop", "yes" if same else "no", "yes", same),
    ]
