from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 4

@test_case(points=None, hidden=False)
def test_q2_episode_structure(episode_indices):
    import torch
    from course_pkg.grading.checks import check_episode as _check_episode
    labels = torch.arange(10).repeat_interleave(6)
    _check_episode(labels, episode_indices(labels, 5, 2, 3, seed=0), 5, 2, 3)

@test_case(points=1, hidden=True)
def test_q2_random_relabelling_and_seed(episode_indices):
    import torch
    from course_pkg.grading.checks import check_episode as _check_episode
    labels = torch.arange(10).repeat_interleave(6)
    behind_label0 = set()
    in_order = 0
    chosen_sets = set()
    for seed in range(20):
        originals = _check_episode(labels, episode_indices(labels, 3, 1, 2, seed=seed), 3, 1, 2)
        behind_label0.add(originals[0])
        in_order += originals == sorted(originals)
        chosen_sets.add(frozenset(originals))
    assert len(behind_label0) > 2, 'new label 0 should stand for different classes across seeds'
    assert len(chosen_sets) > 2, 'the chosen classes should change with the seed'
    assert in_order < 15, f"in {in_order} of 20 episodes the new labels follow the original classes' order: give the chosen classes their new labels in a random order"
    a = episode_indices(labels, 3, 1, 2, seed=4)
    b = episode_indices(labels, 3, 1, 2, seed=4)
    assert all((torch.equal(torch.as_tensor(u), torch.as_tensor(v)) for u, v in zip(a, b))), 'the same seed must give the same episode'

@test_case(points=1, hidden=True)
def test_q2_eligible_classes_only(episode_indices):
    import torch
    from course_pkg.grading.checks import check_episode as _check_episode
    labels = torch.cat([torch.arange(5).repeat_interleave(6), torch.arange(5, 10).repeat(2)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    for seed in range(5):
        originals = _check_episode(labels, episode_indices(labels, 4, 1, 3, seed=seed), 4, 1, 3)
        assert max(originals) < 5, f'classes with too few examples were chosen: {originals}'
    try:
        episode_indices(labels, 6, 1, 3, seed=0)
    except ValueError:
        return
    raise AssertionError('6-way episodes with only 5 eligible classes must raise ValueError')

@test_case(points=1, hidden=True)
def test_q2_examples_are_random_within_a_class(episode_indices):
    import torch
    labels = torch.zeros(30, dtype=torch.int64)
    picks = {tuple(torch.as_tensor(episode_indices(labels, 1, 2, 3, seed=s)[0]).tolist()) for s in range(10)}
    assert len(picks) > 3, 'the support examples of a class should be chosen at random'

