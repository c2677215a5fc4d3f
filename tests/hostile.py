"""Shared helpers of the hostile-input suite (tests/test_hostile_*.py).

Every case runs the CLI in-process (``imc.cli.main``) and asserts what a user sees: the
exit code, exactly one line on stderr (no traceback), and a run folder that is untouched
or absent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from imc.cli import main


def run_cli(argv, capsys) -> tuple[int, list[str], str]:
    """(exit code, non-empty stderr lines, stdout) of ``imc ARGV`` run in-process."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse exits
        code = exc.code
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def assert_one_line(code, lines, expected_code=2, fragment: str | None = None) -> str:
    assert code == expected_code, f"exit {code}, stderr: {lines}"
    assert len(lines) == 1, f"stderr is not one line: {lines}"
    assert "Traceback" not in lines[0]
    if fragment is not None:
        assert fragment in lines[0], lines[0]
    return lines[0]


def snapshot(folder) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder`` (empty if it is absent)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }
