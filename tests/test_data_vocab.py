"""One vocabulary protocol for characters, IMDB words and caption words: the same lookups, built once."""
import numpy as np
import pytest

from labutils.data.captions import UNK as CAPTION_UNK
from labutils.data.captions import CaptionVocab
from labutils.data.shakespeare import Vocab
from labutils.data.text import TextVocab
from labutils.data.vocab import Vocabulary


@pytest.mark.parametrize("vocab, known, unknown", [
    (Vocab.from_text("to be or not"), "b", "z"),
    (TextVocab.build([["a", "good", "film"], ["a", "good", "one"]], min_freq=2), "good", "bad"),
    (CaptionVocab.build(["a red circle", "a blue square"]), "red", "green"),
])
def test_every_vocabulary_answers_the_same_lookups(vocab, known, unknown):
    assert isinstance(vocab, Vocabulary)
    assert vocab.index is vocab.index, "the token -> id table is built once"
    assert len(vocab) == len(vocab.tokens) and vocab.tokens[vocab[known]] == known
    assert vocab.tokens_of(vocab.ids([known, known])) == [known, known]
    assert vocab.ids([known]).dtype == np.int64
    if vocab.unk is None:
        with pytest.raises(KeyError, match=repr(unknown)):
            vocab[unknown]
        with pytest.raises(ValueError, match="not in the vocabulary"):
            vocab.ids([unknown])
    else:
        assert vocab[unknown] == vocab[vocab.unk] and vocab.ids([unknown])[0] == vocab[vocab.unk]


def test_the_old_names_are_the_shared_table():
    chars, words = Vocab.from_text("abc"), TextVocab.build([["x", "x"]])
    captions = CaptionVocab.build(["a b"])
    assert chars.char_to_ix is chars.index and words.stoi is words.index and captions.word_to_idx is captions.index
    assert captions["<nothing>"] == captions[CAPTION_UNK]
