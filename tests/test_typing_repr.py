"""What a researcher reads without opening the source: help(imc.Device) and the reprs."""

import pydoc
import re
from pathlib import Path

import attrs
import numpy as np

import imc

DOCS = Path(__file__).resolve().parents[1] / "docs" / "writing-a-backend.md"


def _table_hooks() -> list[str]:
    """Hook names in the first column of docs/writing-a-backend.md's hooks table."""
    text = DOCS.read_text()
    start = text.index("| hook | you return | default |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(re.match(r"\| `(\w+)\(", line).group(1))
    return rows


def _docstring_hooks() -> list[str]:
    """Hook names listed (one per line, ``name(...) -> ...``) in Device's class docstring."""
    return re.findall(r"^\s*``(\w+)\(.*\) -> .*``$", imc.Device.__doc__, flags=re.MULTILINE)


def test_help_device_names_every_hook_of_the_docs_table():
    hooks = _table_hooks()
    assert len(hooks) >= 10 and "_pulse" in hooks and "_drift" in hooks
    text = pydoc.render_doc(imc.Device, renderer=pydoc.plaintext)
    for name in hooks:
        assert f"``{name}(" in text, f"help(imc.Device) does not list the hook {name}"
    # the docstring's list and the docs table list the same hooks, in the same order
    assert _docstring_hooks() == hooks


def test_each_hook_states_shapes_dtypes_and_units():
    for name in _table_hooks():
        doc = getattr(imc.Device, name).__doc__
        assert doc and doc.startswith("Hook"), f"Device.{name} docstring does not say it is a hook"
        if name in ("_init_cells", "max_update_pulses"):
            continue
        if name == "_read_noise_rel":
            assert "float32" in doc and "dimensionless" in doc
            continue
        assert "float32" in doc and "uS" in doc, f"Device.{name} docstring states no dtype or unit"
        if "idx" in doc.split("\n")[0] or name in ("_pulse", "_update", "_program", "window_at"):
            assert "int64" in doc, f"Device.{name} docstring does not give idx's dtype"
    assert "int8" in imc.Device._pulse.__doc__  # signs


def _compute():
    return imc.Compute.create("cpu", seed=0)


def test_linear_repr_says_sizes_and_where_the_weights_live():
    from imc.nn import AnalogConfig, Linear

    c = _compute()
    assert repr(Linear(64, 128, compute=c, analog=AnalogConfig(preset="eapu-paper"))) == "Linear(64 -> 128, analog memristor:eapu-paper)"
    assert repr(Linear(3, 2, compute=c, bias=False)) == "Linear(3 -> 2, digital, no bias)"
    layer = Linear(4, 5, compute=c, analog=AnalogConfig(preset="eapu-paper"))
    layer.weight.tile.set_exact()  # the "ideal" rule's digital weights
    assert repr(layer) == "Linear(4 -> 5, analog memristor:eapu-paper exact)"


def test_conv_and_shape_layers_repr():
    from imc.nn import AvgPool2d, Conv2d, PixelShuffle, ReLU, Upsample

    conv = Conv2d(1, 8, 3, compute=_compute(), stride=2, padding=1)
    assert repr(conv) == "Conv2d(1 -> 8, kernel 3, stride 2, padding 1, digital)"
    assert repr(ReLU()) == "ReLU()"
    assert repr(AvgPool2d(2)) == "AvgPool2d(2)"
    assert repr(PixelShuffle(3)) == "PixelShuffle(3)"
    assert repr(Upsample(2, mode="bilinear")) == "Upsample(2, mode='bilinear')"


def test_model_repr_lists_its_layers_in_order_nested():
    from imc.models import build
    from imc.nn import AnalogConfig

    mlp = build("mlp", analog=AnalogConfig(preset="eapu-paper"), compute=_compute())
    assert repr(mlp).splitlines() == [
        "Sequential(",
        "  (0): Linear(64 -> 64, analog memristor:eapu-paper)",
        "  (1): ReLU()",
        "  (2): Linear(64 -> 10, analog memristor:eapu-paper)",
        ")",
    ]
    dncnn = build("dncnn", analog=None, compute=_compute(), depth=3, channels=4)
    lines = repr(dncnn).splitlines()
    assert lines[0] == "Residual(scale=-1"
    assert lines[1] == "  (block): Sequential("
    assert lines[2] == "    (0): Conv2d(1 -> 4, kernel 3, stride 1, padding 1, digital)"
    assert lines[-2:] == ["  )", ")"]
    assert sum("Conv2d(" in line for line in lines) == 3


def test_parameter_and_analog_matrix_repr():
    from imc.nn import AnalogConfig, Linear

    layer = Linear(6, 3, compute=_compute(), analog=AnalogConfig(backend="fefet", max_tile_rows=4))
    assert repr(layer.weight) == "Parameter(analog (6, 3), fefet:fefet)"
    assert repr(layer.bias) == "Parameter(digital (3,), float32)"
    assert repr(layer.weight.tile) == "AnalogMatrix(6 x 3 on fefet:fefet, pair mapping, 2 tiles, 4 arrays)"


def test_fused_pair_update_on_a_set_only_pair_refreshes_and_counts():
    """A fused pair write (memristor's one-pass pair update) on a device that resets abruptly
    (SET-only pair, refreshed after writes) returns its write counts: mypy --strict found
    ``WriteStats + WriteStats`` here, which WriteStats does not define (only +=)."""
    from imc.nn import AnalogConfig, DeviceSource
    from imc.nn.analog import AnalogMatrix
    from imc.spec import ABRUPT_RESET

    info = imc.get_registry().get("memristor").info
    base = info.spec("rram-realistic")
    spec = attrs.evolve(base, capabilities=base.capabilities | {ABRUPT_RESET})
    source = DeviceSource(spec=spec, factory=info.factory, backend="memristor", preset="rram-realistic+abrupt")
    compute = imc.Compute.create("cpu", seed=0)
    w = np.zeros((4, 3), dtype=np.float32)
    tile = AnalogMatrix(w, AnalogConfig(device=source), compute)
    plus, minus = tile.tiles[0].devices
    assert tile.set_only and plus._fuses_pair(minus) and tile._internal
    events0, pulses0 = plus.counters.events + minus.counters.events, plus.counters.pulse_total + minus.counters.pulse_total
    delta = np.full(12, 40.0, dtype=np.float32)  # uS, several steps: every cell is written
    stats = tile.update(np.arange(12, dtype=np.int64), delta, checked=True)
    # the write (12 cells) plus the refresh's re-programming, exactly as the devices counted them
    assert stats.cells >= 12
    assert stats.cells == plus.counters.events + minus.counters.events - events0
    assert stats.pulses == plus.counters.pulse_total + minus.counters.pulse_total - pulses0
