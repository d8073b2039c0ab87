"""Input and training checks that fail with a message saying what to do instead."""

from __future__ import annotations

from collections.abc import Mapping

import torch


def check_same_device(params: Mapping[str, torch.Tensor], *tensors: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` when data tensors are not on the parameters' device."""
    if not params:
        return
    pdev = next(iter(params.values())).device
    for t in tensors:
        if t.device != pdev:
            raise ValueError(
                f"data is on {t.device} but the model parameters are on {pdev}; "
                f"move the task batch with `.to({str(pdev)!r})` (see course_pkg.get_device)"
            )


def check_finite(loss: torch.Tensor, step: int, what: str = "loss") -> None:
    """Stop training with a message naming the step when ``loss`` is NaN or infinite."""
    if not bool(torch.isfinite(loss).all()):
        raise FloatingPointError(
            f"{what} became {loss.detach().flatten()[0].item()} at step {step}; training stopped. "
            "Lower the learning rates or check the data."
        )
