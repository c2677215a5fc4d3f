"""Run every shell command block of README.md and docs/ as written, in a fresh venv.

    python tools/doc_commands.py            # every ```bash / ```sh / ```shell / ```console block
    python tools/doc_commands.py --list     # list the blocks and what would be skipped, run nothing
    python tools/doc_commands.py docs/devices.md   # one page's blocks (the project is installed first)

What a reader of a fresh clone would do: the runner creates a new virtual environment (never
touches the one it runs from), copies the repository (tracked and untracked-but-not-ignored
files) into a scratch folder per page, puts the venv first on PATH, and runs each block of the
page in order as one ``bash -e -o pipefail`` script from the copy's root. README.md runs first:
its ``pip install .`` is what installs imc; if README.md is not selected, ``pip install .``
runs first as setup (and says so). In a ```console block only the ``$ `` lines are commands.

A block that cannot run in CI says so on its first line, where the reader sees it::

    # not run in CI: <reason>

and is skipped with its reason. The run ends with how many blocks ran, were skipped and
failed; a failed block prints its script and the tail of its output, and the exit code is 1.
Presets written by ``imc fit`` go to a scratch ``IMC_PRESET_DIR`` per page; plots use matplotlib's Agg.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"bash", "sh", "shell", "console"}
SKIP_MARK = "# not run in CI:"
FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
PROMPT = "$ "
SCRATCH_MARK = ".doc-commands-scratch"
BLOCK_TIMEOUT_S = 900
COPY_IGNORE = shutil.ignore_patterns(".git", ".tox", ".venv*", "runs", "site", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".hypothesis")


@dataclass(frozen=True)
class Block:
    """One fenced code block: its file, the line of its opening fence, language and text."""

    path: Path
    line: int
    lang: str
    text: str

    @property
    def skip_reason(self) -> str | None:
        """The reason given by a ``# not run in CI:`` first line, else None."""
        first = next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "")
        return first[len(SKIP_MARK):].strip() if first.startswith(SKIP_MARK) else None

    @property
    def script(self) -> str:
        """The commands to run: the whole block, or a console block's ``$ `` lines (with continuations)."""
        if self.lang != "console":
            return self.text
        lines, continuing = [], False
        for ln in self.text.splitlines():
            if continuing:
                lines.append(ln)
            elif ln.startswith(PROMPT):
                lines.append(ln[len(PROMPT):])
            else:
                continue  # output shown to the reader
            continuing = ln.rstrip().endswith("\\")
        return "\n".join(lines) + "\n"

    def where(self, root: Path = ROOT) -> str:
        try:
            name = self.path.relative_to(root).as_posix()
        except ValueError:
            name = self.path.name
        return f"{name}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file (``` or ~~~ fences, indented up to 3 spaces)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE_OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        lang = opening["info"].split()[0].lower() if opening["info"].strip() else ""
        body, j = [], i + 1
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        while j < len(lines) and not closing.match(lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        blocks.append(Block(path, i + 1, lang, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md first, then every Markdown page under docs/ (new pages are picked up by themselves)."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def shell_blocks(paths: list[Path]) -> list[Block]:
    return [b for p in paths for b in fenced_blocks(p) if b.lang in SHELL_LANGS]


def repo_files(root: Path) -> list[str] | None:
    """Files a clone plus your untracked work holds (git's view), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return [f for f in out.stdout.decode().split("\0") if f and (root / f).is_file()]


def copy_repo(root: Path, dest: Path) -> None:
    files = repo_files(root)
    if files is None:
        shutil.copytree(root, dest, ignore=COPY_IGNORE, symlinks=True)
        return
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)


def make_venv(where: Path) -> dict[str, str]:
    """A new venv at ``where`` and the environment that puts it first on PATH (as `activate` does)."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    bindir = where / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(where), MPLBACKEND="Agg",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def run_block(block: Block, cwd: Path, env: dict[str, str], log: Path) -> tuple[bool, float]:
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        try:
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.script], cwd=cwd, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=BLOCK_TIMEOUT_S)
            ok = done.returncode == 0
        except subprocess.TimeoutExpired:
            out.write(f"\n[doc-commands] timed out after {BLOCK_TIMEOUT_S} s\n")
            ok = False
    return ok, time.perf_counter() - started


def tail(path: Path, chars: int = 3000) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[-chars:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="pages to run (default: README.md and every docs/ page)")
    parser.add_argument("--list", action="store_true", help="list the blocks and skips, run nothing")
    parser.add_argument("--scratch", type=Path, help="folder for the venv and the copies (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    paths = [p.resolve() for p in args.files] or doc_files()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"doc-commands: error: no such page: {', '.join(missing)}", file=sys.stderr)
        return 2
    readme = ROOT / "README.md"
    paths.sort(key=lambda p: (p != readme, str(p)))
    blocks = shell_blocks(paths)

    if args.list:
        for b in blocks:
            reason = b.skip_reason
            commands = [ln for ln in b.script.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            shown = f"skip ({reason})" if reason is not None else f"run  {commands[0][:60] if commands else ''}"
            print(f"{b.where():<32} {b.lang:<8} {shown}")
        skipped = sum(b.skip_reason is not None for b in blocks)
        print(f"doc-commands: {len(blocks)} blocks, {len(blocks) - skipped} to run, {skipped} skipped")
        return 0

    scratch_root = args.scratch or Path(tempfile.mkdtemp(prefix="imc-doc-commands-"))
    if args.scratch and scratch_root.exists() and any(scratch_root.iterdir()):
        if not (scratch_root / SCRATCH_MARK).exists():
            print(f"doc-commands: error: --scratch {scratch_root} is a non-empty folder this runner did not make; "
                  "pass a new or empty folder", file=sys.stderr)
            return 2
        shutil.rmtree(scratch_root)  # our own previous scratch folder
    scratch_root.mkdir(parents=True, exist_ok=True)
    (scratch_root / SCRATCH_MARK).write_text("made by tools/doc_commands.py; removed on its next run\n", encoding="utf-8")
    started = time.perf_counter()
    ran = failed = 0
    skips: list[str] = []
    try:
        env = make_venv(scratch_root / "venv")
        print(f"doc-commands: fresh venv {scratch_root / 'venv'}", flush=True)
        if readme not in paths:
            setup = Block(readme, 0, "bash", "pip install .\n")
            copy_repo(ROOT, scratch_root / "setup")
            print("doc-commands: setup: pip install . (README.md's install step; README.md itself is not selected)", flush=True)
            ok, _ = run_block(setup, scratch_root / "setup", env, scratch_root / "setup.log")
            if not ok:
                print(tail(scratch_root / "setup.log"))
                return 1
        for n, path in enumerate(paths):
            page_blocks = [b for b in blocks if b.path == path]
            if not page_blocks:
                continue
            clone = scratch_root / f"clone-{n}"
            copy_repo(ROOT, clone)
            env["IMC_PRESET_DIR"] = str(scratch_root / f"presets-{n}")  # each page is read from a fresh start
            for b in page_blocks:
                reason = b.skip_reason
                if reason is not None:
                    skips.append(f"{b.where()}: {reason}")
                    print(f"  skip  {b.where()}  (not run in CI: {reason})", flush=True)
                    continue
                log = scratch_root / f"{b.where().replace('/', '_').replace(':', '-')}.log"
                ok, seconds = run_block(b, clone, env, log)
                ran += 1
                print(f"  {'ok  ' if ok else 'FAIL'}  {b.where()}  {seconds:6.1f} s", flush=True)
                if not ok:
                    failed += 1
                    print(f"---- {b.where()} ({b.lang}), run as:\n{b.script.rstrip()}\n---- output (tail):\n{tail(log)}\n----",
                          flush=True)
    finally:
        if not args.scratch:
            shutil.rmtree(scratch_root, ignore_errors=True)
    total = time.perf_counter() - started
    print(f"doc-commands: {ran} blocks ran, {len(skips)} skipped, {failed} failed in {total:.0f} s")
    for line in skips:
        print(f"  skipped {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
