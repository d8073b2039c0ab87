"""Chapter 7's sinusoid explorer: support points placed from the keyboard alone, where chosen.

The plot takes the focus (Tab), the arrow keys move a crosshair along x (0.1 a press; Shift: 1;
Home/End: the ends), Enter places a point there and Backspace removes the last one; each step is
announced in an aria-live status line, the instructions are the canvas's aria-describedby text.

1. Static figure (the book, no kernel): a standalone page of the figure.
2. Live figure: the widget's own ESM (``VizWidget._esm``, what anywidget loads in JupyterLab)
   rendered with a model that syncs like anywidget's: ``save_changes`` sends the controls to the
   real :class:`course_pkg.viz._base.VizWidget` in this process (validated, recomputed in Python)
   and the page receives its ``controls`` and ``data`` back.

Every step waits for the figure's own signals (the status text, ``data-cviz-draws``), never for
time.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from browser_utils import open_page, serve_html

from course_pkg import viz
from course_pkg.viz.sinusoid import untrained_models

pytestmark = [pytest.mark.browser]

#: keys (from x = 0) and the x they reach: End → 5, 3 × Shift+← → 2, 3 × ← → 1.7
KEYS = ["End", "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+ArrowLeft",
        "ArrowLeft", "ArrowLeft", "ArrowLeft"]
TARGET = 1.7
MAX_TABS = 10


def _tab_to_plot(page: Any, root: str) -> None:
    """Press Tab until the figure's plot has the focus (at most MAX_TABS presses)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => document.activeElement === document.querySelector(sel)",
                         f"{root} canvas"):
            return
    raise AssertionError(f"the plot is not reachable with {MAX_TABS} presses of Tab")


def _place_by_keyboard(page: Any, root: str) -> None:
    """Move the cursor to TARGET and press Enter; wait for the announcement and the redraw."""
    canvas = page.locator(f"{root} canvas").first
    assert canvas.get_attribute("role") == "application"
    help_id = canvas.get_attribute("aria-describedby")
    help_text = page.locator(f"#{help_id}").text_content()
    assert "Enter" in help_text and "arrow keys" in help_text and "Backspace" in help_text
    status = page.locator(f"{root} [aria-live].cviz-status")
    for key in KEYS:
        page.keyboard.press(key)
    page.wait_for_function(
        "([sel, t]) => document.querySelector(sel).textContent.includes(t)",
        arg=[f"{root} .cviz-status", f"Cursor at x = {TARGET:.2f}"])
    draws = int(page.locator(root).get_attribute("data-cviz-draws") or 0)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([sel, t, n]) => document.querySelector(sel + ' .cviz-status').textContent.includes(t)"
        " && +(document.querySelector(sel).dataset.cvizDraws || 0) > n"
        " && document.querySelector(sel + ' .cviz-readout').textContent.includes('on 5 points')",
        arg=[root, f"Placed a point at x = {TARGET:.2f}", draws])
    assert "Placed a point" in status.text_content()


def _remove_by_keyboard(page: Any, root: str, before: int) -> None:
    draws = int(page.locator(root).get_attribute("data-cviz-draws") or 0)
    page.keyboard.press("Backspace")
    page.wait_for_function(
        "([sel, t, n]) => document.querySelector(sel + ' .cviz-status').textContent.includes(t)"
        " && +(document.querySelector(sel).dataset.cvizDraws || 0) > n"
        f" && document.querySelector(sel + ' .cviz-readout').textContent.includes('on {before - 1}"
        " point')",
        arg=[root, f"Removed the point at x = {TARGET:.2f}", draws])


def _check_point(data: dict, controls: dict) -> None:
    xs, ys = data["points"], data["ys"]
    assert xs[-1] == pytest.approx(TARGET, abs=1e-9), xs
    expected = controls["amplitude"] * math.sin(TARGET - controls["phase"])
    assert ys[-1] == pytest.approx(expected, abs=1e-4), (ys, expected)


def test_static_figure_places_a_point_from_the_keyboard(chromium_browser, tmp_path) -> None:
    fig = viz.sinusoid_explorer(mode="static")
    (tmp_path / "s.html").write_text(fig.page("sinusoid"), encoding="utf-8")
    root = "[data-cviz='sinusoid']"
    with serve_html(tmp_path) as base, open_page(chromium_browser, base + "s.html",
                                                 wait_for_math=False) as rep:
        page = rep.page
        page.wait_for_selector(f"{root}[data-cviz-ready='1']")
        _tab_to_plot(page, root)
        _place_by_keyboard(page, root)
        model = "(sel) => document.querySelector(sel).__cviz.model"
        data = page.evaluate(f"(sel) => ({model})(sel).get('data')", root)
        controls = page.evaluate(f"(sel) => ({model})(sel).get('controls')", root)
        _check_point(data, controls)
        assert data["points"][:-1] == fig.controls["points"][1:]  # the oldest was dropped
        _remove_by_keyboard(page, root, 5)
        assert TARGET not in page.evaluate(f"(sel) => ({model})(sel).get('controls').points",
                                           root)
    rep.assert_clean()


_LIVE_MODEL = """async (init) => {
  const mod = await import('./widget.js');
  const values = Object.assign({}, init), listeners = {};
  const fire = (k) => (listeners['change:' + k] || []).forEach((cb) => cb());
  const model = {
    get: (k) => values[k],
    set: (k, v) => { values[k] = v; },
    // anywidget: the new controls go to the kernel, which validates them, recomputes data and
    // syncs both back
    save_changes() {
      window.pySync(JSON.stringify(values.controls)).then((reply) => {
        const r = JSON.parse(reply);
        Object.assign(values, r);
        fire('controls'); fire('data'); fire('error');
      });
    },
    on: (e, cb) => { (listeners[e] = listeners[e] || []).push(cb); },
    off: () => {}, send: () => {},
  };
  const el = document.getElementById('w');
  el.dataset.cviz = 'sinusoid';
  window.__live = model;
  mod.default.render({ model, el });
}"""


def test_live_widget_places_a_point_from_the_keyboard(chromium_browser, tmp_path) -> None:
    widget = viz.sinusoid_explorer(untrained_models(), mode="live")
    (tmp_path / "widget.js").write_text(widget._esm, encoding="utf-8")
    (tmp_path / "live.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>live</title>"
        f"<link rel='icon' href='data:,'><style>{widget._css}</style></head>"
        "<body><main><div id='w'></div></main></body></html>", encoding="utf-8")
    synced: list[dict] = []

    def sync(controls_json: str) -> str:
        widget.update(**json.loads(controls_json))  # the kernel side: validate + recompute
        synced.append(dict(widget.controls))
        return json.dumps({"controls": widget.controls, "data": widget.data,
                           "error": widget.error})

    root = "#w"
    with serve_html(tmp_path) as base, open_page(
            chromium_browser, base + "live.html", wait_for_math=False,
            before_goto=lambda p: p.expose_function("pySync", sync)) as rep:
        page = rep.page
        page.evaluate(_LIVE_MODEL, {"spec": widget.spec, "controls": widget.controls,
                                    "data": widget.data, "error": ""})
        page.wait_for_function("() => +(document.getElementById('w').dataset.cvizDraws || 0) > 0")
        _tab_to_plot(page, root)
        _place_by_keyboard(page, root)
        # the point reached Python: the kernel's widget holds it and computed its data
        assert synced and synced[-1]["points"][-1] == pytest.approx(TARGET)
        _check_point(widget.data, widget.controls)
        _remove_by_keyboard(page, root, 5)
        assert TARGET not in widget.controls["points"]
    rep.assert_clean()
