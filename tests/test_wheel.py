"""The wheel, as ``pip install`` or ``pipx`` installs it: built from this checkout into a fresh
virtualenv, it carries every module and the alembic migrations, initialises a home and syncs.

The fresh virtualenv borrows the dependencies of the test virtualenv through a ``.pth`` line
naming its site-packages. ``.pth`` files reached that way are not processed, so the editable
install of this checkout stays inactive and ``repoversion`` comes from the wheel alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.archives import Pkg

ROOT = Path(__file__).resolve().parents[1]
#: What a build of the checkout needs no copy of (caches, homes, earlier builds).
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
PROBE = """
import repoversion, repoversion.db.session
print(repoversion.__file__)
print(repoversion.db.session.MIGRATIONS_DIR)
"""


def _env() -> dict[str, str]:
    """This environment without anything that would point Python at the checkout."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME") and not k.startswith("REPOVERSION_")
    }


def _run(*args: str | Path, cwd: Path) -> str:
    """Run a command; it must succeed. Returns its stdout."""
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"{args}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def _build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the checkout: setuptools writes build/ next to the sources."""
    src, out = tmp_path / "src", tmp_path / "dist"
    shutil.copytree(ROOT, src, ignore=NOT_COPIED)
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        out,
        src,
        cwd=tmp_path,
    )
    [wheel] = out.glob("repoversion-*.whl")
    return wheel


def _expected_files() -> set[str]:
    """Every module of server/repoversion and every file of migrations/, as wheel paths."""
    pairs = [(ROOT / "server/repoversion", "*.py", "repoversion/")]
    pairs.append((ROOT / "migrations", "*", "repoversion/migrations/"))
    return {
        prefix + path.relative_to(top).as_posix()
        for top, pattern, prefix in pairs
        for path in top.rglob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A virtualenv with the wheel installed and the test virtualenv's dependencies."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    venv = tmp_path / "venv"
    # the test virtualenv's interpreter (Debian's), which its dependencies are built for, and
    # like it the system site-packages (python3-apt is not on PyPI)
    _run(Path(sys.base_prefix, "bin", version), "-m", "venv", "--without-pip",
         "--system-site-packages", venv, cwd=tmp_path)  # fmt: skip
    python = venv / "bin/python"
    # installed before deps.pth exists, so pip sees nothing of the test virtualenv
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel, cwd=tmp_path)  # fmt: skip
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                cwd=tmp_path).strip()  # fmt: skip
    ours = sysconfig.get_paths()
    deps = dict.fromkeys([ours["purelib"], ours["platlib"]])
    Path(site, "deps.pth").write_text("".join(f"{d}\n" for d in deps))
    return venv


@pytest.mark.slow
def test_installed_wheel_initialises_a_home_and_syncs(
    tmp_path: Path, fixture_archive: Callable[..., Any]
) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _expected_files() - names
    assert not missing, f"not in the wheel (packages in pyproject.toml?): {sorted(missing)}"
    assert not any(n.startswith("migrations/") for n in names)

    venv = _fresh_venv(tmp_path, wheel)
    # cwd is tmp_path: neither ./server nor ./migrations is on the path
    module, migrations = map(Path, _run(venv / "bin/python", "-c", PROBE, cwd=tmp_path).split())
    assert module.is_relative_to(venv), module
    assert migrations.is_relative_to(venv), migrations
    assert (migrations / "env.py").is_file() and (migrations / "script.py.mako").is_file()

    def cli(*args: str | Path) -> str:
        return _run(venv / "bin/repoversion", "--home", tmp_path / "home", *args, cwd=tmp_path)

    cli("init")
    archive = fixture_archive([Pkg("hello", "1.0")])
    cli("archive", "add", archive.name, archive.url, "--suite", "bookworm", "--component",
        "main", "--arch", "amd64", "--keyring", archive.keyring_path)  # fmt: skip
    out = json.loads(cli("sync", "--json"))
    assert out["new"] is True
    assert out["repoversion"] == "1.0.0"
