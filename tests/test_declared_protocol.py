"""Optional device features are declared members of the protocol, checked by capability."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import imc
from imc.spec import SWITCHING_LAW

ROOT = Path(__file__).resolve().parents[1]


def test_specs_declare_levels_and_level_size_or_none():
    memristor = imc.get_registry().spec("memristor")
    assert memristor.levels is None and memristor.level_us is None  # continuous cell
    mram = imc.get_registry().spec("mram")
    assert mram.levels == mram.n_mtj + 1
    assert mram.level_us == pytest.approx((mram.g_max_us - mram.g_min_us) / mram.n_mtj)
    assert imc.get_registry().spec("fefet").levels == 32


def test_switching_law_is_a_capability_with_base_methods_that_refuse():
    mram = imc.backend("mram", (4, 4), seed=0)
    assert mram.spec.has(SWITCHING_LAW)
    current = mram.current_for_probability(np.array([0.5], np.float32), 1)
    assert float(mram.switching_probability(current, 1)[0]) == pytest.approx(0.5, abs=1e-3)
    memristor = imc.backend("memristor", (4, 4), seed=0)
    assert not memristor.spec.has(SWITCHING_LAW)
    with pytest.raises(NotImplementedError, match="capability 'switching-law' absent"):
        memristor.current_for_probability(np.array([0.5], np.float32), 1)


OPTIONAL = ("level_us", "levels", "current_for_probability", "switching_probability", "declared_write_noise_us")


@pytest.mark.parametrize("path", sorted((ROOT / "imc").rglob("*.py")) + sorted((ROOT / "conformance").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_optional_member_is_probed_by_name(path):
    text = path.read_text(encoding="utf-8")
    names = "|".join(OPTIONAL)
    probes = re.findall(rf"""(?:getattr|hasattr)\([^)]*["']({names})["']""", text)
    probes += re.findall(rf"inspect\.signature\([^)]*\.({names})\b", text)
    assert not probes, f"{path.relative_to(ROOT)} probes {probes} by name; use the declared member or a capability"
