"""course_pkg.viz, Python side: figure state after programmatic control changes equals
course_pkg's own computation (no browser; see test_viz_browser.py for the JavaScript side)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from course_pkg import viz
from course_pkg.algorithms.core import forward, inner_adapt, loss_at
from course_pkg.algorithms.maml import meta_gradient, pretrained_loss
from course_pkg.algorithms.reptile import reptile_adapt
from course_pkg.algorithms.toy import loss_surface, proximal_meta_objective
from course_pkg.models import MLP
from course_pkg.viz._base import StaticFigure, VizWidget, decode, encode
from course_pkg.viz.landscapes import GRID, accumulated_landscapes, grid_thetas, softplus_tasks
from course_pkg.viz.methods import curvature_task

SPACING = (GRID["a"][1] - GRID["a"][0]) / (GRID["a"][2] - 1)


@pytest.fixture(scope="module")
def landscape() -> VizWidget:
    return viz.meta_loss_landscape(mode="live")


def random_models() -> dict:
    out = {}
    for seed, name in enumerate(("pretrained", "maml")):
        torch.manual_seed(seed)
        state = {k: v.detach().clone() for k, v in MLP(1, (40, 40), 1).named_parameters()}
        out[name] = {"state": state, "inner_lr": 0.05}
    return out


# --------------------------------------------------------------------------- encoding / modes
def test_encode_roundtrip() -> None:
    a = np.random.default_rng(0).uniform(0.01, 10, size=(7, 5))
    assert np.array_equal(decode(encode(a)), a.astype(np.float32).astype(np.float64))
    q = decode(encode(a, "u16", log=True))
    assert np.allclose(np.log10(q), np.log10(a), atol=1e-4)
    with pytest.raises(ValueError, match="kind"):
        encode(a, "f16")


def test_mode_follows_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STATIC_FIGURES", "1")
    assert isinstance(viz.two_task_adaptation(), StaticFigure)
    monkeypatch.setenv("COURSE_STATIC_FIGURES", "0")
    assert isinstance(viz.two_task_adaptation(), VizWidget)
    with pytest.raises(ValueError, match="mode"):
        viz.two_task_adaptation(mode="pdf")


def test_static_snippet_is_self_contained() -> None:
    fig = viz.two_task_adaptation(mode="static")
    html = fig._repr_html_()
    assert '<script type="module" data-cviz-module=' in html and "cvMountAll" in html
    # no external resource: no src/href attributes, no URL, no widget-manager mime type
    for bad in ("http://", "https://", " src=", "href=", "require(", "application/vnd.jupyter"):
        assert bad not in html, bad
    module = html.split('<script type="module" data-cviz-module=', 1)[1]
    assert "</script>" not in module.split(">", 1)[1][:-12]
    assert fig.nbytes < 120_000


def test_bad_controls_raise_clear_errors(landscape: VizWidget) -> None:
    with pytest.raises(ValueError, match="outside"):
        landscape.update(m=21)
    with pytest.raises(ValueError, match="unknown control"):
        landscape.update(steps=3)
    with pytest.raises(ValueError, match="finite"):
        viz.two_task_adaptation(mode="live").update(inner_lr=float("nan"))
    with pytest.raises(ValueError, match="model must be one of"):
        viz.sinusoid_explorer(models=random_models(), mode="live").update(model="cnn")


# --------------------------------------------------------------------------- figure 2
def test_landscape_m0_minimum_is_joint_training_minimum(landscape: VizWidget) -> None:
    landscape.update(m=0)
    model, batch = softplus_tasks()
    th = torch.zeros(2, requires_grad=True)
    opt = torch.optim.LBFGS([th], max_iter=200, tolerance_grad=1e-10,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = pretrained_loss(model, {"theta": th}, batch)
        loss.backward()
        return loss

    opt.step(closure)
    argmin = torch.tensor(landscape.data["argmin"])
    assert (argmin - th.detach()).abs().max() <= SPACING, (argmin, th)
    # the landscape value at m = 0 is the joint (pretrained) loss × number of tasks
    assert landscape.data["min"] == pytest.approx(
        2 * float(pretrained_loss(model, {"theta": argmin}, batch)), rel=1e-4)


def test_landscape_slider_recomputes_through_course_pkg(landscape: VizWidget) -> None:
    model, batch = softplus_tasks()
    th = grid_thetas()
    n = GRID["a"][2]
    for m in (1, 7, 20):
        landscape.update(m=m)
        assert landscape.data["m"] == m
        ref = (loss_surface(model, batch, th, m, 0.1) * 2).reshape(n, n).numpy()
        got = decode(landscape.data["total"])
        assert np.allclose(np.log10(got), np.log10(ref), atol=2e-4)
        assert landscape.data["argmin"] == pytest.approx(th[ref.argmin()].tolist(), abs=1e-6)
    # the minimum moves away from joint training as m grows (the point of the figure)
    assert abs(landscape.data["argmin"][0] - 0.6) > 1.0


def test_accumulated_landscapes_equals_loss_surface() -> None:
    model, batch = softplus_tasks()
    grid = {"a": (-1.0, 1.0, 9), "b": (-1.0, 1.0, 9)}
    allm = accumulated_landscapes(3, 0.2, grid)
    for m in range(4):
        ref = loss_surface(model, batch, grid_thetas(grid), m, 0.2) * 2
        assert torch.allclose(allm[m].reshape(-1), ref, rtol=1e-5)


# --------------------------------------------------------------------------- figure 3
@pytest.mark.parametrize(("theta", "inner_lr"), [((1.2, -0.6), 1.0), ((-0.5, 1.3), 0.25)])
def test_adaptation_arrows_are_one_gradient_step(theta, inner_lr) -> None:
    fig = viz.two_task_adaptation(mode="live").update(theta=list(theta), inner_lr=inner_lr)
    model, batch = softplus_tasks()
    t = torch.tensor(theta)
    for i in range(2):
        xs, ys = batch.x_support[i], batch.y_support[i]
        g = torch.func.grad(lambda p, xs=xs, ys=ys: loss_at(model, {"theta": p}, xs, ys))(t)
        assert fig.data["phi"][i] == pytest.approx((t - inner_lr * g).tolist(), abs=1e-5)
        phi = torch.tensor(fig.data["phi"][i])
        assert fig.data["loss_phi"][i] == pytest.approx(
            float(loss_at(model, {"theta": phi}, xs, ys)), rel=1e-4)


def test_adaptation_clamps_theta_to_the_plot() -> None:
    fig = viz.two_task_adaptation(mode="live").update(theta=[9.0, -9.0])
    assert fig.data["theta"] == [GRID["a"][1], GRID["b"][0]]


# --------------------------------------------------------------------------- figure 1
def test_sinusoid_after_equals_inner_adapt() -> None:
    models = random_models()
    fig = viz.sinusoid_explorer(models=models, mode="live")
    pts = [-4.0, -2.5, 0.0, 1.0, 3.0, 4.5]  # six: the oldest is dropped
    fig.update(points=pts, test_steps=4, amplitude=3.0, phase=2.0, model="pretrained")
    assert fig.controls["points"] == pts[1:]
    xs = torch.tensor(pts[1:])[:, None]
    ys = 3.0 * torch.sin(xs - 2.0)
    net = MLP(1, (40, 40), 1)
    phi = inner_adapt(net, models["pretrained"]["state"], xs, ys, 4, 0.05)
    xg = torch.linspace(-5, 5, 200)[:, None]
    after = forward(net, phi, xg)[:, 0]
    assert np.allclose(fig.data["after"], after.detach().numpy(), atol=1e-4)
    assert fig.data["mse_after"] < fig.data["mse_before"]
    fig.update(test_steps=0)
    assert fig.data["after"] == fig.data["before"]
    fig.update(points=[], test_steps=5)
    assert fig.data["after"] == fig.data["before"] and fig.data["points"] == []
    assert max(abs(y - 3 * math.sin(x - 2)) for x, y in zip(
        np.linspace(-5, 5, 200), fig.data["true"])) < 1e-3


# --------------------------------------------------------------------------- method figures
def test_fomaml_curvature_meta_gradients() -> None:
    fig = viz.fomaml_curvature(mode="live").update(h1=2.0, h2=0.5, angle=40.0, inner_lr=0.3,
                                                   theta=[-1.0, 1.0])
    a = math.radians(40.0)
    R = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    H = R @ torch.diag(torch.tensor([2.0, 0.5])) @ R.T
    c, th = torch.tensor([0.5, 0.3]), torch.tensor([-1.0, 1.0])
    phi = th - 0.3 * H @ (th - c)
    g_fo = H @ (phi - c)
    g_full = (torch.eye(2) - 0.3 * H) @ g_fo
    assert fig.data["phi"] == pytest.approx(phi.tolist(), abs=1e-4)
    assert fig.data["g_fomaml"] == pytest.approx(g_fo.tolist(), abs=1e-4)
    assert fig.data["g_maml"] == pytest.approx(g_full.tolist(), abs=1e-4)
    # isotropic curvature: both directions agree (only the length differs)
    iso = viz.fomaml_curvature(mode="live").update(h1=1.0, h2=1.0)
    gm, gf = np.array(iso.data["g_maml"]), np.array(iso.data["g_fomaml"])
    assert np.allclose(gm, (1 - iso.controls["inner_lr"]) * gf, atol=1e-5)


def test_fomaml_task_is_the_requested_quadratic() -> None:
    model, batch = curvature_task(3.0, 0.2, 10.0)
    _, g = meta_gradient(model, {"theta": torch.tensor([0.5, 0.3])}, batch, 1, 0.1)
    assert torch.allclose(g["theta"], torch.zeros(2), atol=1e-6)  # the optimum is a fixed point


def test_reptile_update_is_interpolation_towards_mean_phi() -> None:
    fig = viz.reptile_interpolation(mode="live").update(theta=[-1.0, 0.5], inner_steps=4,
                                                        inner_lr=0.2, meta_lr=0.4, iterations=3)
    logic = fig.logic
    th = {"theta": torch.tensor([-1.0, 0.5])}
    phis = torch.stack([reptile_adapt(logic.model, th, logic.data_x[i], logic.data_y[i], 4, 0.2)
                        ["theta"] for i in range(len(logic.data_x))])
    for tr, phi in zip(fig.data["trajectories"], phis):
        assert len(tr) == 5 and tr[-1] == pytest.approx(phi.tolist(), abs=1e-5)
    expected = th["theta"] + 0.4 * (phis.mean(0) - th["theta"])
    assert fig.data["next"] == pytest.approx(expected.tolist(), abs=1e-5)
    assert len(fig.data["path"]) == 4 and fig.data["path"][1] == fig.data["next"]
    assert viz.reptile_interpolation(mode="live").update(meta_lr=0.0).data["next"] == \
        pytest.approx(fig.logic.controls["theta"], abs=1e-6)


def test_imaml_implicit_gradient_is_exact_meta_gradient() -> None:
    fig = viz.imaml_lambda(mode="live")
    b = fig.logic.batch
    for lam, theta in ((0.3, [-1.0, 2.0]), (5.0, [2.0, -1.5])):
        fig.update(imaml_lambda=lam, theta=theta)
        t = torch.tensor(theta)
        exact = torch.func.grad(lambda p, lam=lam: proximal_meta_objective(p, b, lam))(t)
        assert fig.data["g_implicit"] == pytest.approx(exact.tolist(), abs=1e-4)
    w = torch.tensor(fig.logic.spec["optimum"])
    # φ*(λ) slides from the task optimum (λ → 0) to θ (λ → ∞) along the drawn path
    path = torch.tensor(fig.update(imaml_lambda=1.0).data["phi_path"])
    d = torch.linalg.norm(path - w, dim=1)
    assert bool((d[1:] >= d[:-1] - 1e-6).all()) and d[0] < 0.3 * d[-1]
    assert torch.dist(torch.tensor(fig.update(imaml_lambda=20.0).data["phi"]),
                      torch.tensor(fig.controls["theta"])) < 0.3


def test_comparison_trajectories_follow_course_pkg() -> None:
    fig = viz.method_comparison(mode="live").update(n=3, maml_meta_lr=0.2, maml_inner_steps=2)
    logic, c = fig.logic, fig.controls
    tr = fig.data["trajectories"]
    assert all(len(v) == 4 for v in tr.values())
    th = {"theta": torch.tensor(tr["maml"][1])}
    _, g = meta_gradient(logic.model, th, logic.batch, 2, c["maml_inner_lr"])
    assert tr["maml"][2] == pytest.approx((th["theta"] - 0.2 * g["theta"]).tolist(), abs=1e-5)
    fig.update(n=5)  # extending reuses the first steps
    assert fig.data["trajectories"]["reptile"][:4] == tr["reptile"]
    # meta-training lowers every method's post-adaptation loss from the default start
    start = viz.method_comparison(mode="live").update(n=0).data["loss"]
    later = viz.method_comparison(mode="live").update(n=20).data["loss"]
    assert all(later[m] < start[m] for m in start)


# --------------------------------------------------------------------------- palette and tables
def test_one_colour_per_method_in_python_and_javascript() -> None:
    """The widgets' CV_METHOD_COLORS is course_pkg.viz.palette.METHOD_COLORS, and the four
    methods have four distinct colours with ≥ 3:1 contrast on the white plot background."""
    import json
    import re

    from course_pkg.viz._base import esm_source
    from course_pkg.viz.palette import METHOD_COLORS

    for kind in ("comparison", "fomaml", "imaml", "reptile"):
        m = re.match(r"const CV_METHOD_COLORS = (\{.*?\});", esm_source(kind))
        assert m and json.loads(m.group(1)) == METHOD_COLORS, kind

    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    four = [METHOD_COLORS[k] for k in ("maml", "fomaml", "reptile", "imaml")]
    assert len(set(four)) == 4
    for c in four:
        assert 1.05 / (luminance(c) + 0.05) >= 3.0, c
    assert viz.method_color("MAML, K = 5") == viz.method_color("maml")
    assert viz.method_color("iMAML (proximal solver)") == METHOD_COLORS["imaml"]
    with pytest.raises(KeyError, match="known"):
        viz.method_color("SuperMAML")


def test_style_table_pads_aligns_and_renames() -> None:
    import pandas as pd

    df = pd.DataFrame({"method": ["MAML", "Reptile"], "f_w(x)": [1.0, 2.25], "k": [1, 5]})
    html = viz.style_table(df, 2, headers={"f_w(x)": "prediction w·x"}, caption="c").to_html()
    assert "prediction w·x" in html and "f_w(x)" not in html
    assert "padding: 0.3em 0.7em" in html and "<caption>c</caption>" in html
    assert ">2.25<" in html and ">5<" in html  # floats to 2 decimals, integers untouched
    assert "text-align: left" in html and "text-align: right" in html
    # the text column's cells are left-aligned by a rule that outranks ``#T td`` (right)
    assert re.search(r"#T_\w+ td\.col0 \{\s*text-align: left;", html)
    assert not re.search(r"#T_\w+ td\.col1 \{", html)  # numbers stay right-aligned
    with pytest.raises(KeyError, match="unknown columns"):
        viz.style_table(df, headers={"nope": "x"})
    with pytest.raises(TypeError):
        viz.style_table([1, 2])



def test_collapsible_folds_a_table_under_a_visible_summary() -> None:
    import pandas as pd

    df = pd.DataFrame({"model": ["MAML"], "accuracy": [97.7]})
    out = viz.collapsible(viz.style_table(df, 1), "The sweep <all settings>")
    html = out.data
    assert html.startswith('<details class="course-collapsible"><summary>The sweep '
                           "&lt;all settings&gt;</summary>")
    assert "<table" in html and ">97.7<" in html and html.endswith("</details>")
    assert "aria-label" not in html  # the visible text is the name (axe: label-content-name)
    assert viz.collapsible("<p>x</p>", "s").data.count("<p>x</p>") == 1
    with pytest.raises(ValueError, match="summary"):
        viz.collapsible("<p>x</p>", " ")
    with pytest.raises(TypeError):
        viz.collapsible(42, "s")

def test_course_style_renders_2x_and_legend_outside() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    viz.use_course_style()
    assert matplotlib.rcParams["savefig.dpi"] == 200
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="a")
    leg = viz.legend_outside(ax)
    assert leg in fig.legends
    assert viz.legend_outside(ax, "right") is ax.get_legend()
    with pytest.raises(ValueError, match="below"):
        viz.legend_outside(ax, "top")
    plt.close(fig)
