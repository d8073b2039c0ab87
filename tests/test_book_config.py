"""Fast checks of the book's sources and configuration (no build, no browser).

- every file the table of contents names exists;
- no file in the repository references a CDN;
- chapter notebooks are committed without outputs, with the ``python3`` kernel and without
  PLACEHOLDER text;
- every citation key used in the book exists in ``book/references.bib`` (and keys are unique);
- ``_config.yml`` keeps the settings that make the HTML book readable offline.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIB = REPO / "book" / "references.bib"
# Hosts spelled in pieces so this file does not match its own check.
CDN_HOSTS = ["cdn." + "jsdelivr", "cdn" + "js.cloudflare", "cdn" + "js.com", "un" + "pkg.com"]
SKIP_DIRS = {
    ".venv", "_build", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules",
}
TEXT_SUFFIXES = {
    ".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".ipynb", ".html", ".js", ".css",
    ".json", ".bib", ".sh", ".svg", "",
}


def _toc_files() -> list[str]:
    """Every ``file:``/``root:`` entry of ``_toc.yml`` (without extension)."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    out = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                out.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk({k: v for k, v in toc.items() if k != "root"})
    return out


def _source(entry: str) -> Path | None:
    for suffix in (".ipynb", ".md", ""):
        p = REPO / f"{entry}{suffix}"
        if p.is_file():
            return p
    return None


TOC = _toc_files()
NOTEBOOKS = [e for e in TOC if (REPO / f"{e}.ipynb").is_file()]


def _repo_files() -> list[Path]:
    """Files git tracks or would track (not ignored); a plain walk when git is unavailable."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO, capture_output=True, check=True, timeout=60,
        ).stdout.decode()
        files = [REPO / f for f in out.split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = [p for p in REPO.rglob("*") if not SKIP_DIRS & set(p.relative_to(REPO).parts)]
    return [f for f in files if f.is_file()]


def test_toc_lists_files():
    assert len(TOC) >= 3


@pytest.mark.parametrize("entry", TOC)
def test_toc_entry_exists(entry):
    assert _source(entry) is not None, f"_toc.yml names {entry!r} but no .ipynb/.md file exists"


def test_no_file_references_a_cdn():
    bad = []
    for f in _repo_files():
        if f.suffix.lower() not in TEXT_SUFFIXES or f.stat().st_size > 5_000_000:
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for host in CDN_HOSTS:
            if host in text:
                bad.append(f"{f.relative_to(REPO)}: {host}")
    assert not bad, "files referencing a CDN (the book must read offline):\n" + "\n".join(bad)


def _load_nb(entry: str) -> dict:
    return json.loads((REPO / f"{entry}.ipynb").read_text(encoding="utf-8"))


@pytest.mark.parametrize("entry", NOTEBOOKS)
def test_notebook_committed_without_outputs(entry):
    nb = _load_nb(entry)
    dirty = [
        i for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{entry}.ipynb has outputs in cells {dirty}; strip them with "
        f"`jupyter nbconvert --clear-output --inplace {entry}.ipynb`"
    )
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    assert kernel == "python3", f"{entry}.ipynb uses kernel {kernel!r}; the book runs 'python3'"


@pytest.mark.parametrize("entry", NOTEBOOKS)
def test_notebook_has_no_placeholder(entry):
    nb = _load_nb(entry)
    hits = [i for i, c in enumerate(nb["cells"]) if "PLACEHOLDER" in "".join(c["source"])]
    assert not hits, f"{entry}.ipynb still contains PLACEHOLDER text (cells {hits})"


@pytest.mark.parametrize("entry", [e for e in TOC if (REPO / f"{e}.md").is_file()])
def test_page_has_no_placeholder(entry):
    assert "PLACEHOLDER" not in (REPO / f"{entry}.md").read_text(encoding="utf-8")


BIB_KEY = re.compile(r"^@\w+\s*\{\s*([^,\s]+)\s*,", re.MULTILINE)
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def _bib_keys() -> list[str]:
    return BIB_KEY.findall(BIB.read_text(encoding="utf-8"))


def _cited_keys() -> dict[str, set[str]]:
    """``{key: {files citing it}}`` over the book's markdown pages and notebook markdown cells."""
    cited: dict[str, set[str]] = {}
    for entry in TOC:
        src = _source(entry)
        if src is None:
            continue
        if src.suffix == ".ipynb":
            nb = json.loads(src.read_text(encoding="utf-8"))
            cells = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
            text = "\n".join("".join(c["source"]) for c in cells)
        else:
            text = src.read_text(encoding="utf-8")
        for m in CITE.finditer(text):
            for key in m.group(1).split(","):
                cited.setdefault(key.strip(), set()).add(src.name)
    return cited


def test_bib_keys_are_unique():
    keys = _bib_keys()
    dup = sorted({k for k in keys if keys.count(k) > 1})
    assert not dup, f"duplicate keys in book/references.bib: {dup}"


def test_every_cited_key_is_in_the_bibliography():
    keys = set(_bib_keys())
    cited = _cited_keys()
    assert cited, "no {cite} roles found: the citation scanner is broken"
    missing = {k: sorted(v) for k, v in cited.items() if k not in keys}
    assert not missing, f"cited but not in book/references.bib: {missing}"


def test_config_keeps_the_book_offline():
    cfg = yaml.safe_load((REPO / "_config.yml").read_text())
    sphinx = cfg["sphinx"]["config"]
    exts = sphinx["extensions"]
    assert "sphinx-mathjax-offline" in exts, "MathJax must be vendored by sphinx-mathjax-offline"
    assert "sphinx_thebe" not in exts, "sphinx_thebe adds a CDN script URL to every page"
    assert "sphinxcontrib.bibtex" in exts and "myst_nb" in exts
    assert sphinx.get("nb_ipywidgets_js") == {}, "myst-nb would load widget JS from a CDN"
    assert "mathjax_path" not in sphinx, "mathjax_path is set by sphinx-mathjax-offline"
    launch = cfg.get("launch_buttons", {})
    assert not launch.get("thebe")
    assert not any(launch.get(k) for k in ("binderhub_url", "jupyterhub_url", "colab_url"))
    analytics = cfg.get("html", {}).get("analytics", {})
    assert not any(analytics.values()), "no analytics in an offline book"
    assert cfg["execute"]["execute_notebooks"] == "force"
