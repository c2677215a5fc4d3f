"""Running a sweep's points as tasks on Dask distributed.

By default a local cluster of worker processes (one thread each: training is CPU-bound
numpy) is started for the sweep and closed after it; with ``scheduler="tcp://HOST:PORT"``
the points run on an existing cluster, whose workers must have imc installed and see the
sweep folder at the same path (a shared filesystem).

The client writes each point's row as its task finishes, so an interrupted sweep keeps
everything finished, and running it again skips those points. A point that raises is
recorded as failed with its error and the others go on. Losing the scheduler (it died, the
network went) is not a point failure: :class:`SchedulerLost` is raised, the unfinished points
stay unrecorded, and running the same sweep again finishes them.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import attrs

from ..errors import UsageError, UserError
from .plan import Sweep
from .store import SweepStore

PointFunction = Callable[[dict, Path], dict]


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler did not answer, or has no workers."""


class SchedulerLost(UserError):
    """The Dask scheduler went away mid-sweep; finished points are kept, the rest unrecorded.

    Infrastructure loss, not a point failure nor bad input: exit code 75 (EX_TEMPFAIL,
    "try again later"); running the same command again finishes the remaining points.
    """

    exit_code = 75


@attrs.frozen
class SweepOutcome:
    """What one ``run_sweep`` call did."""

    total: int
    skipped: int  # already recorded before this call
    ok: int  # finished now
    failed: int  # failed now
    out_dir: Path
    skipped_failed: int = 0  # of the skipped, how many are recorded as failed

    @property
    def interrupted(self) -> bool:
        return self.skipped + self.ok + self.failed < self.total


def train_point(config: dict, run_dir: Path) -> dict:
    """The default point function: one training run with imc's runner, returning its summary.

    Per-run plots are skipped (most of a small run's time); ``imc sweep report`` plots the sweep."""
    from imc.config import from_dict
    from imc.runner import train_run

    return train_run(from_dict(config), run_dir, quiet=True, plots=False)


