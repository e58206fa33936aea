import numpy as np
import pytest

from labutils.data import Vocab, list_plays, load_corpus
from labutils.data.shakespeare import markdown_to_text

SAMPLE = """# A Play

## ACT I

### SCENE I. A street.

_Enter a company of mutinous Citizens, with staves, clubs, and other
weapons_

**First Citizen**  
Before we proceed any further, hear me speak.  
_\\[To the others]_  
Speak \\- now\u2014now.

*Enter King.*

**KING EDWARD**  
We are _\\[Aside]_ here.

_Exeunt_
"""


def test_markdown_to_classic_format():
    text = markdown_to_text(SAMPLE)
    assert text == ("First Citizen:\nBefore we proceed any further, hear me speak.\nSpeak - now--now.\n\n"
                    "KING EDWARD:\nWe are here.\n")


def test_coriolanus_corpus_format():
    text = load_corpus()
    assert 140_000 < len(text) < 170_000
    assert text.isascii()
    for bad in ("#", "**", "_", "\\", "[", "]"):
        assert bad not in text, f"markup {bad!r} left in the corpus"
    speeches = text.strip().split("\n\n")
    assert len(speeches) > 500
    for speech in speeches:
        lines = speech.split("\n")
        assert lines[0].endswith(":") and len(lines) >= 2, speech[:80]
        assert all(line == line.strip() and line for line in lines)
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.")


def test_corpus_is_cached_and_deterministic(tmp_path):
    a = load_corpus(("coriolanus", "julius-caesar"))
    b = load_corpus(("coriolanus", "julius-caesar"))
    assert a == b and len(list((tmp_path / "cache").glob("shakespeare-*"))) == 1


def test_unknown_play_lists_choices():
    with pytest.raises(ValueError, match="coriolanus"):
        load_corpus(("no-such-play",))
    assert "julius-caesar" in list_plays()


def test_vocab_sorted_and_roundtrip():
    vocab = Vocab.from_text("hello world")
    assert list(vocab.chars) == sorted(vocab.chars)
    ix = vocab.encode("hold")
    assert ix.dtype == np.int64 and vocab.decode(ix) == "hold"
    assert vocab.char_to_ix[" "] == 0
    with pytest.raises(ValueError, match=r"\['z'\] are not in the vocabulary"):
        vocab.encode("zoo")
    with pytest.raises(ValueError, match="empty"):
        Vocab.from_text("")
