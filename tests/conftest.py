"""Shared pytest set-up: one Chromium per session for the browser tests; one torch thread."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_utils import (  # noqa: E402, F401
    chromium_browser_fixture,
    html_root_fixture,
    html_server_fixture,
)

# The unit tests use tiny models: one thread is faster than two competing ones and keeps
# reductions in a fixed order.
torch.set_num_threads(1)
