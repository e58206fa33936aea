import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.nn.checkpoint import load_model, save_model  # noqa: E402
from labutils.nn.sentiment import (  # noqa: E402
    SentimentRNN,
    fit,
    last_real_step,
    pad_batch,
    predict,
    reverse_padded,
)


def batch():
    seqs = [np.array([5, 6, 7, 8]), np.array([9]), np.array([2, 3])]
    return pad_batch(seqs)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_shapes(cell, layers, bidirectional):
    model = SentimentRNN(12, 6, 5, cell, layers, bidirectional)
    ids, lengths = batch()
    assert model(ids, lengths).shape == (3,)
    assert model.features(ids, lengths).shape == (3, 5 * (2 if bidirectional else 1))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
def test_padding_does_not_change_the_result(bidirectional, pooling):
    """Each review's output must equal the output of that review alone, with no padding at all."""
    torch.manual_seed(0)
    model = SentimentRNN(12, 6, 5, "lstm", 2, bidirectional, pooling=pooling).eval()
    ids, lengths = batch()
    together = model(ids, lengths)
    for b in range(3):
        n = int(lengths[b])
        alone = model(ids[b:b + 1, :n], lengths[b:b + 1])
        torch.testing.assert_close(together[b:b + 1], alone, rtol=1e-5, atol=1e-6)


def test_gather_and_reverse_against_a_loop():
    out = torch.arange(3 * 4 * 2, dtype=torch.float32).view(3, 4, 2)
    lengths = torch.tensor([4, 1, 2])
    last = last_real_step(out, lengths)
    for b in range(3):
        torch.testing.assert_close(last[b], out[b, lengths[b] - 1])
    rev = reverse_padded(out, lengths)
    torch.testing.assert_close(rev[0], out[0].flip(0))
    torch.testing.assert_close(rev[1], out[1])
    torch.testing.assert_close(rev[2, :2], out[2, :2].flip(0))
    torch.testing.assert_close(rev[2, 2:], out[2, 2:])


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell"):
        SentimentRNN(10, cell="transformer")
    with pytest.raises(ValueError, match="embeddings have shape"):
        SentimentRNN(10, 4, embeddings=np.zeros((9, 4)))


def test_tiny_overfit_and_checkpoint_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    ids = [rng.integers(2, 20, rng.integers(3, 12)) for _ in range(32)]
    labels = np.array([int(x[0] < 11) for x in ids])         # the first token decides
    model = SentimentRNN(20, 8, 16, "gru", bidirectional=True)
    history = fit(model, (ids, labels), (ids, labels), max_epochs=60, lr=1e-2, batch_size=8, patience=60)
    assert history.best_metric == 1.0 and len(history.step) == history.steps // history.every
    path = tmp_path / "model.pt"
    save_model(path, model, vocab_size=20)
    loaded, tokens, extra = load_model(path, SentimentRNN)
    assert extra == {"vocab_size": 20} and tokens is None
    np.testing.assert_allclose(predict(loaded, ids), predict(model, ids), atol=1e-6)


def test_each_cell_reads_its_last_tokens_with_its_dropout():
    """train_and_test cuts every review to the last TOKENS[cell] ids and uses DROPOUT[cell] unless told."""
    from labutils.nn.sentiment import DROPOUT, TOKENS, train_and_test
    rng = np.random.default_rng(0)
    split = lambda n: ([rng.integers(2, 20, 300) for _ in range(n)], rng.integers(0, 2, n))   # noqa: E731
    data = {"train": split(16), "val": split(8), "test": split(8)}
    embeddings = rng.normal(size=(20, 4))
    for cell in ("rnn", "lstm"):
        row = train_and_test(data, embeddings, cell=cell, hidden_size=4, max_epochs=1, batch_size=8).results
        assert row["tokens"] == min(TOKENS[cell], 300) and row["dropout"] == DROPOUT[cell]
    row = train_and_test(data, embeddings, cell="rnn", hidden_size=4, max_epochs=1, batch_size=8, tokens=7,
                         dropout=0.0).results
    assert row["tokens"] == 7 and row["dropout"] == 0.0
    assert len(data["train"][0][0]) == 300                   # the caller's data is not cut
