"""BLEU (Papineni et al., ACL 2002), as captioning papers report BLEU-1..4: corpus level, no smoothing.

BLEU-n = BP * exp(mean_{k=1..n} log p_k), where p_k is the corpus's modified k-gram precision (each candidate
k-gram counts at most as often as it appears in any single reference) and the brevity penalty
BP = min(1, exp(1 - r / c)) compares the candidates' total length c with r, the sum over sentences of the
reference length closest to each candidate's (the shorter on a tie).
"""
import math
from collections import Counter
from typing import Sequence


def ngrams(tokens, n):
    """Counter of the n-grams (tuples) of a token list."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(references, hypothesis, n):
    """-> (clipped matches, hypothesis n-gram count) for one sentence."""
    counts = ngrams(hypothesis, n)
    max_ref = Counter()
    for ref in references:
        max_ref |= ngrams(ref, n)               # element-wise max over the references
    return sum(min(c, max_ref[g]) for g, c in counts.items()), sum(counts.values())


def closest_ref_length(references, hypothesis):
    return min((abs(len(r) - len(hypothesis)), len(r)) for r in references)[1]


def corpus_bleu(list_of_references: Sequence[Sequence[Sequence[str]]], hypotheses: Sequence[Sequence[str]],
                max_n: int = 4) -> float:
    """BLEU-1..max_n of a corpus -> dict {n: score in [0, 1]}.

    list_of_references: one list of token lists per hypothesis; hypotheses: token lists.
    """
    if len(list_of_references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(list_of_references)} reference lists: give one "
                         "list of references per hypothesis")
    if any(len(refs) == 0 for refs in list_of_references):
        raise ValueError("every hypothesis needs at least one reference")
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for refs, hyp in zip(list_of_references, hypotheses):
        for k in range(max_n):
            m, t = modified_precision(refs, hyp, k + 1)
            matches[k] += m
            totals[k] += t
        c += len(hyp)
        r += closest_ref_length(refs, hyp)
    bp = 1.0 if c > r else (math.exp(1 - r / c) if c > 0 else 0.0)
    scores = {}
    for n in range(1, max_n + 1):
        if any(matches[k] == 0 for k in range(n)):
            scores[n] = 0.0                     # log 0: no smoothing, as in the original definition
        else:
            scores[n] = bp * math.exp(sum(math.log(matches[k] / totals[k]) for k in range(n)) / n)
    return scores


def sentence_bleu(references, hypothesis, max_n=4):
    """BLEU-max_n of one sentence (the corpus formula on a corpus of one)."""
    return corpus_bleu([references], [hypothesis], max_n)[max_n]
