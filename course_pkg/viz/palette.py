"""One colour per method across the course, and only for methods; the look of every figure.

The method colours are Okabe & Ito's colour-blind-safe set (distinguishable with protanopia,
deuteranopia and tritanopia); each has at least 3:1 contrast against the white plot background
(WCAG 1.4.11 for graphics). The interactive figures read the same dict (``_base.esm_source``
puts it in front of their JavaScript as ``CV_METHOD_COLORS``), so MAML is the same blue in a
matplotlib figure and in a widget.

A method colour means that method and nothing else: task optima, "after k steps" curves, goals,
λ values and baselines take :func:`neutral_color`, :func:`sequential_colors` or
:func:`category_colors`, which never return a method colour, and :func:`series_color` refuses a
method colour for a label that does not name that method. :func:`use_course_style` puts no
method colour in matplotlib's default cycle and (in IPython) checks every figure at the end of
each cell (:mod:`course_pkg.viz.colorguard`).

- Methods: :func:`register_methods` (the method registry of ``course_pkg.experiments`` calls it
  with ``{name: (label, colour)}``), :func:`method_color`, :func:`method_label`,
  :func:`method_for_label`, :func:`is_method_color`; :data:`METHOD_COLORS` and
  :data:`METHOD_LABELS` are the live registry (same dict objects, updated in place).
- Everything else: :func:`neutral_color`, :func:`sequential_colors`, :func:`category_colors`,
  :func:`series_color`.
- :func:`use_course_style`: matplotlib defaults for the book (2× PNGs, readable fonts, legends
  with an opaque frame, a method-free colour cycle); call once per chapter.
- :func:`legend_outside`: a legend below the panels or right of the axes (off the data).
- :func:`style_table`: a pandas ``Styler`` with padded cells, rules, right-aligned numbers and
  display names for the columns, the same in JupyterLab as in the HTML book.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

#: Method -> colour (hex), the live registry (see :func:`register_methods`). "pretrained" and
#: "reference" are baselines drawn beside the methods: they are neutral greys, free for any use.
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
#: Method -> name shown in legends and tables (as in the text).
METHOD_LABELS: dict[str, str] = {
    "maml": "MAML", "fomaml": "FOMAML", "reptile": "Reptile", "imaml": "iMAML",
    "protonet": "ProtoNet", "matching": "Matching net", "blackbox": "black-box",
    "metasgd": "Meta-SGD",
    "pretrained": "pretrained", "reference": "reference",
}

#: Greys for data, references, baselines and annotations (light to dark; ≥ 3:1 on white from
#: index 1 on).
NEUTRALS: tuple[str, ...] = ("#BBBBBB", "#767676", "#555555", "#333333", "#000000")
#: Colours nearer than this (CIE76 ΔE in CIELAB) to a method colour count as that colour.
MIN_DELTA_E = 12.0
#: Candidates for unordered things that are not methods (tasks, goals, optima), in order of
#: use; all ≥ 3:1 on white. :func:`category_colors` takes those ≥ :data:`MIN_FREE_DELTA_E` from
#: every registered method colour, so a method registered later never shares one.
CATEGORY_POOL: tuple[str, ...] = ("#E31A1C", "#1B2A49", "#8B008B", "#2F4F4F", "#661100",
                                  "#9400D3", "#A50026", "#5C3A21", "#4D4D00", "#003D30")
#: Sequential matplotlib colormaps (name, low, high), the first one whose samples all stay
#: ≥ :data:`MIN_FREE_DELTA_E` from the method colours is used; greys always qualify.
SEQUENTIAL_MAPS: tuple[tuple[str, float, float], ...] = (
    ("cividis", 0.0, 0.85), ("Reds", 0.4, 1.0), ("Greys", 0.35, 1.0))
#: How far (ΔE) a colour for a non-method stays from every method colour.
MIN_FREE_DELTA_E = 20.0
_STYLE = {"applied": False}


def _key(name: str) -> str:
    m = re.match(r"\s*([A-Za-z][A-Za-z-]*)", name)
    return m.group(1).lower().replace("-", "") if m else ""


def _hex(color: Any) -> str:
    import matplotlib.colors as mcolors

    return mcolors.to_hex(color, keep_alpha=False).upper()


def _lab(color: Any) -> tuple[float, float, float]:
    """CIELAB (D65) of a matplotlib colour."""
    import matplotlib.colors as mcolors

    rgb = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
           for c in mcolors.to_rgb(color)]
    xyz = (
        (0.4124 * rgb[0] + 0.3576 * rgb[1] + 0.1805 * rgb[2]) / 0.95047,
        0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2],
        (0.0193 * rgb[0] + 0.1192 * rgb[1] + 0.9505 * rgb[2]) / 1.08883,
    )
    f = [v ** (1 / 3) if v > 0.008856 else 7.787 * v + 16 / 116 for v in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _chroma(color: Any) -> float:
    _, a, b = _lab(color)
    return (a * a + b * b) ** 0.5


def delta_e(c1: Any, c2: Any) -> float:
    """CIE76 colour difference of two matplotlib colours (0: identical; ~2: just noticeable)."""
    l1, l2 = _lab(c1), _lab(c2)
    return sum((x - y) ** 2 for x, y in zip(l1, l2, strict=True)) ** 0.5


def register_methods(methods: Mapping[str, tuple[str, str]], *, replace: bool = False) -> None:
    """Register methods as ``{name: (label, colour)}`` (e.g. ``{"maml": ("MAML", "#0072B2")}``).

    ``replace=True`` first forgets every registered method. Raises ``ValueError`` when two
    chromatic methods would share a colour (ΔE < :data:`MIN_DELTA_E`) or a colour is not a
    colour; the registry is unchanged then. ``METHOD_COLORS``/``METHOD_LABELS`` are updated in
    place, so modules that imported them see the change.
    """
    colors = {} if replace else dict(METHOD_COLORS)
    labels = {} if replace else dict(METHOD_LABELS)
    for name, spec in methods.items():
        try:
            label, color = spec
            color = _hex(color)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"method {name!r}: need (label, colour), got {spec!r}") from exc
        key = _key(name)
        if not key or key != name.lower().replace("-", ""):
            raise ValueError(f"method name {name!r}: use one word of letters (e.g. 'maml')")
        colors[key], labels[key] = color, str(label)
    chromatic = [(k, c) for k, c in colors.items() if _chroma(c) >= 5]
    for i, (k1, c1) in enumerate(chromatic):
        for k2, c2 in chromatic[i + 1:]:
            if delta_e(c1, c2) < MIN_DELTA_E:
                raise ValueError(f"methods {k1!r} and {k2!r} would share a colour ({c1}, {c2})")
    METHOD_COLORS.clear()
    METHOD_COLORS.update(colors)
    METHOD_LABELS.clear()
    METHOD_LABELS.update(labels)
    if _STYLE["applied"]:  # the book's default cycle must stay clear of the new colours too
        import matplotlib as mpl

        mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=_method_free_cycle())


def method_color(method: str) -> str:
    """The colour of ``method``, named by key or label, case-insensitive, by its first word:
    ``"maml"``, ``"MAML"``, ``"MAML, K = 5"``, ``"iMAML (proximal solver)"``, ``"Meta-SGD"``.

    Raises ``KeyError`` naming the known methods for an unknown name.
    """
    key = _key(method)
    if key not in METHOD_COLORS:
        raise KeyError(f"no colour for method {method!r}; known: {sorted(METHOD_COLORS)}")
    return METHOD_COLORS[key]


def method_label(method: str) -> str:
    """The display name of ``method`` (``"maml"`` -> ``"MAML"``); ``KeyError`` when unknown."""
    key = _key(method)
    if key not in METHOD_LABELS:
        raise KeyError(f"no method {method!r}; known: {sorted(METHOD_LABELS)}")
    return METHOD_LABELS[key]


def method_for_label(label: str) -> str | None:
    """The method a legend label names by its first word (``"MAML, K = 5"`` -> ``"maml"``),
    or ``None`` (``"task optimum"``, ``"after 5 steps"``, ``"$\\theta$"``)."""
    key = _key(label) if label and not label.startswith("_") else ""
    return key if key in METHOD_COLORS else None


def is_method_color(color: Any) -> str | None:
    """The chromatic method whose colour ``color`` is (within :data:`MIN_DELTA_E`), or ``None``.

    Greys (the baselines' colours included) belong to no method."""
    try:
        if _chroma(color) < 5:
            return None
    except ValueError:
        return None
    best = min(((delta_e(color, c), k) for k, c in METHOD_COLORS.items() if _chroma(c) >= 5),
               default=(float("inf"), None))
    return best[1] if best[0] < MIN_DELTA_E else None


def neutral_color(level: int = 2) -> str:
    """A grey for data, references, baselines and annotations: ``level`` 0 (light) to 4 (black)."""
    if not 0 <= level < len(NEUTRALS):
        raise ValueError(f"level must be 0..{len(NEUTRALS) - 1}, got {level}")
    return NEUTRALS[level]


def _method_chromatic() -> list[str]:
    return [c for c in METHOD_COLORS.values() if _chroma(c) >= 5]


def _free(color: str, methods: list[str]) -> bool:
    return all(delta_e(color, m) >= MIN_FREE_DELTA_E for m in methods)


def _check_n(n: Any) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")


def sequential_colors(n: int) -> list[str]:
    """``n`` colours, light to dark, for an ordered quantity that is not a method (steps k, λ,
    K, iterations); never a method colour (≥ :data:`MIN_FREE_DELTA_E` from each)."""
    import matplotlib as mpl

    _check_n(n)
    methods = _method_chromatic()
    for name, lo, hi in SEQUENTIAL_MAPS:
        cmap = mpl.colormaps[name]
        ts = [lo + (hi - lo) * (i / (n - 1) if n > 1 else 1.0) for i in range(n)]
        colours = [_hex(cmap(t)) for t in ts]
        if all(_free(c, methods) for c in colours):
            return colours
    raise ValueError("no sequential palette stays clear of the method colours")  # not reached


def category_colors(n: int) -> list[str]:
    """``n`` distinct colours for unordered things that are not methods (tasks, goals, task
    optima); never a method colour. ``ValueError`` when fewer are free (then use
    :func:`sequential_colors` or markers)."""
    _check_n(n)
    methods = _method_chromatic()
    free = [c for c in CATEGORY_POOL if _free(c, methods)]
    if n > len(free):
        raise ValueError(f"category_colors: only {len(free)} colours are clear of the method "
                         f"colours, {n} asked (use sequential_colors(n))")
    return free[:n]


def _method_free_cycle() -> list[str]:
    methods = _method_chromatic()
    return [c for c in CATEGORY_POOL if _free(c, methods)][:6]


def series_color(label: str, color: Any = None) -> str:
    """The colour to draw the series ``label`` in, checked.

    A label that names a method (:func:`method_for_label`) gets its method's colour (``color``
    must then be ``None`` or that colour). Any other label needs ``color`` and gets it, unless
    it is a method colour: ``ValueError`` (say ``neutral_color()``, ``sequential_colors(n)``
    or ``category_colors(n)`` instead).
    """
    method = method_for_label(label)
    if method is not None:
        own = METHOD_COLORS[method]
        if color is not None and is_method_color(color) not in (None, method) \
                and _hex(color) != own:
            raise ValueError(f"{label!r} is {METHOD_LABELS[method]}: draw it in its colour {own}, "
                             f"not {_hex(color)}")
        return own
    if color is None:
        raise ValueError(f"{label!r} is not a method: pass a colour from neutral_color(), "
                         "sequential_colors(n) or category_colors(n)")
    owner = is_method_color(color)
    if owner is not None:
        raise ValueError(f"{_hex(color)} is {METHOD_LABELS[owner]}'s colour; {label!r} is not "
                         f"{METHOD_LABELS[owner]}: use neutral_color(), sequential_colors(n) "
                         "or category_colors(n)")
    return _hex(color)


#: Installers of the end-of-cell figure check, registered by :mod:`course_pkg.viz.colorguard`
#: (which ``course_pkg.viz`` imports), so that this module does not import it back.
_CELL_CHECKS: list = []


def register_cell_check(install: Callable[[], None]) -> None:
    """Register ``install()``, called by :func:`use_course_style` when colours are checked."""
    if install not in _CELL_CHECKS:
        _CELL_CHECKS.append(install)


def use_course_style(check_colors: bool = True) -> None:
    """Matplotlib defaults of the book: PNGs at 2× (crisp on HiDPI screens, shown at 1×),
    fonts readable at the column width (figures ≤ 7.8 in wide fit the 784-px column at
    100 dpi without shrinking), opaque legend frames, a colour cycle without method colours
    (a series drawn without ``color=`` never looks like a method).

    ``check_colors`` (in IPython): after each cell, every open figure is checked by
    :func:`course_pkg.viz.colorguard.check_figure` and the cell fails naming the artist that
    uses a method colour for something else."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "font.size": 10,
        "axes.titlesize": 10,
        "legend.fontsize": 9,
        "legend.framealpha": 0.95,
        "axes.prop_cycle": mpl.cycler(color=_method_free_cycle()),
    })
    try:  # the inline backend of Jupyter: PNG at 2× with width/height of the 1× figure
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except ImportError:  # plain Python: nothing to configure
        pass
    _STYLE["applied"] = True
    if check_colors:
        for install in _CELL_CHECKS:
            install()


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
        # per-column rules (``#T th.colN``, ``#T td.colN``) outrank the table-wide
        # ``#T td {text-align: right}`` (a cell's own ``#T_rowM_colN`` rule would not)
        left = [("text-align", "left")]
        styler = styler.set_table_styles(
            {c: [{"selector": "th", "props": left}, {"selector": "td", "props": left}]
             for c in text_columns}, overwrite=False)
    if hide_index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler


def collapsible(content: Any, summary: str) -> Any:
    """``content`` (an object with an HTML repr, e.g. a ``style_table`` Styler, or an HTML
    string) folded inside ``<details>``: collapsed until its visible ``summary`` is clicked, in
    the built book and in JupyterLab alike. The summary's text is its accessible name, and
    ``course.js`` opens it before print. Returns an ``IPython.display.HTML`` to ``display``."""
    import html as _html

    from IPython.display import HTML

    if not summary or not summary.strip():
        raise ValueError("collapsible needs a non-empty summary: it is the only visible label")
    if isinstance(content, str):
        body = content
    elif hasattr(content, "_repr_html_"):
        body = content._repr_html_()
    else:
        raise TypeError(f"collapsible needs HTML or an object with _repr_html_, got "
                        f"{type(content).__name__}")
    return HTML(f'<details class="course-collapsible"><summary>{_html.escape(summary)}'
                f"</summary>\n{body}\n</details>")


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
