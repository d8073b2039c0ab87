"""Metric-based meta-learning: Siamese, Matching, Relation and Prototypical networks.

Every method here models the class of a query ``x`` given a support set
``S = {(x_i, y_i)}`` as a (learned) similarity-weighted vote,

    P_θ(y = n | x, S) ∝ Σ_i k_θ(x, x_i) · 1[y_i = n],

and differs only in the kernel ``k_θ`` built on an embedding ``f_θ`` (a
:class:`~course_pkg.models.Conv4` without head):

- :class:`SiameseNet` (Koch et al., 2015): ``p(same | x, x_i) = σ(wᵀ|f(x) − f(x_i)| + b)``,
  trained on verification pairs (binary cross-entropy), then class = most similar support;
- :class:`MatchingNet` (Vinyals et al., 2016): ``a(x, x_i) = softmax_i(s · cos(f(x), g(x_i)))``,
  ``P(y | x, S) = Σ_i a(x, x_i) onehot(y_i)``; optional full-context embeddings (``fce=True``);
- :class:`RelationNet` (Sung et al., 2018): a learned relation module (a conv block and two
  linear layers) ``r(x, n) = σ(g_φ([f(x), c_n]))`` on feature maps, with ``c_n`` the class mean,
  regressed onto ``1[y = n]`` (MSE);
- :class:`ProtoNet` (Snell et al., 2017): prototypes ``c_n = mean_{i: y_i = n} f(x_i)``,
  ``P(y = n | x) = softmax_n(−‖f(x) − c_n‖²)``.

Shapes. Episodes come as a :class:`~course_pkg.tasks.TaskBatch` from
:func:`course_pkg.data.episodes`: ``x_support (T, N·K, C, H, W)``, ``y_support (T, N·K)`` with
labels ``0..N−1``, ``x_query (T, Q, C, H, W)``, ``y_query (T, Q)``. Every learner is an
``nn.Module`` whose ``forward(x_support, y_support, x_query, n_way, y_query=None)`` returns
``(scores (T, Q, N), per-task loss (T,) or None)``; the predicted class is ``scores.argmax(-1)``.
The embedding runs per task with ``torch.vmap`` (BatchNorm statistics of one episode never mix
with another's); everything after it is batched over the task dimension directly. The pure
functions (:func:`class_prototypes`, :func:`prototypical_logits`, :func:`matching_attention`, …)
accept any leading batch dimensions.

Training uses the shared loop :func:`course_pkg.algorithms.training.meta_train` with
:func:`episodic_gradient` as its ``meta_grad_fn`` and :class:`EpisodeSampler` as task sampler
(:func:`train_episodic`); the four methods are also registered there as algorithms
``"protonet"``, ``"matching"``, ``"relation"`` and ``"siamese"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from course_pkg.algorithms.core import LossFn, MetaGradFn, Params, as_task_batch
from course_pkg.algorithms.training import MetaConfig, meta_train
from course_pkg.models import Conv4, conv_block
from course_pkg.models import params as model_params
from course_pkg.tasks import TaskBatch
from course_pkg.utils import check_same_device, get_device, seeded

__all__ = [
    "EpisodeSampler",
    "EpisodicLearner",
    "MatchingNet",
    "ProtoNet",
    "RelationNet",
    "SiameseNet",
    "accuracy",
    "check_episode",
    "class_prototypes",
    "cosine_similarity",
    "episode_scores",
    "episodic_gradient",
    "episodic_loss",
    "evaluate",
    "make_episodic_grad_fn",
    "make_learner",
    "matching_attention",
    "matching_log_probs",
    "one_hot",
    "prototypical_logits",
    "prototypical_loss",
    "squared_euclidean",
    "train_episodic",
]


# ----------------------------------------------------------------------------- checks
def check_episode(
    y_support: torch.Tensor, n_way: int | None = None, y_query: torch.Tensor | None = None
) -> tuple[int, int]:
    """Validate episode labels and return ``(N, K)``.

    ``y_support`` is ``(T, S)`` or ``(S,)`` int64. Every task must use the labels ``0..N−1``
    (``N`` inferred as ``max + 1`` when ``n_way`` is None), each exactly ``K`` times, so
    ``S = N·K``. ``y_query`` (same leading shape) must lie in ``0..N−1``. Raises ``ValueError``
    with the offending numbers otherwise. Not for use inside ``vmap`` (it reads values).
    """
    ys = y_support if y_support.dim() == 2 else y_support.unsqueeze(0)
    if ys.dim() != 2:
        raise ValueError(f"y_support must be (tasks, N*K) or (N*K,), got {tuple(y_support.shape)}")
    if ys.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be integer class indices, got dtype {ys.dtype}")
    if ys.numel() == 0:
        raise ValueError("the support set is empty")
    lo, hi = int(ys.min()), int(ys.max())
    n = hi + 1 if n_way is None else int(n_way)
    if lo < 0 or hi >= n:
        raise ValueError(f"support labels must lie in 0..{n - 1} for a {n}-way episode; "
                         f"found labels from {lo} to {hi}")
    counts = (ys[..., None] == torch.arange(n, device=ys.device)).sum(1)  # (T, N)
    k = int(counts[0, 0])
    if not bool((counts == k).all()) or k == 0:
        bad = counts.min().item(), counts.max().item()
        raise ValueError(
            f"every class of a {n}-way episode needs the same number K ≥ 1 of support examples "
            f"(S = N·K = {ys.shape[1]}); found between {bad[0]} and {bad[1]} per class"
        )
    if y_query is not None:
        yq = y_query if y_query.dim() == ys.dim() else y_query.unsqueeze(0)
        if yq.numel() and (int(yq.min()) < 0 or int(yq.max()) >= n):
            raise ValueError(f"query labels must lie in 0..{n - 1}; found "
                             f"{int(yq.min())}..{int(yq.max())}")
    return n, k


# ----------------------------------------------------------------------------- pure functions
def one_hot(y: torch.Tensor, n_way: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(..., S)`` labels → ``(..., S, N)`` one-hot (vmap-safe: no value-dependent shapes)."""
    return (y[..., None] == torch.arange(n_way, device=y.device)).to(dtype)


