"""The shell-block runner of tools/doc_commands.py (the `doc-commands` tox env): what it extracts,
what it skips, how a block runs. The full run (a fresh venv, every block) is the tox env itself."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("doc_commands", ROOT / "tools" / "doc_commands.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


dc = _load()

PAGE = """\
# A page

```bash
pip install .
imc train   # a comment
```

Some text with `inline` code.

```console
$ imc config show \\
    --json
{"name": "digits-mlp"}
$ imc backends
backend  presets
```

~~~sh
echo tilde
~~~

````markdown
```bash
echo inside a longer fence: not a block of its own
```
````

   ```bash
   echo indented three spaces
   ```

```bash
# not run in CI: needs a GPU (cupy)
imc train --set compute='"gpu"'
```

```
plain output
```

```python
print("not a shell block")
```
"""


@pytest.fixture()
def page(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_every_fenced_block_is_found_with_its_language_and_line(page):
    blocks = dc.fenced_blocks(page)
    assert [(b.lang, b.line) for b in blocks] == [
        ("bash", 3), ("console", 10), ("sh", 18), ("markdown", 22), ("bash", 28), ("bash", 32), ("", 37), ("python", 41)]
    assert blocks[0].text == "pip install .\nimc train   # a comment\n"
    assert "echo inside a longer fence" in blocks[3].text  # a ```` fence holds ``` lines
    assert blocks[4].text == "echo indented three spaces\n"


def test_shell_blocks_are_bash_sh_shell_and_console_only(page):
    assert [b.lang for b in dc.shell_blocks([page])] == ["bash", "console", "sh", "bash", "bash"]


def test_a_console_block_runs_only_its_prompt_lines_with_continuations(page):
    console = dc.fenced_blocks(page)[1]
    assert console.script == "imc config show \\\n    --json\nimc backends\n"
    bash = dc.fenced_blocks(page)[0]
    assert bash.script == bash.text


def test_a_block_is_skipped_only_by_the_marker_on_its_first_line(page):
    blocks = dc.shell_blocks([page])
    assert [b.skip_reason for b in blocks] == [None, None, None, None, "needs a GPU (cupy)"]
    late = dc.Block(page, 1, "bash", "imc train\n# not run in CI: too late to count\n")
    assert late.skip_reason is None


def test_run_block_stops_at_the_first_failing_command_and_in_pipes(tmp_path):
    env = {"PATH": "/usr/bin:/bin"}
    ok, _ = dc.run_block(dc.Block(tmp_path, 1, "bash", "echo hi > out.txt\n"), tmp_path, env, tmp_path / "a.log")
    assert ok and (tmp_path / "out.txt").read_text() == "hi\n"
    ok, _ = dc.run_block(dc.Block(tmp_path, 1, "bash", "false\necho after > after.txt\n"), tmp_path, env, tmp_path / "b.log")
    assert not ok and not (tmp_path / "after.txt").exists()
    ok, _ = dc.run_block(dc.Block(tmp_path, 1, "bash", "false | cat\n"), tmp_path, env, tmp_path / "c.log")
    assert not ok


def test_pages_are_readme_first_then_every_docs_page_including_new_and_nested_ones(tmp_path):
    (tmp_path / "docs" / "api").mkdir(parents=True)
    for name in ("README.md", "docs/zeta.md", "docs/alpha.md", "docs/api/index.md"):
        (tmp_path / name).write_text("# x\n", encoding="utf-8")
    names = [p.relative_to(tmp_path).as_posix() for p in dc.doc_files(tmp_path)]
    assert names == ["README.md", "docs/alpha.md", "docs/api/index.md", "docs/zeta.md"]


def test_the_copy_is_what_a_clone_holds_plus_untracked_work_not_ignored_files(tmp_path):
    repo, dest = tmp_path / "repo", tmp_path / "copy"
    repo.mkdir()
    (repo / ".gitignore").write_text("runs/\n", encoding="utf-8")
    (repo / "tracked.txt").write_text("t", encoding="utf-8")
    (repo / "runs").mkdir()
    (repo / "runs" / "old.json").write_text("{}", encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    (repo / "new.md").write_text("n", encoding="utf-8")
    dc.copy_repo(repo, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        ".gitignore", "new.md", "tracked.txt"]


# The project's own pages: what the tox env will run.

def test_every_block_of_the_docs_names_its_language_so_no_command_hides_unlabelled():
    unlabelled = [b.where() for p in dc.doc_files() for b in dc.fenced_blocks(p) if not b.lang]
    assert not unlabelled, f"label these blocks (```bash for commands, ```text for output): {unlabelled}"


def test_skipped_blocks_say_why_and_the_readme_routes_run():
    blocks = dc.shell_blocks(dc.doc_files())
    for b in blocks:
        if b.skip_reason is not None:
            assert len(b.skip_reason) > 10, f"{b.where()}: say why the block is not run in CI"
    readme = "\n".join(b.script for b in blocks if b.path.name == "README.md" and b.skip_reason is None)
    assert "pip install ." in readme
    assert "pytest --pyargs imc_conformance --imc-backend" in readme
    skipped = sum(b.skip_reason is not None for b in blocks)
    assert skipped <= len(blocks) // 4, "most documented commands must run: prefer a quick variant over a skip"


def test_list_mode_reports_counts_and_runs_nothing(capsys):
    assert dc.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("doc-commands: ")
    assert "to run" in out and "skipped" in out


def test_an_unknown_page_is_one_line_exit_2(capsys, tmp_path):
    assert dc.main([str(tmp_path / "nope.md")]) == 2
    assert "no such page" in capsys.readouterr().err


def test_a_scratch_folder_it_did_not_make_is_refused_not_emptied(capsys, tmp_path):
    (tmp_path / "precious.txt").write_text("keep", encoding="utf-8")
    assert dc.main(["--scratch", str(tmp_path), str(ROOT / "README.md")]) == 2
    assert (tmp_path / "precious.txt").read_text() == "keep"
    assert "did not make" in capsys.readouterr().err
