"""Optional third-party libraries imported quietly."""

from __future__ import annotations

from types import ModuleType


def import_learn2learn() -> ModuleType:
    """Import learn2learn quietly (it imports the retired ``gym``, which prints a banner)."""
    import contextlib
    import io
    import warnings

    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import learn2learn

    return learn2learn