def squared_euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``‖a_i − b_j‖²`` for ``a (..., M, D)``, ``b (..., N, D)`` → ``(..., M, N)``."""
    return ((a.unsqueeze(-2) - b.unsqueeze(-3)) ** 2).sum(-1)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``cos(a_i, b_j)`` for ``a (..., M, D)``, ``b (..., N, D)`` → ``(..., M, N)``."""
    an = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    bn = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    return an @ bn.transpose(-1, -2)


def class_prototypes(z_support: torch.Tensor, y_support: torch.Tensor, n_way: int) -> torch.Tensor:
    """Class means ``c_n = (1/K) Σ_{i: y_i = n} z_i``.

    ``z_support (..., S, D)``, ``y_support (..., S)`` → ``(..., N, D)``.
    """
    oh = one_hot(y_support, n_way, z_support.dtype)  # (..., S, N)
    return (oh.transpose(-1, -2) @ z_support) / oh.sum(-2).unsqueeze(-1).clamp_min(1.0)


def prototypical_logits(
    z_query: torch.Tensor, z_support: torch.Tensor, y_support: torch.Tensor, n_way: int
) -> torch.Tensor:
    """ProtoNet logits ``−‖z_q − c_n‖²``: ``z_query (..., Q, D)`` → ``(..., Q, N)``."""
    return -squared_euclidean(z_query, class_prototypes(z_support, y_support, n_way))


def prototypical_loss(
    z_query: torch.Tensor,
    y_query: torch.Tensor,
    z_support: torch.Tensor,
    y_support: torch.Tensor,
    n_way: int,
) -> torch.Tensor:
    """Mean negative log-likelihood ``−log softmax_n(−‖z_q − c_n‖²)[y_q]`` over the queries of
    one task (``z_query (Q, D)``, ``y_query (Q,)``). Scalar."""
    logits = prototypical_logits(z_query, z_support, y_support, n_way)
    return F.cross_entropy(logits, y_query)


