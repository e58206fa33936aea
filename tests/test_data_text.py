import numpy as np
import pytest

from labutils.data.text import TextVocab, cached_encoding, encode_texts, length_buckets, tokenize


def test_tokenize():
    assert tokenize("Great movie!<br /><br />I didn't LIKE the end...") == \
        ["great", "movie", "!", "i", "didn't", "like", "the", "end", ".", ".", "."]
    assert tokenize("") == [] and tokenize("<br />") == []


def test_vocab_specials_frequency_order_and_unknowns():
    vocab = TextVocab.build([["b", "a", "b"], ["c", "a", "b"]], min_freq=2)
    assert vocab.itos == ("<pad>", "<unk>", "b", "a")
    np.testing.assert_array_equal(vocab.encode(["a", "zzz", "b"]), [3, 1, 2])
    np.testing.assert_array_equal(vocab.encode(["a", "b", "a"], max_len=2), [3, 2])


def test_empty_and_break_only_reviews_become_one_unknown():
    vocab = TextVocab.build([["x"]], min_freq=1)
    ids = encode_texts(["", "<br />", "x"], vocab, max_len=5)
    assert [x.tolist() for x in ids] == [[1], [1], [2]]


def test_cached_encoding_roundtrip(tmp_path):
    train = ["good good film", "bad film", "<br />"]
    test = ["good unknown", ""]
    vocab, tr, te = cached_encoding(train, test, max_len=10, min_freq=1)
    files = list((tmp_path / "cache").glob("imdb-tokens-*.npz"))
    assert len(files) == 1
    vocab2, tr2, te2 = cached_encoding(train, test, max_len=10, min_freq=1)
    assert vocab2 == vocab
    assert [x.tolist() for x in tr2] == [x.tolist() for x in tr]
    assert [x.tolist() for x in te2] == [x.tolist() for x in te]
    assert te[0].tolist() == [vocab.stoi["good"], 1]


@pytest.mark.parametrize("n,batch", [(1, 4), (10, 3), (64, 64), (100, 7)])
def test_length_buckets_cover_every_index_once(rng, n, batch):
    lengths = rng.integers(1, 50, n)
    batches = length_buckets(lengths, batch, rng)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(n))
    assert all(len(b) <= batch for b in batches)
    ordered = length_buckets(lengths, batch, shuffle=False)
    spans = [lengths[b].max() - lengths[b].min() for b in ordered]
    assert max(spans) <= lengths.max() - lengths.min()
    with pytest.raises(ValueError, match="rng"):
        length_buckets(lengths, batch)


def test_truncation_keeps_first_or_last():
    vocab = TextVocab.build([["a", "b", "c", "d"]], min_freq=1)
    assert vocab.encode(["a", "b", "c", "d"], 2).tolist() == [2, 3]
    assert vocab.encode(["a", "b", "c", "d"], 2, keep="last").tolist() == [4, 5]
    with pytest.raises(ValueError, match="keep"):
        vocab.encode(["a"], 1, keep="middle")
