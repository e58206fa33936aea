"""Run mode, paths and seeding shared by every notebook."""
import dataclasses
import os
import random
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple

import numpy as np

MODES = ("full", "quick")
# The repository the Colab badges and the Colab setup cell point at (owner/name on GitHub).
REPO = "rnn-lab/rnn-lab"


def get_mode() -> str:
    """Return ``RNNLAB_MODE`` ('full', the default, or 'quick'); anything else is an error."""
    mode = os.environ.get("RNNLAB_MODE", "full").strip().lower() or "full"
    if mode not in MODES:
        raise ValueError(f"RNNLAB_MODE={mode!r} is not one of {MODES}: "
                         "unset it (full mode) or set RNNLAB_MODE=quick")
    return mode


def per_mode(full: Any, quick: Any) -> Any:
    """A field of a lesson's Budget: its full-mode value (the default) and its quick-mode value."""
    return dataclasses.field(default=full, metadata={"quick": quick})


@dataclasses.dataclass(frozen=True)
class LessonBudget:
    """The base of each lesson's ``Budget``: a frozen dataclass whose fields (``per_mode(full=..., quick=...)``,
    a comment each) are the notebook's budgets, ``hidden`` for the parameter ``HIDDEN``.

    A notebook keeps ``HIDDEN = None`` in its parameters cell, and its budget cell, the same in every notebook,
    is ``BUDGET = Budget.for_mode(MODE, globals())``: a parameter given there (typed in, or papermill's
    ``-p HIDDEN 20``) replaces its field's value everywhere after. ``given`` names the fields that were given.
    """
    mode: str = "full"
    given: Tuple[str, ...] = ()

    @classmethod
    def budget_fields(cls) -> Tuple[dataclasses.Field, ...]:
        """The budgets: every field but mode and given."""
        return tuple(f for f in dataclasses.fields(cls) if f.name not in ("mode", "given"))

    @classmethod
    def for_mode(cls, mode: str, parameters: Optional[Mapping[str, Any]] = None) -> "LessonBudget":
        """The mode's budget, each field replaced by its parameter (the field's name in upper case) in
        ``parameters`` (the parameters cell's ``globals()``) when that is not None."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        parameters = parameters or {}
        values, given = {}, []
        for f in cls.budget_fields():
            value = parameters.get(f.name.upper())
            if value is None:
                value = f.default if mode == "full" else f.metadata.get("quick", f.default)
            else:
                given.append(f.name)
            values[f.name] = value
        return cls(mode=mode, given=tuple(given), **values)

    def __str__(self) -> str:
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.budget_fields())
        given = f" (given: {', '.join(self.given)})" if self.given else ""
        return f"{self.mode} mode: {values}{given}"


def check_result(ok: bool, message: str, changed: Any) -> None:
    """The assert of a result that the mode's budget was measured to reach. With a budget changed
    (``changed``: ``BUDGET.given``, the names of the budgets given) no threshold was measured, so a miss is
    reported instead of failing the notebook."""
    if ok:
        return
    if changed:
        print(f"not checked, because a budget was changed from the mode's: {message}")
        return
    raise AssertionError(message)


# The files the package ships (the plays, the pretrained snapshot, committed measurements): package data, so a
# wheel install finds them as an editable one does.
ASSETS = Path(__file__).resolve().parent / "assets"
# In a checkout (an editable install) the package lives in <root>/labutils beside pyproject.toml; installed from
# a wheel it lives in site-packages, and caches and build output go elsewhere (below).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "notebooks").is_dir()


def asset(*parts: str) -> Path:
    """Path of a file the package ships, e.g. ``asset("char-rnn-snapshot.npz")``."""
    path = ASSETS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed package: reinstall it "
                                "(pip install --force-reinstall rnn-lab, or `make run` in a checkout)")
    return path


def cache_dir() -> Path:
    """Where loaders keep what they build or download: ``RNNLAB_CACHE``, else ``<checkout>/data/cache`` in a
    checkout, else the user's cache folder (``~/.cache/rnnlab`` on Linux)."""
    if "RNNLAB_CACHE" in os.environ:
        path = Path(os.environ["RNNLAB_CACHE"])
    elif IN_CHECKOUT:
        path = PROJECT_ROOT / "data" / "cache"
    else:
        import pooch  # its os_cache knows each platform's user cache folder
        path = Path(pooch.os_cache("rnnlab"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_dir():
    """The offline mirror named by ``RNNLAB_DATA_MIRROR`` (None when unset)."""
    value = os.environ.get("RNNLAB_DATA_MIRROR")
    return Path(value).expanduser() if value else None


def build_dir() -> Path:
    """``RNNLAB_BUILD``, else ``<checkout>/build``, else ``build/`` in the working directory."""
    default = PROJECT_ROOT / "build" if IN_CHECKOUT else Path.cwd() / "build"
    path = Path(os.environ.get("RNNLAB_BUILD", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def notebooks_dir():
    """The course notebooks: ``<checkout>/notebooks``, else ``notebooks/`` in the working directory."""
    return PROJECT_ROOT / "notebooks" if IN_CHECKOUT else Path.cwd() / "notebooks"


def lesson_notebooks(given=()):
    """The notebooks a command works on: the paths given, else every ``NN_*.ipynb`` of notebooks_dir(), in order."""
    if given:
        return [Path(p) for p in given]
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def set_seed(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy's legacy global generator and (if imported) torch; return a fresh Generator."""
    random.seed(seed)
    np.random.seed(seed)
    import sys
    if "torch" in sys.modules:  # never import torch from the NumPy labs
        sys.modules["torch"].manual_seed(seed)
    return np.random.default_rng(seed)
