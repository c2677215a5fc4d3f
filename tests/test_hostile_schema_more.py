"""The schema-driven battery beyond single ``--set`` keys: sweep axes, random key combinations and
random TOML structures (Hypothesis, derandomized), ``imc characterize --set`` for every spec field
of every backend, ``imc compare`` with hostile settings.

Same standard as tests/test_hostile_schema.py: refused with exit code 2 and one stderr line that
names the key, before anything is written; or accepted and working.
"""

from __future__ import annotations

import json
import shutil
import warnings

import attrs
import pytest
from hostile import assert_one_line, run_cli, snapshot
from hostile_schema import (
    Key,
    build,
    hostile_values,
    make_data,
    names_key,
    overrides_for,
    schema_keys,
    toml_text,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imc.cli import one_line
from imc.errors import UserError
from imc.registry import get_registry

KEYS = schema_keys({"npz": "@npz", "images": "@images"})
SIMPLE = [k for k in KEYS if not any(c[0] == "task.path" for c in k.context)]  # no data files needed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("hostile-data"))


def _refused_values(key: Key, limit: int) -> list[str]:
    out = []
    for value in hostile_values(key):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build(overrides_for(key, value), step=False)
        except UserError:
            out.append(value)
        if len(out) == limit:
            break
    return out


# one key per (section, kind, spec or not): a sweep axis with a good value and a hostile one
SWEEP_KEYS = list({(k.path.split(".")[0], k.kind, k.path.startswith("backend.overrides")): k for k in SIMPLE}.values())


@pytest.mark.parametrize("key", SWEEP_KEYS, ids=[k.id for k in SWEEP_KEYS])
def test_a_hostile_sweep_axis_is_refused_before_anything_runs(key, tmp_path, capsys):
    """Refused whether the config layer or only the build catches it (the sweep builds its points first)."""
    for value in _refused_values(key, 2):
        good = toml_text(dict(key.context).get(key.path, key.default)) if key.default is not None else None
        axes = [f'"{k}" = [{toml_text(v)}]' for k, v in key.context]
        axes.append(f'"{key.path}" = [{good + ", " if good else ""}{value}]')
        path = tmp_path / "s.toml"
        path.write_text('name = "h"\n[base]\nepochs = 1\n[axes]\n' + "\n".join(axes) + "\n")
        out = tmp_path / "out"
        code, lines, _ = run_cli(["sweep", path, "--out", out, "--workers", "1", "--quiet"], capsys)
        line = assert_one_line(code, lines)
        assert names_key(key, line), line
        assert not out.exists()


# --------------------------------------------------------------------------- Hypothesis
BY_PATH: dict[str, list[Key]] = {}
for _k in SIMPLE:
    if not _k.context:  # keys that need no context combine freely
        BY_PATH.setdefault(_k.path, []).append(_k)
FREE = sorted(BY_PATH)


@st.composite
def key_combinations(draw):
    paths = draw(st.lists(st.sampled_from(FREE), min_size=2, max_size=3, unique=True))
    chosen = []
    for path in paths:
        key = BY_PATH[path][0]
        chosen.append((key, draw(st.sampled_from(hostile_values(key) + [toml_text(key.default)] * 3))))
    return chosen


@settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_combinations())
def test_random_combinations_of_hostile_keys(combo):
    overrides = {}
    for key, value in combo:
        overrides.update(overrides_for(key, value))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build(overrides)
    except UserError as exc:
        line = one_line(exc)
        assert exc.exit_code == 2
        assert any(names_key(key, line) for key, _ in combo), line


TOML_SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(max_size=20),
)
SECTION_NAMES = st.sampled_from(["task", "model", "backend", "optimizer", "rule", "energy", "evaluate", "overrides",
                                 "name", "seed", "epochs", "k", "lr", "hidden", "times_s", "g_max_us", "x"])
