"""The vocabulary protocol the labs share: an ordered sequence of tokens, and their ids both ways.

Characters (``shakespeare.Vocab``), IMDB words (``text.TextVocab``) and caption words (``captions.CaptionVocab``)
are each a ``Vocabulary``: ``tokens`` in id order, ``len``, ``vocab[token]`` -> id, ``ids(tokens)`` -> an int64
array, ``tokens_of(ids)`` -> the tokens. The token -> id table is built once, on first use. A vocabulary with an
``unk`` token maps unknown tokens to it; one without says which tokens it lacks.
"""
from functools import cached_property
from typing import Iterable, Optional

import numpy as np


class Vocabulary:
    """Mixin for a vocabulary whose subclass provides ``tokens`` (a sequence in id order) and may set ``unk``."""

    unk: Optional[str] = None           # the token unknown ones map to (None: unknown tokens are an error)

    @property
    def tokens(self):
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.tokens)

    @cached_property
    def index(self) -> dict:
        """{token: id}, built once."""
        return {t: i for i, t in enumerate(self.tokens)}

    def __getitem__(self, token) -> int:
        index = self.index
        if token in index:
            return index[token]
        if self.unk is not None:
            return index[self.unk]
        raise KeyError(f"{token!r} is not in the vocabulary of {len(self)} tokens")

    def ids(self, tokens: Iterable, count: int = -1) -> np.ndarray:
        """tokens -> int64 ids (len(tokens),); unknown ones -> the unk id, or a ValueError naming them."""
        index = self.index
        if self.unk is None:
            tokens = list(tokens)
            missing = sorted(set(tokens) - set(index))
            if missing:
                raise ValueError(f"{missing[:20]} are not in the vocabulary of {len(self)} tokens: build the "
                                 "vocabulary from data that contains them")
            return np.fromiter((index[t] for t in tokens), dtype=np.int64, count=len(tokens))
        unk = index[self.unk]
        return np.fromiter((index.get(t, unk) for t in tokens), dtype=np.int64, count=count)

    def tokens_of(self, ids: Iterable) -> list:
        """ids -> [token]."""
        tokens = self.tokens
        return [tokens[int(i)] for i in ids]
