"""labutils.nn.char_mingru: the minGRU language model of notebook 10, and notebook 07's tools applied to it."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.data import Vocab  # noqa: E402
from labutils.nn.char_mingru import CharMinGRU, read_comparison  # noqa: E402
from labutils.nn.charlstm import cross_entropy, generate, train_charlstm  # noqa: E402


def test_shapes_and_one_state_vector_per_layer():
    torch.manual_seed(0)
    model = CharMinGRU(11, width=16, layers=3)
    logits, state = model(torch.randint(0, 11, (4, 9)))
    assert logits.shape == (4, 9, 11)
    assert len(state) == 3 and all(s.shape == (4, 16) for s in state)


def test_the_carried_state_continues_the_sequence_exactly():
    """Two chunks with the state carried give the logits of the whole sequence at once: what truncated BPTT and
    cross_entropy's chunks rely on."""
    torch.manual_seed(0)
    model = CharMinGRU(7, width=8, layers=2).double()
    x = torch.randint(0, 7, (2, 20))
    whole, _ = model(x)
    first, state = model(x[:, :12])
    second, _ = model(x[:, 12:], state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-12)


def test_notebook_07s_loop_trains_it_and_stops_early():
    text = "to be or not to be, that is the question. " * 60
    vocab = Vocab.from_text(text)
    data = vocab.encode(text)
    torch.manual_seed(0)
    model = CharMinGRU(len(vocab), width=32, layers=1)
    before = cross_entropy(model, data[-300:])
    history = train_charlstm(model, data[:-300], 2000, batch_size=4, seq_length=25, every=20,
                             val_data=data[-300:], patience=2)
    assert history.converged and history.steps < 2000, history.stopped
    assert cross_entropy(model, data[-300:]) < before - 1.0
    assert len(generate(model, vocab, "to", 30, rng=np.random.default_rng(0))) == 30


def test_the_committed_comparison_has_both_models_to_early_stopping():
    rows = read_comparison()
    assert set(rows) == {"LSTM", "minGRU"}
    for row in rows.values():
        assert row["converged"] and row["best_step"] < row["steps"], row["stopped"]
        assert 0.5 < row["heldout_nats"] < 4 and row["seconds"] > 0
