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

