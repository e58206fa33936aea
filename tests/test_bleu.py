"""BLEU on the textbook examples (Papineni et al. 2002, and the NLTK documentation's worked sentence)."""
import math

import pytest

from labutils import bleu

CANDIDATE = "It is a guide to action which ensures that the military always obeys the commands of the party".split()
REFERENCES = [
    "It is a guide to action that ensures that the military will forever heed Party commands".split(),
    ("It is the guiding principle which guarantees the military forces always being under the command "
     "of the Party").split(),
    "It is the practical guide for the army always to heed the directions of the party".split(),
]


def test_modified_precision_paper_examples():
    assert bleu.modified_precision(REFERENCES, CANDIDATE, 1) == (17, 18)
    assert bleu.modified_precision(REFERENCES, CANDIDATE, 2) == (10, 17)
    # the paper's degenerate candidate: "the" is clipped at its largest count in one reference (2)
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    assert bleu.modified_precision(refs, ["the"] * 7, 1) == (2, 7)


def test_sentence_bleu_matches_the_documented_value():
    assert bleu.sentence_bleu(REFERENCES, CANDIDATE) == pytest.approx(0.5045666840058485, abs=1e-12)


def test_brevity_penalty_and_perfect_match():
    ref = "a small red circle above a large blue square".split()
    assert bleu.corpus_bleu([[ref]], [ref]) == {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}
    short = ref[:6]                                      # every n-gram matches, but 6 words against 9
    assert bleu.corpus_bleu([[ref]], [short])[1] == pytest.approx(math.exp(1 - 9 / 6))
    # the closest reference length counts, so a second, shorter reference lifts the penalty
    assert bleu.corpus_bleu([[ref, ref[:6]]], [short])[4] == pytest.approx(1.0)


def test_no_matching_ngram_gives_zero_and_bad_input_is_named():
    assert bleu.corpus_bleu([[["a", "b", "c", "d"]]], [["a", "c", "b", "d"]])[4] == 0.0
    with pytest.raises(ValueError, match="one list of references per hypothesis"):
        bleu.corpus_bleu([[["a"]]], [["a"], ["b"]])
    with pytest.raises(ValueError, match="at least one reference"):
        bleu.corpus_bleu([[]], [["a"]])
