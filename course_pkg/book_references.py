"""Citations and cross-references in JupyterLab, as the HTML book shows them.

The HTML book resolves ``{cite:p}`` and ``{cite:t}`` roles against ``book/references.bib`` with
sphinxcontrib-bibtex (``author_year`` style), and prints a ``{doc}`` role as the title of the page
it links to. ``jupyterlab-myst`` has no bibliography: it shows a citation as its key, flagged as
unresolved, and a ``{doc}`` link as the bare file stem. ``make workspace`` therefore writes the
learner's copies of the pages with

- each citation replaced by the label the HTML book prints, and the works the page cites listed
  at its end (pybtex's ``plain`` style in markdown, sorted like the book):

  - ``{cite:p}`finn2017maml```  → ``[Finn *et al.*, 2017]``
  - ``{cite:p}`b,a```           → ``[A, 2019, B *et al.*, 2020]`` (by author, then year)
  - ``{cite:t}`ravi2017lstm```  → ``Ravi and Larochelle [2017]``
  - ``{cite}`` is ``{cite:p}``; a missing year prints as ``n.d.``, as in the book;

- each ``{doc}`07_maml``` replaced by a markdown link to the copy, titled like the book's:
  ``[Model-agnostic meta-learning (MAML)](07_maml.ipynb)``, which JupyterLab opens in a tab.

The repository's ``book/`` is never changed: only the copies in ``workspace/`` are.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Reference", "load_references", "citation_label", "render_citations", "reference_list",
           "page_titles",
           "link_documents", "chapter_for_lab", "page_for_lab", "REFERENCES_TAG"]

#: ``{cite}``, ``{cite:p}``, ``{cite:t}`` (and their ``s`` variants) with their keys.
CITE_ROLE = re.compile(r"\{cite(?::(p|t|ps|ts))?\}`([^`]+)`")
#: Any other citation role: not in the book, refused with its name rather than shown raw.
OTHER_CITE_ROLE = re.compile(r"\{cite:(?!(?:p|t|ps|ts)\})[a-z]+\}`[^`]*`")
#: ``{doc}`target``` or ``{doc}`text <target>```.
DOC_ROLE = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?([^`<>]+?)>?`")
BIBLIOGRAPHY_DIRECTIVE = re.compile(r"```\{bibliography\}[^\n]*\n(?:[^\n]*\n)*?```[ \t]*\n?")
#: Tag of the closing "References" cell that :func:`chapter_for_lab` appends.
REFERENCES_TAG = "course-references"


@dataclass(frozen=True)
class Reference:
    """One bibliography entry: its key, the author part of its label, its year, its full text."""

    key: str
    authors: str  # "Finn *et al.*", "Ravi and Larochelle", "Weng"
    year: str  # "2017", or "n.d."
    full: str  # the whole entry, markdown

    @property
    def label_p(self) -> str:
        """The label of a parenthetical citation, without its brackets: "Finn *et al.*, 2017"."""
        return f"{self.authors}, {self.year}"


def _plain(latex: str) -> str:
    from pybtex.richtext import Text

    return Text.from_latex(latex).render_as("text")


def _author_part(persons: list, title: str = "") -> str:
    """As book/_ext/course_bib.py: a work without author or editor is named by its title."""
    names = [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
    if not names:
        return f"*{_plain(title)}*" if title else "Anonymous"
    if len(names) == 1:
        return names[0]
    if len(names) == 2 and names[1] != "others":
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} *et al.*"


def _sort_key(ref: Reference) -> tuple[str, str, str]:
    return ref.authors.replace("*", "").lower(), ref.year, ref.key


def load_references(bib: Path) -> dict[str, Reference]:
    """Parse a BibTeX file into ``{key: Reference}``."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    data = parse_file(str(bib))
    style = find_plugin("pybtex.style.formatting", "plain")()
    full = {e.key: e.text.render_as("markdown").replace("\n", " ")
            for e in style.format_entries(data.entries.values())}
    refs = {}
    for key, entry in data.entries.items():
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        refs[key] = Reference(key=key, authors=_author_part(persons, entry.fields.get("title", "")),
                              year=_plain(entry.fields.get("year", "")) or "n.d.",
                              full=full[key])
    return refs


def citation_label(key: str, bib: Path | None = None) -> str:
    """The plain-text label the HTML book prints for ``key`` (``"Finn et al., 2017"``), for
    places a citation role cannot reach, such as a table's cells. ``bib`` defaults to the
    repository's ``book/references.bib``; ``KeyError`` for an unknown key."""
    refs = _references(Path(bib) if bib is not None else
                       Path(__file__).resolve().parents[1] / "book" / "references.bib")
    if key not in refs:
        raise KeyError(f"no reference {key!r} in the bibliography")
    return refs[key].label_p.replace("*", "")


_CACHE: dict[Path, dict[str, Reference]] = {}