def run_point(point_fn: PointFunction, config: dict, run_dir: str) -> dict:
    """The task a worker runs: one point, its exception caught and returned as data."""
    run_dir = Path(run_dir)
    if run_dir.exists():  # left by an interrupted earlier attempt: start clean
        shutil.rmtree(run_dir)
    start = time.perf_counter()
    outcome = {"status": "ok", "summary": {}, "error": None, "traceback": None}
    try:
        summary = point_fn(config, run_dir)
        if not isinstance(summary, dict):
            raise TypeError(f"the point function returned {type(summary).__name__}, expected a dict summary")
        outcome["summary"] = _jsonable(summary)
    except Exception as exc:  # noqa: BLE001  (any error of a point is data, the sweep goes on)
        outcome.update(status="failed", error=_describe(exc), traceback=traceback.format_exc())
    outcome["seconds"] = round(time.perf_counter() - start, 3)
    outcome["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


def run_sweep(
    sweep: Sweep,
    out_dir,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    point_fn: PointFunction = train_point,
    retry_failed: bool = False,
    progress: bool = True,
    on_failure: Callable[[str], None] | None = None,
    inline: bool = False,
) -> SweepOutcome:
    """Run every point of ``sweep`` not yet recorded in ``out_dir``; see the module doc.

    ``inline=True`` runs the points in this process, one after another, with no Dask
    cluster (``imc compare`` does); the folder, rows and resumption are the same.

    Raises ValueError for an unusable folder and :class:`SchedulerUnreachable` when the
    scheduler does not answer within ``connect_timeout`` seconds.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    if not connect_timeout > 0:
        raise UsageError(f"the connect timeout must be > 0 seconds, got {connect_timeout!r}")
    store = SweepStore(out_dir)
    plan = sweep.plan()
    store.check_plan(plan)
    rows = store.rows()
    todo = _pending(sweep, rows, retry_failed)
    if not todo:
        store.write_csv(rows)  # in case a crash left the CSV behind the rows
        return SweepOutcome(len(sweep.points), len(sweep.points), 0, 0, store.root, _failed_count(sweep.points, rows))

    n_workers = workers or min(len(todo), os.cpu_count() or 1)
    executor = _InlineClient() if inline else _client(scheduler, n_workers, connect_timeout)
    with executor as client, store.locked():
        store.check_plan(plan)  # again, now that no other sweep can write here
        rows = store.rows()
        todo = _pending(sweep, rows, retry_failed)
        store.write_plan(plan)
        return _run(client, sweep, todo, rows, store, point_fn, progress, on_failure)


def _failed_count(points, rows: dict) -> int:
    """How many of ``points`` are recorded as failed."""
    return sum(rows[p.point_id]["status"] != "ok" for p in points if p.point_id in rows)


def _pending(sweep: Sweep, rows: dict, retry_failed: bool) -> list:
    def done(point) -> bool:
        row = rows.get(point.point_id)
        return row is not None and (row["status"] == "ok" or not retry_failed)

    return [point for point in sweep.points if not done(point)]


def _run(client, sweep, todo, rows, store, point_fn, progress, on_failure) -> SweepOutcome:
    from tqdm import tqdm

    if isinstance(client, _InlineClient):
        as_completed = _InlineClient.as_completed
    else:
        from distributed import as_completed

    token = uuid.uuid4().hex[:6]
    futures = {
        client.submit(
            run_point, point_fn, point.config, str(store.run_dir(point.point_id).resolve()),
            key=f"imc-point-{point.point_id}-{token}", pure=False,
        ): point
        for point in todo
    }
    skipped = len(sweep.points) - len(todo)
    running = {point.point_id for point in todo}
    skipped_failed = _failed_count([p for p in sweep.points if p.point_id not in running], rows)
    ok = failed = 0
    show = progress and sys.stderr.isatty()
    lines = progress and not show  # CI logs, nohup, notebooks: a plain line per finished point
    started = time.monotonic()
    store.write_csv(rows)  # catch up with rows a crash left out of the CSV
    with tqdm(total=len(sweep.points), initial=skipped, unit="point", desc=sweep.name, disable=not show) as bar:
        try:
            for future in as_completed(futures):
                point = futures.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001  (the task never returned: worker died, ...)
                    if _scheduler_lost(client, exc):
                        raise SchedulerLost(_lost_message(client, len(futures) + 1, ok + failed)) from None
                    outcome = {"status": "failed", "summary": {}, "error": _describe(exc), "traceback": None}
                future.release()
                row = _row(point, outcome, store)
                store.append(row)
                rows[point.point_id] = row
                store.write_csv(rows)
                bar.update()
                if lines:
                    done = skipped + ok + failed + 1
                    print(f"{sweep.name}: point {done}/{len(sweep.points)} {row['status']} ({point.label()}), "
                          f"{time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
                if row["status"] == "ok":
                    ok += 1
                else:
                    failed += 1
                    message = f"point {point.index} ({point.label()}) failed: {row['error']}"
                    (on_failure or bar.write)(message)
        finally:  # Ctrl-C between a row and its CSV rewrite: the CSV still gets every stored row
            store.write_csv()
    return SweepOutcome(len(sweep.points), skipped, ok, failed, store.root, skipped_failed)


def _scheduler_lost(client, exc: BaseException) -> bool:
    """Whether a task's error means the scheduler is gone (not that the point failed).

    A lost connection cancels every pending future ("scheduler-connection-lost"); a point
    never cancels itself, so any cancellation, a closed comm or a client no longer running
    is infrastructure loss.
    """
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    status = getattr(client, "status", "running")  # the inline executor has no scheduler to lose
    return isinstance(exc, (CancelledError, CommClosedError)) or status not in ("running", "newly-created")


def _lost_message(client, unfinished: int, finished_now: int) -> str:
    address = getattr(client.scheduler, "address", None) or "the scheduler"
    return (
        f"lost the Dask scheduler ({address}) mid-sweep: {finished_now} point(s) finished now are kept, "
        f"{unfinished} unfinished point(s) are not recorded; run the same command again to finish them"
    )


def _row(point, outcome: dict, store: SweepStore) -> dict:
    return {
        "point_id": point.point_id,
        "index": point.index,
        "status": outcome["status"],
        "params": point.params,
        "summary": outcome.get("summary") or {},
        "error": outcome.get("error"),
        "traceback": outcome.get("traceback"),
        "seconds": outcome.get("seconds"),
        "worker": outcome.get("worker"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(store.run_dir(point.point_id).relative_to(store.root)),
    }


class _InlineClient:
    """The in-process executor: each point runs here when its result is asked for, in order."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def submit(self, fn, *args, key=None, pure=None):
        return _InlineFuture(fn, args)

    @staticmethod
    def as_completed(futures):
        return list(futures)


class _InlineFuture:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def result(self):
        return self.fn(*self.args)

    def release(self) -> None:
        pass


class _client:
    """A Dask client on a fresh local cluster, or on the scheduler at ``address``."""

    def __init__(self, address: str | None, workers: int, timeout: float):
        self.address, self.workers, self.timeout = address, workers, timeout
        self.cluster = self.client = None

    def __enter__(self):
        import distributed  # noqa: F401  (its loggers must exist before they are quietened)

        self.quiet = _QuietLogs("distributed")
        self.quiet.__enter__()  # a lost scheduler is reported once by us, not as logged tracebacks
        try:
            return self._connect()
        except BaseException:
            self.quiet.__exit__(None, None, None)
            raise

    def _connect(self):
        from distributed import Client, LocalCluster

        if self.address is None:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # any free port: never clash with another cluster
                silence_logs=logging.CRITICAL,  # failures are recorded in the results, not logged
            )
            self.client = Client(self.cluster)
            return self.client
        try:
            self.client = Client(self.address, timeout=self.timeout)
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(
                f"no Dask scheduler answered at {self.address} within {self.timeout:g} s ({exc}); "
                "start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                "or leave out --scheduler to use a local cluster"
            ) from None
        try:
            self.client.wait_for_workers(1, timeout=self.timeout)
        except (OSError, TimeoutError):
            self.client.close()
            raise SchedulerUnreachable(
                f"the Dask scheduler at {self.address} has no workers after {self.timeout:g} s; "
                f"start some with `dask worker {self.address}`"
            ) from None
        return self.client

    def __exit__(self, *exc_info):
        lost = exc_info[0] is not None and issubclass(exc_info[0], SchedulerLost)
        if self.client is not None:
            try:
                self.client.close(**({"timeout": 2} if lost else {}))
            except (OSError, TimeoutError):
                if not lost:
                    raise
        if self.cluster is not None:
            self.cluster.close()
        self.quiet.__exit__(*exc_info)
        return False


class _QuietLogs:
    """Silence every logger under ``prefix`` for the duration (Dask logs retries and closes)."""

    def __init__(self, prefix: str):
        self.prefix, self.levels = prefix, {}

    def __enter__(self):
        manager = logging.root.manager
        names = [self.prefix, *(n for n in manager.loggerDict if n.startswith(self.prefix + "."))]
        for name in names:
            log = logging.getLogger(name)
            self.levels[name] = log.level
            log.setLevel(logging.CRITICAL + 1)
        return self

    def __exit__(self, *exc_info):
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
        return False


def _describe(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _jsonable(value):
    """Summaries as plain JSON: numpy scalars to Python numbers, NaN/inf to None, others to str."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy / cupy scalar
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return str(value)
