"""Black-box (model-based) meta-learning: a network reads the training set and predicts.

The lecture's view: a learner network ``f_θ`` maps a task's training set to task parameters,
``φ_i = f_θ(D_i^tr)``, and a predictor ``g_{φ_i}`` answers test inputs; ``θ`` is trained end to
end on ``L(f_θ(D_i^tr), D_i^ts)`` over many tasks. Two instances:

- :class:`BlackBoxRegressor` (sinusoid regression): a permutation-invariant set encoder
  ``h = (1/K) Σ_i ψ([x_i, y_i])`` followed by either ``mode="params"`` — a hypernetwork
  emitting *all* weights of a target MLP ``g_φ`` — or ``mode="context"`` — a small context
  vector ``φ`` fed, with ``x``, to a shared decoder ``g_θ([x, φ])``.
  :func:`hypernetwork_parameter_count` shows why the first does not scale.
- :class:`BlackBoxClassifier` (N-way K-shot images), in the style of Santoro et al. (2016): the
  support set is read as a *sequence*, the label of step ``t`` presented at step ``t + 1``
  together with the next image (:func:`label_offset_inputs`), by an LSTM (``core="lstm"``), an
  LSTM controller with an external memory read by cosine similarity and written to the least
  recently used slot (``core="mann"``, :class:`MANNCore`), or soft attention over the completed
  (image, label) pairs (``core="attention"``, :class:`AttentionCore`). Each query is one more
  step after the support sequence. Recurrent cores depend on the support order, so training
  shuffles it (:func:`shuffle_support`, :class:`ShuffledEpisodes`).

Shapes follow :mod:`course_pkg.algorithms.metric`: ``forward(x_support, y_support, x_query,
n_way, y_query=None) -> (scores (T, Q, N), loss (T,) | None)`` for the classifier, and
``forward(x_support, y_support, x_query, y_query=None) -> (predictions (T, Q, 1), loss (T,) |
None)`` for the regressor. Both train with :func:`course_pkg.algorithms.training.meta_train`
(:func:`train_blackbox_classifier`, :func:`train_regressor`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from course_pkg.algorithms.core import Params, as_task_batch
from course_pkg.algorithms.metric import EpisodeSampler, episodic_gradient, one_hot
from course_pkg.algorithms.training import MetaConfig, meta_train
from course_pkg.models import MLP, Conv4
from course_pkg.models import params as model_params
from course_pkg.tasks import SinusoidTasks, TaskBatch
from course_pkg.utils import as_generator, check_same_device, get_device, seeded

__all__ = [
    "BlackBoxClassifier",
    "BlackBoxRegressor",
    "AttentionCore",
    "LSTMCore",
    "MANNCore",
    "ShuffledEpisodes",
    "count_parameters",
    "curriculum_ways",
    "fewer_ways",
    "hypernetwork_parameter_count",
    "label_offset_inputs",
    "make_blackbox_classifier",
    "regression_gradient",
    "regression_loss",
    "shuffle_support",
    "train_blackbox_classifier",
    "train_regressor",
]


def count_parameters(module: nn.Module | Mapping[str, torch.Tensor]) -> int:
    """Number of scalar parameters of a module (or a parameter dict)."""
    values = module.values() if isinstance(module, Mapping) else module.parameters()
    return int(sum(p.numel() for p in values))


def hypernetwork_parameter_count(target: nn.Module | int, encoder_width: int = 64) -> dict:
    """What it costs to output all parameters of ``target`` from an ``encoder_width`` summary.

    Returns ``{"target": P, "output_layer": (encoder_width + 1)·P}``: the last linear layer of a
    hypernetwork emitting the ``P`` parameters of ``target`` (a module or a count) has that many
    weights, so the learner grows linearly with the predictor, times the summary width.
    """
    p = target if isinstance(target, int) else count_parameters(target)
    return {"target": p, "output_layer": (encoder_width + 1) * p}


# ----------------------------------------------------------------------------- regression
class BlackBoxRegressor(nn.Module):
    """``φ = f_θ(D^tr)`` for 1-D regression; see the module docstring.

    ``mode="params"``: ``φ`` holds every weight of ``MLP(1, target_hidden, 1)`` and the
    prediction is ``g_φ(x)``. ``mode="context"``: ``φ ∈ R^context_dim`` and the prediction is
    ``MLP(1 + context_dim, decoder_hidden, 1)([x, φ])``. The set encoder
    ``ψ = MLP(2, (encoder_width,), encoder_width)`` is averaged over the ``K`` support pairs,
    then ``ρ = MLP(encoder_width, (encoder_width,), dim φ)``; any ``K ≥ 1`` works.
    """

    def __init__(self, mode: str = "context", encoder_width: int = 64,
                 target_hidden: Sequence[int] = (40, 40), context_dim: int = 16,
                 decoder_hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        if mode not in ("context", "params"):
            raise ValueError(f"mode must be 'context' or 'params', got {mode!r}")
        self.mode = mode
        self.encoder_width = encoder_width
        if mode == "params":
            self.target = MLP(1, tuple(target_hidden), 1)
            self._names = [k for k, _ in self.target.named_parameters()]
            self._shapes = [v.shape for _, v in self.target.named_parameters()]
            out = count_parameters(self.target)
            # the target's own weights are never used: φ replaces them
            for p in self.target.parameters():
                p.requires_grad_(False)
        else:
            self.decoder = MLP(1 + context_dim, tuple(decoder_hidden), 1)
            out = context_dim
        self.phi_dim = out
        self.psi = MLP(2, (encoder_width,), encoder_width)
        self.rho = MLP(encoder_width, (encoder_width,), out)
        if mode == "params":
            # start near a sensibly initialised target network: small output weights, and a
            # bias equal to a standard initialisation of the target
            with torch.no_grad():
                last = self.rho.net[-1]
                last.weight.mul_(0.01)
                last.bias.copy_(torch.cat([v.detach().flatten()
                                           for v in self.target.parameters()]))

    def adapt(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        """The learner ``f_θ``: support ``(T, K, 1)``, ``(T, K, 1)`` → ``φ (T, dim φ)``."""
        h = self.psi(torch.cat([x_support, y_support], dim=-1)).relu().mean(dim=1)
        return self.rho(h)

    def unflatten(self, phi: torch.Tensor) -> dict[str, torch.Tensor]:
        """``φ (T, P)`` → the target MLP's parameter dict ``{name: (T, *shape)}`` (params mode)."""
        out, i = {}, 0
        for name, shape in zip(self._names, self._shapes):
            n = math.prod(shape)
            out[name] = phi[:, i:i + n].reshape(phi.shape[0], *shape)
            i += n
        return out

    def predict(self, phi: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        """``g_φ(x)`` for ``φ (T, dim φ)`` and ``x_query (T, Q, 1)`` → ``(T, Q, 1)``."""
        if self.mode == "params":
            return torch.vmap(lambda p, x: functional_call(self.target, p, (x,)))(
                self.unflatten(phi), x_query)
        ctx = phi.unsqueeze(1).expand(-1, x_query.shape[1], -1)
        return self.decoder(torch.cat([x_query, ctx], dim=-1))

    def forward(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
                y_query: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predictions ``(T, Q, 1)`` and, with ``y_query``, the per-task MSE ``(T,)``."""
        if x_support.dim() != 3 or x_support.shape[-1] != 1:
            raise ValueError(f"expected x_support of shape (tasks, K, 1), got "
                             f"{tuple(x_support.shape)}")
        pred = self.predict(self.adapt(x_support, y_support), x_query)
        if y_query is None:
            return pred, None
        if pred.shape != y_query.shape:
            raise ValueError(f"predictions {tuple(pred.shape)} and y_query "
                             f"{tuple(y_query.shape)} differ in shape")
        return pred, ((pred - y_query) ** 2).flatten(1).mean(1)


def regression_loss(model: nn.Module, params: Mapping[str, torch.Tensor] | None,
                    batch: TaskBatch, reduce: bool = True) -> torch.Tensor:
    """Query MSE of a :class:`BlackBoxRegressor` (mean over tasks, or ``(T,)``)."""
    batch = as_task_batch(batch)
    p = dict(model.named_parameters()) if params is None else dict(params)
    check_same_device(p, batch.x_support)
    _, loss = functional_call(model, p, (batch.x_support, batch.y_support, batch.x_query),
                              {"y_query": batch.y_query})
    return loss.mean() if reduce else loss


def regression_gradient(model: nn.Module, params: Mapping[str, torch.Tensor], batch: TaskBatch
                        ) -> tuple[torch.Tensor, Params]:
    """``(loss, grads)`` of :func:`regression_loss` for ``meta_train`` (frozen entries get none)."""
    theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        loss = regression_loss(model, theta, batch)
        grads = torch.autograd.grad(loss, list(theta.values()), allow_unused=True)
    return loss.detach(), {k: g for k, g in zip(theta, grads) if g is not None}


def train_regressor(
    model: BlackBoxRegressor,
    iterations: int = 2000,
    meta_batch_size: int = 25,
    k_support: int = 10,
    k_query: int = 10,
    meta_lr: float = 1e-3,
    seed: int = 0,
    tasks: Any = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[Params, dict[str, list]]:
    """Meta-train a :class:`BlackBoxRegressor` on sinusoid tasks (Adam, ``meta_train``).

    Returns ``(params, history)``; the model's own parameters stay unchanged.
    """
    config = MetaConfig(iterations=iterations, meta_batch_size=meta_batch_size,
                        k_support=k_support, k_query=k_query, meta_lr=meta_lr, seed=seed,
                        method=f"blackbox-{model.mode}")
    trainable = {k: v for k, v in model_params(model, detach=True).items()
                 if dict(model.named_parameters())[k].requires_grad}

    def grad_fn(meta_params: Params, batch: TaskBatch):
        return regression_gradient(model, meta_params, batch)

    return meta_train(model, tasks or SinusoidTasks(), config, meta_grad_fn=grad_fn,
                      params=trainable, device=device, progress=progress)


# ----------------------------------------------------------------------------- sequences
def label_offset_inputs(z: torch.Tensor, y: torch.Tensor, n_way: int) -> torch.Tensor:
    """Santoro et al.'s input sequence: step ``t`` sees ``[z_t, onehot(y_{t−1})]``.

    ``z (T, S, D)`` embeddings, ``y (T, S)`` labels → ``(T, S, D + N)``; step 0 gets a zero label
    vector. The label of the last support example is not in the sequence; it is fed with each
    query (see :class:`BlackBoxClassifier`).
    """
    if z.shape[:2] != y.shape:
        raise ValueError(f"z {tuple(z.shape)} and y {tuple(y.shape)} disagree on (tasks, steps)")
    prev = one_hot(y, n_way, z.dtype)
    prev = torch.cat([torch.zeros_like(prev[:, :1]), prev[:, :-1]], dim=1)
    return torch.cat([z, prev], dim=-1)


def shuffle_support(batch: TaskBatch, generator: torch.Generator | int = 0) -> TaskBatch:
    """A copy of ``batch`` whose support set is in a random order, independently per task."""
    g = as_generator(generator)
    t, s = batch.y_support.shape
    order = torch.argsort(torch.rand(t, s, generator=g), dim=1).to(batch.device)
    xs = torch.gather(batch.x_support, 1,
                      order.view(t, s, *[1] * (batch.x_support.dim() - 2)).expand_as(
                          batch.x_support))
    ys = torch.gather(batch.y_support, 1, order)
    return TaskBatch(xs, ys, batch.x_query, batch.y_query, dict(batch.info))


def fewer_ways(batch: TaskBatch, n: int) -> TaskBatch:
    """``batch`` restricted to the classes ``0 … n−1`` of each episode, in their order:
    ``x_support (T, N·K, …) → (T, n·K, …)``, the query likewise. Labels keep their values, so
    an ``N``-way model reads an ``n``-way episode."""
    def keep(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = y < n
        per = int(mask[0].sum())
        if per == 0 or not bool((mask.sum(1) == per).all()):
            raise ValueError(f"every episode needs examples of the classes 0..{n - 1}")
        return x[mask].view(y.shape[0], per, *x.shape[2:]), y[mask].view(y.shape[0], per)

    xs, ys = keep(batch.x_support, batch.y_support)
    xq, yq = keep(batch.x_query, batch.y_query)
    return TaskBatch(xs, ys, xq, yq, dict(batch.info))


def curriculum_ways(iteration: int, n_way: int, iterations: int, start: int = 2) -> int:
    """Classes per episode at ``iteration`` of a curriculum from ``start``-way episodes to
    ``n_way``-way ones in equal stages over ``iterations`` (``n_way`` from then on)."""
    if not 2 <= start <= n_way:
        raise ValueError(f"need 2 <= start <= n_way, got start={start}, n_way={n_way}")
    if iterations <= 0 or iteration >= iterations:
        return n_way
    return min(n_way, start + (n_way - start + 1) * iteration // iterations)


class ShuffledEpisodes(EpisodeSampler):
    """:class:`~course_pkg.algorithms.metric.EpisodeSampler` whose episodes come with the
    support set shuffled per task (from the same seeded generator)."""

    def sample(self, num_tasks: int, k_support: int, k_query: int,
               generator: torch.Generator | int | None = None,
               device: str | torch.device | None = None) -> TaskBatch:
        batch = super().sample(num_tasks, k_support, k_query, generator, device)
        g = generator if isinstance(generator, torch.Generator) else torch.Generator(
        ).manual_seed(0 if generator is None else int(generator) + 1)
        return shuffle_support(batch, g)


class LSTMCore(nn.Module):
    """An LSTM over the sequence; state ``(h, c)``; output ``h``."""

    def __init__(self, input_dim: int, state: int = 128) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(input_dim, state)
        self.output_dim = state

    def initial_state(self, batch: int, ref: torch.Tensor) -> tuple[torch.Tensor, ...]:
        z = ref.new_zeros(batch, self.cell.hidden_size)
        return (z, z)

    def step(self, u: torch.Tensor, state: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        h, c = self.cell(u, state)
        return h, (h, c)


class MANNCore(nn.Module):
    """LSTM controller with an external memory (Santoro et al., 2016), one read/write head.

    At each step the controller (input ``[u_t, r_{t−1}]``) emits a key ``k_t`` and a gate
    ``σ(a_t)``. Writing: ``w^w_t = σ(a_t) w^r_{t−1} + (1 − σ(a_t)) w^{lu}_{t−1}``, the least-used
    slot is erased, ``M_t = M_{t−1} ⊙ (1 − w^{lu}_{t−1}) + w^w_t k_tᵀ``. Reading:
    ``w^r_t = softmax_i(β_t cos(k_t, M_t(i)))``, ``r_t = Σ_i w^r_t(i) M_t(i)``. Usage:
    ``w^u_t = γ w^u_{t−1} + w^r_t + w^w_t``; ``w^{lu}_t`` is one-hot on the least-used slot.
    The output is ``[h_t, r_t]``.
    """

    def __init__(self, input_dim: int, state: int = 128, slots: int = 32, width: int = 64,
                 gamma: float = 0.95) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(input_dim + width, state)
        self.key = nn.Linear(state, width)
        self.gate = nn.Linear(state, 1)
        self.strength = nn.Linear(state, 1)
        self.slots, self.width, self.gamma = slots, width, gamma
        self.output_dim = state + width

    def initial_state(self, batch: int, ref: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = ref.new_zeros(batch, self.cell.hidden_size)
        memory = ref.new_full((batch, self.slots, self.width), 1e-6)
        w_r = ref.new_zeros(batch, self.slots)
        usage = ref.new_zeros(batch, self.slots)
        read = ref.new_zeros(batch, self.width)
        return (h, h.clone(), memory, w_r, usage, read)

    def step(self, u: torch.Tensor, state: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        h, c, memory, w_r_prev, usage, read = state
        h, c = self.cell(torch.cat([u, read], -1), (h, c))
        k = torch.tanh(self.key(h))
        gate = torch.sigmoid(self.gate(h))
        beta = 1.0 + F.softplus(self.strength(h))
        least_used = one_hot(usage.argmin(-1), self.slots, usage.dtype)
        w_w = gate * w_r_prev + (1 - gate) * least_used
        memory = memory * (1 - least_used).unsqueeze(-1) + w_w.unsqueeze(-1) * k.unsqueeze(1)
        sim = F.cosine_similarity(k.unsqueeze(1), memory, dim=-1, eps=1e-8)
        w_r = torch.softmax(beta * sim, dim=-1)
        read = (w_r.unsqueeze(-1) * memory).sum(1)
        usage = self.gamma * usage + w_r + w_w
        return torch.cat([h, read], -1), (h, c, memory, w_r, usage, read)


class AttentionCore(nn.Module):
    """A soft-attention core for label-offset sequences (a memory written by attention).

    The sequence is ``u_t = [z_t, onehot(y_{t−1})]``. The label of step ``j`` arrives at step
    ``j + 1``, so from then on the pair ``p_j = [z_j, onehot(y_j)]`` (image part of ``u_j``, label
    part of ``u_{j+1}``) can be stored: a causal convolution of width 2. Step ``t`` (a support
    step, or a query at position ``S``) reads the complete pairs ``j < t``,

        o_t = Σ_{j < t} softmax_j(⟨W z_t, W z_j⟩ / √d) · V p_j,

    with one projection ``W`` for both sides, so that similar images attract each other from
    the start; ``[z_t, o_t]`` is the output. Step 0 reads nothing (``o_0 = 0``).
    """

    def __init__(self, input_dim: int, n_way: int, width: int = 64) -> None:
        super().__init__()
        self.image_dim = input_dim - n_way
        self.key = nn.Linear(self.image_dim, width)
        self.value = nn.Linear(input_dim, width)
        self.width = width
        self.output_dim = self.image_dim + width

    def forward(self, support_inputs: torch.Tensor, query_inputs: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(T, S, D + N)``, ``(T, Q, D + N)`` → outputs ``(T, S, D + w)``, ``(T, Q, D + w)``."""
        d = self.image_dim
        zs, zq = support_inputs[..., :d], query_inputs[..., :d]
        # labels y_0..y_{S-1}: the label parts of steps 1..S-1, and of any query (step S)
        labels = torch.cat([support_inputs[:, 1:, d:], query_inputs[:, :1, d:]], dim=1)
        values = self.value(torch.cat([zs, labels], -1))  # (T, S, w)
        ks, kq = self.key(zs), self.key(zq)
        scale = 1.0 / math.sqrt(self.width)
        s = zs.shape[1]
        past = torch.ones(s, s, dtype=torch.bool, device=zs.device).tril(-1)  # j < t
        logits = (ks @ ks.transpose(1, 2) * scale).masked_fill(~past, -1e9)
        weights = torch.softmax(logits, -1) * past.any(-1, keepdim=True)  # row 0 reads nothing
        out_s = weights @ values
        out_q = torch.softmax(kq @ ks.transpose(1, 2) * scale, -1) @ values
        return torch.cat([zs, out_s], -1), torch.cat([zq, out_q], -1)


class BlackBoxClassifier(nn.Module):
    """Sequence learner for ``n_way``-way episodes: Conv4 embedding → core → linear → logits.

    The support set is read in the given order with labels offset by one step
    (:func:`label_offset_inputs`); query ``j`` is one further step from the state after the
    support sequence, with input ``[f(x_j), onehot(y_last)]`` (queries do not see each other).
    Scores are the query logits; the loss is the cross-entropy on the queries plus
    ``support_weight`` × that on the support steps (each support example predicted before its
    label is shown; ``support_weight=1`` scores every step as Santoro et al. do, the default 0
    trains on the queries only).
    """

    method = "blackbox"

    def __init__(self, n_way: int = 5, hidden: int = 64, core: str = "attention",
                 state: int = 128, slots: int = 32, width: int = 64,
                 support_weight: float = 0.0) -> None:
        super().__init__()
        self.n_way = n_way
        self.encoder = Conv4(1, None, hidden)
        d = self.encoder.embedding_dim + n_way
        if core == "lstm":
            self.core = LSTMCore(d, state)
        elif core == "mann":
            self.core = MANNCore(d, state, slots, width)
        elif core == "attention":
            self.core = AttentionCore(d, n_way, width)
        else:
            raise ValueError(f"core must be 'lstm', 'mann' or 'attention', got {core!r}")
        self.core_name = core
        self.out = nn.Linear(self.core.output_dim, n_way)
        self.support_weight = support_weight

    def forward(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
                n_way: int, y_query: torch.Tensor | None = None) -> torch.Tensor:
        if n_way != self.n_way:
            raise ValueError(f"this black-box model outputs {self.n_way} classes; the episode "
                             f"is {n_way}-way")
        t, s = y_support.shape
        q = x_query.shape[1]
        z = torch.vmap(self.encoder.embed)(torch.cat([x_support, x_query], dim=1))
        zs, zq = z[:, :s], z[:, s:]
        inputs = label_offset_inputs(zs, y_support, n_way)  # (T, S, D + N)
        last = one_hot(y_support[:, -1], n_way, zs.dtype)  # (T, N)
        uq = torch.cat([zq, last.unsqueeze(1).expand(t, q, n_way)], -1)  # (T, Q, D + N)
        if isinstance(self.core, AttentionCore):
            os, oq = self.core(inputs, uq)
            support_logits, scores = self.out(os), self.out(oq)
        else:
            state = self.core.initial_state(t, zs)
            outs = []
            for i in range(s):
                o, state = self.core.step(inputs[:, i], state)
                outs.append(o)
            support_logits = self.out(torch.stack(outs, 1))  # (T, S, N)
            rep = tuple(x.repeat_interleave(q, dim=0) for x in state)
            o, _ = self.core.step(uq.reshape(t * q, -1), rep)
            scores = self.out(o).view(t, q, n_way)
        if y_query is None:
            return scores, None
        q_loss = F.cross_entropy(scores.flatten(0, 1), y_query.flatten(), reduction="none")
        loss = q_loss.view(t, q).mean(1)
        if self.support_weight:
            sl = support_logits
            s_loss = F.cross_entropy(sl.flatten(0, 1), y_support.flatten(), reduction="none")
            loss = loss + self.support_weight * s_loss.view(t, s).mean(1)
        return scores, loss


def make_blackbox_classifier(n_way: int = 5, hidden: int = 64, seed: int | None = 0,
                             **kwargs: Any) -> BlackBoxClassifier:
    """:class:`BlackBoxClassifier` with reproducible initial weights when ``seed`` is given."""
    with seeded(seed):
        return BlackBoxClassifier(n_way, hidden, **kwargs)


def train_blackbox_classifier(
    model: BlackBoxClassifier,
    k_support: int = 1,
    k_query: int = 5,
    iterations: int = 300,
    meta_batch_size: int = 4,
    meta_lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[Params, dict[str, list]]:
    """Train on shuffled ``model.n_way``-way episodes of the glyph training split (Adam,
    ``meta_train``). Returns ``(params, history)``."""
    config = MetaConfig(iterations=iterations, meta_batch_size=meta_batch_size,
                        k_support=k_support, k_query=k_query, meta_lr=meta_lr, seed=seed,
                        method=f"blackbox-{model.core_name}", grad_clip=10.0)

    def grad_fn(meta_params: Params, batch: TaskBatch):
        return episodic_gradient(model, meta_params, batch)

    return meta_train(model, ShuffledEpisodes(model.n_way), config, meta_grad_fn=grad_fn,
                      params=model_params(model, detach=True), device=get_device(device),
                      progress=progress)
