"""course_pkg: reference implementations for the "Learning to Learn" meta-learning course.

Modules map one-to-one to the course's concepts:

- ``course_pkg.utils``       plumbing, one module per job: device, seeds, scale, statistics
                             (confidence intervals, smoothed curves), checks, progress, memory
- ``course_pkg.tasks``       task distributions and the :class:`TaskBatch` type
- ``course_pkg.data``        few-shot image data (offline glyphs, real Omniglot) and episodes
- ``course_pkg.models``      MLPs and the 4-conv network, usable with ``torch.func.functional_call``
- ``course_pkg.algorithms``  MAML, FOMAML, Meta-SGD, Reptile, iMAML, metric and black-box learners;
                             ``neuron`` (chapter 1's single-neuron worked example) and ``problem``
                             (chapter 3: support/query splits, the meta-objective)
- ``course_pkg.rl``          meta-reinforcement learning
- ``course_pkg.viz``         interactive figures (live in JupyterLab, static in the HTML book)
- ``course_pkg.grading``     exercise generation and time-bounded grading
- ``course_pkg.checkpoints`` load a stored model when its config matches, train otherwise
- ``course_pkg.experiments`` runs: configs, checkpoint names, the command line, result tables
"""

__all__ = ["get_device", "seed_everything"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: `import course_pkg` stays cheap (no torch) for tools such as the grader.
    if name in __all__:
        from course_pkg import utils

        return getattr(utils, name)
    raise AttributeError(f"module 'course_pkg' has no attribute {name!r}")
