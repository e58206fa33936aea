"""labutils.nn.selective_copy: the task's layout, the models' shapes, and a small run that learns it."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.nn.selective_copy import CopyModel, first_gates, read_table, selective_copy, train_selective_copy  # noqa: E402


def test_the_data_tokens_are_the_targets_in_order_of_position():
    tokens, targets = selective_copy(50, np.random.default_rng(0), vocab=5, blanks=12, copies=3)
    assert tokens.shape == (50, 15) and targets.shape == (50, 3)
    assert (tokens[:, 12:] == 6).all(), "the last positions are markers"
    body = tokens[:, :12]
    for row, target in zip(body, targets):
        assert row[row != 0].tolist() == target.tolist()
    assert targets.min() >= 1 and targets.max() <= 5
    assert len({tuple(np.flatnonzero(r)) for r in body.numpy()}) > 40, "positions vary between sequences"


def test_too_many_copies_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        selective_copy(2, np.random.default_rng(0), blanks=3, copies=4)


@pytest.mark.parametrize("cell", ["minGRU", "minLSTM", "LSTM"])
def test_every_model_reads_logits_at_the_markers(cell):
    model = CopyModel(cell, layers=2, width=16, vocab=5, copies=3)
    tokens, _ = selective_copy(4, np.random.default_rng(1), vocab=5, blanks=10, copies=3)
    assert model(tokens).shape == (4, 3, 6)


def test_an_unknown_cell_names_the_known_ones():
    with pytest.raises(ValueError, match="minGRU, minLSTM, LSTM"):
        CopyModel("gru", 1)


def test_two_min_gru_layers_learn_a_small_copy_task():
    history = train_selective_copy("minGRU", 2, 600, width=32, vocab=3, blanks=8, copies=2, every=50,
                                   solved_at=0.98, test_size=500)
    assert history.results["test_acc"] > 0.9, (history.stopped, history.val_metric)
    by_copy = history.results["test_acc_by_copy"]
    assert len(by_copy) == 2 and np.isclose(np.mean(by_copy), history.results["test_acc"])


def test_first_gates_are_the_gates_the_layer_applies_to_each_token():
    torch.manual_seed(0)
    model = CopyModel("minGRU", 1, width=8, vocab=3, copies=2)
    z = first_gates(model)
    assert z.shape == (5, 8)
    tokens = torch.arange(5)[None, :]                  # every token once
    k, _ = model.cells[0].linear(model.norms[0](model.embed(tokens))).chunk(2, dim=-1)
    assert torch.allclose(z, torch.sigmoid(k[0]))
    with pytest.raises(TypeError, match="minGRU"):
        first_gates(CopyModel("LSTM", 1, width=8))


def test_the_committed_table_covers_every_cell_and_depth():
    rows = read_table()
    cells = {(r["cell"], r["layers"]) for r in rows if r["max_steps"] == 3000}
    assert cells == {(c, n) for c in ("minGRU", "minLSTM", "LSTM") for n in (1, 2, 3)}
    for r in rows:
        assert 0 <= r["test_acc"] <= 1 and r["steps"] <= r["max_steps"]
        assert np.isclose(np.mean([r[f"copy{i}_acc"] for i in range(1, 5)]), r["test_acc"], atol=1e-3)
