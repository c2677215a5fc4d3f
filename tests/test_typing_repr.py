"""What a researcher reads without opening the source: help(imc.Device) and the reprs."""

import pydoc
import re
from pathlib import Path

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
