import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty data cache and no mirror, unless it sets one."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNLAB_DATA_MIRROR", raising=False)
    monkeypatch.setenv("RNNLAB_OFFLINE", "1")   # tests never download
    monkeypatch.delenv("RNNLAB_RESULTS_FILE", raising=False)
    monkeypatch.setenv("RNNLAB_GRADER_SECRET", "the-tests-grader-secret")   # never the user's own secret file
