"""course_pkg.viz, browser side: the static (kernel-free) figures in headless Chromium.

1. Each figure rendered alone into a small standalone page (no book build needed): it loads with
   no external or failed request and no JS error, and moving every slider (or clicking the plot)
   changes the figure's pixels.
2. The browser's own numbers (``staticCompute``: the JS MLP of the sinusoid explorer, the 2-D
   updates of the method figures, the precomputed landscape table) equal course_pkg's.
3. When the book is built (``_build/html``), the chapter pages holding figures pass (1) too.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_utils import (
    HTML_ROOT,
    open_page,
    serve_html,
)

from course_pkg import viz
from course_pkg.viz._base import StaticFigure, decode

pytestmark = pytest.mark.browser

FIGURES = {
    "landscape": viz.meta_loss_landscape,
    "adaptation": viz.two_task_adaptation,
    "sinusoid": viz.sinusoid_explorer,
    "fomaml": viz.fomaml_curvature,
    "reptile": viz.reptile_interpolation,
    "imaml": viz.imaml_lambda,
    "comparison": viz.method_comparison,
}
#: Book page → figure kinds it must hold.
BOOK_PAGES = {
    "book/06_optimization_based.html": ["landscape", "adaptation"],
    "book/07_maml.html": ["sinusoid"],
    "book/08_fomaml.html": ["fomaml"],
    "book/09_reptile.html": ["reptile"],
    "book/10_imaml.html": ["imaml"],
    "book/11_comparison.html": ["comparison"],
}
#: Control states at which the browser's numbers are compared with Python's.
STATES: dict[str, list[dict[str, Any]]] = {
    "landscape": [{"m": 0}, {"m": 3}, {"m": 20}],
    "adaptation": [{"theta": [1.2, -0.6], "inner_lr": 1.0},
                   {"theta": [-1.3, 1.7], "inner_lr": 0.37}],
    "sinusoid": [{"points": [-4.0, -1.0, 0.3, 2.2, 4.9], "test_steps": 10, "amplitude": 4.2,
                  "phase": 2.5, "model": "maml"},
                 {"points": [1.5, -2.0], "test_steps": 3, "model": "pretrained"},
                 {"points": [], "test_steps": 5}],
    "fomaml": [{"h1": 3.5, "h2": 0.2, "angle": 75.0, "inner_lr": 0.4, "theta": [1.5, -1.2]},
               {"h1": 0.5, "h2": 0.5, "angle": 0.0, "inner_lr": 0.1}],
    "reptile": [{"inner_steps": 12, "inner_lr": 0.7, "meta_lr": 0.9, "iterations": 25,
                 "theta": [1.0, -1.0]},
                {"inner_steps": 1, "inner_lr": 0.05, "meta_lr": 0.1, "iterations": 0}],
    "imaml": [{"imaml_lambda": 0.02, "theta": [2.5, -1.5]}, {"imaml_lambda": 15.0}],
    "comparison": [{"n": 25, "maml_inner_steps": 3, "maml_inner_lr": 0.2, "reptile_inner_steps": 7,
                    "imaml_lambda": 4.0, "theta0": [2.0, -1.0]}, {"n": 0}],
}

_NORMALISE = """(v) => JSON.parse(JSON.stringify(v, (k, x) =>
    (ArrayBuffer.isView(x) ? Array.from(x) : x)))"""


@pytest.fixture(scope="module")
def figures() -> dict[str, StaticFigure]:
    return {k: fn(mode="static") for k, fn in FIGURES.items()}


@pytest.fixture(scope="module")
def standalone(figures: dict[str, StaticFigure], tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("viz_pages")
    for kind, fig in figures.items():
        (root / f"{kind}.html").write_text(fig.page(kind), encoding="utf-8")
    with serve_html(root) as base:
        yield base


def _shot(page: Any, root_id: str) -> bytes:
    return page.locator(f"#{root_id}").screenshot(animations="disabled")


def _draws(page: Any, root_id: str) -> int:
    """How many times the figure has drawn (its JS increments ``data-cviz-draws``)."""
    return int(page.locator(f"#{root_id}").get_attribute("data-cviz-draws") or 0)


def _after_redraw(page: Any, root_id: str, before: int, what: str) -> None:
    """Wait until the figure has drawn again after ``what`` (its signal, never a fixed time)."""
    try:
        page.wait_for_function(
            "([id, n]) => +(document.getElementById(id).dataset.cvizDraws || 0) > n",
            arg=[root_id, before], timeout=20_000)
    except Exception as exc:  # playwright's TimeoutError: say which event drew nothing
        raise AssertionError(f"{root_id}: no redraw after {what}") from exc


#: Figures whose plot reacts to a click (θ, θ₀ or a support point); the landscape only has m.
CLICKABLE = set(FIGURES) - {"landscape"}
#: Figures whose plot reacts to the arrow keys (θ or θ₀ moves; the sinusoid's cursor moves).
KEYBOARD = CLICKABLE


def _exercise_figure(page: Any, root_id: str, click: bool = True,
                     keys: bool = False) -> list[str]:
    """Move every slider, click the first plot (and press an arrow key on it); return what did
    NOT change the figure's pixels. Each screenshot is taken after the figure's redraw signal."""
    page.wait_for_selector(f"#{root_id}[data-cviz-ready='1']")
    page.wait_for_function("(id) => +(document.getElementById(id).dataset.cvizDraws || 0) > 0",
                           arg=root_id)
    unchanged = []
    before = _shot(page, root_id)
    sliders = page.locator(f"#{root_id} input[type=range]")
    assert sliders.count() >= 1, "figure without a slider"
    names = [sliders.nth(i).get_attribute("aria-label") for i in range(sliders.count())]
    assert len(set(names)) == len(names), f"slider names repeat within the figure: {names}"
    for i in range(sliders.count()):
        s = sliders.nth(i)
        name = s.get_attribute("data-control")
        n = _draws(page, root_id)
        s.evaluate("""(el) => {
            const v = parseFloat(el.value), lo = parseFloat(el.min), hi = parseFloat(el.max);
            el.value = String(Math.abs(v - hi) > (hi - lo) / 4 ? hi : lo);
            el.dispatchEvent(new Event('input', {bubbles: true}));
        }""")
        _after_redraw(page, root_id, n, f"slider {name}")
        after = _shot(page, root_id)
        if after == before:
            unchanged.append(f"slider {name}")
        before = after
    if not click:
        return unchanged
    canvas = page.locator(f"#{root_id} canvas").first
    box = canvas.bounding_box()
    n = _draws(page, root_id)
    # position relative to the canvas, resolved by playwright at click time (layout may move)
    canvas.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.4})
    _after_redraw(page, root_id, n, "click on the plot")
    after = _shot(page, root_id)
    if after == before:
        unchanged.append("click on the plot")
    before = after
    if keys:
        n = _draws(page, root_id)
        canvas.focus()
        page.keyboard.press("ArrowRight")
        _after_redraw(page, root_id, n, "ArrowRight on the plot")
        if _shot(page, root_id) == before:
            unchanged.append("ArrowRight on the plot")
    return unchanged


def _root_id(page: Any, kind: str) -> str:
    return page.locator(f"[data-cviz='{kind}']").first.get_attribute("id")


@pytest.mark.parametrize("kind", list(FIGURES))
def test_static_figure_loads_clean_and_reacts(chromium_browser, standalone, kind) -> None:
    with open_page(chromium_browser, standalone + f"{kind}.html", wait_for_math=False) as rep:
        rid = _root_id(rep.page, kind)
        unchanged = _exercise_figure(rep.page, rid, kind in CLICKABLE, kind in KEYBOARD)
        if kind == "sinusoid":
            for label in ("random points", "clear"):
                n = _draws(rep.page, rid)
                rep.page.locator(f"#{rid} button", has_text=label).click()
                _after_redraw(rep.page, rid, n, f"button {label!r}")
            pressed = rep.page.locator(f"#{rid} .cviz-select button[aria-pressed]")
            assert pressed.count() >= 2
            assert [pressed.nth(i).get_attribute("aria-pressed")
                    for i in range(pressed.count())].count("true") == 1
    rep.assert_clean()
    assert not unchanged, f"{kind}: no pixel change after {unchanged}"


def _close(got: Any, ref: Any, path: str = "") -> list[str]:
    """Differences between the browser's data (``got``) and Python's (``ref``, may be encoded)."""
    if isinstance(ref, dict) and "$arr" in ref:
        r = decode(ref)
        g = decode(got) if isinstance(got, dict) else np.asarray(got, dtype=float).reshape(r.shape)
        tol = dict(rtol=1e-3, atol=1e-6) if ref["$arr"] == "u16" else dict(rtol=1e-5, atol=1e-6)
        lo = 10 ** (ref["hi"] - 4) if ref.get("log") else 0  # the colour map's floor
        ok = np.allclose(np.maximum(g, lo), np.maximum(r, lo), **tol)
        return [] if ok else [f"{path}: max diff {np.abs(g - r).max():.3g}"]
    if isinstance(ref, dict):
        if set(ref) - set(got):
            return [f"{path}: missing keys {set(ref) - set(got)}"]
        return [e for k in ref for e in _close(got[k], ref[k], f"{path}.{k}")]
    if isinstance(ref, list | tuple):
        if len(ref) != len(got):
            return [f"{path}: length {len(got)} != {len(ref)}"]
        return [e for i, (g, r) in enumerate(zip(got, ref)) for e in _close(g, r, f"{path}[{i}]")]
    if isinstance(ref, float | int) and not isinstance(ref, bool):
        ok = math.isclose(float(got), float(ref), rel_tol=2e-4, abs_tol=2e-4)
        return [] if ok else [f"{path}: {got} != {ref}"]
    return [] if got == ref else [f"{path}: {got!r} != {ref!r}"]


@pytest.mark.parametrize("kind", list(FIGURES))
def test_browser_numbers_equal_course_pkg(chromium_browser, standalone, figures, kind) -> None:
    logic = figures[kind].logic
    with open_page(chromium_browser, standalone + f"{kind}.html", wait_for_math=False) as rep:
        page = rep.page
        rid = _root_id(page, kind)
        page.wait_for_selector(f"#{rid}[data-cviz-ready='1']")
        for state in STATES[kind]:
            controls = logic.validate(state)
            got = page.evaluate(
                f"""(c) => {{ const el = document.getElementById({rid!r});
                    const m = el.__cviz.model;
                    const d = el.__cviz.compute(c, m.get('spec'), m.get('payload'));
                    return ({_NORMALISE})(d); }}""", controls)
            errors = _close(got, logic.compute(controls), kind)
            assert not errors, f"{kind} at {state}: " + "; ".join(errors[:5])
    rep.assert_clean()


def test_static_page_weights(figures) -> None:
    """Every figure snippet stays light (bytes of HTML it adds to its page)."""
    weights = {k: f.nbytes for k, f in figures.items()}
    assert weights["landscape"] < 260_000, weights
    assert all(v < 120_000 for k, v in weights.items() if k != "landscape"), weights


@pytest.mark.parametrize("page", list(BOOK_PAGES))
def test_built_book_pages(chromium_browser, page) -> None:
    if not (HTML_ROOT / "index.html").is_file():
        pytest.skip("the book is not built (make book); the standalone pages are tested above")
    html = (Path(HTML_ROOT) / page).read_text(encoding="utf-8")
    kinds = BOOK_PAGES[page]
    for kind in kinds:
        assert f'data-cviz="{kind}"' in html, f"{page} does not hold the {kind} figure"
    assert "application/vnd.jupyter.widget" not in html, f"{page} embeds kernel widget state"
    with serve_html(HTML_ROOT) as base, open_page(chromium_browser, base + page) as rep:
        for kind in kinds:
            unchanged = _exercise_figure(rep.page, _root_id(rep.page, kind),
                                         kind in CLICKABLE, kind in KEYBOARD)
            assert not unchanged, f"{page} {kind}: no pixel change after {unchanged}"
    rep.assert_clean()


_A11Y_PROBE = """(id) => {
  const root = document.getElementById(id), fig = root.querySelector('.cviz-figure');
  const text = (ids) => (ids || '').split(' ').map((i) => document.getElementById(i))
      .filter(Boolean).map((e) => e.textContent.trim()).join(' ');
  return {
    role: fig.getAttribute('role'),
    name: fig.getAttribute('aria-label') || text(fig.getAttribute('aria-labelledby')),
    description: text(fig.getAttribute('aria-describedby')),
    live: root.querySelector('.cviz-readout').getAttribute('aria-live'),
    canvases: Array.from(root.querySelectorAll('canvas')).map((c) => ({
      role: c.getAttribute('role'), label: c.getAttribute('aria-label'), tab: c.tabIndex})),
    buttons: Array.from(root.querySelectorAll('button')).map((b) => b.textContent.trim()),
  };
}"""


@pytest.mark.parametrize("kind", list(FIGURES))
def test_figure_is_named_described_and_keyboard_operable(chromium_browser, standalone,
                                                         kind) -> None:
    with open_page(chromium_browser, standalone + f"{kind}.html", wait_for_math=False) as rep:
        rid = _root_id(rep.page, kind)
        rep.page.wait_for_selector(f"#{rid}[data-cviz-ready='1']")
        a = rep.page.evaluate(_A11Y_PROBE, rid)
    assert a["role"] == "figure" and len(a["name"]) > 10, a
    assert len(a["description"]) > 80, f"{kind}: no description of what the figure shows"
    assert a["live"] == "polite"
    for c in a["canvases"]:
        assert c["label"], f"{kind}: a canvas without an accessible name"
    if kind in KEYBOARD:  # θ moves with the arrow keys: a focusable, named, interactive canvas
        assert any(c["role"] == "application" and c["tab"] == 0 and "arrow keys" in c["label"]
                   for c in a["canvases"]), a["canvases"]
