import numpy as np
import pytest

torch = pytest.importorskip("torch")

from labutils.data import Vocab  # noqa: E402
from labutils.nn import charlstm  # noqa: E402
from labutils.nn.checkpoint import load_model, save_model  # noqa: E402


def tiny():
    text = "abcab cabca\n" * 40
    vocab = Vocab.from_text(text)
    return text, vocab, vocab.encode(text)


def test_stream_chunks_cover_contiguous_streams():
    data = np.arange(101)
    chunks = list(charlstm.stream_chunks(data, 4, 5))
    assert len(chunks) == 5
    x0, y0 = chunks[0]
    assert x0.shape == (4, 5) and torch.equal(y0, x0 + 1)
    assert torch.equal(chunks[1][0][:, 0], x0[:, -1] + 1)      # each stream continues where it stopped
    with pytest.raises(ValueError, match="too few"):
        list(charlstm.stream_chunks(np.arange(10), 4, 5))


def test_training_learns_and_generation_is_reproducible(tmp_path):
    text, vocab, data = tiny()
    model = charlstm.CharLSTM(len(vocab), 8, 32)
    before = charlstm.cross_entropy(model, data)
    history = charlstm.train_charlstm(model, data, 60, batch_size=4, seq_length=20, lr=1e-2, every=10,
                                      sample_every=30,
                                      callback=lambda s, m: charlstm.generate(m, vocab, "a", 5, greedy=True))
    assert charlstm.cross_entropy(model, data) < before * 0.5
    assert [s for s, _ in history.samples] == [30, 60] and history.step[-1] == 60 and history.model is model
    a = charlstm.generate(model, vocab, "ab", 30, 1.0, np.random.default_rng(0))
    assert a == charlstm.generate(model, vocab, "ab", 30, 1.0, np.random.default_rng(0)) and len(a) == 30
    with pytest.raises(ValueError, match="rng"):
        charlstm.generate(model, vocab, "a", 3)


def test_save_load_roundtrip_and_vocabulary_mismatch(tmp_path):
    text, vocab, data = tiny()
    model = charlstm.CharLSTM(len(vocab), 8, 16)
    path = tmp_path / "m.pt"
    save_model(path, model, vocab, plays="test")
    loaded, saved_tokens, extra = load_model(path, charlstm.CharLSTM, vocab)
    assert saved_tokens == vocab.chars and extra == {"plays": "test"}
    assert charlstm.cross_entropy(loaded, data) == pytest.approx(charlstm.cross_entropy(model, data))
    with pytest.raises(ValueError, match=r"vocabulary .* differs"):
        load_model(path, charlstm.CharLSTM, Vocab.from_text(text + "z"))
    from labutils.nn.sentiment import SentimentRNN
    with pytest.raises(ValueError, match="holds a CharLSTM, not a SentimentRNN"):
        load_model(path, SentimentRNN)


def test_one_cross_entropy_measures_the_numpy_rnn_too():
    from labutils import charlm
    from labutils.rnn import RNNParams
    _, vocab, data = tiny()
    params = RNNParams.init(len(vocab), 6, len(vocab), np.random.default_rng(0))
    assert charlstm.cross_entropy(params, data) == charlm.cross_entropy(params, data)