def _references(bib: Path) -> dict[str, Reference]:
    if bib not in _CACHE:
        if not bib.is_file():
            raise FileNotFoundError(f"no bibliography at {bib} (a clone of the course has one)")
        _CACHE[bib] = load_references(bib)
    return _CACHE[bib]


def render_citations(text: str, refs: dict[str, Reference],
                     where: str = "") -> tuple[str, list[str]]:
    """Replace every citation role in ``text`` by its label; return the text and the keys cited.

    Brackets are escaped (``\\[``) so that a label followed by ``(`` never becomes a link.
    Raises ``KeyError`` for a key not in ``refs`` and ``ValueError`` for another citation role,
    naming ``where``.
    """
    other = OTHER_CITE_ROLE.search(text)
    if other:
        raise ValueError(f"{where}: citation role {other.group(0)!r} is not supported")
    cited: list[str] = []

    def repl(m: re.Match[str]) -> str:
        keys = [k.strip() for k in m.group(2).split(",") if k.strip()]
        missing = [k for k in keys if k not in refs]
        if missing:
            raise KeyError(f"{where}: no reference {', '.join(missing)} in references.bib")
        cited.extend(k for k in keys if k not in cited)
        keys.sort(key=lambda k: _sort_key(refs[k]))  # the book lists them by author, then year
        if (m.group(1) or "p").startswith("t"):
            return ", ".join(f"{refs[k].authors} \\[{refs[k].year}\\]" for k in keys)
        return "\\[" + ", ".join(refs[k].label_p for k in keys) + "\\]"

    return CITE_ROLE.sub(repl, text), cited


def page_titles(book: Path) -> dict[str, tuple[str, str]]:
    """``{stem: (title, file name)}`` for every page of ``book`` (its first ``# `` heading)."""
    titles = {}
    for path in sorted([*book.glob("*.ipynb"), *book.glob("*.md")]):
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        else:
            text = path.read_text(encoding="utf-8")
        heading = re.search(r"^# +(.+?)\s*$", text, flags=re.M)
        titles[path.stem] = (heading.group(1) if heading else path.stem, path.name)
    return titles


def link_documents(text: str, titles: dict[str, tuple[str, str]], where: str = "") -> str:
    """Replace each ``{doc}`` role by a markdown link to the page's file, with its title."""

    def repl(m: re.Match[str]) -> str:
        stem = m.group(2).strip().removesuffix(".md").removesuffix(".ipynb").lstrip("/")
        if stem not in titles:
            raise KeyError(f"{where}: {{doc}} names {stem!r}, which is no page of the book")
        title, name = titles[stem]
        return f"[{(m.group(1) or '').strip() or title}]({name})"

    return DOC_ROLE.sub(repl, text)


def reference_list(keys: list[str], refs: dict[str, Reference]) -> str:
    """Markdown list of the works ``keys``, sorted by label, one per bullet."""
    chosen = sorted({refs[k] for k in keys}, key=_sort_key)
    return "\n".join(f"- **{r.label_p.removesuffix('.')}.** {r.full}" for r in chosen)


def chapter_for_lab(nb: dict, refs: dict[str, Reference],
                    titles: dict[str, tuple[str, str]], where: str = "") -> dict:
    """A copy of notebook ``nb`` with citation labels, titled page links and, when it cites
    anything, a closing "References" cell (tagged ``REFERENCES_TAG``)."""

    out = copy.deepcopy(nb)
    cited: list[str] = []
    for cell in out.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new, keys = render_citations(src, refs, where)
        new = link_documents(new, titles, where)
        cited.extend(k for k in keys if k not in cited)
        if new != src:
            cell["source"] = new.splitlines(keepends=True)
    if cited:
        bib = titles.get("bibliography", ("Bibliography", "bibliography.md"))
        cell = {"cell_type": "markdown", "metadata": {"tags": [REFERENCES_TAG]},
                "source": (f"## References\n\nThe works this chapter cites (all of them: "
                           f"[{bib[0]}]({bib[1]})).\n\n" + reference_list(cited, refs) + "\n")
                .splitlines(keepends=True)}
        if (out.get("nbformat"), out.get("nbformat_minor", 0)) >= (4, 5):
            cell["id"] = REFERENCES_TAG  # cell ids exist from nbformat 4.5 on
        out["cells"].append(cell)
    return out


def page_for_lab(text: str, refs: dict[str, Reference], titles: dict[str, tuple[str, str]],
                 where: str = "") -> str:
    """A markdown page with citation labels and titled page links; a ``{bibliography}`` block
    becomes the list of every reference, and a page that cites works lists them at its end."""
    text, cited = render_citations(text, refs, where)
    text = link_documents(text, titles, where)
    if BIBLIOGRAPHY_DIRECTIVE.search(text):
        every = reference_list(list(refs), refs) + "\n"
        return BIBLIOGRAPHY_DIRECTIVE.sub(lambda _: every, text)
    if cited:
        text = text.rstrip("\n") + "\n\n## References\n\n" + reference_list(cited, refs) + "\n"
    return text
