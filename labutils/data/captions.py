"""The captioning data interface (CS231n's COCO layout), shared by the synthetic scenes and any real set.

A split holds N images (pixels (N, 3, H, W) or precomputed features (N, D): the model's encoder decides) and
M >= N captions as word ids (M, T): ``<START> w1 ... wk <END> <NULL> ...``, with ``image_idxs`` (M,) naming each
caption's image. ``references`` keeps every image's captions as token lists, for BLEU. To drop in COCO features,
build a ``CaptionSplit`` from them and pass ``nn.Linear(D, hidden)`` as the captioner's encoder.
"""
from dataclasses import dataclass, field
from typing import List

import numpy as np

from labutils.data.vocab import Vocabulary

NULL, START, END, UNK = "<NULL>", "<START>", "<END>", "<UNK>"
SPECIALS = (NULL, START, END, UNK)   # ids 0..3; <NULL> = 0 is the padding the loss masks out


@dataclass
class CaptionVocab(Vocabulary):
    """Caption words: the specials, then every word sorted; an unknown word is <UNK>."""
    idx_to_word: list
    unk = UNK

    @property
    def tokens(self):
        return self.idx_to_word

    @property
    def word_to_idx(self):
        return self.index

    @classmethod
    def build(cls, captions):
        """Specials, then every word of the captions, sorted (so ids don't depend on data order)."""
        words = {w for c in captions for w in c.split()}
        return cls(list(SPECIALS) + sorted(words - set(SPECIALS)))


@dataclass
class CaptionSplit:
    images: np.ndarray          # (N, 3, H, W) pixels or (N, D) features, float32
    captions: np.ndarray        # (M, T) int64 word ids
    image_idxs: np.ndarray      # (M,) int64: the image of each caption
    references: list            # N lists of token lists: every caption of each image
    scenes: list = field(default=None, repr=False)   # what was drawn, when the images are synthetic

    def __post_init__(self):
        if len(self.captions) != len(self.image_idxs):
            raise ValueError(f"{len(self.captions)} captions but {len(self.image_idxs)} image_idxs: give one image "
                             "index per caption")
        if len(self.references) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.references)} reference lists: give every "
                             "image its list of captions")


def encode_captions(texts, vocab, max_length=None):
    """Strings -> (M, T) int64: <START> words <END>, padded with <NULL> (id 0) to the longest (or max_length)."""
    ids = [[vocab[START]] + [vocab[w] for w in t.split()] + [vocab[END]] for t in texts]
    T = max(len(s) for s in ids) if max_length is None else max_length
    out = np.zeros((len(ids), T), dtype=np.int64)
    for row, s in zip(out, ids):
        row[:min(len(s), T)] = s[:T]
    return out


def decode_captions(ids: np.ndarray, vocab: "CaptionVocab") -> List[List[str]]:
    """(M, T) word ids -> M token lists: stop at <END>, skip <START> and <NULL>."""
    out = []
    for row in np.asarray(ids):
        words = []
        for i in row:
            word = vocab.idx_to_word[int(i)]
            if word == END:
                break
            if word not in (START, NULL):
                words.append(word)
        out.append(words)
    return out
