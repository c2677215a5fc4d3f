"""The sweep folder: what a sweep has done so far, written so that nothing finished is lost.

Layout::

    SWEEP_DIR/
      sweep.json       the plan: name, mode, axes, base config, points (rewritten atomically)
      results.jsonl    one JSON row per finished point, appended atomically: the source of truth
      results.csv      the same rows as a flat table, rewritten atomically after every row
      runs/<point_id>/ each point's own run folder (written by the training runner)
      .lock            held while a sweep runs here, so two sweeps never write one folder

A row is ``{"point_id", "index", "status": "ok"|"failed", "params", "summary", "error",
"traceback", "seconds", "worker", "finished_at", "run_dir"}``. When a point has more than
one row (a failure retried with ``--retry-failed``) the last one counts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import warnings
from pathlib import Path

from imc.files import atomic_write_text

from ..errors import RunFolderError

PLAN_FILE = "sweep.json"
RESULTS_FILE = "results.jsonl"
CSV_FILE = "results.csv"
RUNS_DIR = "runs"
LOCK_FILE = ".lock"
ROW_COLUMNS = ("point_id", "index", "status")
TAIL_COLUMNS = ("seconds", "worker", "finished_at", "run_dir", "error")


class SweepStore:
    """Reads and writes one sweep folder."""

    def __init__(self, root):
        self.root = Path(root)

    @property
    def plan_path(self) -> Path:
        return self.root / PLAN_FILE

    @property
    def results_path(self) -> Path:
        return self.root / RESULTS_FILE

    @property
    def csv_path(self) -> Path:
        return self.root / CSV_FILE

    def run_dir(self, point_id: str) -> Path:
        return self.root / RUNS_DIR / point_id

    # ------------------------------------------------------------------ plan
    def read_plan(self) -> dict | None:
        """The stored plan, or None when the folder holds no sweep yet."""
        if not self.plan_path.is_file():
            return None
        try:
            return json.loads(self.plan_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunFolderError(f"{self.plan_path} is not a readable sweep plan ({exc}); is this a sweep folder?") from None

    def check_plan(self, plan: dict) -> None:
        """Refuse a folder that holds a different sweep (other base config or other axes).

        The same sweep with changed axis values (say one more noise level) is accepted:
        points already done are skipped and the new ones run.
        """
        if self.root.exists() and not self.root.is_dir():
            raise RunFolderError(f"{self.root} is a file, not a folder; pass --out with a folder for the sweep")
        nearest = next(p for p in (self.root, *self.root.absolute().parents) if p.exists())
        if not os.access(nearest, os.W_OK):
            raise RunFolderError(f"cannot write the sweep folder {self.root}: {nearest} is not writable")
        old = self.read_plan()
        if old is None:
            if self.root.exists() and any(p.name != LOCK_FILE for p in self.root.iterdir()):
                raise RunFolderError(
                    f"{self.root} exists and is not a sweep folder; pass --out with a new or empty folder"
                )
            return
        if old.get("base") != plan["base"] or list(old.get("axes", {})) != list(plan["axes"]):
            raise RunFolderError(
                f"{self.root} holds another sweep ({old.get('name')!r}, axes {', '.join(old.get('axes', {}))}) "
                "with a different base config or axes; pass --out with a new folder, or delete that one"
            )

    def write_plan(self, plan: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.plan_path, json.dumps(plan, indent=2, sort_keys=False) + "\n")

    # ------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def locked(self):
        """Hold the folder's lock for the duration (released by the OS if the process dies)."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunFolderError(f"another imc sweep is running in {self.root}; wait for it or use another --out") from None
            try:
                yield self
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ rows
    def rows(self) -> dict[str, dict]:
        """point_id -> its latest row. A torn last line (a crash mid-write) is ignored."""
        if not self.results_path.is_file():
            return {}
        latest = {}
        lines = self.results_path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):  # unterminated last line: an interrupted append
                    warnings.warn(f"{self.results_path}: ignoring an unfinished last line", stacklevel=2)
                    continue
                raise RunFolderError(f"{self.results_path}:{number} is not a JSON row; the results file is damaged") from None
            latest[row["point_id"]] = row
        return latest

    def append(self, row: dict) -> None:
        """Append one row with a single write and fsync, so a row is either whole or absent."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()
        line = (json.dumps(row, allow_nan=False, default=str) + "\n").encode("utf-8")
        fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _drop_torn_tail(self) -> None:
        """Cut an unterminated last line left by a crash, so the next row starts on its own line."""
        path = self.results_path
        if not path.is_file() or path.stat().st_size == 0:
            return
        with open(path, "rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            handle.truncate(data.rfind(b"\n") + 1)

    def write_csv(self, rows: dict[str, dict] | None = None) -> None:
        """Rewrite results.csv (atomically) from point_id -> row, by default the stored rows."""
        rows = self.rows() if rows is None else rows
        atomic_write_text(self.csv_path, rows_to_csv(rows.values()))


def flat_row(row: dict) -> dict:
    """One row as flat columns: axis values, then summary values (nested keys dotted)."""
    out = {key: row.get(key) for key in ROW_COLUMNS}
    out.update(row.get("params") or {})
    for key, value in flatten(row.get("summary") or {}).items():
        out[f"summary.{key}" if key in out else key] = value
    for key in TAIL_COLUMNS:
        out[key] = row.get(key)
    return out


def flatten(data: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}, "h": [..]} -> {"a.b": 1}; lists (histories) stay in results.jsonl only."""
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif not isinstance(value, (list, tuple)):
            out[name] = value
    return out


def rows_to_csv(rows) -> str:
    flat = [flat_row(row) for row in sorted(rows, key=lambda r: r.get("index", 0))]
    columns = []
    for row in flat:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()
