"""Checks that several hidden tests share (imported by the test files, so a master states each
check once). They run where the test runs: in the trusted grader, in ``grader.check`` and in
otter's autograder, on plain data. Each raises ``AssertionError`` with a message for the
learner.
"""

from __future__ import annotations

from typing import Any


def check_episode(labels: Any, out: Any, n_way: int, k_support: int, k_query: int
                  ) -> list[int]:
    """Check an N-way episode ``out = (support_idx, support_y, query_idx, query_y)`` drawn from
    a dataset with class ``labels`` (1-D, one per example): shapes ``(n_way * k_support,)`` and
    ``(n_way * k_query,)``, int64, new labels ``0..n_way-1`` in blocks, no example used twice,
    each new label one original class and no original class twice.

    Returns:
        The original class behind each new label ``0..n_way-1``.
    """
    import torch

    assert out is not None and len(out) == 4, "return (support_idx, support_y, query_idx, query_y)"
    s_idx, s_y, q_idx, q_y = (torch.as_tensor(t) for t in out)
    assert s_idx.shape == (n_way * k_support,) and s_y.shape == (n_way * k_support,), (
        f"support tensors should have shape ({n_way * k_support},), got {tuple(s_idx.shape)}, "
        f"{tuple(s_y.shape)}")
    assert q_idx.shape == (n_way * k_query,) and q_y.shape == (n_way * k_query,), (
        f"query tensors should have shape ({n_way * k_query},), got {tuple(q_idx.shape)}, "
        f"{tuple(q_y.shape)}")
    assert s_idx.dtype == torch.int64 and s_y.dtype == torch.int64, (
        f"use int64 tensors, got {s_idx.dtype} and {s_y.dtype}")
    expected_s = torch.arange(n_way).repeat_interleave(k_support)
    expected_q = torch.arange(n_way).repeat_interleave(k_query)
    assert torch.equal(s_y, expected_s), (
        f"support labels should be {expected_s.tolist()}, got {s_y.tolist()}")
    assert torch.equal(q_y, expected_q), (
        f"query labels should be {expected_q.tolist()}, got {q_y.tolist()}")
    all_idx = torch.cat([s_idx, q_idx]).tolist()
    assert len(set(all_idx)) == len(all_idx), "an example is used twice (support/query overlap?)"
    labels = torch.as_tensor(labels)
    originals = []
    for c in range(n_way):
        cls = set(labels[s_idx[s_y == c]].tolist()) | set(labels[q_idx[q_y == c]].tolist())
        assert len(cls) == 1, f"new label {c} mixes original classes {sorted(cls)}"
        originals.append(cls.pop())
    assert len(set(originals)) == n_way, "two new labels stand for the same original class"
    return originals





def _describe(x) -> str:
    import torch

    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {str(x.dtype).removeprefix('torch.')}"
    shape = getattr(x, "shape", None)
    if shape is not None and hasattr(x, "dtype"):
        return f"an array of shape {tuple(shape)} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def assert_close(got: Any, want: Any, what: str, *, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Assert that ``got`` is ``want`` up to the tolerances, saying what differs: the type, the
    shape, the dtype, or the first entry out of tolerance (its index, expected and got values).

    Args:
        got: the learner's value (tensor, array or number).
        want: the reference (same kind).
        what: how the learner finds the value, e.g. ``"inner_loop(...)['net.0.weight']"``.
    """
    import torch

    if got is None:
        raise AssertionError(f"{what}: expected {_describe(want)}, got None (is a `return` "
                             "missing?)")
    try:
        g = torch.as_tensor(got)
    except Exception:  # noqa: BLE001 - not array-like at all
        raise AssertionError(f"{what}: expected {_describe(want)}, got {_describe(got)}") from None
    w = torch.as_tensor(want)
    if g.shape != w.shape:
        raise AssertionError(f"{what}: expected shape {tuple(w.shape)}, got shape "
                             f"{tuple(g.shape)}")
    if g.dtype.is_floating_point != w.dtype.is_floating_point:
        raise AssertionError(f"{what}: expected dtype {str(w.dtype).removeprefix('torch.')}, "
                             f"got {str(g.dtype).removeprefix('torch.')}")
    g64, w64 = g.detach().to(torch.float64), w.detach().to(torch.float64)
    bad = ~torch.isclose(g64, w64, rtol=rtol, atol=atol, equal_nan=False)
    if bool(bad.any()):
        idx = tuple(int(i) for i in torch.nonzero(bad)[0]) if bad.dim() else ()
        at = f" at index {list(idx)}" if idx else ""
        n = int(bad.sum())
        raise AssertionError(
            f"{what}: expected {float(w64[idx]):.6g}{at}, got {float(g64[idx]):.6g} "
            f"({n} of {bad.numel()} entr{'y' if bad.numel() == 1 else 'ies'} off; "
            f"tolerance {atol:g} + {rtol:g} x |expected|)")
__all__ = ["assert_close", "check_episode"]
