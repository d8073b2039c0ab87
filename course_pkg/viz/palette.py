"""One colour per method across the course, and the look of every static figure and table.

The method colours are Okabe & Ito's colour-blind-safe set (distinguishable with protanopia,
deuteranopia and tritanopia); each has at least 3:1 contrast against the white plot background
(WCAG 1.4.11 for graphics). The interactive figures read the same dict (``_base.esm_source``
puts it in front of their JavaScript as ``CV_METHOD_COLORS``), so MAML is the same blue in a
matplotlib figure and in a widget.

- :data:`METHOD_COLORS`, :data:`METHOD_LABELS`, :func:`method_color`: colours and display names.
- :func:`use_course_style`: matplotlib defaults for the book (2× PNGs, readable fonts, legends
  with an opaque frame); call once per chapter.
- :func:`legend_outside`: a legend below the panels or right of the axes (off the data).
- :func:`style_table`: a pandas ``Styler`` with padded cells, rules, right-aligned numbers and
  display names for the columns, the same in JupyterLab as in the HTML book.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Method -> colour (hex). "pretrained" and "reference" are the baselines drawn beside them.
METHOD_COLORS: dict[str, str] = {
    "maml": "#0072B2",       # blue
    "fomaml": "#D55E00",     # vermillion
    "reptile": "#009E73",    # bluish green
    "imaml": "#CC79A7",      # reddish purple
    "protonet": "#E69F00",   # orange (few-shot tables)
    "matching": "#56B4E9",   # sky blue
    "blackbox": "#8C6D1F",   # brown
    "metasgd": "#882255",    # wine
    "pretrained": "#555555",  # grey: a baseline, not a method
    "reference": "#000000",
}
#: Method -> name shown in legends and tables.
METHOD_LABELS: dict[str, str] = {
    "maml": "MAML", "fomaml": "FOMAML", "reptile": "Reptile", "imaml": "iMAML",
    "protonet": "ProtoNet", "matching": "Matching net", "blackbox": "black-box",
    "metasgd": "Meta-SGD",
    "pretrained": "pretrained", "reference": "reference",
}


def method_color(method: str) -> str:
    """The colour of ``method``, named by key or label, case-insensitive, by its first word:
    ``"maml"``, ``"MAML"``, ``"MAML, K = 5"``, ``"iMAML (proximal solver)"``, ``"Meta-SGD"``.

    Raises ``KeyError`` naming the known methods for an unknown name.
    """
    m = re.match(r"\s*([A-Za-z][A-Za-z-]*)", method)
    key = m.group(1).lower().replace("-", "") if m else ""
    if key not in METHOD_COLORS:
        raise KeyError(f"no colour for method {method!r}; known: {sorted(METHOD_COLORS)}")
    return METHOD_COLORS[key]


def use_course_style() -> None:
    """Matplotlib defaults of the book: PNGs at 2× (crisp on HiDPI screens, shown at 1×),
    fonts readable at the column width (figures ≤ 7.8 in wide fit the 784-px column at
    100 dpi without shrinking), opaque legend frames, method colours first in the cycle."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "font.size": 10,
        "axes.titlesize": 10,
        "legend.fontsize": 9,
        "legend.framealpha": 0.95,
        "axes.prop_cycle": mpl.cycler(color=[METHOD_COLORS[m] for m in
                                             ("maml", "fomaml", "reptile", "imaml", "protonet",
                                              "matching", "blackbox", "pretrained")]),
    })
    try:  # the inline backend of Jupyter: PNG at 2× with width/height of the 1× figure
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except ImportError:  # plain Python: nothing to configure
        pass


_TABLE_STYLES = [
    {"selector": "", "props": [("border-collapse", "collapse"), ("margin", "0.5em 0"),
                               ("font-variant-numeric", "tabular-nums")]},
    {"selector": "th, td", "props": [("padding", "0.3em 0.7em")]},
    {"selector": "thead th", "props": [("border-bottom", "1.5px solid currentColor"),
                                       ("text-align", "right"), ("vertical-align", "bottom")]},
    {"selector": "tbody tr", "props": [("border-bottom", "1px solid rgba(128,128,128,0.35)")]},
    {"selector": "tbody th", "props": [("text-align", "left"), ("font-weight", "600")]},
    {"selector": "td", "props": [("text-align", "right")]},
]


def style_table(df: Any, formats: Mapping[str, str] | str | int | None = None, *,
                headers: Mapping[str, str] | None = None, hide_index: bool = True,
                text_columns: tuple[str, ...] | None = None, caption: str | None = None) -> Any:
    """A readable ``Styler`` of ``df`` (pandas DataFrame).

    ``formats``: decimals of every float (an int), a format string for every number (e.g.
    ``"{:.3f}"``) or one per column;
    ``headers``: display names for columns (``{"f_w(x)": "prediction w·x"}``); text columns
    (``text_columns``, default: the non-numeric ones) are left-aligned, numbers right-aligned;
    ``caption`` becomes the table's ``<caption>``.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"style_table needs a pandas DataFrame, got {type(df).__name__}")
    if headers:
        unknown = set(headers) - set(df.columns)
        if unknown:
            raise KeyError(f"headers for unknown columns {sorted(unknown)}; columns: "
                           f"{list(df.columns)}")
        df = df.rename(columns=dict(headers))
    if text_columns is None:
        text_columns = tuple(c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]))
    elif headers:
        text_columns = tuple(headers.get(c, c) for c in text_columns)
    styler = df.style.set_table_styles(_TABLE_STYLES)
    if isinstance(formats, int) and not isinstance(formats, bool):
        styler = styler.format(precision=formats)
    elif isinstance(formats, str):
        numeric = [c for c in df.columns if c not in text_columns]
        styler = styler.format(formats, subset=numeric)
    elif formats:
        styler = styler.format({(headers or {}).get(k, k): v for k, v in formats.items()})
    if text_columns:
        styler = styler.set_properties(subset=list(text_columns), **{"text-align": "left"})
        styler = styler.set_table_styles(
            {c: [{"selector": "th", "props": [("text-align", "left")]}] for c in text_columns},
            overwrite=False)
    if hide_index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


def legend_outside(ax: Any, where: str = "below", ncol: int | None = None, **kw: Any) -> Any:
    """Put ``ax``'s legend off the data: ``"below"`` the whole figure (one legend for all
    panels, ``ncol`` columns) or to the ``"right"`` of ``ax``. Returns the legend."""
    handles, labels = ax.get_legend_handles_labels()
    if where == "right":
        return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1),
                         borderaxespad=0, **kw)
    if where != "below":
        raise ValueError(f"where must be 'below' or 'right', got {where!r}")
    return ax.figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                            ncol=ncol or min(len(labels), 4), frameon=False, **kw)
