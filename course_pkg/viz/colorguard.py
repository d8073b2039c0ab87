"""Method colours are for methods only: check every matplotlib figure a chapter draws.

:func:`check_figure` walks a figure's lines, collections, bars and patches. An artist drawn in a
method's colour (within :data:`~course_pkg.viz.palette.MIN_DELTA_E`) must be that method: its
legend label names the method (``"MAML, K = 5"``), or it is unlabelled and the same axes (or
figure legend) has a labelled artist of that method in that colour (a marker at the end of
MAML's path, a confidence band). A labelled series that names a method must not be drawn in
another method's colour. Colour-mapped artists (heatmaps, scatters coloured by a value) encode
data through their colormap and are not checked.

:func:`install_cell_check` (called by ``use_course_style()`` in IPython) appends a call of
:func:`check_open_figures` to every cell, so a chapter whose figure breaks the rule fails while
it runs (the book build stops, naming the figure, the artist and the colour).
"""

from __future__ import annotations

import ast
from typing import Any

from course_pkg.viz.palette import (
    METHOD_LABELS,
    is_method_color,
    method_for_label,
    register_cell_check,
)

_CHECK_NAME = "_course_check_open_figures"


def _colors_of(artist: Any) -> list[Any]:
    """The face/edge/line colours an artist is drawn in (RGBA tuples or colour strings)."""
    import numpy as np
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out: list[Any] = []
    if isinstance(artist, Line2D):
        if artist.get_linestyle() not in ("None", "", " ", "none"):
            out.append(artist.get_color())
        if artist.get_marker() not in (None, "None", "", " ", "none"):
            out += [artist.get_markerfacecolor(), artist.get_markeredgecolor()]
    elif isinstance(artist, Collection):
        if artist.get_array() is not None:  # colour-mapped data (a heatmap, a scatter by value)
            return out
        for arr in (artist.get_facecolor(), artist.get_edgecolor()):
            arr = np.atleast_2d(np.asarray(arr, dtype=float)) if len(arr) else []
            out += [tuple(c) for c in arr if c[3] > 0]
    elif isinstance(artist, Patch):
        for c in (artist.get_facecolor(), artist.get_edgecolor()):
            if c is not None and c[3] > 0:
                out.append(tuple(c))
    return [c for c in out if c is not None and not (isinstance(c, str) and c.lower() == "none")]


def _label(artist: Any) -> str:
    label = artist.get_label() or ""
    return "" if label.startswith("_") else label


def check_figure(fig: Any, name: str = "figure") -> list[str]:
    """Problems of ``fig`` (a matplotlib ``Figure``): artists in a method colour that are not
    that method. Empty when the figure keeps one colour per method."""
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    problems: list[str] = []
    legend_methods: set[str] = set()
    for leg in fig.legends:
        for text in leg.get_texts():
            m = method_for_label(text.get_text())
            if m:
                legend_methods.add(m)
    for i, ax in enumerate(fig.axes):
        artists = [a for a in ax.get_children() if isinstance(a, (Line2D, Collection, Patch))
                   and a is not ax.patch and a.get_visible()]
        labelled: dict[str, set[str]] = {}  # method -> {method of its colour}
        for a in artists:
            m = method_for_label(_label(a))
            if m:
                labelled.setdefault(m, set()).update(
                    filter(None, (is_method_color(c) for c in _colors_of(a))))
        if ax.get_legend() is not None:
            for text in ax.get_legend().get_texts():
                m = method_for_label(text.get_text())
                if m:
                    labelled.setdefault(m, set()).add(m)
        present = set(labelled) | legend_methods
        for a in artists:
            label = _label(a)
            named = method_for_label(label)
            for c in _colors_of(a):
                owner = is_method_color(c)
                if owner is None or owner == named:
                    continue
                if named is not None:
                    problems.append(f"{name}, axes {i}: {label!r} ({METHOD_LABELS[named]}) is "
                                    f"drawn in {METHOD_LABELS[owner]}'s colour")
                elif label:
                    problems.append(f"{name}, axes {i}: {label!r} is not a method but is drawn "
                                    f"in {METHOD_LABELS[owner]}'s colour (use neutral_color(), "
                                    "sequential_colors(n) or category_colors(n))")
                elif owner not in present:
                    problems.append(f"{name}, axes {i}: an unlabelled {type(a).__name__} is "
                                    f"drawn in {METHOD_LABELS[owner]}'s colour, but no "
                                    f"{METHOD_LABELS[owner]} series is in these axes")
                break
    return problems


def check_open_figures() -> None:
    """Check every open pyplot figure; raise ``ValueError`` listing the problems."""
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib.pyplot as plt

    problems: list[str] = []
    for num in plt.get_fignums():
        problems += check_figure(plt.figure(num), f"figure {num}")
    if problems:
        raise ValueError("one colour per method, and only for methods:\n  " +
                         "\n  ".join(problems))


def _is_show(node: ast.stmt) -> bool:
    """``plt.show()`` / ``show()``: it displays and closes the figures, so check before it."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    f = node.value.func
    return (isinstance(f, ast.Attribute) and f.attr == "show") or \
        (isinstance(f, ast.Name) and f.id == "show")


class _AppendCheck(ast.NodeTransformer):
    """Adds ``_course_check_open_figures()`` at the end of a cell: before a final ``show()``;
    after a final expression, whose value is kept as the cell's displayed result."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        call = ast.Expr(ast.Call(ast.Name(_CHECK_NAME, ast.Load()), [], []))
        body = node.body
        if body and _is_show(body[-1]):
            body.insert(len(body) - 1, call)
        elif body and isinstance(body[-1], ast.Expr):
            last = body.pop()
            tmp = "_course_last_value"
            body += [ast.Assign([ast.Name(tmp, ast.Store())], last.value), call,
                     ast.Expr(ast.Name(tmp, ast.Load()))]
        else:
            body.append(call)
        return ast.fix_missing_locations(node)


def install_cell_check() -> bool:
    """In IPython, check the open figures at the end of every cell (once per kernel); returns
    whether it is installed (``False`` outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    ip.user_ns[_CHECK_NAME] = check_open_figures
    if not any(isinstance(t, _AppendCheck) for t in ip.ast_transformers):
        ip.ast_transformers.append(_AppendCheck())
    return True


register_cell_check(install_cell_check)
