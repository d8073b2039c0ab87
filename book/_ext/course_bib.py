"""Sphinx extension: one citation style, author–year, in the text and in the bibliography.

sphinxcontrib-bibtex cites author–year in the text (``bibtex_reference_style: author_year``,
"[Finn *et al.*, 2017]") but labels the bibliography with pybtex's default alpha keys
("[FAL17]"). The formatting style registered here, ``course_author_year`` (set as
``bibtex_default_style`` in ``_config.yml``), labels and sorts the list by the same author–year
text: "Finn et al., 2017", "Ravi and Larochelle, 2017", "Weng, 2018". A work without an author
is listed and cited by its title (in italics, as APA does), never as "Anonymous"; two works with
the same label would get "2017a"/"2017b" (a build error asks to disambiguate them in the .bib,
since the in-text style cannot add the letter).

``author_part(entry)`` is shared with ``course_pkg.book_references`` (the JupyterLab copies use
the same labels).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle

STYLE_NAME = "course_author_year"


def _plain(latex: str) -> str:
    return Text.from_latex(latex).render_as("text")


def _ascii(text: str) -> str:
    """Sort key of a name: accents dropped ("Müller" sorts as "muller"), lower case."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def author_part(entry: Any) -> str:
    """The author part of a label: "Weng", "Ravi and Larochelle", "Finn et al."; the title when
    the entry names no author or editor."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
    if not names:
        return _plain(entry.fields.get("title", "")) or entry.key
    if len(names) == 1:
        return names[0]
    if len(names) == 2 and names[1] != "others":
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def year_part(entry: Any) -> str:
    return _plain(entry.fields.get("year", "")) or "n.d."


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Finn et al., 2017" (the text of the in-text citation, without brackets)."""

    def format_labels(self, sorted_entries: Any) -> Any:
        entries = list(sorted_entries)
        labels = [f"{author_part(e)}, {year_part(e)}" for e in entries]
        for e, label in zip(entries, labels, strict=True):
            if labels.count(label) > 1:
                raise ValueError(f"references.bib: {label!r} labels several works ({e.key} …): "
                                 "the in-text citations could not tell them apart")
            yield label


class AuthorYearSort(BaseSortingStyle):
    """By author part (or title), then year, then title."""

    def sorting_key(self, entry: Any) -> tuple[str, str, str]:
        return (_ascii(author_part(entry)), year_part(entry),
                _ascii(_plain(entry.fields.get("title", ""))))


class CourseStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = AuthorYearSort


def setup(app: Any) -> dict[str, Any]:
    register_plugin("pybtex.style.formatting", STYLE_NAME, CourseStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
