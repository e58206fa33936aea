"""The captioning pipeline of notebook 09: shapes, the masked loss, decoding, batching, and the checks."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from labutils.data import scenes  # noqa: E402
from labutils.data.captions import END, NULL, START, CaptionSplit, CaptionVocab, encode_captions  # noqa: E402
from labutils.lessons import image_captioning, phased_lstm  # noqa: E402
from labutils.nn import captioning  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return scenes.load_scenes(n_train=20, n_val=4, n_test=4, seed=1)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_decoder_shapes(tiny, cell):
    splits, vocab = tiny
    model = captioning.Captioner(len(vocab), cell, embed_dim=8, hidden_size=12)
    images, captions, idxs = next(captioning.minibatches(splits["train"], 5))
    assert images.shape == (5, 3, 32, 32) and captions.shape == (15, splits["train"].captions.shape[1])
    scores = model(images, captions[:, :-1], idxs)
    assert scores.shape == (15, captions.shape[1] - 1, len(vocab))
    step_scores, _ = model.step(captions[:, 0], model.init_state(images, idxs))
    torch.testing.assert_close(step_scores, scores[:, 0])          # one step = the first teacher-forced step
    out = captioning.decode(model, images, vocab, max_length=7)
    assert out.shape == (5, 7) and out.dtype == torch.long


def test_masked_loss_ignores_padding():
    g = torch.Generator().manual_seed(0)
    scores, targets = torch.randn(4, 6, 9, generator=g), torch.randint(1, 9, (4, 6), generator=g)
    targets[:, 4:] = 0
    mask = targets != 0
    loss = captioning.temporal_softmax_loss(scores, targets, mask)
    changed = scores.clone()
    changed[:, 4:] = 100 * torch.randn(4, 2, 9, generator=g)
    assert torch.equal(loss, captioning.temporal_softmax_loss(changed, targets, mask))
    by_hand = -torch.log_softmax(scores[:, :4], -1).gather(2, targets[:, :4, None]).sum() / 4
    torch.testing.assert_close(loss, by_hand)
    with pytest.raises(ValueError, match="targets and mask of shape"):
        captioning.temporal_softmax_loss(scores, targets[:, :5], mask)


def test_decode_stops_after_end():
    vocab = CaptionVocab.build(["x y"])
    model = captioning.Captioner(len(vocab), "rnn", embed_dim=4, hidden_size=4, encoder=nn.Linear(2, 4))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 0, 5, 0, 0, 0]))   # <END> always wins
    out = captioning.decode(model, torch.zeros(3, 2), vocab, max_length=4)
    assert out.tolist() == [[vocab[END], vocab[NULL], vocab[NULL], vocab[NULL]]] * 3


def test_minibatches_cover_every_caption_once(tiny):
    splits, _ = tiny
    train = splits["train"]
    seen = []
    for images, captions, idxs in captioning.minibatches(train, 6, np.random.default_rng(0)):
        assert len(captions) == len(idxs) and int(idxs.max()) < len(images)
        seen += [tuple(c) for c in captions.tolist()]
    assert sorted(seen) == sorted(tuple(c) for c in train.captions.tolist())


def test_overfits_a_few_images_and_takes_features(tiny):
    splits, vocab = tiny
    torch.manual_seed(0)
    model = captioning.Captioner(len(vocab), "lstm", embed_dim=16, hidden_size=64)
    history = captioning.train_captioner(model, splits["train"], epochs=40, batch_size=10, lr=1e-2)
    assert history.train_loss[-1] < 0.3 * history.train_loss[0] and len(history.train_loss) == 40
    # COCO-style: precomputed features (N, D) and a linear encoder
    feats = CaptionSplit(np.random.default_rng(0).normal(size=(2, 7)).astype(np.float32),
                         encode_captions(["x y", "y", "x"], vocab), np.array([0, 0, 1]), [[["x", "y"], ["y"]], [["x"]]])
    model = captioning.Captioner(len(vocab), "rnn", hidden_size=8, encoder=nn.Linear(7, 8))
    assert np.isfinite(captioning.evaluate_loss(model, feats))
    with pytest.raises(ValueError, match="'rnn' or 'lstm'"):
        captioning.Captioner(5, "gru")


def test_checks_accept_the_reference_and_name_mistakes():
    from labutils.nn import phased
    phased_lstm.check_time_gate(phased.time_gate)
    phased_lstm.check_phased_lstm_step(phased.phased_lstm_step)
    image_captioning.check_temporal_softmax_loss(captioning.temporal_softmax_loss)
    image_captioning.check_greedy_decode(lambda m, im, v, n: captioning.decode(m, im, v, n))

    def no_leak(t, tau, s, r_on, alpha):
        return phased.time_gate(t, tau, s, r_on, 0.0)
    with pytest.raises(AssertionError, match="closed"):
        phased_lstm.check_time_gate(no_leak)

    def swapped(x, t, h, c, cell):
        h2, c2, k = phased.phased_lstm_step(x, t, h, c, cell)
        hp, cp = (h2 - (1 - k) * h) / k, (c2 - (1 - k) * c) / k
        return (1 - k) * hp + k * h, (1 - k) * cp + k * c, k
    with pytest.raises(AssertionError, match="swapped"):
        phased_lstm.check_phased_lstm_step(swapped)

    def per_word(scores, targets, mask):
        return captioning.temporal_softmax_loss(scores, targets, mask) * len(mask) / mask.sum()
    with pytest.raises(AssertionError, match="batch size N"):
        image_captioning.check_temporal_softmax_loss(per_word)

    def unmasked(scores, targets, mask):
        return captioning.temporal_softmax_loss(scores, targets, torch.ones_like(mask))
    with pytest.raises(AssertionError, match="padded steps"):
        image_captioning.check_temporal_softmax_loss(unmasked)

    def no_null_fill(model, images, vocab, n):
        state, words, out = model.init_state(images), torch.full((len(images),), vocab[START]), []
        for _ in range(n):
            scores, state = model.step(words, state)
            words = scores.argmax(1)
            out.append(words)
        return torch.stack(out, 1)
    with pytest.raises(AssertionError, match="fill with <NULL>"):
        image_captioning.check_greedy_decode(no_null_fill)


def test_pretrained_encoder_gives_standardised_features(tiny):
    splits, _ = tiny
    pretraining = captioning.pretrain_encoder(splits["train"], out_dim=16, epochs=2, batch_size=10)
    encoder = pretraining.model
    assert len(pretraining.train_loss) == 2 and pretraining.steps == 2 and not encoder.training
    assert 0.0 <= captioning.cell_accuracy(encoder, splits["val"]) <= 1.0
    features = captioning.extract_features(encoder, splits)
    assert features["train"].images.shape == (20, 16) and features["test"].images.shape == (4, 16)
    np.testing.assert_allclose(features["train"].images.mean(0), 0, atol=1e-4)
    assert features["train"].captions is splits["train"].captions          # only the images are replaced
