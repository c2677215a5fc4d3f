import math

import pytest

from imc.spec import BOUNDS, DeviceSpec


def make(**kw):
    base = dict(name="t", g_min_us=1.0, g_max_us=10.0, step_us=0.1)
    base.update(kw)
    return DeviceSpec(**base)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("write_noise_us", -0.1, "write_noise_us must be >= 0"),
        ("read_noise_rel", -1, "read_noise_rel must be >= 0"),
        ("step_us", 0.0, "step_us must be > 0"),
        ("g_max_us", math.inf, "g_max_us must be finite"),
        ("g_min_us", math.nan, "g_min_us must be finite"),
        ("stuck_low_prob", 1.5, "stuck_low_prob is a probability"),
        ("endurance_cycles", 0, "endurance_cycles must be > 0"),
        ("energy_per_pulse_j", -1e-12, "energy_per_pulse_j must be >= 0"),
    ],
)
def test_invalid_fields_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        make(**{field: value})


def test_window_must_be_ordered():
    with pytest.raises(ValueError, match="g_min_us .* must be below g_max_us"):
        make(g_min_us=10.0, g_max_us=10.0)


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="step_us must be a number"):
        make(step_us="big")


def test_capabilities_and_evolve():
    spec = make(capabilities=[BOUNDS])
    assert spec.has(BOUNDS) and spec.capabilities == frozenset({BOUNDS})
    assert spec.range_us == pytest.approx(9.0)
    assert spec.evolve(step_us=0.2).step_us == 0.2
    with pytest.raises(KeyError, match="unknown spec field 'step_uS'.*did you mean 'step_us'"):
        spec.evolve(step_uS=0.2)
    with pytest.raises(ValueError, match="step_us must be > 0"):
        spec.evolve(step_us=-1)


def test_spec_is_frozen_and_serialisable():
    spec = make()
    with pytest.raises(AttributeError):
        spec.step_us = 1.0
    d = spec.to_dict()
    assert d["g_max_us"] == 10.0 and d["capabilities"] == []
    assert "uS" in spec.field_docs()["step_us"]
