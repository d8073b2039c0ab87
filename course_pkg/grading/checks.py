"""Checks that several hidden tests share (imported by the test files, so a master states each
check once). They run where the test runs: in the trusted grader, in ``grader.check`` and in
otter's autograder, on plain data. Each raises ``AssertionError`` with a message for the
learner.
"""

from __future__ import annotations


def check_episode(labels, out, n_way: int, k_support: int, k_query: int) -> list[int]:
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


__all__ = ["check_episode"]
