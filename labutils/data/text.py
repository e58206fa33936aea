"""Text pipeline for IMDB (plain NumPy): tokeniser, vocabulary, encoding, a tokenised-array cache, length buckets.

Sequences are int64 arrays of token ids until they are batched: ``pad_ids`` turns a list of them into a
right-padded (batch, T) array and a (batch,) array of lengths (``labutils.nn.sentiment`` makes tensors of them).
"""
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import List

import numpy as np

from labutils.atomic import atomic_path
from labutils.config import cache_dir
from labutils.data.vocab import Vocabulary

PAD, UNK = "<pad>", "<unk>"
TOKENIZER_VERSION = 1
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> List[str]:
    """Lower-case, drop HTML line breaks, split into words (with their 's, n't ...) and punctuation marks."""
    return _TOKEN.findall(_BREAK.sub(" ", text.lower()))


@dataclass(frozen=True)
class TextVocab(Vocabulary):
    """Token list with '<pad>' = 0 and '<unk>' = 1, then words by falling frequency (ties alphabetical)."""
    itos: tuple
    unk = UNK

    @property
    def tokens(self):
        return self.itos

    @classmethod
    def build(cls, token_lists, min_freq=2, max_size=None):
        counts = Counter(t for tokens in token_lists for t in tokens)
        words = sorted((w for w, c in counts.items() if c >= min_freq and w not in (PAD, UNK)),
                       key=lambda w: (-counts[w], w))
        return cls((PAD, UNK) + tuple(words[:max_size]))

    @property
    def stoi(self):
        return self.index

    def encode(self, tokens, max_len=None, stoi=None, keep="first"):
        """tokens -> int64 ids, unknown words -> 1; at most max_len, keeping the "first" or the "last" tokens."""
        stoi = stoi or self.stoi
        ids = np.fromiter((stoi.get(t, 1) for t in tokens), dtype=np.int64, count=len(tokens))
        if not max_len:
            return ids
        if keep not in ("first", "last"):
            raise ValueError(f"keep must be 'first' or 'last', not {keep!r}")
        return ids[:max_len] if keep == "first" else ids[-max_len:]


def encode_texts(texts, vocab, max_len, keep="first"):
    """Tokenise and encode every text -> list of int64 arrays (an empty review gives one '<unk>')."""
    stoi = vocab.stoi
    out = []
    for text in texts:
        ids = vocab.encode(tokenize(text), max_len, stoi, keep)
        out.append(ids if len(ids) else np.array([1], dtype=np.int64))
    return out


def _key(texts, **settings):
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for t in texts:
        digest.update(t.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cached_encoding(train_texts, other_texts, max_len=400, min_freq=2, max_size=None, keep="first", name="imdb"):
    """Vocabulary from ``train_texts`` only, and both lists encoded; cached (atomically) by content hash.

    -> vocab (TextVocab), train_ids (list of arrays), other_ids (list of arrays). A second call with the same
    texts and settings loads the arrays in well under a second.
    """
    key = _key(list(train_texts) + ["\1"] + list(other_texts), max_len=max_len, min_freq=min_freq,
               max_size=max_size, keep=keep, version=TOKENIZER_VERSION)
    path = cache_dir() / f"{name}-tokens-{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            vocab = TextVocab(tuple(z["itos"].tolist()))
            return vocab, _split(z["train_ids"], z["train_len"]), _split(z["other_ids"], z["other_len"])
    train_tokens = [tokenize(t) for t in train_texts]
    vocab = TextVocab.build(train_tokens, min_freq, max_size)
    stoi = vocab.stoi
    train_ids = [vocab.encode(t, max_len, stoi, keep) if t else np.array([1]) for t in train_tokens]
    other_ids = encode_texts(other_texts, vocab, max_len, keep)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, itos=np.array(vocab.itos), train_ids=np.concatenate(train_ids),
                     train_len=np.array([len(x) for x in train_ids]), other_ids=np.concatenate(other_ids),
                     other_len=np.array([len(x) for x in other_ids]))
    return vocab, train_ids, other_ids


def _split(flat, lengths):
    return np.split(flat, np.cumsum(lengths)[:-1])


def length_buckets(lengths, batch_size, rng=None, shuffle=True):
    """Batches of indices with similar lengths, so padding stays small; every index appears exactly once.

    Sorted by length (random tie-break when shuffling), cut into batches, and the batch order shuffled.
    -> list of int arrays
    """
    lengths = np.asarray(lengths)
    if shuffle:
        if rng is None:
            raise ValueError("pass rng=np.random.default_rng(seed) to shuffle")
        order = np.lexsort((rng.random(len(lengths)), lengths))
    else:
        order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad_ids(seqs):
    """list of 1-D int arrays -> (ids int64 (B, T) right-padded with 0, lengths int64 (B,))."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if lengths.min() < 1:
        raise ValueError("every sequence needs at least one token")
    out = np.zeros((len(seqs), lengths.max()), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths
