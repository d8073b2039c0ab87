"""One home per method: its :class:`MethodSpec` in :data:`METHODS`.

A spec says everything the course's runs, tables, figures and command line need to know about a
method: its key and display label, its family, its one colour (figures use it for this method and
nothing else), what chapter 13's table says of it, and how it takes part in the experiments —
the few-shot comparison (:class:`FewShotSpec`: settings, how to build, meta-train, adapt and
score a model) and the sinusoid runs (:attr:`MethodSpec.sinusoid`: the ``meta_train`` algorithm
and its settings). Everything else reads this registry: nothing lists method names elsewhere
(``tests/test_method_registry.py`` greps for such lists).

Adding a method to the few-shot comparison is writing one spec here (plus, if it is new, its
algorithm function in :mod:`course_pkg.algorithms`): ANIL and ProtoMAML were added that way.

The hooks receive the model's config (a plain ``dict``, see
:mod:`course_pkg.experiments.fewshot.config`) and return

- ``build(cfg) -> nn.Module``: the untrained model, initial weights from ``cfg["seed"]``;
- ``sampler(cfg)``: the task sampler of ``meta_train`` (``.sample(meta_batch_size, k_support,
  k_query, generator=, device=)``);
- ``meta_grad(model, cfg) -> meta_grad_fn(params, batch) -> (loss, grads)``;
- ``accuracy(model, cfg) -> acc(params, batch) -> (T,)``: per-episode query accuracy after the
  method's test-time adaptation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from course_pkg.algorithms import anil, metric, protomaml
from course_pkg.algorithms import blackbox as bb
from course_pkg.algorithms import evaluation as ev
from course_pkg.algorithms import finetune as ft
from course_pkg.algorithms.core import cross_entropy_loss
from course_pkg.algorithms.reptile import reptile_meta_gradient
from course_pkg.algorithms.training import MetaConfig, make_meta_grad_fn
from course_pkg.data import FewShotImages
from course_pkg.models import Conv4
from course_pkg.rl import maml as rl_maml
from course_pkg.rl import rl2
from course_pkg.tasks import TaskBatch
from course_pkg.viz import palette

FAMILIES = ("baseline", "black-box", "metric", "optimization")


@dataclass(frozen=True)
class FewShotSpec:
    """How a method takes part in the few-shot comparison (chapters 4, 5, 11, 13).

    ``settings``: its training settings at the CPU scale (merged over the episodic defaults of
    :mod:`course_pkg.experiments.fewshot.config`); ``by_way``: overrides for the model of N-way
    episodes; ``per_way``: one model per N (an N-way output) instead of one for every column;
    ``model_of``: the method whose trained model it uses (fine-tuning uses the pre-trained
    Conv4); ``trained=False``: nothing to train (nearest neighbour on pixels); ``sweep``: the
    settings tried at a quarter budget before the full run (at most 3 per N, first = default);
    ``adaptation``: what it does with a test episode (the table prints it); ``variants``:
    further models the chapters load (chapter 4's sequence cores), by checkpoint key →
    settings. ``meta_config``:
    ``(cfg, iterations) -> MetaConfig`` when the default :func:`meta_config` does not fit.
    """

    accuracy: Callable[[nn.Module | None, Mapping[str, Any]], Callable[..., torch.Tensor]]
    settings: Mapping[str, Any] = field(default_factory=dict)
    by_way: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    per_way: bool = False
    build: Callable[[Mapping[str, Any]], nn.Module] | None = None
    sampler: Callable[[Mapping[str, Any]], Any] | None = None
    meta_grad: Callable[[nn.Module, Mapping[str, Any]], Callable] | None = None
    model_of: str | None = None
    trained: bool = True
    sweep: Mapping[int, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    adaptation: str = ""
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    meta_config: Callable[[Mapping[str, Any], int], MetaConfig] | None = None


@dataclass(frozen=True)
class MethodSpec:
    """One method of the course (see the module docstring)."""

    name: str
    title: str           # the few-shot table's row name
    label: str           # figures' legends and short mentions
    family: str
    color: str
    chapter: str
    update: str          # chapter 13: how it adapts to a task
    learns: str          # chapter 13: what is meta-learned
    flexibility: str     # chapter 13: which N and K one trained model serves
    fewshot: FewShotSpec | None = None
    sinusoid: Mapping[str, Any] | None = None
    rl: Mapping[str, Any] | None = None  # chapter 12: trainer, policy builder, paper settings
    cite: str | None = None
    published: Mapping[str, float] | None = None   # Omniglot {5w1s, 5w5s, 20w1s} in %
    published_source: str | None = None
    #: MiniImagenet {5w1s, 5w5s} in % (Conv4-32, no data augmentation), where reported
    published_miniimagenet: Mapping[str, float] | None = None
    published_miniimagenet_source: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: family must be one of {FAMILIES}, got {self.family!r}")


# ----------------------------------------------------------------------------- shared hooks
def _seeded_conv4(cfg: Mapping[str, Any], out_dim: int | None = None) -> Conv4:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        return Conv4(1, cfg["n_way"] if out_dim is None else out_dim, cfg["hidden"])


def _episodes(cfg: Mapping[str, Any]) -> metric.EpisodeSampler:
    return metric.EpisodeSampler(cfg["n_way"])


def _episodic_grad(model: nn.Module, cfg: Mapping[str, Any]):
    return lambda p, b: metric.episodic_gradient(model, p, b)


def _blackbox_grad(model: nn.Module, cfg: Mapping[str, Any]):
    """The episodic gradient; with ``curriculum_iterations``, on episodes of 2, then 3, … then
    ``n_way`` classes over those iterations (a curriculum from fewer ways)."""
    span = cfg.get("curriculum_iterations")
    if not span:
        return _episodic_grad(model, cfg)

    def grad(p, b, iteration=0):
        n = bb.curriculum_ways(iteration, cfg["n_way"], span)
        return metric.episodic_gradient(model, p, bb.fewer_ways(b, n), n_way=cfg["n_way"])

    return grad


def _metric_accuracy(model: nn.Module, cfg: Mapping[str, Any]):
    return lambda p, b: metric.evaluate(model, p, b)


def maml_accuracy(model: nn.Module, params: Mapping[str, torch.Tensor], batch: TaskBatch,
                  test_steps: int, inner_lr: float, chunk: int = 20) -> torch.Tensor:
    """Query accuracy ``(T,)`` after ``test_steps`` SGD steps (``inner_lr``) on each support set."""
    accs = []
    for lo in range(0, batch.num_tasks, chunk):
        b = TaskBatch(*(t[lo:lo + chunk] for t in batch))
        phi = ev.adapt(model, params, b, test_steps, inner_lr, cross_entropy_loss)
        accs.append(metric.accuracy(ev.predict(model, phi, b.x_query), b.y_query).cpu())
    return torch.cat(accs)


def _maml_accuracy(model: nn.Module, cfg: Mapping[str, Any]):
    return lambda p, b: maml_accuracy(model, p, b, cfg["test_steps"], cfg["inner_lr"])


def meta_config(cfg: Mapping[str, Any], iterations: int) -> MetaConfig:
    """The :class:`MetaConfig` of ``meta_train`` for a few-shot model's ``cfg``."""
    return MetaConfig(iterations=iterations, meta_batch_size=cfg["meta_batch_size"],
                      k_support=cfg["k_support"], k_query=cfg["k_query"],
                      inner_steps=cfg.get("inner_steps", 1), inner_lr=cfg.get("inner_lr", 0.0),
                      meta_lr=cfg["meta_lr"], optimizer=cfg.get("optimizer", "adam"),
                      method=cfg["method"], seed=cfg["seed"], grad_clip=cfg.get("grad_clip"),
                      options=dict(cfg.get("options", {})))


def _maml_grad(model: nn.Module, cfg: Mapping[str, Any]):
    return make_meta_grad_fn(model, meta_config(cfg, 1), cross_entropy_loss)


def _reptile_grad(model: nn.Module, cfg: Mapping[str, Any]):
    """Reptile's direction θ − mean φ_i; with ``anneal_iterations`` T it is scaled by
    ``max(0, 1 − t/T)`` at iteration t (the paper's linearly annealed ε, with SGD)."""
    opts, anneal = cfg["options"], cfg.get("anneal_iterations")

    def grad_fn(p, b, iteration: int = 0):
        loss, g = reptile_meta_gradient(model, p, b, cfg["inner_steps"], cfg["inner_lr"], None,
                                        opts["data"], cross_entropy_loss, opts["batched"])
        if anneal:
            f = max(0.0, 1.0 - iteration / anneal)
            g = {k: f * v for k, v in g.items()}
        return loss, g

    return grad_fn


def _blackbox_build(cfg: Mapping[str, Any]) -> nn.Module:
    return bb.make_blackbox_classifier(cfg["n_way"], cfg["hidden"], seed=cfg["seed"],
                                       core=cfg["core"], width=cfg["width"],
                                       support_weight=cfg["support_weight"])


def _blackbox_accuracy(model: nn.Module, cfg: Mapping[str, Any]):
    return lambda p, b: metric.evaluate(model, p, bb.shuffle_support(b, cfg["seed"]))


class ClassBatches:
    """Supervised mini-batches over every class of a labelled image set, as one-task
    ``TaskBatch`` es for ``meta_train``: ``k_support + k_query`` random images (half as
    "support", half as "query"; the pre-training loss pools both), labels over all classes."""

    def __init__(self, data: FewShotImages) -> None:
        self.x = data.tensor("cpu")
        self.y = torch.from_numpy(data.labels).long()
        self.num_classes = data.num_classes

    def sample(self, num_tasks: int, k_support: int, k_query: int,
               generator: torch.Generator | None = None,
               device: str | torch.device | None = None) -> TaskBatch:
        idx = torch.randint(0, len(self.x), (num_tasks, k_support + k_query), generator=generator)
        x, y = self.x[idx], self.y[idx]
        return TaskBatch(x[:, :k_support], y[:, :k_support], x[:, k_support:],
                         y[:, k_support:]).to(device or "cpu")


def _training_images(cfg: Mapping[str, Any]) -> ClassBatches:
    from course_pkg.data import glyph_splits

    return ClassBatches(glyph_splits(seed=cfg["data_seed"])[cfg["split"]])


def _pretrain_config(cfg: Mapping[str, Any], iterations: int) -> MetaConfig:
    half = cfg["batch_size"] // 2
    return MetaConfig(iterations=iterations, meta_batch_size=1, k_support=half,
                      k_query=cfg["batch_size"] - half, meta_lr=cfg["lr"],
                      method="pretrained", seed=cfg["seed"])


def _pretrain_grad(model: nn.Module, cfg: Mapping[str, Any]):
    return make_meta_grad_fn(model, _pretrain_config(cfg, 1), cross_entropy_loss)


#: How the fine-tuning baseline adapts to a test episode (see course_pkg.algorithms.finetune).
FINETUNE_RECIPE = ft.FinetuneRecipe("head only (frozen features)", {"head": 0.5}, head="zero",
                                    inner_steps=50)
#: The class-mean (prototype) head on frozen pre-trained features: no steps.
MEAN_HEAD = ft.FinetuneRecipe("class-mean head, no steps", {}, head="mean", inner_steps=0)

def _metric_learner(learner: type[metric.EpisodicLearner], adaptation: str) -> FewShotSpec:
    """The few-shot part of a metric learner: one model for every column, episodic loss."""
    return FewShotSpec(accuracy=_metric_accuracy, sampler=_episodes, meta_grad=_episodic_grad,
                       build=lambda c: metric.make_learner(learner, c["hidden"], c["seed"]),
                       adaptation=adaptation)


_MAML_20 = {"meta_batch_size": 2, "k_query": 2, "inner_lr": 0.1, "test_steps": 5}
_EPISODIC_20 = {"meta_batch_size": 2, "k_query": 2}

# ----------------------------------------------------------------------------- the registry
_SPECS = [
    MethodSpec(
        "nn_pixels", "Nearest neighbour (pixels)", "nearest neighbour", "baseline", "#BBBBBB",
        "05_metric_based",
        "label of the closest support image", "nothing", "any N, K",
        fewshot=FewShotSpec(accuracy=lambda m, c: lambda p, b: ft.nearest_neighbour_accuracy(b),
                            trained=False, adaptation="none (pixel distance)")),
    MethodSpec(
        "pretrained", "Pre-trained Conv4 + class-mean head", "pretrained", "baseline", "#555555",
        "02_multitask_transfer", "pre-train on all classes; class means of support embeddings",
        "nothing (transfer)", "any N, K",
        fewshot=FewShotSpec(
            accuracy=lambda m, c: lambda p, b: ft.finetune_accuracy(m, p, b, MEAN_HEAD),
            settings={"data_seed": 0, "batch_size": 128, "lr": 1e-3},
            build=lambda c: _seeded_conv4(c, _training_images(c).num_classes),
            sampler=_training_images, meta_grad=_pretrain_grad, meta_config=_pretrain_config,
            adaptation="class means of the support embeddings, no steps"),
        sinusoid={"overrides": {"inner_steps": 0}, "shots": (10,), "shown": (10,)},
        rl={"trainer": rl_maml.train_pretrained_nav, "policy": rl_maml.make_policy,
            "paper": {"iterations": 500, "meta_batch_size": 40, "hidden": [100, 100]}},
        cite="chen2019closer"),
    MethodSpec(
        "finetune", "Fine-tuning (pre-trained Conv4, new head)", "fine-tuning", "baseline",
        "#767676",
        "02_multitask_transfer",
        "pre-train on all classes; SGD on a new head at test time, features frozen",
        "nothing (transfer)", "any N, K (new head)",
        fewshot=FewShotSpec(
            accuracy=lambda m, c: lambda p, b: ft.finetune_accuracy(m, p, b, FINETUNE_RECIPE,
                                                                    seed=c.get("eval_seed", 0)),
            model_of="pretrained",
            adaptation=f"{FINETUNE_RECIPE.inner_steps} SGD steps on a new head, frozen features"),
        cite="chen2019closer"),
    MethodSpec(
        "blackbox", "Black-box (attention over label-offset sequence)", "black-box", "black-box",
        "#8C6D1F",
        "04_black_box", "$\\phi = f_\\theta(\\mathcal{D}^{\\mathrm{tr}})$, one forward pass",
        "a learning algorithm", "fixed N; K by sequence length",
        fewshot=FewShotSpec(
            accuracy=_blackbox_accuracy, build=_blackbox_build,
            sampler=lambda c: bb.ShuffledEpisodes(c["n_way"]), meta_grad=_blackbox_grad,
            settings={"width": 64, "support_weight": 0.0, "grad_clip": 10.0, "core": "attention"},
            by_way={20: _EPISODIC_20}, per_way=True,
            adaptation="one forward pass over the support sequence",
            variants={"blackbox_lstm": {"core": "lstm"}, "blackbox_mann": {"core": "mann"},
                      "blackbox_attention": {"core": "attention"}},
            sweep={"blackbox_lstm": ({}, {"meta_lr": 3e-4}, {"curriculum": True}),
                   "blackbox_mann": ({}, {"meta_lr": 3e-4}, {"curriculum": True})}),
        cite="santoro2016mann"),
    MethodSpec(
        "siamese", "Siamese network", "Siamese net", "metric", "#332288", "05_metric_based",
        "verification loss on pairs", "embedding + distance", "any N, K",
        fewshot=_metric_learner(metric.SiameseNet, "most similar support image"),
        cite="koch2015siamese"),
    MethodSpec(
        "matching", "Matching network", "Matching net", "metric", "#56B4E9", "05_metric_based",
        "attention over support examples", "embedding", "any N, K",
        fewshot=_metric_learner(metric.MatchingNet, "attention over the support set"),
        cite="vinyals2016matching", published={"5w1s": 98.1, "5w5s": 98.9, "20w1s": 93.8},
        published_source="vinyals2016matching"),
    MethodSpec(
        "relation", "Relation network", "Relation net", "metric", "#117733", "05_metric_based",
        "learned relation module on feature maps", "embedding + comparison", "any N, K",
        fewshot=_metric_learner(metric.RelationNet, "learned comparison with class means"),
        cite="sung2018relation", published={"5w1s": 99.6, "5w5s": 99.8, "20w1s": 97.6},
        published_source="sung2018relation"),
    MethodSpec(
        "protonet", "Prototypical network", "ProtoNet", "metric", "#E69F00", "05_metric_based",
        "softmax over distances to class means", "embedding", "any N, K",
        fewshot=_metric_learner(metric.ProtoNet, "distances to class means"),
        cite="snell2017protonet", published={"5w1s": 98.8, "5w5s": 99.7, "20w1s": 96.0},
        published_source="snell2017protonet"),
    MethodSpec(
        "maml", "MAML", "MAML", "optimization", "#0072B2", "07_maml",
        "$\\nabla_\\theta \\mathcal{L}_Q(\\phi^{(k)}(\\theta))$ through $k$ steps",
        "initialisation", "fixed N (head); any K",
        fewshot=FewShotSpec(
            accuracy=_maml_accuracy, build=_seeded_conv4, sampler=_episodes, meta_grad=_maml_grad,
            settings={"inner_steps": 1, "inner_lr": 0.4, "test_steps": 3,
                      "options": {"task_chunk_size": 1}},
            by_way={20: _MAML_20}, per_way=True,
            sweep={20: ({}, {"inner_steps": 5})},
            adaptation="SGD steps on every weight"),
        sinusoid={"overrides": {}, "shots": (5, 10), "short_run": True, "shown": (10, 5)},
        rl={"trainer": rl_maml.train_maml_nav, "policy": rl_maml.make_policy,
            "paper": {"iterations": 500, "meta_batch_size": 40, "hidden": [100, 100]}},
        cite="finn2017maml",
        published={"5w1s": 98.7, "5w5s": 99.9, "20w1s": 95.8}, published_source="finn2017maml",
        published_miniimagenet={"5w1s": 48.70, "5w5s": 63.11},
        published_miniimagenet_source="finn2017maml"),
    MethodSpec(
        "fomaml", "First-order MAML", "FOMAML", "optimization", "#D55E00", "08_fomaml",
        "$\\nabla_\\phi \\mathcal{L}_Q(\\phi^{(k)})$", "initialisation", "fixed N (head); any K",
        fewshot=FewShotSpec(
            accuracy=_maml_accuracy, build=_seeded_conv4, sampler=_episodes, meta_grad=_maml_grad,
            settings={"inner_steps": 1, "inner_lr": 0.4, "test_steps": 3,
                      "options": {"task_chunk_size": 1}},
            by_way={20: _MAML_20}, per_way=True,
            sweep={5: ({}, {"inner_lr": 0.1}, {"meta_batch_size": 16}),
                   20: ({}, {"inner_lr": 0.4}, {"meta_batch_size": 8})},
            adaptation="SGD steps on every weight"),
        sinusoid={"overrides": {}, "shots": (10,), "short_run": True, "shown": (10,)},
        cite="finn2017maml",
        published={"5w1s": 98.3, "5w5s": 99.2, "20w1s": 89.4},
        published_source="nichol2018reptile",
        published_miniimagenet={"5w1s": 48.07, "5w5s": 63.15},
        published_miniimagenet_source="finn2017maml"),
    MethodSpec(
        "reptile", "Reptile", "Reptile", "optimization", "#009E73", "09_reptile",
        "$\\theta \\leftarrow \\theta + \\varepsilon\\,\\mathrm{mean}_i(\\phi_i - \\theta)$",
        "initialisation", "fixed N (head); any K",
        fewshot=FewShotSpec(
            accuracy=_maml_accuracy, build=_seeded_conv4, sampler=_episodes,
            meta_grad=_reptile_grad,
            settings={"inner_steps": 5, "inner_lr": 0.1, "test_steps": 10,
                      "options": {"data": "support+query", "batched": False}},
            by_way={20: _EPISODIC_20}, per_way=True,
            sweep={5: ({}, {"optimizer": "sgd", "meta_lr": 1.0, "anneal": True},
                       {"test_steps": 50}),
                   20: ({}, {"optimizer": "sgd", "meta_lr": 1.0, "anneal": True},
                        {"inner_steps": 10})},
            adaptation="SGD steps on every weight"),
        sinusoid={"overrides": {"inner_steps": 10, "inner_lr": 0.01,
                                "options": {"data": "support+query"}}, "shots": (10,),
                  "short_run": True},
        cite="nichol2018reptile", published={"5w1s": 97.7, "5w5s": 99.5, "20w1s": 89.4},
        published_source="nichol2018reptile"),
    MethodSpec(
        "anil", "ANIL", "ANIL", "optimization", "#7570B3", "11_comparison",
        "SGD steps on the head only; features fixed", "initialisation (body: features)",
        "fixed N (head); any K",
        fewshot=FewShotSpec(
            accuracy=lambda m, c: lambda p, b: anil.anil_accuracy(m, p, b, c["test_steps"],
                                                                  c["inner_lr"]),
            build=_seeded_conv4, sampler=_episodes,
            meta_grad=lambda m, c: lambda p, b: anil.anil_meta_gradient(
                m, p, b, c["inner_steps"], c["inner_lr"]),
            settings={"inner_steps": 1, "inner_lr": 0.4, "test_steps": 3},
            by_way={20: _MAML_20}, per_way=True, adaptation="SGD steps on the head only"),
        cite="raghu2020anil"),
    MethodSpec(
        "protomaml", "ProtoMAML", "ProtoMAML", "optimization", "#E7298A", "11_comparison",
        "SGD steps from a prototype-initialised head", "initialisation (body)",
        "any N (head from prototypes); any K",
        fewshot=FewShotSpec(
            accuracy=lambda m, c: lambda p, b: protomaml.protomaml_accuracy(
                m, p, b, c["test_steps"], c["inner_lr"]),
            build=_seeded_conv4, sampler=_episodes,
            meta_grad=lambda m, c: lambda p, b: protomaml.protomaml_meta_gradient(
                m, p, b, c["inner_steps"], c["inner_lr"],
                task_chunk_size=c["options"]["task_chunk_size"]),
            settings={"inner_steps": 1, "inner_lr": 0.1, "test_steps": 3,
                      "options": {"task_chunk_size": 1}},
            by_way={20: _MAML_20}, per_way=True,
            adaptation="SGD steps on every weight, head from prototypes"),
        cite="triantafillou2020metadataset"),
    MethodSpec(
        "imaml", "iMAML", "iMAML", "optimization", "#CC79A7", "10_imaml",
        "$(I + H/\\lambda)^{-1} \\nabla \\mathcal{L}_Q(\\phi^\\star)$ by CG",
        "initialisation (proximal prior)", "fixed N (head); any K",
        sinusoid={"overrides": {"inner_steps": 20, "inner_lr": 0.01,
                                "options": {"imaml_lambda": 10.0, "cg_steps": 5, "damping": 0.0,
                                            "backtrack": True}}, "shots": (10,),
                  "short_run": True},
        cite="rajeswaran2019imaml"),
    MethodSpec(
        "metasgd", "Meta-SGD", "Meta-SGD", "optimization", "#882255", "07_maml",
        "MAML's step with a learned rate per weight", "initialisation + step sizes",
        "fixed N (head); any K",
        sinusoid={"overrides": {}, "shots": (10,)}, cite="li2017metasgd"),
    MethodSpec(
        "rl2", "RL²", "RL²", "black-box", "#999933", "12_meta_rl",
        "a recurrent policy reads the whole history, trained by RL", "an RL algorithm",
        "fixed action space", cite="duan2016rl2",
        rl={"trainer": rl2.train_rl2_bandit, "policy": rl2.make_rl2_policy,
            "paper": {"iterations": 3000, "meta_batch_size": 256, "hidden": 128}}),
]

#: Every method of the course, by key, in the few-shot table's row order.
METHODS: dict[str, MethodSpec] = {s.name: s for s in _SPECS}
# The figures' palette: every method drawn in a figure (one-word keys; the pixel baseline is
# never drawn, so it has none).
palette.register_methods({s.name: (s.label, s.color) for s in _SPECS if s.name.isalpha()})


def spec(name: str) -> MethodSpec:
    """The spec of method ``name``; ``KeyError`` naming the known methods."""
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known: {list(METHODS)}")
    return METHODS[name]


def fewshot_methods() -> list[str]:
    """The few-shot table's rows, in order."""
    return [k for k, s in METHODS.items() if s.fewshot is not None]


def sinusoid_methods() -> list[str]:
    """Methods with sinusoid checkpoints (chapters 6–11)."""
    return [k for k, s in METHODS.items() if s.sinusoid is not None]


def short_run_methods() -> list[str]:
    """Chapter 11's short meta-training runs: the sinusoid methods that learn an initialisation
    with a fixed step size."""
    return [k for k, s in METHODS.items() if s.sinusoid and s.sinusoid.get("short_run")]
