"""The run scale: ``"cpu"`` (the course's small defaults) or ``"paper"`` (the papers' settings).

One definition for every layer: the data (evaluation episodes), the experiments (configs,
checkpoint names) and the command line all read the scale through :func:`resolve_scale`.
"""

from __future__ import annotations

import os

#: Environment variable that selects the scale when no argument is given.
SCALE_ENV = "COURSE_SCALE"
#: The scales there are.
SCALES = ("cpu", "paper")


def resolve_scale(scale: str | None = None) -> str:
    """``scale``, else ``$COURSE_SCALE``, else ``"cpu"``; case and surrounding spaces ignored.

    Returns ``"cpu"`` or ``"paper"`` (so ``COURSE_SCALE=PAPER`` means the paper scale
    everywhere). Raises ``ValueError`` naming the variable for any other value.
    """
    raw = scale if scale is not None else os.environ.get(SCALE_ENV)
    s = (raw or "cpu").strip().lower() or "cpu"
    if s not in SCALES:
        raise ValueError(f"scale must be 'cpu' or 'paper' (argument or ${SCALE_ENV}), got {raw!r}")
    return s
