"""Nothing silently dropped: every settable spec field of every backend, set in a config, is
the value the run's devices use, and the saved config.toml resolves to that same spec."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from imc.config import ModelConfig, TrainConfig, apply_overrides, load_config, to_toml
from imc.errors import ConfigValueError, SpecError
from imc.registry import get_registry

BACKENDS = sorted(get_registry().backends())


def _candidates(value):
    if value is None:  # an optional field left unset: any plausible number
        return [1e-12, 1e-14, 0.5, 1.0, 1]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value * 1.5, value * 0.5, value + 0.5, value + 1e-3, 0.5, 0.1, 0.9]
    if isinstance(value, tuple) and all(isinstance(v, float) for v in value):
        return [[v * 1.01 for v in value], [v * 0.99 for v in value]]
    return []


def _new_value(spec, field):
    """A different value the spec accepts for ``field`` (or None)."""
    current = getattr(spec, field)
    candidates = _candidates(current)
    if isinstance(current, str):  # a choice: the other options its validator allows
        candidates = [o for o in getattr(attrs.fields_dict(type(spec))[field].validator, "options", ()) if o != current]
    for candidate in candidates:
        try:
            changed = spec.evolve(**{field: candidate})
        except (SpecError, ValueError, TypeError):
            continue
        if getattr(changed, field) != current:
            return candidate
    return None


def _cases():
    for backend in BACKENDS:
        spec = get_registry().spec(backend)
        for field in type(spec).settable_fields():
            yield backend, field


def _tiny(backend: str, overrides: dict) -> TrainConfig:
    cfg = TrainConfig(epochs=1, batch_size=64, model=ModelConfig(name="mlp", params={"hidden": 4}))
    return apply_overrides(cfg, {"backend.name": backend, **{f"backend.overrides.{k}": v for k, v in overrides.items()}})


@pytest.mark.parametrize("backend, field", list(_cases()))
def test_every_settable_field_reaches_the_device_and_round_trips(tmp_path, backend, field):
    spec = get_registry().spec(backend)
    value = _new_value(spec, field)
    assert value is not None, f"no valid new value found for {backend}.{field}; teach _candidates its type"
    cfg = _tiny(backend, {field: value})
    used = cfg.backend.device().spec  # the build step's one resolution
    converter = attrs.fields_dict(type(spec))[field].converter
    assert getattr(used, field) == (converter(value) if converter else value)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(cfg), encoding="utf-8")
    assert load_config(path).backend.device().spec == used


@pytest.mark.parametrize("backend", BACKENDS)
def test_derived_fields_are_refused_naming_the_field(backend):
    spec_cls = type(get_registry().spec(backend))
    for field in spec_cls.derived_fields:
        with pytest.raises(ConfigValueError, match=f"backend.overrides.{field}: .*derives {field}"):
            _tiny(backend, {field: 5.0})


def test_mram_window_cannot_be_set_silently():
    """The measured case: g_max_us = 5 on MRAM printed 5 but the device held 1142.86 uS."""
    with pytest.raises(ConfigValueError, match="g_max_us.*cannot be set"):
        _tiny("mram", {"g_max_us": 5})
    spec = get_registry().spec("mram")
    with pytest.raises(SpecError, match="g_max_us cannot be set to 5"):
        spec.evolve(g_max_us=5.0)
    assert spec.evolve(g_max_us=spec.g_max_us) == spec  # the value it derives is accepted


def test_a_spec_that_replaces_an_undeclared_field_is_refused():
    from imc.spec import DeviceSpec

    @attrs.frozen(kw_only=True)
    class Sneaky(DeviceSpec):
        def __attrs_post_init__(self):
            object.__setattr__(self, "step_us", 0.5)  # re-derived, but not declared
            super().__attrs_post_init__()

    with pytest.raises(SpecError, match="step_us cannot be set to 0.1 on Sneaky.*declare it in derived_fields"):
        Sneaky(name="s").evolve(step_us=0.1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_spec_a_run_used_is_the_one_its_config_toml_resolves_to(tmp_path, backend):
    from imc.runner import Run, train_run

    spec = get_registry().spec(backend)
    field = "write_noise_us" if "write_noise_us" in type(spec).settable_fields() else type(spec).settable_fields()[0]
    cfg = _tiny(backend, {field: _new_value(spec, field)})
    run_dir = tmp_path / "run"
    train_run(cfg, run_dir, plots=False)
    saved = load_config(run_dir / "config.toml")
    built = Run(saved)
    tiles = [p.tile for _, p in built.model.named_parameters() if p.analog]
    assert tiles and all(t.spec == cfg.backend.device().spec for t in tiles)
    assert all(dev.spec == t.spec for t in tiles for dev in t.devices)
    assert np.isfinite(built.spec.g_max_us)
