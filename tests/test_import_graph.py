"""The import graph of the core: no plugin is imported, and no module imports a higher layer.

Every ``import`` statement in imc/ is read (module level and inside functions), relative
imports resolved. Plugins are the packages under plugins/ (first-party backends are plugins
like any other): the core reaches them only through the registry, never by import. Loading
imc's own built-in plugins by name (``imc.registry.BUILTIN_PLUGINS``) is a dynamic load,
like an entry point, not an import arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "imc"
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file())

# Lowest first; a module may import its own layer or lower ones. Packages are listed by
# their top module (imc.nn covers imc.nn.*).
LAYERS = [
    {"imc.errors", "imc.arraytypes", "imc.spec", "imc.files", "imc.fields", "imc.records", "imc.hookspecs", "imc.compute",
     "imc.cupy_standin", "imc.curves", "imc.limits"},
    {"imc.device", "imc.variation", "imc.checkpoint"},
    {"imc.registry", "imc"},  # "imc": the public facade (imc/__init__.py re-exports up to the registry)
    {"imc.nn", "imc.ledger", "imc.optim", "imc.rules"},
    {"imc.train", "imc.models", "imc.tasks"},
    {"imc.config"},
    {"imc.runner", "imc.evaluate", "imc.characterize", "imc.sweep", "imc.report", "imc.plot"},
    {"imc.cli"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks: imports for annotations only,
    never executed, so they are no import arrow (imc.hookspecs names the records it returns)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            skip.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skip


def _imports(path: Path) -> list[tuple[int, str]]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from imc.x import y": y may be a name or a submodule; the longest layer entry decides
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return out


def _layer(module: str) -> int | None:
    best = None
    for level, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best[1])):
                best = (level, name)
    return None if best is None else best[0]


MODULES = sorted(CORE.rglob("*.py"))


def test_the_plugin_list_is_found():
    assert {"imc_memristor", "imc_fefet", "imc_mram", "imc_table"} <= set(PLUGINS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_plugin(path):
    bad = [(line, target) for line, target in _imports(path) if target.split(".")[0] in PLUGINS]
    assert not bad, f"{path.relative_to(ROOT)} imports plugin(s) {bad}; reach plugins through imc.registry"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path):
    own = _layer(_module_name(path))
    if own is None:
        pytest.skip(f"{_module_name(path)} is not in LAYERS (add it to check its arrows)")
    upward = []
    for line, target in _imports(path):
        if not (target == "imc" or target.startswith("imc.")):
            continue
        level = _layer(target)
        if level is not None and level > own:
            upward.append(f"line {line}: {target} (layer {level} > {own})")
    assert not upward, f"{path.relative_to(ROOT)} imports upward: " + "; ".join(upward)


def test_imc_train_works_with_the_table_plugin_disabled(tmp_path):
    """The core imports no plugin: with `table` disabled, training still works and `imc fit` is gone."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, IMC_DISABLED_PLUGINS="table", MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, "-m", "imc.cli", "train", "--quiet", "--set", "epochs=1", "--output", str(tmp_path / "r")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "r" / "summary.json").is_file()
    fit = subprocess.run([sys.executable, "-m", "imc.cli", "fit", "x.csv", "--name", "x"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert fit.returncode == 2 and "invalid choice: 'fit'" in fit.stderr


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "registry.py" or p.parent != CORE],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_registry_calls_hooks(path):
    text = path.read_text(encoding="utf-8")
    assert ".hook." not in text and "get_hookimpls" not in text, f"{path.relative_to(ROOT)} calls pluggy hooks directly"