def matching_attention(
    z_query: torch.Tensor, z_support: torch.Tensor, scale: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Matching-network attention ``a(x_q, x_i) = softmax_i(scale · cos(z_q, z_i))``.

    ``z_query (..., Q, D)``, ``z_support (..., S, D)`` → ``(..., Q, S)``, rows sum to 1. The
    paper's kernel is ``scale = 1``; a larger (learned) scale sharpens it.
    """
    return torch.softmax(scale * cosine_similarity(z_query, z_support), dim=-1)


def matching_log_probs(
    z_query: torch.Tensor,
    z_support: torch.Tensor,
    y_support: torch.Tensor,
    n_way: int,
    scale: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """``log P(y = n | x_q, S) = log Σ_i a(x_q, x_i) 1[y_i = n]`` → ``(..., Q, N)``.

    Computed as a log-sum-exp of the log-attention over each class's support examples.
    """
    logits = scale * cosine_similarity(z_query, z_support)  # (..., Q, S)
    log_a = torch.log_softmax(logits, dim=-1)
    mask = one_hot(y_support, n_way, log_a.dtype).unsqueeze(-3)  # (..., 1, S, N)
    masked = log_a.unsqueeze(-1) + torch.log(mask.clamp_min(1e-30))  # (..., Q, S, N)
    return torch.logsumexp(masked, dim=-2)


def accuracy(scores: torch.Tensor, y_query: torch.Tensor) -> torch.Tensor:
    """Per-task accuracy ``(T,)`` of ``scores (T, Q, N)`` against ``y_query (T, Q)``."""
    return (scores.argmax(-1) == y_query).float().mean(-1)


# ----------------------------------------------------------------------------- learners
class EpisodicLearner(nn.Module):
    """Base class: a Conv4 embedding (``hidden`` channels) and episode-level scoring.

    Subclasses implement ``head(zs, ys, zq, n_way, yq) -> (scores (T, Q, N), loss (T,) | None)``
    on embeddings ``zs (T, S, D)``, ``zq (T, Q, D)``.
    """

    method = "base"

    def __init__(self, hidden: int = 64, in_channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.encoder = Conv4(in_channels, None, hidden, image_size)
        self.embedding_dim = self.encoder.embedding_dim

    def embed_episode(
        self, x_support: torch.Tensor, x_query: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed each task's support and query images together (one BatchNorm batch per task).

        ``(T, S, C, H, W)``, ``(T, Q, C, H, W)`` → ``(T, S, D)``, ``(T, Q, D)``.
        """
        s = x_support.shape[1]
        z = torch.vmap(self.encoder.embed)(torch.cat([x_support, x_query], dim=1))
        return z[:, :s], z[:, s:]

    def head(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, n_way: int,
             yq: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(
        self,
        x_support: torch.Tensor,
        y_support: torch.Tensor,
        x_query: torch.Tensor,
        n_way: int,
        y_query: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores ``(T, Q, N)`` and, when ``y_query`` is given, the per-task loss ``(T,)``."""
        zs, zq = self.embed_episode(x_support, x_query)
        return self.head(zs, y_support, zq, n_way, y_query)


class ProtoNet(EpisodicLearner):
    """Prototypical network: scores ``−‖f(x) − c_n‖²``, loss = cross-entropy on them."""

    method = "protonet"

    def head(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, n_way: int,
             yq: torch.Tensor | None) -> torch.Tensor:
        logits = prototypical_logits(zq, zs, ys, n_way)
        if yq is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1), yq.flatten(), reduction="none")
        return logits, loss.view(yq.shape).mean(-1)


class MatchingNet(EpisodicLearner):
    """Matching network with cosine attention (scores = ``log P(y | x, S)``; loss = NLL).

    ``scale`` multiplies the cosine before the softmax; ``learn_scale=True`` makes ``log scale``
    a parameter (cosines of ReLU features lie in [0, 1], so the paper's ``scale = 1`` gives an
    almost uniform attention and learns slowly). ``fce=True`` adds full-context embeddings: a
    bidirectional LSTM over the support embeddings, ``g(x_i, S) = f'(x_i) + h→_i + h←_i``, and
    ``fce_steps`` steps of an attention LSTM for the query,
    ``h_k = LSTM([f'(x), r_{k−1}], h_{k−1}) + f'(x)``, ``r_k = Σ_i softmax(h_kᵀ g_i) g_i``.
    Full-context embeddings make the prediction depend on the order of the support set.
    """

    method = "matching"

    def __init__(self, hidden: int = 64, scale: float = 10.0, learn_scale: bool = True,
                 fce: bool = False, fce_steps: int = 3, **kw: Any) -> None:
        super().__init__(hidden, **kw)
        d = self.embedding_dim
        log_s = torch.tensor(math.log(scale))
        if learn_scale:
            self.log_scale = nn.Parameter(log_s)
        else:
            self.register_buffer("log_scale", log_s)
        self.fce = fce
        self.fce_steps = fce_steps
        if fce:
            self.support_lstm = nn.LSTM(d, d, batch_first=True, bidirectional=True)
            self.query_cell = nn.LSTMCell(2 * d, d)

    def _context(self, zs: torch.Tensor, zq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, _ = self.support_lstm(zs)  # (T, S, 2D)
        d = zs.shape[-1]
        g = zs + out[..., :d] + out[..., d:]
        t, q, _ = zq.shape
        fx = zq.reshape(t * q, d)
        h = torch.zeros_like(fx)
        c = torch.zeros_like(fx)
        r = torch.zeros_like(fx)
        g_rep = g.unsqueeze(1).expand(t, q, *g.shape[1:]).reshape(t * q, *g.shape[1:])
        for _ in range(self.fce_steps):
            h, c = self.query_cell(torch.cat([fx, r], -1), (h, c))
            h = h + fx
            a = torch.softmax((g_rep @ h.unsqueeze(-1)).squeeze(-1), dim=-1)  # (TQ, S)
            r = (a.unsqueeze(-1) * g_rep).sum(1)
        return g, h.view(t, q, d)

    def head(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, n_way: int,
             yq: torch.Tensor | None) -> torch.Tensor:
        if self.fce:
            zs, zq = self._context(zs, zq)
        log_p = matching_log_probs(zq, zs, ys, n_way, self.log_scale.exp())
        if yq is None:
            return log_p, None
        nll = -torch.gather(log_p, -1, yq.unsqueeze(-1)).squeeze(-1)
        return log_p, nll.mean(-1)


class RelationNet(EpisodicLearner):
    """Relation network: ``r(x, n) = σ(g_φ([f(x), c_n]))``, MSE to ``1[y = n]``.

    As in the paper the embedding ``f`` keeps spatial feature maps and the relation module
    ``g_φ`` compares them with a conv block before two linear layers: ``f`` = the first three
    Conv4 blocks (``hidden × 3 × 3`` for 28×28 inputs), ``g_φ`` = conv block on the
    concatenated maps (``2·hidden → hidden``, 1×1 after pooling) → linear ``hidden →
    relation_hidden`` → ReLU → linear → 1. ``c_n`` is the mean feature map of class ``n``'s
    support examples (the paper sums them; the mean keeps one model usable for every K).
    Scores are the relation values in (0, 1); the loss is ``Σ_n (r(x, n) − 1[y = n])²``
    averaged over the queries.
    """

    method = "relation"

    def __init__(self, hidden: int = 64, relation_hidden: int = 8, in_channels: int = 1,
                 image_size: int = 28) -> None:
        nn.Module.__init__(self)
        self.encoder = nn.Sequential(conv_block(in_channels, hidden), conv_block(hidden, hidden),
                                     conv_block(hidden, hidden))
        side = image_size // 8
        self.feature_shape = (hidden, side, side)
        self.embedding_dim = hidden * side * side
        self.relation_conv = conv_block(2 * hidden, hidden)
        self.relation_fc = nn.Sequential(
            nn.Linear(hidden * max(side // 2, 1) ** 2, relation_hidden), nn.ReLU(),
            nn.Linear(relation_hidden, 1))

    def embed_episode(self, x_support: torch.Tensor, x_query: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        s = x_support.shape[1]
        z = torch.vmap(self.encoder)(torch.cat([x_support, x_query], dim=1))  # (T, S+Q, h, w, w)
        return z[:, :s], z[:, s:]

    def relation_scores(self, zq: torch.Tensor, class_maps: torch.Tensor) -> torch.Tensor:
        """``σ(g_φ([f(x_q), c_n]))`` for one task: ``zq (Q, h, w, w)``, ``class_maps (N, h, w, w)``
        → ``(Q, N)`` (vmap over tasks; the relation block's BatchNorm sees one task's pairs)."""
        q, n = zq.shape[0], class_maps.shape[0]
        pairs = torch.cat([zq.unsqueeze(1).expand(q, n, *zq.shape[1:]),
                           class_maps.unsqueeze(0).expand(q, n, *class_maps.shape[1:])], dim=2)
        h = self.relation_conv(pairs.flatten(0, 1)).flatten(1)
        return torch.sigmoid(self.relation_fc(h)).view(q, n)

    def head(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, n_way: int,
             yq: torch.Tensor | None) -> torch.Tensor:
        t, s = zs.shape[:2]
        class_maps = class_prototypes(zs.flatten(2), ys, n_way).view(t, n_way, *zs.shape[2:])
        scores = torch.vmap(self.relation_scores)(zq, class_maps)
        if yq is None:
            return scores, None
        target = one_hot(yq, n_way, scores.dtype)
        return scores, ((scores - target) ** 2).sum(-1).mean(-1)


class SiameseNet(EpisodicLearner):
    """Siamese network: ``p(same | x, x') = σ(wᵀ|f(x) − f(x')| + b)``.

    Training is *verification*: every (query, support) pair of an episode is a labelled pair
    (same class or not), with binary cross-entropy; positives are weighted by ``N − 1`` so both
    outcomes count equally. A query's score for class ``n`` is the mean of ``p(same)`` over
    the class's ``K`` support examples (for ``K = 1``: the most similar support example wins).
    """

    method = "siamese"

    def __init__(self, hidden: int = 64, **kw: Any) -> None:
        super().__init__(hidden, **kw)
        self.verify = nn.Linear(self.embedding_dim, 1)

    def pair_logits(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        """Logits of ``p(same)`` for all pairs: ``(..., M, D)``, ``(..., S, D)`` →
        ``(..., M, S)``."""
        diff = (za.unsqueeze(-2) - zb.unsqueeze(-3)).abs()
        return self.verify(diff).squeeze(-1)

    def head(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, n_way: int,
             yq: torch.Tensor | None) -> torch.Tensor:
        logits = self.pair_logits(zq, zs)  # (T, Q, S)
        oh = one_hot(ys, n_way, logits.dtype)  # (T, S, N)
        scores = (torch.sigmoid(logits) @ oh) / oh.sum(-2, keepdim=True).clamp_min(1.0)
        if yq is None:
            return scores, None
        same = (yq.unsqueeze(-1) == ys.unsqueeze(-2)).to(logits.dtype)
        weight = torch.tensor(float(max(n_way - 1, 1)), device=logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, same, pos_weight=weight,
                                                 reduction="none")
        return scores, bce.mean(dim=(-1, -2))


def make_learner(learner: type[EpisodicLearner], hidden: int = 64, seed: int | None = 0,
                 **kwargs: Any) -> EpisodicLearner:
    """Build ``learner(hidden, **kwargs)`` (e.g. ``make_learner(ProtoNet, 32)``); with ``seed``
    the initial weights are reproducible (the global RNG is restored afterwards)."""
    if not (isinstance(learner, type) and issubclass(learner, EpisodicLearner)):
        raise TypeError(f"make_learner takes an EpisodicLearner class (ProtoNet, MatchingNet, "
                        f"RelationNet, SiameseNet), got {learner!r}")
    with seeded(seed):
        return learner(hidden, **kwargs)


# ----------------------------------------------------------------------------- batched calls
def _prepare(model: nn.Module, params: Mapping[str, torch.Tensor] | None, batch,
             need_query_labels: bool, n_way: int | None = None) -> tuple[TaskBatch, dict, int]:
    batch = as_task_batch(batch)
    p = dict(model.named_parameters()) if params is None else dict(params)
    check_same_device(p, batch.x_support)
    found, _ = check_episode(batch.y_support, None,
                             batch.y_query if need_query_labels else None)
    if n_way is not None and found > n_way:
        raise ValueError(f"the episodes have {found} classes, more than n_way={n_way}")
    n_way = found if n_way is None else n_way
    expected = getattr(model, "n_way", None)
    if expected is not None and expected != n_way:
        raise ValueError(f"this model was built for {expected}-way episodes but the batch is "
                         f"{n_way}-way; build (or load) a {n_way}-way model")
    return batch, p, n_way


def episode_scores(
    model: nn.Module,
    params: Mapping[str, torch.Tensor] | None,
    batch: TaskBatch,
    chunk_size: int | None = 50,
) -> torch.Tensor:
    """Scores ``(T, Q, N)`` of ``model`` (with ``params``, default its own) on every task of
    ``batch``, ``chunk_size`` tasks at a time, without gradients."""
    batch, p, n_way = _prepare(model, params, batch, need_query_labels=False)
    step = batch.num_tasks if chunk_size is None else chunk_size
    out = []
    with torch.no_grad():
        for lo in range(0, batch.num_tasks, step):
            xs, ys, xq = (t[lo:lo + step] for t in (batch.x_support, batch.y_support,
                                                    batch.x_query))
            scores, _ = functional_call(model, p, (xs, ys, xq, n_way))
            out.append(scores)
    return torch.cat(out)


def episodic_loss(
    model: nn.Module, params: Mapping[str, torch.Tensor] | None, batch: TaskBatch,
    reduce: bool = True, n_way: int | None = None,
) -> torch.Tensor:
    """The method's training loss on ``batch``: mean over tasks (or ``(T,)`` with
    ``reduce=False``). Differentiable w.r.t. ``params``. ``n_way``: the model's number of
    classes when the episodes use only the first of them (a curriculum); default: the
    episodes' own."""
    batch, p, n_way = _prepare(model, params, batch, need_query_labels=True, n_way=n_way)
    _, loss = functional_call(model, p, (batch.x_support, batch.y_support, batch.x_query, n_way),
                              {"y_query": batch.y_query})
    return loss.mean() if reduce else loss


def episodic_gradient(
    model: nn.Module, params: Mapping[str, torch.Tensor], batch: TaskBatch,
    n_way: int | None = None,
) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` of :func:`episodic_loss` w.r.t. ``params`` (detached), in the protocol
    of :func:`course_pkg.algorithms.training.meta_train`."""
    theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        loss = episodic_loss(model, theta, batch, n_way=n_way)
        grads = torch.autograd.grad(loss, list(theta.values()), allow_unused=True)
    return loss.detach(), {k: (g if g is not None else torch.zeros_like(v))
                           for (k, v), g in zip(theta.items(), grads)}


def evaluate(
    model: nn.Module,
    params: Mapping[str, torch.Tensor] | None,
    batch: TaskBatch,
    chunk_size: int | None = 50,
) -> torch.Tensor:
    """Per-task query accuracy ``(T,)`` (on the CPU) of ``model`` on ``batch``."""
    batch = as_task_batch(batch)
    scores = episode_scores(model, params, batch, chunk_size)
    return accuracy(scores, batch.y_query).cpu()


# ----------------------------------------------------------------------------- training
class EpisodeSampler:
    """Task sampler for :func:`~course_pkg.algorithms.training.meta_train` over N-way episodes.

    ``sample(num_tasks, k_support, k_query, generator=None, device=None)`` returns
    :func:`course_pkg.data.episodes` of ``split`` with ``k_support`` shots and ``k_query``
    queries *per class*; the episode seed is drawn from ``generator`` (a ``torch.Generator``
    or an int seed), so a seeded training run sees the same episodes every time.
    """

    def __init__(self, n_way: int = 5, split: Any = "train", source: str = "glyphs") -> None:
        if n_way < 2:
            raise ValueError(f"n_way must be ≥ 2, got {n_way}")
        self.n_way, self.split, self.source = n_way, split, source

    def sample(self, num_tasks: int, k_support: int, k_query: int,
               generator: torch.Generator | int | None = None,
               device: str | torch.device | None = None) -> TaskBatch:
        from course_pkg.data import episodes

        if isinstance(generator, torch.Generator):
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        elif generator is None:
            seed = int(torch.randint(0, 2**31 - 1, (1,)))
        else:
            seed = int(generator)
        return episodes(self.split, self.n_way, k_support, k_query, num_tasks, seed, device,
                        self.source)


def train_episodic(
    model: nn.Module,
    n_way: int = 5,
    k_support: int = 1,
    k_query: int = 5,
    iterations: int = 300,
    meta_batch_size: int = 4,
    meta_lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    sampler: Any = None,
) -> tuple[Params, dict[str, list]]:
    """Train ``model`` episodically with Adam on :func:`episodic_loss` via ``meta_train``.

    Each iteration draws ``meta_batch_size`` ``n_way``-way ``k_support``-shot episodes with
    ``k_query`` queries per class (:class:`EpisodeSampler` on the glyph training split unless
    ``sampler`` is given). Returns ``(params, history)``; ``params`` live on ``device`` and the
    model's own parameters are left unchanged.
    """
    config = MetaConfig(iterations=iterations, meta_batch_size=meta_batch_size,
                        k_support=k_support, k_query=k_query, meta_lr=meta_lr, seed=seed,
                        method=getattr(model, "method", "episodic"))
    dev = get_device(device)

    def grad_fn(meta_params: Params, batch: TaskBatch):
        return episodic_gradient(model, meta_params, batch)

    return meta_train(model, sampler or EpisodeSampler(n_way), config, meta_grad_fn=grad_fn,
                      params=model_params(model, detach=True), device=dev, progress=progress)


def make_episodic_grad_fn(model: nn.Module, config: MetaConfig | None = None,
                          loss_fn: LossFn | None = None) -> MetaGradFn:
    """``meta_grad_fn`` of an episodic learner (:func:`episodic_gradient`), for ``meta_train``
    or :func:`~course_pkg.algorithms.training.register_algorithm`."""

    def meta_grad_fn(meta_params: Params, batch: TaskBatch):
        return episodic_gradient(model, meta_params, batch)

    return meta_grad_fn