TOML_TREES = st.recursive(
    TOML_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(SECTION_NAMES, children, max_size=4)),
    max_leaves=12,
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.dictionaries(SECTION_NAMES, TOML_TREES, max_size=5))
def test_random_toml_structures_are_refused_as_user_errors_or_accepted(table):
    from imc.config import from_dict

    try:
        from_dict(table)
    except UserError as exc:
        assert exc.exit_code == 2 and "\n" not in one_line(exc)


# --------------------------------------------------------------------------- characterize --set
def _spec_fields():
    out = []
    for backend, info in get_registry().records("backend").items():
        spec = info.presets[info.default_preset]
        for name in type(spec).settable_fields():
            out.append((backend, name, attrs.fields_dict(type(spec))[name].type))
    return out


SPEC_FIELDS = _spec_fields()
CHARACTERIZE_VALUES = ["x", "", "nan", "inf", "-inf", "-1", "1e39", "9223372036854775808", "1e-300"]


@pytest.mark.parametrize(("backend", "field", "annotation"), SPEC_FIELDS,
                         ids=[f"{b}.{f}" for b, f, _ in SPEC_FIELDS])
def test_characterize_set_refuses_hostile_spec_values_naming_the_field(backend, field, annotation, tmp_path, capsys):
    """Every settable field of every backend's spec: each value the spec refuses is refused by
    ``imc characterize --set`` before a cell is built (one line naming the field, no output folder).
    Values the spec accepts build and step devices in tests/test_hostile_schema.py."""
    from imc.cli.characterize import parse_settings

    info = get_registry().records("backend")[backend]
    refused = 0
    for i, value in enumerate(CHARACTERIZE_VALUES):
        try:
            info.spec(None, **parse_settings([f"{field}={value}"]))
            continue
        except Exception:  # whatever the spec raises, the command must turn into one line
            refused += 1
        out = tmp_path / f"ch{i}"
        code, lines, _ = run_cli(["characterize", backend, "--set", f"{field}={value}", "--cells", "4", "--out", out],
                                 capsys)
        line = assert_one_line(code, lines)
        assert field in line, line
        assert not out.exists()
    assert refused, f"no hostile value of {backend}.{field} is refused"


# --------------------------------------------------------------------------- compare
COMPARE_KEYS = [k for k in SWEEP_KEYS if not k.context and k.path not in ("rule.name", "backend.name", "name")]


@pytest.mark.parametrize("key", COMPARE_KEYS, ids=[k.id for k in COMPARE_KEYS])
def test_compare_refuses_a_hostile_setting_in_one_line_and_leaves_no_folder(key, tmp_path, capsys):
    value = _refused_values(key, 1)
    if not value:
        pytest.skip(f"no hostile value of {key.path} is refused")
    out = tmp_path / "cmp"
    code, lines, _ = run_cli(["compare", "-o", out, "--quiet", "--rules", "eapu,original",
                              "--set", f"{key.path}={value[0]}"], capsys)
    line = assert_one_line(code, lines)
    assert names_key(key, line), line
    assert not out.exists()


# --------------------------------------------------------------------------- conformance arguments
CONFORMANCE = [
    ["nope"], ["memristor", "--preset", "nope"], ["memristor", "--seed", "-1"],
    ["memristor", "--seed", "99999999999999999999999"], ["memristor", "--check", "nope"],
    ["memristor", "--xfail", "bad"], ["memristor", "--xfail", "nope=why"], ["--all", "--preset", "eapu-paper"],
    ["memristor", "--all"], ["memristor", "--compute", "tpu"], [], ["memristor", "--preset", "x" * 5000],
    ["memristor", "--json", "{tmp}/nowhere/x.json"], ["memristor", "--json", "{tmp}"],
]


