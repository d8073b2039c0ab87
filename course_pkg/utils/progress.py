"""The package's one progress bar (silent under ``$TQDM_DISABLE``, e.g. in the book build)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any


def progress(iterable: Iterable[Any] | None = None, disable: bool = False, **kwargs: Any) -> Any:
    """The package's one progress bar: ``tqdm.auto``, or a silent one when ``disable`` or
    ``$TQDM_DISABLE`` is set.

    The book build sets ``TQDM_DISABLE=1``: tqdm's notebook bar ignores that variable and would put
    widgets (and their CDN scripts) into the HTML, so this falls back to the plain, disabled bar.
    """
    if disable or os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}:
        from tqdm.std import tqdm as std_tqdm

        return std_tqdm(iterable, disable=True, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(iterable, **kwargs)
