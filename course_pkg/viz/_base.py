"""Plumbing shared by every interactive figure: one figure logic, two renderings.

A figure is a :class:`FigureLogic`: ``spec`` (fixed data: grids, landscapes, weights),
``controls`` (slider values), ``compute(controls) -> data`` through ``course_pkg`` and
``payload()`` (what the browser needs to recompute ``data`` without a kernel). Its JavaScript
lives in ``static/<kind>.js`` and defines ``render({model, el})`` (anywidget's API) and
``staticCompute(controls, spec, payload)``; ``static/common.js`` is put in front of it.

- Live (JupyterLab): :class:`VizWidget`, an ``anywidget.AnyWidget`` whose synced traits are
  ``spec``, ``controls`` and ``data``. Moving a slider sets ``controls``; Python observes the
  change, recomputes ``data`` through ``course_pkg`` and sends it back.
- Static (the HTML book, ``COURSE_STATIC_FIGURES=1``): :class:`StaticFigure`, whose
  ``_repr_html_`` is a self-contained snippet: the spec, initial data and payload as JSON in the
  figure's ``<div>``, then the same ES module inlined in a ``<script type="module">`` that mounts
  it on a small in-page model calling ``staticCompute``. No widget manager, kernel or network.
  The book moves those inline scripts into shared files, one load per page
  (:mod:`course_pkg.viz.embed`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from functools import cache
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from course_pkg.viz.embed import css_source, esm_source, inline_assets

STATIC_ENV = "COURSE_STATIC_FIGURES"


# --------------------------------------------------------------------------- array encoding
def encode(arr: Any, kind: str = "f32", log: bool = False) -> dict[str, Any]:
    """Encode an array for the browser: ``{"$arr", "shape", "b64", …}`` (see ``cvDecode``).

    ``kind="f32"`` stores float32 values exactly; ``kind="u16"`` quantises to 65 536 levels
    between the array's min and max (of ``log10`` values with ``log=True``), half the bytes, for
    heatmaps whose exact values are not needed beyond ~1e-4 relative precision.
    """
    a = np.asarray(arr.detach().cpu() if isinstance(arr, torch.Tensor) else arr, dtype=np.float64)
    if kind == "f32":
        raw = a.astype("<f4").tobytes()
        return {"$arr": "f32", "shape": list(a.shape), "b64": base64.b64encode(raw).decode()}
    if kind == "u16":
        v = np.log10(np.maximum(a, 1e-12)) if log else a
        lo, hi = float(v.min()), float(v.max())
        q = np.round((v - lo) / ((hi - lo) or 1.0) * 65535).astype("<u2")
        return {"$arr": "u16", "shape": list(a.shape), "lo": lo, "hi": hi, "log": bool(log),
                "b64": base64.b64encode(q.tobytes()).decode()}
    raise ValueError(f"kind must be 'f32' or 'u16', got {kind!r}")


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode` (numpy array); other values are returned unchanged."""
    if not (isinstance(obj, dict) and "$arr" in obj):
        return obj
    raw = base64.b64decode(obj["b64"])
    if obj["$arr"] == "f32":
        return np.frombuffer(raw, dtype="<f4").astype(np.float64).reshape(obj["shape"])
    q = np.frombuffer(raw, dtype="<u2").astype(np.float64).reshape(obj["shape"])
    v = obj["lo"] + (obj["hi"] - obj["lo"]) * q / 65535
    return 10**v if obj["log"] else v


def to_list(t: torch.Tensor | np.ndarray | float, decimals: int = 6) -> Any:
    """A tensor/array as nested Python floats (JSON-ready), rounded to ``decimals`` places."""
    a = np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    return np.round(a, decimals).tolist()


