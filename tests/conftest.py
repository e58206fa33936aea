import functools

import numpy as np
import pytest


@functools.cache
def sandbox_problem():
    """None where a grading sandbox (bubblewrap) runs here, else why not: SandboxUnavailable's message."""
    from labutils.grading.sandbox import Sandbox, SandboxUnavailable
    try:
        Sandbox()
    except SandboxUnavailable as err:            # pragma: no cover - where user namespaces are off
        return str(err)
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "sandbox: needs a grading sandbox; skipped, with the reason, where none runs")


def pytest_runtest_setup(item):
    """Tests marked ``sandbox`` are skipped before their fixtures run where no sandbox can."""
    if item.get_closest_marker("sandbox") is not None and sandbox_problem() is not None:
        pytest.skip(f"no sandbox here: {sandbox_problem()}")


@pytest.fixture(scope="session")
def sandbox_runs():
    """Whether a grading sandbox runs here (a test that can also grade without one chooses by it)."""
    return sandbox_problem() is None


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
