"""Run mode, paths and seeding shared by every notebook."""
import os
import random
from pathlib import Path

import numpy as np

MODES = ("full", "quick")
# The repository the Colab badges and the Colab setup cell point at (owner/name on GitHub).
REPO = "rnn-lab/rnn-lab"


def get_mode():
    """Return ``RNNLAB_MODE`` ('full', the default, or 'quick'); anything else is an error."""
    mode = os.environ.get("RNNLAB_MODE", "full").strip().lower() or "full"
    if mode not in MODES:
        raise ValueError(f"RNNLAB_MODE={mode!r} is not one of {MODES}: "
                         "unset it (full mode) or set RNNLAB_MODE=quick")
    return mode


MODE = get_mode()


def from_mode(value, mode, full, quick):
    """A budget setting: ``value`` when given (not None, e.g. papermill's -p), else the mode's default.

    Notebooks keep ``NAME = None`` in their parameters cell and compute ``NAME = from_mode(NAME, MODE, ...)``
    after it, so a value injected by papermill (or typed in) takes effect everywhere.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if value is not None:
        return value
    return full if mode == "full" else quick

# The package lives in <root>/labutils when installed with `pip install -e .`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


def cache_dir():
    """Where loaders keep what they build or download: ``RNNLAB_CACHE``, else ``<project>/data/cache``."""
    path = Path(os.environ.get("RNNLAB_CACHE", DATA_DIR / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir():
    """The offline mirror named by ``RNNLAB_DATA_MIRROR`` (None when unset)."""
    value = os.environ.get("RNNLAB_DATA_MIRROR")
    return Path(value).expanduser() if value else None


def build_dir():
    path = Path(os.environ.get("RNNLAB_BUILD", PROJECT_ROOT / "build"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_seed(seed=0):
    """Seed Python, NumPy's legacy global generator and (if imported) torch; return a fresh Generator."""
    random.seed(seed)
    np.random.seed(seed)
    import sys
    if "torch" in sys.modules:  # never import torch from the NumPy labs
        sys.modules["torch"].manual_seed(seed)
    return np.random.default_rng(seed)