@pytest.mark.parametrize("args", CONFORMANCE, ids=[" ".join(a)[:60] for a in CONFORMANCE])
def test_conformance_arguments_are_refused_before_any_check_runs(args, tmp_path, capsys):
    argv = ["conformance", *[a.replace("{tmp}", str(tmp_path)) for a in args]]
    code, lines, out = run_cli(argv, capsys)
    assert_one_line(code, lines)
    assert "PASS" not in out and "FAIL" not in out  # refused before the suite ran
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- report on an edited run folder
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from imc.config import apply_overrides, default_config
    from imc.runner import train_run

    run = tmp_path_factory.mktemp("finished") / "run"
    train_run(apply_overrides(default_config(), {"epochs": 1, "batch_size": 128}), run, plots=False)
    return run


def _edit_json(name, change):
    def edit(run):
        path = run / name
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    return edit


def _edit_metrics(change):
    def edit(run):
        path = run / "metrics.jsonl"
        rows = [change(json.loads(line)) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return edit


def _edit_config(old, new):
    def edit(run):
        path = run / "config.toml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    return edit


REPORT_EDITS = {
    "summary-a-list": lambda run: (run / "summary.json").write_text("[1, 2]"),
    "summary-without-metric": _edit_json("summary.json", lambda d: d.pop("metric")),
    "metrics-loss-a-string": _edit_metrics(lambda r: dict(r, loss="x")),
    "metrics-without-kind": _edit_metrics(lambda r: {k: v for k, v in r.items() if k != "kind"}),
    "metrics-lines-are-lists": _edit_metrics(lambda r: [1, 2]),
    "metrics-step-a-string": _edit_metrics(lambda r: dict(r, step="x")),
    "metrics-step-2**100": _edit_metrics(lambda r: dict(r, step=2**100)),
    "metrics-step-negative": _edit_metrics(lambda r: dict(r, step=-1)),
    "metrics-emptied": lambda run: (run / "metrics.jsonl").write_text(""),
    "config-hidden-0": _edit_config("hidden = 64", "hidden = 0"),
    "config-rule-unknown": _edit_config('name = "eapu"', 'name = "nope"'),
    "config-k-nan": _edit_config("k = 1.0", "k = nan"),
    "config-not-toml": lambda run: (run / "config.toml").write_text("[[["),
    "plots-a-file": lambda run: (run / "plots").write_text("x"),
}


@pytest.mark.parametrize("kind", sorted(REPORT_EDITS))
def test_report_on_an_edited_run_folder_is_one_line_and_changes_nothing(kind, finished_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    REPORT_EDITS[kind](run)
    before = snapshot(run)
    code, lines, _ = run_cli(["report", run], capsys)
    assert_one_line(code, lines)
    assert snapshot(run) == before


def test_checkpoint_every_on_the_command_line_is_what_the_run_folder_records(tmp_path, capsys):
    """A setting given as a flag must be recorded as what ran, not the config's value beside it."""
    from imc.config import load_config

    run = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", run, "--quiet", "--checkpoint-every", "5", "--set", "epochs=1",
                              "--set", "batch_size=256"], capsys)
    assert code == 0, lines
    assert load_config(run / "config.toml").checkpoint_every == 5


# --------------------------------------------------------------------------- the "layers" model's own tables
LAYER_TYPES = ["linear", "conv", "relu", "tanh", "sigmoid", "maxpool", "avgpool", "flatten", "upsample", "pixelshuffle",
               "residual", "nope"]
LAYER_KEYS = ["out", "kernel", "stride", "padding", "bias", "factor", "mode", "body", "skip", "scale", "type", "x"]
LAYER_VALUES = st.sampled_from([0, -1, 1, 2, 3, 2**63, 2**64, 1e300, float("nan"), "classes", "channels", "factor",
                                "x", "", True, [], {}, [{}], [{"type": "relu"}], 3.5])
LAYER = st.fixed_dictionaries({"type": st.sampled_from(LAYER_TYPES)}, optional={k: LAYER_VALUES for k in LAYER_KEYS if k != "type"})


