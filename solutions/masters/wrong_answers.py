"""Hand-written wrong answers for hidden tests that the generic wrong answer of
``tests/test_grading_wrong_answers.py`` cannot reach (tests that check a property of an answer
on inputs another test also uses: a boundary, a side effect, how often something is called).

``WRONG[(exercise, hidden test)] = (function, code)``: ``code`` redefines ``function`` in the
solved notebook's namespace; the hidden test must then fail and every public test of its question
still pass ("a wrong answer that only it catches").
"""

WRONG: dict[tuple[str, str], tuple[str, str]] = {
    # `<` for `<=`: an eigenvalue exactly -lam is accepted (the boundary of the condition)
    ("ex10_imaml", "test_q4_rotated_negative_and_invalid"): ("imaml_condition_number", '''
def imaml_condition_number(H, lam):
    eig = torch.linalg.eigvalsh(H)
    lo, hi = 1 + eig.min().item() / lam, 1 + eig.max().item() / lam
    if lo < 0:
        raise ValueError("I + H/lam is not positive definite")
    return hi / lo if lo else float("inf")
'''),
    # two matvecs per iteration: the right iterates, twice the cost
    ("ex10_imaml", "test_q1_larger_partial_and_zero"): ("conjugate_gradient", '''
def conjugate_gradient(matvec, b, steps):
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = r @ r
    for _ in range(steps):
        if rs.sqrt() < 1e-12:
            break
        matvec(p)  # a wasted product
        Ap = matvec(p)
        a = rs / (p @ Ap)
        x = x + a * p
        r = r - a * Ap
        new = r @ r
        p = r + (new / rs) * p
        rs = new
    return x
'''),
    # a Python loop over the tasks (the serial answer): the right numbers, no vmap
    ("ex09_reptile", "test_q3_model_runs_once_per_step_for_all_tasks"): (
        "reptile_delta_batched", '''
def reptile_delta_batched(model, params, batch, steps, lr):
    theta = {k: v.detach() for k, v in params.items()}
    total = {k: torch.zeros_like(v) for k, v in theta.items()}
    for i in range(batch.num_tasks):
        x, y = batch.x_support[i], batch.y_support[i]
        grad = torch.func.grad(lambda p, x=x, y=y: loss_at(model, p, x, y))
        phi = dict(theta)
        for _ in range(steps):
            g = grad(phi)
            phi = {k: phi[k] - lr * g[k] for k in phi}
        total = {k: total[k] + (phi[k] - theta[k]) for k in total}
    _ = torch.vmap(lambda t: t)(batch.x_support)
    return {k: v / batch.num_tasks for k, v in total.items()}
'''),
    # one permutation for every task: a random split, but the same one for all tasks
    ("ex03_meta_learning_problem", "test_q1_random_per_task_and_seed"): (
        "split_support_query", '''
def split_support_query(x, y, k_support, seed=0):
    num_tasks, m = x.shape[:2]
    if not 1 <= k_support < m:
        raise ValueError(f"k_support must be in [1, {m - 1}], got {k_support}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(m, generator=g).expand(num_tasks, m)
    rows = torch.arange(num_tasks)[:, None]
    s, q = perm[:, :k_support], perm[:, k_support:]
    return x[rows, s], y[rows, s], x[rows, q], y[rows, q]
'''),
    # random classes, but always each class's first examples
    ("ex03_meta_learning_problem", "test_q2_examples_are_random_within_a_class"): (
        "episode_indices", '''
def episode_indices(labels, n_way, k, q, seed=0):
    g = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, return_counts=True)
    eligible = classes[counts >= k + q]
    if len(eligible) < n_way:
        raise ValueError(f"only {len(eligible)} classes have {k + q} examples; need {n_way}")
    chosen = eligible[torch.randperm(len(eligible), generator=g)[:n_way]]
    s_idx, s_y, q_idx, q_y = [], [], [], []
    for new_label, c in enumerate(chosen):
        pick = torch.nonzero(labels == c).flatten()[: k + q]
        s_idx.append(pick[:k])
        q_idx.append(pick[k:])
        s_y.append(torch.full((k,), new_label, dtype=torch.int64))
        q_y.append(torch.full((q,), new_label, dtype=torch.int64))
    return torch.cat(s_idx), torch.cat(s_y), torch.cat(q_idx), torch.cat(q_y)
'''),
}
