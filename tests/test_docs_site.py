"""The docs site's link rules (tools/mkdocs_hooks.py): README as the home page, links that leave
docs/ still resolve. The strict build itself is the tox env `docs`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "tools" / "mkdocs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hooks = _load()


def _page(source: Path, src_uri: str, title: str | None = None):
    return SimpleNamespace(file=SimpleNamespace(abs_src_path=str(source), src_uri=src_uri), title=title)


def _markdown(text: str, source: Path, src_uri: str) -> str:
    return hooks.on_page_markdown(text, _page(source, src_uri), config=None, files=None)


def test_readme_links_into_docs_become_site_pages_with_their_anchors():
    out = _markdown("See [docs/energy.md](docs/energy.md#units) and [guide](docs/api/device.md).", ROOT / "README.md", "index.md")
    assert out == "See [docs/energy.md](energy.md#units) and [guide](api/device.md)."


def test_links_to_repository_files_outside_docs_are_served_from_repo():
    readme = _markdown("[a config](examples/configs/denoise.toml)", ROOT / "README.md", "index.md")
    assert readme == "[a config](repo/examples/configs/denoise.toml)"
    page = _markdown("![fig](../examples/configs/denoise.toml)", ROOT / "docs" / "sweeps.md", "sweeps.md")
    assert page == "![fig](repo/examples/configs/denoise.toml)"
    nested = _markdown("[c](../../examples/configs/denoise.toml)", ROOT / "docs" / "api" / "x.md", "api/x.md")
    assert nested == "[c](../repo/examples/configs/denoise.toml)"


def test_links_to_repository_folders_become_their_path_in_code():
    same = _markdown("[examples/imc-ecram](examples/imc-ecram)", ROOT / "README.md", "index.md")
    assert same == "`examples/imc-ecram/`"
    named = _markdown("the [finished example](../examples/imc-ecram)", ROOT / "docs" / "writing-a-backend.md", "writing-a-backend.md")
    assert named == "the finished example (`examples/imc-ecram/` in the repository)"


def test_web_links_anchors_and_missing_targets_are_left_for_the_strict_build_to_judge():
    text = "[w](https://example.org/x.md) [a](#top) [m](mailto:x@y.z) [gone](docs/nope.md)"
    assert _markdown(text, ROOT / "README.md", "index.md") == "[w](https://example.org/x.md) [a](#top) [m](mailto:x@y.z) [gone](nope.md)"


def test_sphinx_roles_and_literal_intros_render_plainly_and_nav_titles_stop_at_a_colon():
    page = _page(ROOT / "docs" / "devices.md", "devices.md", title="Devices: FeFET, MRAM, fitted tables")
    html = "<p>An :class:<code>~imc.errors.UserError</code> or :func:<code>imc.backend</code>. Public API::</p>"
    assert hooks.on_page_content(html, page, None, None) == "<p>An <code>imc.errors.UserError</code> or <code>imc.backend</code>. Public API:</p>"
    assert page.title == "Devices"
