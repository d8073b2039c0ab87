"""Interactive figures of the course, live in JupyterLab and kernel-free in the HTML book.

Each function returns a displayable object: an ``anywidget`` (:class:`VizWidget`, Python
recomputes through ``course_pkg`` on every change) or, when ``$COURSE_STATIC_FIGURES=1`` (set by
``make book``) or ``mode="static"``, a :class:`StaticFigure` whose ``_repr_html_`` is a
self-contained snippet running the same ES module in the browser.

- :func:`meta_loss_landscape`, :func:`two_task_adaptation` (chapter 6)
"""

from course_pkg.viz._base import StaticFigure, VizWidget, make_figure, static_mode
from course_pkg.viz.landscapes import meta_loss_landscape, two_task_adaptation

__all__ = [
    "StaticFigure",
    "VizWidget",
    "make_figure",
    "meta_loss_landscape",
    "static_mode",
    "two_task_adaptation",
]
