"""The Large Movie Review Dataset (aclImdb v1): 25,000 train and 25,000 test reviews, half positive.

Looked up in the project's cache, then the mirror (an extracted ``aclImdb/`` tree or the official
tarball), then downloaded (see ``labutils.data.registry``). A tree is verified before it is trusted.
"""
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from labutils.config import cache_dir, mirror_dir
from labutils.data.registry import REGISTRY, DataNotFoundError, fetch_archive, missing_message

REVIEWS_PER_LABEL = 12500
SPLITS = ("train", "test")
LABELS = ("neg", "pos")   # label 0, label 1


def verify_tree(root, expected=REVIEWS_PER_LABEL):
    """Raise DataNotFoundError unless root/{train,test}/{neg,pos} each hold ``expected`` .txt reviews."""
    problems = []
    for split in SPLITS:
        for label in LABELS:
            folder = Path(root) / split / label
            count = sum(1 for _ in folder.glob("*.txt")) if folder.is_dir() else 0
            if count != expected:
                problems.append(f"{split}/{label} has {count} reviews, expected {expected}")
    if problems:
        raise DataNotFoundError(missing_message(REGISTRY["imdb"], f"the tree at {root} is incomplete ("
                                                + "; ".join(problems) + "); delete it or fix it"))
    return Path(root)


def _extract(archive, dest_parent):
    """Unpack the tarball's aclImdb/ into dest_parent atomically (a temp folder, then a rename)."""
    tmp = Path(tempfile.mkdtemp(dir=dest_parent, prefix=".aclImdb-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")   # 'data' refuses absolute paths and links outside tmp
        (tmp / "aclImdb").rename(dest_parent / "aclImdb")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest_parent / "aclImdb"


def imdb_root(download=True, expected=REVIEWS_PER_LABEL):
    """The verified ``aclImdb`` folder (cache, then mirror tree, then tarball from mirror or download)."""
    cached = cache_dir() / "aclImdb"
    if cached.exists():
        return verify_tree(cached, expected)
    mirror = mirror_dir()
    if mirror and (mirror / "aclImdb").exists():
        return verify_tree(mirror / "aclImdb", expected)   # read in place: no copy needed
    archive = fetch_archive(REGISTRY["imdb"], download=download)
    return verify_tree(_extract(archive, cache_dir()), expected)


def _review(path):
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text (byte {err.start}): the copy of aclImdb is damaged; replace it "
                         "with a fresh extraction of aclImdb_v1.tar.gz (md5 7c2ac02c03563afcf9b574c7e56c153a)"
                         ) from None


def load_imdb(split="train", root=None, expected=REVIEWS_PER_LABEL):
    """Reviews and labels of one split, in a fixed order (neg then pos, by file name).

    -> texts: list of str (2 * expected,), labels: int64 array (2 * expected,), 0 = negative, 1 = positive
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = verify_tree(root, expected) if root is not None else imdb_root(expected=expected)
    texts, labels = [], []
    for label, name in enumerate(LABELS):
        files = sorted((root / split / name).glob("*.txt"), key=lambda p: p.name)
        texts += [_review(f) for f in files]
        labels += [label] * len(files)
    return texts, np.array(labels, dtype=np.int64)
