"""Meta-learning algorithms, functional (torch.func) and batched over tasks with ``vmap``.

- ``core``: the shared pieces (functional forward, losses, SGD step, inner adaptation loop)
"""

from course_pkg.algorithms.core import (
    cross_entropy_loss,
    forward,
    inner_adapt,
    loss_at,
    mse_loss,
    sgd_step,
)

__all__ = ["cross_entropy_loss", "forward", "inner_adapt", "loss_at", "mse_loss", "sgd_step"]
