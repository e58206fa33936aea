"""pyproject.toml and environment.yml must list the same packages, and torch must stay pinned."""
import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_ONLY = {"python", "pip"}


def _name(requirement):
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    listed = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"\s+- (?!-e)([A-Za-z0-9_.\-]+)", line)
        if m and not line.strip().endswith(":"):
            listed.add(_name(m.group(1).split("=")[0]))
    assert wanted - listed == set(), f"missing from environment.yml: {sorted(wanted - listed)}"
    assert listed - wanted - CONDA_ONLY == set(), f"missing from pyproject.toml: {sorted(listed - wanted - CONDA_ONLY)}"


def test_torch_is_pinned_everywhere():
    for name in ("pyproject.toml", "environment.yml"):
        for line in (ROOT / name).read_text().splitlines():
            if re.search(r"[\"' -]torch\s*(==|>|<|~|!|\"|$)", line) and not line.strip().startswith("#"):
                assert "torch==2.13.0" in line, f"{name}: {line.strip()} must pin torch==2.13.0"
