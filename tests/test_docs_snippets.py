"""Every ```python block of README.md and docs/*.md runs as written, so snippets cannot rot.

The blocks of one file run in order in one fresh interpreter (like a notebook: a later
block may use what an earlier one defined), in a scratch folder where ``examples`` is the
project's. A block whose first line is a comment starting ``# partial:`` is a fragment
(it says why) and is not run. Files needing data first get it from ``SETUP``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]  # docs/api/ too, like tools/doc_commands.py
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PARTIAL = "# partial:"

# Commands run (in the scratch folder) before a file's blocks: what the text tells the reader to do first.
FIT_MYDEV = [
    [sys.executable, "-m", "imc_table.sample", "sample-ramps.csv"],
    [sys.executable, "-m", "imc.cli", "fit", "sample-ramps.csv", "--name", "mydev"],
]
SETUP = {"devices.md": FIT_MYDEV}


def page_name(path: Path) -> str:
    """README.md, or the path under docs/ (api/training.md and training.md are different pages)."""
    return path.relative_to(ROOT / "docs").as_posix() if path.is_relative_to(ROOT / "docs") else path.name


def blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def runnable(path: Path) -> list[str]:
    return [b for b in blocks(path) if not b.lstrip().startswith(PARTIAL)]


def test_blocks_are_found_and_partial_ones_say_why():
    found = {page_name(p): blocks(p) for p in DOCS}
    assert len(found["README.md"]) >= 2
    for name, texts in found.items():
        for text in texts:
            first = text.lstrip().splitlines()[0] if text.strip() else ""
            if first.startswith(PARTIAL):
                assert len(first) > len(PARTIAL) + 5, f"{name}: a partial block must say why: {first!r}"


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in DOCS if runnable(p)], ids=page_name)
def test_python_blocks_run_as_written(path, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "IMC_PRESET_DIR": str(tmp_path / "fits"), "MPLBACKEND": "Agg"}
    for command in SETUP.get(page_name(path), []):
        subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    script = "\n\n".join(runnable(path))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{path.name}: a python block failed:\n{done.stderr[-3000:]}"
