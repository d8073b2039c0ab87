"""Figures of the method chapters (8–11): FOMAML's missing curvature, Reptile's interpolation,
iMAML's proximal inner problem, and the four methods stepping on one landscape.

All numbers come from :mod:`course_pkg.algorithms` (``maml.meta_gradient``, ``reptile``,
``imaml``, ``toy``). Each figure's JavaScript (``static/<kind>.js``) repeats the same small
2-D updates in closed form so the static book stays interactive without a kernel;
``tests/test_viz_browser.py`` checks the browser's numbers against these functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from course_pkg.algorithms.core import inner_adapt, loss_at
from course_pkg.algorithms.imaml import imaml_meta_gradient, implicit_meta_gradient, proximal_adapt
from course_pkg.algorithms.maml import maml_loss, meta_gradient
from course_pkg.algorithms.reptile import reptile_step, reptile_update
from course_pkg.algorithms.toy import (
    loss_surface,
    param_grid,
    proximal_solution,
    quadratic_hessian,
)
from course_pkg.models import LinearToy
from course_pkg.tasks import QuadraticTasks, TaskBatch, landscape_tasks
from course_pkg.viz._base import FigureLogic, FigureOutput, encode, make_figure, to_list

N_GRID = 41


def _grid(lim: Sequence[float], n: int = N_GRID) -> torch.Tensor:
    return param_grid((lim[0], lim[1]), (lim[2], lim[3]), n, device="cpu")[2]


def _grid_spec(lim: Sequence[float], n: int = N_GRID) -> dict[str, list[float]]:
    return {"a": [lim[0], lim[1], n], "b": [lim[2], lim[3], n]}


def _theta(v: Sequence[float]) -> dict[str, torch.Tensor]:
    return {"theta": torch.as_tensor([float(v[0]), float(v[1])], dtype=torch.float32)}


def _check_theta(name: str, v: Any, lim: Sequence[float]) -> list[float]:
    if not (isinstance(v, list | tuple) and len(v) == 2):
        raise ValueError(f"{name} must be [x, y], got {v!r}")
    return [min(max(float(v[0]), lim[0]), lim[1]), min(max(float(v[1]), lim[2]), lim[3])]


def quadratic_spec(batch: TaskBatch) -> list[dict[str, Any]]:
    """Per task the closed-form pieces of the :class:`LinearToy` losses, for the browser.

    ``L(θ) = ½ θᵀHθ − bᵀθ + c`` on the support set (``Hs, bs, cs``), the query set (``Hq, bq,
    cq``) and both together (``Ha, ba, ca``; Reptile's data).
    """
    out = []
    for i in range(batch.num_tasks):
        d: dict[str, Any] = {}
        xs, ys, xq, yq = (t[i] for t in batch)
        for tag, x, y in (("s", xs, ys), ("q", xq, yq),
                          ("a", torch.cat([xs, xq]), torch.cat([ys, yq]))):
            d["H" + tag] = to_list(quadratic_hessian(x), 7)
            d["b" + tag] = to_list((2.0 * x.T @ y / x.shape[0])[:, 0], 7)
            d["c" + tag] = float((y**2).mean())
        out.append(d)
    return out


# =========================================================================== FOMAML
def curvature_task(h1: float, h2: float, angle_deg: float,
                   optimum: Sequence[float] = (0.5, 0.3)) -> tuple[LinearToy, TaskBatch]:
    """A quadratic task with Hessian ``H = R diag(h1, h2) Rᵀ`` (``R`` rotates by ``angle``).

    Built as a :class:`LinearToy` regression with the two inputs ``X = H^{1/2}`` and targets
    ``X c``, so its MSE is ``½ (θ − c)ᵀ H (θ − c)``; support = query.
    """
    if h1 <= 0 or h2 <= 0:
        raise ValueError(f"Hessian eigenvalues must be > 0, got {h1}, {h2}")
    a = math.radians(angle_deg)
    R = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    X = R @ torch.diag(torch.tensor([math.sqrt(h1), math.sqrt(h2)])) @ R.T  # (2, 2)
    y = X @ torch.as_tensor(optimum, dtype=torch.float32)[:, None]
    return LinearToy(), TaskBatch(X[None], y[None], X[None].clone(), y[None].clone())


class FomamlCurvature(FigureLogic):
    """Full MAML meta-gradient ``(I − αH)∇L(φ)`` vs FOMAML's ``∇L(φ)`` on one quadratic."""

    kind = "fomaml"
    ranges = {"h1": (0.1, 4.0), "h2": (0.1, 4.0), "angle": (0.0, 180.0),
              "inner_lr": (0.0, 0.45)}
    LIM = (-2.0, 2.0, -2.0, 2.0)

    def __init__(self) -> None:
        super().__init__()
        self.spec = {"title": "MAML vs first-order MAML: the curvature term (I − αH)",
                     "grid": _grid_spec(self.LIM), "optimum": [0.5, 0.3], "arrow_scale": 1.0}
        self.controls = {"h1": 3.0, "h2": 0.3, "angle": 30.0, "inner_lr": 0.25,
                         "theta": [0.0, -1.6]}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate(controls)
        merged["theta"] = _check_theta("theta", merged["theta"], self.LIM)
        return merged

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        model, batch = curvature_task(controls["h1"], controls["h2"], controls["angle"])
        lr = float(controls["inner_lr"])
        th = _theta(controls["theta"])
        phi = inner_adapt(model, th, batch.x_support[0], batch.y_support[0], 1, lr)["theta"]
        loss, g_full = meta_gradient(model, th, batch, 1, lr)
        _, g_fo = meta_gradient(model, th, batch, 1, lr, first_order=True)
        grid = _grid(self.LIM)
        task = loss_surface(model, batch, grid, 0)
        meta = loss_surface(model, batch, grid, 1, lr)
        return {"theta": list(controls["theta"]), "phi": to_list(phi),
                "g_maml": to_list(g_full["theta"]), "g_fomaml": to_list(g_fo["theta"]),
                "meta_loss": float(loss), "task_loss": to_list(float(loss_at(
                    model, th, batch.x_support[0], batch.y_support[0]))),
                "H": to_list(quadratic_hessian(batch.x_support[0])),
                "task_grid": encode(task.reshape(N_GRID, N_GRID), "u16", log=True),
                "meta_grid": encode(meta.reshape(N_GRID, N_GRID), "u16", log=True)}


# =========================================================================== Reptile
class ReptileInterpolation(FigureLogic):
    """Reptile: ``k`` SGD steps per task from θ, then ``θ ← θ + ε (mean φ_i − θ)``."""

    kind = "reptile"
    ranges = {"inner_steps": (1, 20), "inner_lr": (0.01, 1.0), "meta_lr": (0.0, 1.0),
              "iterations": (0, 30)}
    LIM = (-2.0, 2.0, -2.0, 2.0)

    def __init__(self) -> None:
        super().__init__()
        self.model, batch = landscape_tasks("curve", device="cpu")
        x = torch.cat([batch.x_support, batch.x_query], 1)
        y = torch.cat([batch.y_support, batch.y_query], 1)
        self.batch = batch
        self.data_x, self.data_y = x, y  # Reptile trains on support + query
        grid = _grid(self.LIM)
        mean_loss = loss_surface(self.model, TaskBatch(x, y, x, y), grid, 0)
        self.spec = {"title": "Reptile: train on each task, then move θ part of the way",
                     "grid": _grid_spec(self.LIM),
                     "landscape": encode(mean_loss.reshape(N_GRID, N_GRID), "u16", log=True),
                     "optima": to_list(batch.info["theta"]),
                     "x": [to_list(x[i, :, 0]) for i in range(len(x))],
                     "y": [to_list(y[i, :, 0]) for i in range(len(y))]}
        self.controls = {"theta": [-1.5, 1.5], "inner_steps": 5, "inner_lr": 0.3, "meta_lr": 0.5,
                         "iterations": 10}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate(controls)
        merged["theta"] = _check_theta("theta", merged["theta"], self.LIM)
        merged["inner_steps"] = int(merged["inner_steps"])
        merged["iterations"] = int(merged["iterations"])
        return merged

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        k, lr = int(controls["inner_steps"]), float(controls["inner_lr"])
        eps = float(controls["meta_lr"])
        th = _theta(controls["theta"])
        trajs = []
        for i in range(len(self.data_x)):
            tr = inner_adapt(self.model, th, self.data_x[i], self.data_y[i], k, lr,
                             return_trajectory=True)
            trajs.append([to_list(p["theta"]) for p in tr])
        path, cur = [to_list(th["theta"])], th
        for _ in range(max(1, int(controls["iterations"]))):  # θ_0, θ_1 = next, …
            cur = reptile_step(cur, reptile_update(self.model, cur, self.batch, k, lr), eps)
            path.append(to_list(cur["theta"]))
        return {"theta": list(controls["theta"]), "trajectories": trajs,
                "mean_phi": to_list(torch.tensor([t[-1] for t in trajs]).mean(0)),
                "next": path[1], "path": path[: int(controls["iterations"]) + 1]}


# =========================================================================== iMAML
class ImamlLambda(FigureLogic):
    """iMAML: the proximal inner optimum ``φ*(θ)`` and the implicit meta-gradient vs ``λ``."""

    kind = "imaml"
    ranges = {"imaml_lambda": (0.01, 20.0)}
    LIM = (-2.0, 3.0, -2.0, 3.0)

    def __init__(self, seed: int = 3) -> None:
        super().__init__()
        self.model = LinearToy()
        self.batch = QuadraticTasks().sample(1, 10, 10, generator=seed, device="cpu")
        grid = _grid(self.LIM)
        support = TaskBatch(self.batch.x_support, self.batch.y_support,
                            self.batch.x_support, self.batch.y_support)
        self.spec = {"title": "iMAML: the regularised inner problem and its implicit gradient",
                     "grid": _grid_spec(self.LIM),
                     "landscape": encode(loss_surface(self.model, support, grid, 0)
                                         .reshape(N_GRID, N_GRID), "u16", log=True),
                     "optimum": to_list(self.batch.info["w"][0]),
                     "quad": quadratic_spec(self.batch), "arrow_scale": 0.3,
                     "lam_path": to_list(torch.logspace(-2, math.log10(20), 40))}
        self.controls = {"theta": [-1.0, 2.2], "imaml_lambda": 1.0}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate(controls)
        merged["theta"] = _check_theta("theta", merged["theta"], self.LIM)
        return merged

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        lam = float(controls["imaml_lambda"])
        b = self.batch
        theta = torch.as_tensor(controls["theta"], dtype=torch.float32)
        phi = proximal_solution(theta, b.x_support[0], b.y_support[0], lam)
        g, qloss = implicit_meta_gradient(self.model, {"theta": phi}, b.x_support[0],
                                          b.y_support[0], b.x_query[0], b.y_query[0], lam,
                                          cg_steps=2)
        g_fo = torch.func.grad(lambda p: loss_at(self.model, p, b.x_query[0], b.y_query[0]))(
            {"theta": phi})["theta"]
        path = [to_list(proximal_solution(theta, b.x_support[0], b.y_support[0], float(lv)))
                for lv in self.spec["lam_path"]]
        return {"theta": list(controls["theta"]), "phi": to_list(phi),
                "g_implicit": to_list(g["theta"]), "g_first_order": to_list(g_fo),
                "query_loss": float(qloss), "phi_path": path}


# =========================================================================== comparison
METHODS = ("maml", "fomaml", "reptile", "imaml")


class MethodComparison(FigureLogic):
    """MAML, FOMAML, Reptile and iMAML stepping θ on the same four quadratic tasks."""

    kind = "comparison"
    MAX_STEPS = 40
    ranges = {"n": (0, MAX_STEPS),
              "maml_inner_lr": (0.01, 0.5), "maml_inner_steps": (1, 5), "maml_meta_lr": (0.01, 1.0),
              "fomaml_inner_lr": (0.01, 0.5), "fomaml_inner_steps": (1, 5),
              "fomaml_meta_lr": (0.01, 1.0),
              "reptile_inner_lr": (0.01, 0.5), "reptile_inner_steps": (1, 10),
              "reptile_meta_lr": (0.01, 1.0),
              "imaml_inner_lr": (0.01, 0.5), "imaml_inner_steps": (1, 30),
              "imaml_lambda": (0.1, 10.0), "imaml_meta_lr": (0.01, 1.0)}
    INTS = ("n", "maml_inner_steps", "fomaml_inner_steps", "reptile_inner_steps",
            "imaml_inner_steps")

    def __init__(self, seed: int = 7) -> None:
        super().__init__()
        self.model = LinearToy()
        self.batch = QuadraticTasks().sample(4, 10, 10, generator=seed, device="cpu")
        w = self.batch.info["w"]
        lo = torch.minimum(w.min(0).values, torch.tensor([-1.0, -1.0])) - 0.7
        hi = torch.maximum(w.max(0).values, torch.tensor([2.0, 2.0])) + 0.7
        self.lim = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
        grid = _grid(self.lim)
        q = TaskBatch(self.batch.x_query, self.batch.y_query, self.batch.x_query,
                      self.batch.y_query)
        self.spec = {"title": "Four methods, one landscape: meta-training θ step by step",
                     "grid": _grid_spec(self.lim),
                     "landscape": encode(loss_surface(self.model, q, grid, 0)
                                         .reshape(N_GRID, N_GRID), "u16", log=True),
                     "optima": to_list(w), "quad": quadratic_spec(self.batch),
                     "max_steps": self.MAX_STEPS, "methods": list(METHODS)}
        self.controls = {"theta0": [self.lim[0] + 0.3, self.lim[3] - 0.3], "n": 10,
                         "maml_inner_lr": 0.1, "maml_inner_steps": 1, "maml_meta_lr": 0.3,
                         "fomaml_inner_lr": 0.1, "fomaml_inner_steps": 1, "fomaml_meta_lr": 0.3,
                         "reptile_inner_lr": 0.1, "reptile_inner_steps": 3,
                         "reptile_meta_lr": 0.3, "imaml_inner_lr": 0.1, "imaml_inner_steps": 20,
                         "imaml_lambda": 1.0, "imaml_meta_lr": 0.3}
        self._cache: dict[tuple, list[list[float]]] = {}

    def validate(self, controls: dict[str, Any]) -> dict[str, Any]:
        merged = super().validate(controls)
        merged["theta0"] = _check_theta("theta0", merged["theta0"], self.lim)
        for k in self.INTS:
            merged[k] = int(merged[k])
        return merged

    def meta_step(self, method: str, theta: dict[str, torch.Tensor],
                  c: dict[str, Any]) -> dict[str, torch.Tensor]:
        """One meta-update of ``method`` from ``theta`` with the card's hyper-parameters."""
        b, m = self.batch, self.model
        if method in ("maml", "fomaml"):
            _, g = meta_gradient(m, theta, b, c[f"{method}_inner_steps"], c[f"{method}_inner_lr"],
                                 first_order=method == "fomaml")
            return {"theta": theta["theta"] - c[f"{method}_meta_lr"] * g["theta"]}
        if method == "reptile":
            delta = reptile_update(m, theta, b, c["reptile_inner_steps"], c["reptile_inner_lr"])
            return reptile_step(theta, delta, c["reptile_meta_lr"])
        if method == "imaml":
            _, g = imaml_meta_gradient(m, theta, b, c["imaml_lambda"], c["imaml_inner_steps"],
                                       c["imaml_inner_lr"], cg_steps=2)
            return {"theta": theta["theta"] - c["imaml_meta_lr"] * g["theta"]}
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")

    def trajectory(self, method: str, c: dict[str, Any]) -> list[list[float]]:
        """``θ_0 … θ_n`` of ``method`` (cached and extended as ``n`` grows)."""
        key = (method, tuple(c["theta0"]),
               tuple(sorted((k, v) for k, v in c.items() if k.startswith(method + "_"))))
        traj = self._cache.setdefault(key, [list(c["theta0"])])
        while len(traj) <= c["n"]:
            nxt = self.meta_step(method, _theta(traj[-1]), c)
            traj.append(to_list(nxt["theta"]))
        return traj[: c["n"] + 1]

    def post_adaptation_loss(self, method: str, theta: Sequence[float],
                             c: dict[str, Any]) -> float:
        """Mean query loss after the method's own inner adaptation from ``theta``."""
        th, b, m = _theta(theta), self.batch, self.model
        if method == "imaml":
            phis = [proximal_adapt(m, th, b.x_support[i], b.y_support[i], c["imaml_lambda"],
                                   c["imaml_inner_steps"], c["imaml_inner_lr"])
                    for i in range(b.num_tasks)]
            return float(torch.stack([loss_at(m, p, b.x_query[i], b.y_query[i])
                                      for i, p in enumerate(phis)]).mean())
        return float(maml_loss(m, th, b, c[f"{method}_inner_steps"],
                                   c[f"{method}_inner_lr"]))

    def compute(self, controls: dict[str, Any]) -> dict[str, Any]:
        trajs = {meth: self.trajectory(meth, controls) for meth in METHODS}
        return {"n": controls["n"], "trajectories": trajs,
                "loss": {meth: self.post_adaptation_loss(meth, trajs[meth][-1], controls)
                         for meth in METHODS}}


# =========================================================================== public API
def fomaml_curvature(mode: str | None = None, **controls: Any) -> FigureOutput:
    """Figure: one quadratic task with Hessian sliders (eigenvalues ``h1, h2``, angle), inner
    rate ``α`` and a draggable θ; arrows: MAML's ``(I − αH)∇L(φ)`` vs FOMAML's ``∇L(φ)``."""
    return make_figure(FomamlCurvature(), mode, **controls)


def reptile_interpolation(mode: str | None = None, **controls: Any) -> FigureOutput:
    """Figure: Reptile on three curve-fitting tasks; inner steps ``k``, rate ``α``, interpolation
    ``ε`` and the path of successive Reptile updates from a draggable θ."""
    return make_figure(ReptileInterpolation(), mode, **controls)


def imaml_lambda(mode: str | None = None, **controls: Any) -> FigureOutput:
    """Figure: iMAML's proximal optimum ``φ*(θ) = argmin L(φ) + λ/2‖φ − θ‖²`` and implicit
    meta-gradient ``(I + H/λ)⁻¹∇L_q(φ*)`` with a ``λ`` slider and a draggable θ."""
    return make_figure(ImamlLambda(), mode, **controls)


def method_comparison(mode: str | None = None, **controls: Any) -> FigureOutput:
    """Figure: MAML / FOMAML / Reptile / iMAML cards (rates, steps, ``λ``) stepping θ on the
    landscape of four quadratic tasks; buttons step all methods, drag θ₀ to restart."""
    return make_figure(MethodComparison(), mode, **controls)