def check_finite_controls(controls: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the control when a numeric control is NaN or infinite."""
    for k, v in controls.items():
        vals = v if isinstance(v, list | tuple) else [v]
        for x in vals:
            if isinstance(x, float) and not math.isfinite(x):
                raise ValueError(f"control {k!r} must be finite, got {v!r}")


# --------------------------------------------------------------------------- figure logic
class FigureLogic:
    """Base class of a figure's Python side (subclasses set ``kind`` and implement compute)."""

    kind: str = ""
    #: control name -> (min, max) for numeric controls; values outside raise ValueError.
    ranges: dict[str, tuple[float, float]] = {}

    def __init__(self) -> None:
        self.spec: dict[str, Any] = {}
        self.controls: dict[str, Any] = {}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        """Merged, checked controls (unknown names and out-of-range values raise ValueError)."""
        unknown = set(controls) - set(self.controls)
        if unknown:
            raise ValueError(f"{self.kind}: unknown control(s) {sorted(unknown)}; "
                             f"known: {sorted(self.controls)}")
        merged = {**self.controls, **controls}
        check_finite_controls(merged)
        for k, (lo, hi) in self.ranges.items():
            v = merged[k]
            vals = v if isinstance(v, list | tuple) else [v]
            for x in vals:
                if not (lo - 1e-9 <= float(x) <= hi + 1e-9):
                    raise ValueError(f"{self.kind}: control {k!r}={v!r} outside [{lo}, {hi}]")
        return merged

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        """Data the browser needs to recompute ``data`` without Python (static rendering)."""
        return {}


# --------------------------------------------------------------------------- live widget
class VizWidget(anywidget.AnyWidget):
    """Live figure: ``controls`` changes (from a slider or from Python) recompute ``data``.

    ``fig.update(m=5)`` sets controls programmatically; ``fig.data`` holds the result, the
    same dict the browser draws. ``fig.logic`` is the :class:`FigureLogic` doing the work.
    """

    kind = traitlets.Unicode("").tag(sync=True)
    spec = traitlets.Dict().tag(sync=True)
    controls = traitlets.Dict().tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __new__(cls, logic: FigureLogic, **kwargs: Any) -> VizWidget:
        return super().__new__(_widget_class(logic.kind))

    def __init__(self, logic: FigureLogic, **kwargs: Any) -> None:
        self.logic = logic
        super().__init__(kind=logic.kind, spec=logic.spec, controls=dict(logic.controls),
                         data=logic.compute(dict(logic.controls)), **kwargs)

    @traitlets.validate("controls")
    def _check_controls(self, proposal: Any) -> dict[str, Any]:
        return self.logic.validate(dict(proposal["value"]))

    @traitlets.observe("controls")
    def _recompute(self, change: Any) -> None:
        try:
            self.data = self.logic.compute(dict(change["new"]))
            self.error = ""
        except Exception as exc:  # shown in the figure instead of failing silently
            self.error = f"{type(exc).__name__}: {exc}"
            raise

    def update(self, **controls: Any) -> VizWidget:
        """Set some controls (validated) and recompute; returns ``self``."""
        self.controls = {**self.controls, **controls}
        return self


@cache
def _widget_class(kind: str) -> type[VizWidget]:
    """One ``VizWidget`` subclass per figure, carrying that figure's ESM and the shared CSS."""
    return type(f"VizWidget_{kind}", (VizWidget,), {"_esm": esm_source(kind), "_css": css_source()})


# --------------------------------------------------------------------------- static figure
def _json_for_script(obj: Any) -> str:
    s = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return s.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class StaticFigure:
    """Kernel-free rendering: ``_repr_html_`` is a self-contained ``<div>`` (with its state as
    JSON) + the inline styles and module of :func:`course_pkg.viz.embed.inline_assets`."""

    def __init__(self, logic: FigureLogic) -> None:
        self.logic = logic
        self.controls = dict(logic.controls)
        self.data = logic.compute(dict(self.controls))

    def update(self, **controls: Any) -> StaticFigure:
        """Change the initial controls shown in the page (validated, recomputed)."""
        self.controls = self.logic.validate({**self.controls, **controls})
        self.data = self.logic.compute(dict(self.controls))
        return self

    @property
    def html(self) -> str:
        init = {"kind": self.logic.kind, "spec": self.logic.spec, "controls": self.controls,
                "data": self.data, "payload": self.logic.payload(), "error": ""}
        blob = _json_for_script(init)
        uid = "cviz-" + hashlib.sha1((self.logic.kind + blob).encode()).hexdigest()[:10]
        return (
            f'<div id="{uid}" class="cviz-root" data-cviz="{self.logic.kind}">'
            f'<script type="application/json" class="cviz-init">{blob}</script>'
            f"<noscript>This interactive figure needs JavaScript.</noscript></div>\n"
            + inline_assets(self.logic.kind)
        )

    def _repr_html_(self) -> str:
        return self.html

    @property
    def nbytes(self) -> int:
        """Size of the HTML snippet in bytes (the figure's weight on its book page)."""
        return len(self.html.encode())

    def page(self, title: str | None = None) -> str:
        """A minimal standalone HTML page holding just this figure (for tests and previews)."""
        t = title or self.logic.kind
        return (f"<!doctype html><html><head><meta charset='utf-8'>"
                f"<link rel='icon' href='data:,'><title>{t}</title></head>"
                f"<body>{self.html}</body></html>")


def static_mode(mode: str | None = None) -> bool:
    """``True`` when the figure should be the static HTML snippet.

    ``mode`` ``"static"``/``"live"`` decides; ``None`` reads ``$COURSE_STATIC_FIGURES`` (``1`` in
    ``make book``).
    """
    if mode not in (None, "static", "live"):
        raise ValueError(f"mode must be None, 'static' or 'live', got {mode!r}")
    if mode is not None:
        return mode == "static"
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


#: What a figure function returns: a live widget (JupyterLab) or a static snippet (the book).
FigureOutput = VizWidget | StaticFigure


def make_figure(logic: FigureLogic, mode: str | None = None,
                **controls: Any) -> FigureOutput:
    """The displayable object for ``logic``: a live widget or a static snippet (see above)."""
    if controls:
        logic.controls = logic.validate(controls)
    return StaticFigure(logic) if static_mode(mode) else VizWidget(logic)
