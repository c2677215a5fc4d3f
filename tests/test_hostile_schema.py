"""Every config key, enumerated from the schema, against a family of hostile values.

The keys come from the config's attrs classes, every installed task's class, the signatures
of every installed model, optimiser and update rule, and the spec class of every preset of
every installed backend (tests/hostile_schema.py), so a key nobody listed is still tested.
For each key and each hostile value (wrong type, nan, +-inf, negative, zero, huge, 2**63,
2**64, empty, unicode, 10 000 characters, unknown names) the outcome must be one of:

- refused as a :class:`imc.errors.UserError` (exit code 2, one line) that names the key,
  before anything is written (the config layer or the build, which runs before the run
  folder exists);
- accepted: then the run builds and one training step runs without any exception.

The whole matrix runs in-process on the library entry the CLI uses (``apply_overrides`` then
``Run``: what ``imc config check`` and ``imc train`` do before any work); a sample of it
also runs through ``imc config check`` and ``imc train`` themselves (stderr line, exit code,
no run folder).
"""

from __future__ import annotations

import signal
import traceback
import warnings

import pytest
from hostile import assert_one_line, run_cli
from hostile_schema import (
    Key,
    alternatives,
    build,
    extra_for,
    fingerprint,
    hostile_values,
    make_data,
    names_key,
    overrides_for,
    schema_keys,
    toml_text,
)

from imc.cli import one_line
from imc.errors import UserError
from imc.registry import get_registry

PLACEHOLDERS = {"npz": "@npz", "images": "@images"}
KEYS = schema_keys(PLACEHOLDERS)
STEP_SECONDS = 20  # an accepted value whose build or first step takes longer counts as a hang


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("hostile-data"))


