"""Interactive figures of the course, live in JupyterLab and kernel-free in the HTML book.

Each function returns a displayable object: an ``anywidget`` (:class:`VizWidget`; Python
recomputes through ``course_pkg`` on every change, ``fig.update(name=value)`` drives it from
code) or, when ``$COURSE_STATIC_FIGURES=1`` (set by ``make book``) or ``mode="static"``, a
:class:`StaticFigure` whose ``_repr_html_`` is a self-contained snippet running the same ES module
in the browser (no kernel, no widget manager, no network).

=========================  ===========  ==================================================
function                   chapter      what moves
=========================  ===========  ==================================================
:func:`meta_loss_landscape`   6         fine-tuning steps ``m`` (0–20)
:func:`two_task_adaptation`   6         θ (drag), learning rate α
:func:`sinusoid_explorer`     7         amplitude, phase, ≤ 5 points, test_steps k, model
:func:`fomaml_curvature`      8         Hessian eigenvalues/angle, α, θ
:func:`reptile_interpolation` 9         inner steps k, α, ε, θ
:func:`imaml_lambda`          10        λ, θ
:func:`method_comparison`     11        per-method α, k, β/ε/λ, meta-steps n, θ₀
=========================  ===========  ==================================================

Every figure and table of the book takes its method colours, matplotlib defaults and table
styling from :mod:`course_pkg.viz.palette`: ``method_color``/``method_label`` for methods only,
``neutral_color``/``sequential_colors``/``category_colors`` for everything else,
``use_course_style`` (a method-free colour cycle; each cell's figures are checked by
:mod:`course_pkg.viz.colorguard`), ``style_table``.
"""

from course_pkg.viz import colorguard  # noqa: F401  (registers the end-of-cell colour check)
from course_pkg.viz._base import StaticFigure, VizWidget, make_figure, static_mode
from course_pkg.viz.curves import learning_curves
from course_pkg.viz.landscapes import meta_loss_landscape, two_task_adaptation
from course_pkg.viz.methods import (
    fomaml_curvature,
    imaml_lambda,
    method_comparison,
    reptile_interpolation,
)
from course_pkg.viz.palette import (
    METHOD_COLORS,
    METHOD_LABELS,
    category_colors,
    collapsible,
    legend_outside,
    method_color,
    method_label,
    neutral_color,
    register_methods,
    sequential_colors,
    series_color,
    style_table,
    use_course_style,
)
from course_pkg.viz.sinusoid import sinusoid_explorer

__all__ = [
    "METHOD_COLORS",
    "METHOD_LABELS",
    "StaticFigure",
    "VizWidget",
    "category_colors",
    "collapsible",
    "fomaml_curvature",
    "imaml_lambda",
    "learning_curves",
    "legend_outside",
    "make_figure",
    "method_color",
    "method_label",
    "neutral_color",
    "register_methods",
    "sequential_colors",
    "series_color",
    "meta_loss_landscape",
    "method_comparison",
    "reptile_interpolation",
    "sinusoid_explorer",
    "static_mode",
    "style_table",
    "two_task_adaptation",
    "use_course_style",
]
