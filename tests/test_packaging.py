"""The installed package (not the work tree) has every module and data file: the README's
install command uses a plain `pip install .`, which the editable test install would not catch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    # build from a clean copy: a build/ directory left in the work tree can hide a missing package
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns("build", ".venv", "*.egg-info", "__pycache__", ".git", "node_modules"),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("repo_assistant-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(ROOT))
        for package in ("assistant", "sandbox", "prompts", "web")
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    missing = sorted(expected - names)
    assert not missing, missing
