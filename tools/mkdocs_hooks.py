"""MkDocs hooks (mkdocs.yml ``hooks:``): the README is the site's home page, and links that
leave docs/ still work in the site.

- README.md becomes ``index.md``; its ``docs/X.md`` links become ``X.md``.
- A link from any page to a repository file outside docs/ (a config, a recorded figure) is
  served from ``repo/<path>`` in the site, so the link and an image still resolve.
- A link to a repository folder (``examples/imc-ecram``) cannot be a page: it becomes the
  folder's path in code, as the reader would find it in a clone.
- The docs/api/ section of the nav is called "API reference"; nav titles are H1s up to a colon.
- Sphinx roles in docstrings (``:class:`X```) are shown as plain code in the API reference.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
REPO_PREFIX = "repo"
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|attr|mod|exc|obj|const|ref):<code>~?")
LITERAL_INTRO = re.compile(r"::</p>")  # reST's "text::" before a literal block reads "text:"


def _local(target: str) -> bool:
    return not (re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")))


def _resolve(source: Path, target: str) -> tuple[str, Path | None, str]:
    """Classify a link of ``source``: ('docs'|'file'|'folder'|'other', repo path, #anchor)."""
    path, _, anchor = target.partition("#")
    if not _local(target) or not path:
        return "other", None, anchor
    resolved = (source.parent / path).resolve()
    if resolved.is_relative_to(DOCS):
        return "docs", resolved, anchor
    if resolved.is_relative_to(ROOT) and resolved.is_file():
        return "file", resolved, anchor
    if resolved.is_relative_to(ROOT) and resolved.is_dir():
        return "folder", resolved, anchor
    return "other", None, anchor


def _sources(files) -> list[Path]:
    return [Path(f.abs_src_path) for f in files.documentation_pages() if f.abs_src_path]


def on_files(files, config):
    from mkdocs.structure.files import File  # here, so the link rules above import (and test) without mkdocs

    files.append(File.generated(config, "index.md", abs_src_path=str(README)))
    added = set()
    for source in _sources(files):
        for match in LINK.finditer(source.read_text(encoding="utf-8")):
            kind, path, _ = _resolve(source, match["target"])
            if kind == "file" and path not in added:
                added.add(path)
                uri = f"{REPO_PREFIX}/{path.relative_to(ROOT).as_posix()}"
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    source = Path(page.file.abs_src_path)
    # where the page sits in the site, relative to docs/ (README's home page sits at docs/index.md)
    site_dir = (DOCS / page.file.src_uri).parent

    def rewrite(match: re.Match) -> str:
        kind, path, anchor = _resolve(source, match["target"])
        suffix = f"#{anchor}" if anchor else ""
        if kind == "docs":
            new = Path(_relpath(path, site_dir)).as_posix() + suffix
        elif kind == "file":
            new = _relpath(DOCS / REPO_PREFIX / path.relative_to(ROOT), site_dir) + suffix
        elif kind == "folder":
            return f"`{path.relative_to(ROOT).as_posix()}/`" if match["text"].strip("`") == path.relative_to(ROOT).as_posix() \
                else f"{match['text']} (`{path.relative_to(ROOT).as_posix()}/` in the repository)"
        else:
            return match[0]
        return f"{match['bang']}[{match['text']}]({new})"

    return LINK.sub(rewrite, markdown)


def _relpath(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def on_page_content(html, page, config, files):
    # nav and window titles: a page's H1 up to its first colon ("Devices: FeFET, MRAM, ..." -> "Devices");
    # every page is rendered before any template, so the nav sees the short titles
    if page.title and ":" in page.title:
        page.title = page.title.split(":", 1)[0].strip()
    return LITERAL_INTRO.sub(":</p>", ROLE.sub("<code>", html))


def on_nav(nav, config, files):
    # the nav is built from the files (so a new docs/ page appears by itself); name the API folder
    for item in nav.items:
        if getattr(item, "is_section", False) and item.title == "Api":
            item.title = "API reference"
    return nav
