"""Fixed validation episodes on meta-validation alphabets.

A ``validation`` config (``budget.validation`` of
:mod:`course_pkg.experiments.fewshot.config`) names fixed episodes of the ``val`` split; the
equal-budget protocol (:mod:`course_pkg.experiments.budget`) evaluates them at its budget marks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from course_pkg.tasks import TaskBatch


def validation_episodes(vcfg: Mapping[str, Any], device: str | torch.device | None = None
                        ) -> TaskBatch:
    """The fixed validation episodes of ``vcfg`` (``n_way``-way ``k_support``-shot, ``k_query``
    queries per class, ``episodes`` tasks of split ``split``, seed ``seed``)."""
    from course_pkg.data import episodes

    return episodes(vcfg["split"], vcfg["n_way"], vcfg["k_support"], vcfg["k_query"],
                    vcfg["episodes"], seed=vcfg["seed"], device=device)
