"""``repoversion fsck`` as an operator runs it: the installed console script, in its own
process, with no terminal (so no progress bar): exit status, stdout, stderr."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fsck.conftest import Checked

SCRIPT = Path(sys.executable).parent / "repoversion"


def _run(checked: Checked, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    env.update(checked.mirror.env)
    return subprocess.run(
        [str(SCRIPT), "--home", str(checked.mirror.home), "fsck", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("backend", ["fs"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_exit_status_and_sentences(checked: Checked) -> None:
    clean = _run(checked)
    assert (clean.returncode, clean.stderr) == (0, "")
    assert clean.stdout.startswith("Checked ") and clean.stdout.endswith(
        " bytes): 0 corrupt, 0 missing.\n"
    )

    hello, path = checked.deb("hello")
    size = checked.packages["hello"]["size"]
    left = checked.access.truncate(hello)
    broken = _run(checked)
    assert broken.returncode == 1
    assert broken.stderr.splitlines() == [
        f"error: blob {hello} is corrupt (its {len(left)} bytes of the {size} recorded hash "
        f"to {hashlib.sha256(left).hexdigest()}); moved to quarantine/{hello}.",
        "error: fsck found 1 corrupt and 0 missing blobs; `repoversion fsck --repair` "
        "fetches again what upstream still has.",
    ]
    assert "1 corrupt, 0 missing." in broken.stdout

    repaired = _run(checked, "--repair")
    assert (repaired.returncode, repaired.stderr) == (0, ""), repaired.stderr
    assert f"repaired {hello}: fetched debian: {path} from upstream.\n" in repaired.stdout
    assert f"blob {hello} is missing (needed by its blob row; debian: {path})." in repaired.stdout

    assert _run(checked).returncode == 0

    usage = _run(checked, "--jobs", "0")
    assert usage.returncode == 2 and "--jobs" in usage.stderr and "Traceback" not in usage.stderr


def test_a_home_without_a_database_is_one_sentence(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--home", str(tmp_path / "nothing"), "fsck")
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: No database at {tmp_path / 'nothing' / 'repoversion.db'}; run `repoversion init`."
    ]
