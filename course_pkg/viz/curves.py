"""Learning curves of the equal-budget comparison (chapter 5): validation accuracy against the
CPU time spent training, one panel per N, one colour per method.

``curves`` maps a method key to ``{N: [[iterations, cpu_seconds, accuracy], …]}`` (the stored
``curve`` of each model, accuracies as fractions); ``status`` (optional) maps the same keys to
``{N: "plateau" | "rising"}``: a rising curve ends in an upward triangle, a plateau in a dot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from course_pkg.viz.palette import legend_outside, method_color, method_label, neutral_color

if TYPE_CHECKING:  # matplotlib is imported when the figure is drawn
    from matplotlib.figure import Figure

Curve = Sequence[Sequence[float]]


def learning_curves(curves: Mapping[str, Mapping[int, Curve]],
                    status: Mapping[str, Mapping[int, str]] | None = None,
                    budget_s: float | None = None, first_second: float = 1.0,
                    zoom: bool = True) -> Figure:
    """The figure (matplotlib): one panel per N found in ``curves`` (ascending), x = CPU
    seconds on a log axis (the first point, at 0 s, is drawn at ``first_second``), y =
    validation accuracy in %; a dotted line at ``budget_s``. With ``zoom`` and ``budget_s``, a
    second row shows the points after a third of the budget on linear axes fitted to them, with
    a dotted line where the last third (the plateau rule's) begins. Returns the ``Figure``."""
    import matplotlib.pyplot as plt

    ns = sorted({n for by_n in curves.values() for n in by_n})
    if not ns:
        raise ValueError("no curves to draw")
    rows = 2 if zoom and budget_s else 1
    fig, axes = plt.subplots(rows, len(ns), figsize=(5.2 * len(ns), 3.6 * rows + 0.3),
                             squeeze=False)
    for ax, n in zip(axes[0], ns):
        _panel(ax, curves, status, n, lambda p: max(float(p[1]), first_second))
        if budget_s:
            ax.axvline(budget_s, color=neutral_color(1), ls=":", lw=1, label="_budget")
        ax.set_xscale("log")
        ax.set_title(f"{n}-way 1-shot")
    if rows == 2:
        for ax, n in zip(axes[1], ns):
            _panel(ax, curves, status, n, lambda p: float(p[1]), after=budget_s / 3)
            ax.axvline(2 * budget_s / 3, color=neutral_color(1), ls=":", lw=1, label="_third")
            ax.set_title(f"{n}-way 1-shot, after a third of the budget (zoomed)")
    legend_outside(axes[-1][0], where="below")  # every method has a 5-way model
    fig.tight_layout()
    return fig


def _panel(ax, curves: Mapping[str, Mapping[int, Curve]],
           status: Mapping[str, Mapping[int, str]] | None, n: int, x_of,
           after: float | None = None) -> None:
    """Draw every method's ``n``-way curve (points after ``after`` CPU-s when given) on ``ax``;
    a rising curve ends in an upward triangle, a plateau in a dot."""
    for method, by_n in curves.items():
        pts = [p for p in by_n.get(n) or [] if after is None or float(p[1]) >= after]
        if not pts:
            continue
        x = [x_of(p) for p in pts]
        y = [100 * float(p[2]) for p in pts]
        color = method_color(method)
        ax.plot(x, y, color=color, lw=1.6, label=method_label(method))
        rising = (status or {}).get(method, {}).get(n) == "rising"
        ax.plot(x[-1:], y[-1:], marker="^" if rising else "o", ms=7, color=color,
                label=f"_{method} end")
    ax.set_xlabel("CPU seconds of training (one thread)")
    ax.set_ylabel("validation accuracy (%)")
