"""The Phased LSTM pieces that notebook 08 will use (the notebook itself is not written yet)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.nn import phased  # noqa: E402


def test_time_gate_by_hand():
    # tau = 10, shift = 0, r_on = 0.2: open for t in [0, 2), peak at t = 1
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 5.0, 10.5])
    k = phased.time_gate(t, 10.0, 0.0, 0.2, alpha=0.01)
    np.testing.assert_allclose(k, [0.0, 0.5, 1.0, 0.5, 0.01 * 0.2, 0.01 * 0.5, 0.5])
    kt = phased.time_gate(torch.tensor(t), torch.tensor(10.0), 0.0, 0.2, alpha=0.01)
    np.testing.assert_allclose(kt.numpy(), k)
    shifted = phased.time_gate(np.array([3.0]), 10.0, 2.0, 0.2, alpha=0.0)   # phase 0.1: the peak
    np.testing.assert_allclose(shifted, [1.0])


def test_frequency_task_labels_and_shapes():
    values, times, labels = phased.frequency_task(64, np.random.default_rng(0), steps=20, regular=False)
    assert values.shape == (64, 20, 1) and times.shape == (64, 20) and labels.sum() == 32
    assert torch.all(times[:, 1:] >= times[:, :-1])


@pytest.mark.parametrize("is_phased", [True, False])
def test_classifier_shapes(is_phased):
    values, times, _ = phased.frequency_task(4, np.random.default_rng(1), steps=6)
    logits, open_fraction = phased.SequenceClassifier(is_phased, hidden_size=5)(values, times)
    assert logits.shape == (4, 2) and open_fraction.shape == (5,)