@settings(derandomize=True, max_examples=80, deadline=None)
@given(st.lists(LAYER, min_size=1, max_size=4), st.booleans())
def test_random_layer_lists_are_refused_naming_model_layers_or_train(layers, wrapped):
    """model.layers is a schema of its own (layer tables): hostile tables are refused naming it, or they run."""
    if wrapped:  # most random lists fail at the first shape; a valid head and tail reach deeper
        layers = [{"type": "flatten"}, *layers, {"type": "linear", "out": "classes"}]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build({"model.name": "layers", "model.layers": layers})
    except UserError as exc:
        assert exc.exit_code == 2 and "layers" in one_line(exc), one_line(exc)


COMPARE_ARGS = [["--backends", "memristor:nope"], ["--backends", ":"], ["--backends", "memristor:eapu-paper:x"],
                ["--backends", ",,"], ["--backends", "x" * 5000], ["--rules", "eapu,nope"], ["--rules", ","],
                ["--rules", "eapu,eapu"], ["--backends", "memristor:" + "x" * 5000]]


@pytest.mark.parametrize("args", COMPARE_ARGS, ids=[" ".join(a)[:40] for a in COMPARE_ARGS])
def test_compare_refuses_hostile_rules_and_backends_in_one_line(args, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "-o", out, "--quiet", *args] + ([] if "--rules" in args else ["--rules", "eapu"])
    code, lines, _ = run_cli(argv, capsys)
    assert_one_line(code, lines)
    assert not out.exists()


SWEEP_ARGS = [["--timeout", "nan"], ["--timeout", "inf"], ["--workers", "1000000000"],
              ["--scheduler", "nope", "--timeout", "1"], ["--scheduler", "tcp://127.0.0.1", "--timeout", "1"],
              ["--scheduler", "inproc://x", "--timeout", "1"], ["--scheduler", "tcp://[::1", "--timeout", "1"]]


@pytest.mark.parametrize("args", SWEEP_ARGS, ids=[" ".join(a) for a in SWEEP_ARGS])
def test_sweep_arguments_are_refused_before_a_cluster_starts(args, tmp_path, capsys):
    """A billion local workers used to hang starting them; a malformed address was a ValueError traceback."""
    path = tmp_path / "s.toml"
    path.write_text('name = "h"\n[base]\nepochs = 1\n[axes]\nseed = [0]\n')
    out = tmp_path / "out"
    code, lines, _ = run_cli(["sweep", path, "--out", out, "--quiet", *args], capsys)
    assert_one_line(code, lines)
    assert not out.exists()


def test_config_check_refuses_a_flag_it_would_ignore(capsys):
    code, lines, out = run_cli(["config", "check", "--json"], capsys)
    assert_one_line(code, lines, fragment="--json belongs to `imc config show`")
    assert out == ""


@pytest.mark.parametrize("flag", ["--dry-run", "--retry-failed"])
def test_sweep_report_refuses_a_running_switch_it_would_ignore(flag, tmp_path, capsys):
    code, lines, _ = run_cli(["sweep", "report", tmp_path, flag], capsys)
    assert_one_line(code, lines, fragment=f"{flag} belongs to running a sweep")


SET_KEYS = [("rule.k.x=1", "holds a value, not a table"), ("seed.x=1", "holds a value, not a table"),
            ("x" * 10_000 + "=1", "unknown config key"), ("\u00e9=1", "unknown config key"),
            ("rule..k=1", "malformed config key"), (".rule=1", "malformed config key"), (" =1", "must look like key=value"),
            ("backend.overrides={nope = 2}", "backend.overrides.nope"), ("task.x.y=1", "unknown config key 'task.x'")]


@pytest.mark.parametrize(("text", "fragment"), SET_KEYS, ids=[t[:30] for t, _ in SET_KEYS])
def test_hostile_set_keys_are_one_line_saying_what_is_wrong(text, fragment, capsys):
    code, lines, _ = run_cli(["config", "check", "--set", text], capsys)
    assert_one_line(code, lines, fragment=fragment)
