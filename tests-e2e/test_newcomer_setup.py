"""`make run` and `make test` set themselves up on a machine that has only Python, Java and Maven.

The Makefile reaches uv through `deploy/local/uv`, which installs it with pip when absent and runs it wherever
pip put it. Proved here on a fresh virtual environment whose PATH has no uv and whose HOME is empty, as a
newcomer's machine would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fresh_machine(tmp_path: Path) -> dict[str, str]:
    """A PATH holding only a new Python (with pip, without uv) and the system's tools; an empty HOME."""
    python_home = tmp_path / "python"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(python_home)
    home = tmp_path / "home"
    home.mkdir()
    system_path = ":".join(
        folder
        for folder in ("/usr/bin", "/bin")
        if Path(folder).is_dir() and not (Path(folder) / "uv").exists()
    )
    return {
        "PATH": f"{python_home / 'bin'}:{system_path}",
        "HOME": str(home),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


def test_the_uv_launcher_installs_uv_with_pip_and_runs_it_on_a_machine_without_uv(tmp_path: Path) -> None:
    env = fresh_machine(tmp_path)
    assert shutil.which("uv", path=env["PATH"]) is None, "the fresh machine must not have uv yet"

    first = subprocess.run(
        [str(REPO / "deploy" / "local" / "uv"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("uv "), first.stdout
    assert "installing it with pip" in first.stderr

    again = subprocess.run(
        [str(REPO / "deploy" / "local" / "uv"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "installing" not in again.stderr, "installed once, then reused"


def test_make_runs_uv_through_the_launcher_not_a_path_fixed_at_parse_time(tmp_path: Path) -> None:
    env = fresh_machine(tmp_path)
    planned = subprocess.run(
        ["make", "-n", "setup"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert planned.returncode == 0, planned.stderr
    assert f"{REPO}/deploy/local/uv sync --all-packages --locked" in planned.stdout
    assert f"{env['HOME']}/.local/bin/uv" not in planned.stdout