def _with_data(key: Key, data) -> Key:
    paths = {v: data[k] for k, v in PLACEHOLDERS.items()}
    return Key(key.path, key.kind, key.default, tuple((k, paths.get(v, v) if isinstance(v, str) else v) for k, v in key.context), key.choices)


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def outcome(key: Key, value: str) -> str | None:
    """None when the value is handled as it must be; else what went wrong."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(STEP_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow warnings of accepted extremes are not the question here
            build(overrides_for(key, value))
    except UserError as exc:
        line = one_line(exc)
        if exc.exit_code != 2:
            return f"exit code {exc.exit_code}: {line}"
        if not names_key(key, line):
            return f"message does not name {key.path}: {line}"
        return None
    except _Hang:
        return f"accepted but did not build and step within {STEP_SECONDS} s"
    except Exception as exc:  # a bug: the user would see a traceback
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return f"{type(exc).__name__}: {one_line(exc)[:200]} ({where.filename}:{where.lineno})"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return None


def test_the_schema_walk_reaches_every_section_and_every_installed_component():
    registry = get_registry()
    paths = {(k.path, dict(k.context).get("backend.preset"), dict(k.context).get("task.name"),
              dict(k.context).get("rule.name"), dict(k.context).get("model.name"),
              dict(k.context).get("optimizer.name")) for k in KEYS}
    presets = {p for _, p, *_ in paths if p}
    assert presets == {p for info in registry.records("backend").values() for p in info.presets}
    assert {t for _, _, t, *_ in paths if t} == set(registry.tasks())
    assert {r for *_, r, _, _ in paths if r} >= {n for n in registry.records("update rule") if n not in
                                                 ("ideal", "original", "mixed-precision")}  # those take no parameters
    assert {m for *_, m, _ in paths if m} == set(registry.records("model"))
    assert {o for *_, o in paths if o} == set(registry.records("optimizer"))
    for path in ("seed", "epochs", "lr_schedule", "task.split_seed", "backend.w_max", "backend.overrides.g_max_us",
                 "energy.default_bits", "evaluate.times_s", "rule.transfer_every", "optimizer.beta2", "model.hidden"):
        assert any(k.path == path for k in KEYS), path
    assert len(KEYS) >= 450 and sum(len(hostile_values(k)) for k in KEYS) >= 10_000


@pytest.mark.parametrize("key", KEYS, ids=[k.id for k in KEYS])
def test_every_hostile_value_is_refused_naming_the_key_or_runs(key, data):
    key = _with_data(key, data)
    failures = {}
    for value in hostile_values(key):
        problem = outcome(key, value)
        if problem:
            failures[value[:40]] = problem
    assert not failures, failures


def _first_refused(key: Key) -> str | None:
    for value in hostile_values(key):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build(overrides_for(key, value), step=False)
        except UserError:
            return value
    return None


# one key per (section, kind) through the command line itself: the line, the code, no folder
CLI_KEYS = list({(k.path.split(".")[0], k.kind, k.path.startswith("backend.overrides")): k for k in KEYS}.values())


@pytest.mark.parametrize("key", CLI_KEYS, ids=[k.id for k in CLI_KEYS])
def test_the_command_line_gives_one_line_exit_2_and_no_folder(key, data, tmp_path, capsys):
    key = _with_data(key, data)
    value = _first_refused(key)
    assert value is not None, f"no hostile value of {key.path} is refused"
    sets = [a for k, v in key.context for a in ("--set", f"{k}={toml_text(v)}")] + ["--set", f"{key.path}={value}"]
    for command in (["config", "check"], ["train", "-o", tmp_path / "run", "--quiet"]):
        code, lines, _ = run_cli([*command, *sets], capsys)
        line = assert_one_line(code, lines)
        assert names_key(key, line), line
        assert not (tmp_path / "run").exists()
    config = tmp_path / "hostile.toml"  # the same value written in a config file (TOML dotted keys)
    config.write_text("".join(f"{k} = {toml_text(v)}\n" for k, v in key.context) + f"{key.path} = {value}\n")
    code, lines, _ = run_cli(["train", config, "-o", tmp_path / "run", "--quiet"], capsys)
    line = assert_one_line(code, lines)
    assert names_key(key, line), line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key", KEYS, ids=[k.id for k in KEYS])
def test_every_valid_setting_reaches_the_built_run(key, data):
    """A setting that validates must change what is built (or be acted on by the session, listed
    in SESSION_KEYS and checked in test_session_keys_reach_the_session): never recorded and dropped."""
    key = _with_data(key, data)
    if key.path in SESSION_KEYS:
        pytest.skip("acted on by the session, not the build: see test_session_keys_reach_the_session")
    base_overrides = dict(key.context)  # the key at its default (or the value its context gives it)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = fingerprint(build(base_overrides, step=False))
        tried, fixed = [], []
        for value in alternatives(key, data):
            try:
                run = build({**base_overrides, **extra_for(key.path, value, data), key.path: value}, step=False)
            except UserError as exc:
                line = one_line(exc)
                (fixed if "cannot be set" in line and names_key(key, line) else tried).append(f"{value!r}: {line[:120]}")
                continue
            changed = fingerprint(run)
            differ = sorted(p for p in set(base) | set(changed) if base.get(p, "<absent>") != changed.get(p, "<absent>"))
            assert differ, f"{key.path} = {value!r} validates but nothing built differs from {key.default!r}"
            return
    if key.path == "compute":
        pytest.skip("only compute = 'cpu' can be built on this machine")
    if fixed:  # refused as a setting (the spec derives it): refused, not dropped
        return
    pytest.fail(f"no valid non-default value found for {key.path} (tried {tried})")


SESSION_KEYS = {"epochs", "name", "output_dir", "checkpoint_every", "lr_schedule", "evaluate.times_s",
                "evaluate.drift_compensation"}


def test_session_keys_reach_the_session(tmp_path, monkeypatch):
    """The keys the session (not the build) acts on: each changes what the session does."""
    from imc.config import apply_overrides, default_config
    from imc.runner import LearningRateSchedule, Run, default_run_dir, train_run

    cfg = apply_overrides(default_config(), {"epochs": 2, "name": "mine", "output_dir": str(tmp_path / "out")})
    run = Run(cfg)
    assert run.steps_total() == 2 * run.trainer.steps_per_epoch(len(run.data.x_train))
    folder = default_run_dir(cfg)
    assert folder.parent == tmp_path / "out" and folder.name.startswith("mine-")
    cosine = LearningRateSchedule(run.trainer.optimizer, "cosine", 10)
    cosine.apply(5)
    assert run.trainer.optimizer.lr == pytest.approx(0.005 / 2)
    import imc.checkpoint

    saved = []
    real_save = imc.checkpoint.save
    monkeypatch.setattr(imc.checkpoint, "save", lambda folder, state, step, meta: (saved.append(step),
                                                                                  real_save(folder, state, step, meta)))
    small = apply_overrides(default_config(), {
        "epochs": 1, "checkpoint_every": 2, "evaluate.times_s": [10.0], "evaluate.drift_compensation": "off",
        "task.test_fraction": 0.5, "batch_size": 256})
    summary = train_run(small, tmp_path / "run", plots=False)
    assert saved[0] == 2  # checkpoint_every = 2: before the epoch's end (4 steps)
    assert summary["evaluate"]["times_s"] == [10.0]
    assert summary["evaluate"]["compensation"] == "off" and "compensated" not in summary["evaluate"]
