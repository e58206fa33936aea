"""Char-RNN snapshots: parameters, optimiser memory, vocabulary and training facts in one ``.npz``.

* ``save_snapshot`` writes atomically with plain arrays (no pickles inside).
* ``load_snapshot`` reads ``.npz`` with ``allow_pickle=False``, or the 2019 course's legacy pickle
  (a Python 2 dict with bytes keys) through ``RestrictedUnpickler``, which admits only NumPy arrays
  and dtypes and refuses everything else before it can run. Shapes and vocabulary are validated.
* ``python -m labutils.snapshot train ...`` rebuilds ``labutils/assets/char-rnn-snapshot.npz``.
"""
import argparse
import io
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from labutils.atomic import atomic_path
from labutils.config import ASSETS
from labutils.data.shakespeare import Vocab, corpus_hash
from labutils.rnn import PARAM_NAMES, RNNParams

DEFAULT_PATH = ASSETS / "char-rnn-snapshot.npz"
REBUILD = "python -m labutils.snapshot train --plays coriolanus,antony-and-cleopatra,titus-andronicus"


def char_rnn_path() -> Path:
    """Where notebook 02 saves the character RNN it trains (notebooks 03 and 07 load it)."""
    from labutils.config import cache_dir
    return cache_dir() / "models" / "02_char_rnn.npz"


class SnapshotError(ValueError):
    """A snapshot that is missing, corrupt, or does not fit the data it is used with."""


@dataclass
class Snapshot:
    params: RNNParams
    memory: RNNParams
    vocab: Vocab
    meta: dict = field(default_factory=dict)   # hidden_size, seq_length, learning_rate, iterations, ...

    def check_corpus(self, text):
        """Raise SnapshotError unless ``text`` uses exactly this snapshot's vocabulary."""
        corpus = Vocab.from_text(text)
        if corpus != self.vocab:
            extra, missing = sorted(set(corpus.chars) - set(self.vocab.chars)), \
                sorted(set(self.vocab.chars) - set(corpus.chars))
            raise SnapshotError(f"snapshot vocabulary ({len(self.vocab)} chars) does not match the corpus "
                                f"({len(corpus)} chars; only in corpus: {extra}, only in snapshot: {missing}): "
                                f"train a new snapshot ({REBUILD}) or load the corpus it was trained on")


    def check_meta(self, made_by, **expected):
        """Raise SnapshotError unless the snapshot's metadata has these values (what it was trained on, how long,
        in which mode). made_by names what writes it, for the message (e.g. "notebook 02")."""
        wrong = {k: (self.meta.get(k), v) for k, v in expected.items() if self.meta.get(k) != v}
        if wrong:
            described = ", ".join(f"{k} = {got!r} (this notebook needs {want!r})" for k, (got, want) in wrong.items())
            raise SnapshotError(f"the model saved by {made_by} does not fit: {described}; rerun {made_by} "
                                "with the same settings to use it")


def save_snapshot(path, params: RNNParams, memory: RNNParams, vocab: Vocab, **meta) -> Path:
    """Write a snapshot atomically. meta values must be numbers or strings.

    memory: the optimiser's per-parameter state, Adagrad's memory (RNNParams) or an ``charlm.AdamState``, whose
    second moment is stored in its place (and ``optimizer = "adam"`` in meta).
    """
    if hasattr(memory, "v"):
        memory, meta = memory.v, {**meta, "optimizer": "adam"}
    arrays = {name: value for name, value in params.items()}
    arrays.update({f"m{name}": value for name, value in memory.items()})
    arrays["chars"] = np.array(vocab.chars)
    for key, value in meta.items():
        arrays[f"meta_{key}"] = np.asarray(value)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return Path(path)


def _validate(arrays, chars, meta, source):
    chars = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in chars]
    if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
        raise SnapshotError(f"{source}: the vocabulary must be distinct single characters")
    order = np.argsort(chars, kind="stable")           # legacy pickles store list(set(text)): sort it
    try:
        params = RNNParams(**{n: np.asarray(arrays[n], dtype=np.float64) for n in PARAM_NAMES})
        memory = RNNParams(**{n: np.asarray(arrays[f"m{n}"], dtype=np.float64) for n in PARAM_NAMES})
    except KeyError as err:
        raise SnapshotError(f"{source}: missing array {err}; rebuild it with {REBUILD}") from None
    except ValueError as err:
        raise SnapshotError(f"{source}: {err}") from None
    if params.input_size != len(chars) or params.output_size != len(chars):
        raise SnapshotError(f"{source}: weights are for {params.input_size} inputs / {params.output_size} outputs "
                            f"but the vocabulary has {len(chars)} characters")
    for p in (params, memory):
        p.Wxh, p.Why, p.by = p.Wxh[:, order], p.Why[order], p.by[order]
    if not all(np.all(np.isfinite(a)) for _, a in params.items()):
        raise SnapshotError(f"{source}: parameters contain NaN or inf")
    return Snapshot(params, memory, Vocab(tuple(chars[i] for i in order)), meta)


def load_snapshot(path=DEFAULT_PATH, corpus: Optional[str] = None) -> "Snapshot":
    """Load a ``.npz`` snapshot (or a legacy course ``.pkl``); if ``corpus`` text is given, check the vocabulary."""
    path = Path(path)
    if not path.exists():
        raise SnapshotError(f"no snapshot at {path}: rebuild it with `{REBUILD}` (see README)")
    if path.suffix == ".pkl":
        snap = load_legacy_pickle(path)
    else:
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as err:   # noqa: BLE001 - a corrupt file fails in many ways; each is reported with the fix
            raise SnapshotError(f"{path} is not a readable snapshot ({type(err).__name__}: {err}); "
                                f"delete it and rebuild it with `{REBUILD}`") from None
        if "chars" not in arrays:
            raise SnapshotError(f"{path} has no vocabulary ('chars'); rebuild it with `{REBUILD}`")
        meta = {k[5:]: v.item() for k, v in arrays.items() if k.startswith("meta_")}
        snap = _validate(arrays, arrays["chars"].tolist(), meta, str(path))
    if corpus is not None:
        snap.check_corpus(corpus)
    return snap


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only plain data and NumPy arrays; any other global is refused before it is loaded."""
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        ("__builtin__", "object"), ("builtins", "object"),
        ("_codecs", "encode"),   # how Python 3 writes bytes in protocol 2: str -> bytes, nothing else
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a snapshot may hold only NumPy arrays, "
                                     "dicts, lists, tuples, strings, bytes and numbers")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent references in a snapshot")


def restricted_loads(data):
    """pickle.loads for Python 2 course files (encoding='bytes'), through RestrictedUnpickler."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


def _key(k):
    return k.decode("ascii") if isinstance(k, bytes) else k


def load_legacy_pickle(path):
    """The 2019 course's ``char-rnn-snapshot.pkl``: bytes keys b'Wxh', ..., b'mWxh', ..., b'chars', ..."""
    try:
        raw = restricted_loads(Path(path).read_bytes())
    except pickle.UnpicklingError as err:
        raise SnapshotError(f"{path}: {err}") from None
    except Exception as err:   # noqa: BLE001 - any unreadable pickle is reported, never raised as is
        raise SnapshotError(f"{path} is not a readable pickle ({type(err).__name__}: {err})") from None
    if not isinstance(raw, dict):
        raise SnapshotError(f"{path}: expected a dict, found {type(raw).__name__}")
    d = {_key(k): v for k, v in raw.items()}
    if "chars" not in d:
        raise SnapshotError(f"{path}: no 'chars' entry, so the vocabulary is unknown")
    meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()
            if k in ("data_size", "vocab_size") and isinstance(v, (int, float, np.generic))}
    meta["format"] = "legacy-pickle"
    return _validate(d, list(d["chars"]), meta, str(path))


def train_snapshot(plays=("coriolanus",), hidden_size=250, seq_length=25, learning_rate=0.05, batch_size=128,
                   iterations=12000, seed=0, out=DEFAULT_PATH, progress=True):
    """Train a char-RNN with the fast path and save it as a snapshot; returns (Snapshot path, TrainResult)."""
    from labutils.charlm import TrainSettings, train
    from labutils.data import load_corpus
    text = load_corpus(plays)
    vocab = Vocab.from_text(text)
    settings = TrainSettings(hidden_size=hidden_size, seq_length=seq_length, learning_rate=learning_rate,
                             batch_size=batch_size, seed=seed, dtype=np.float32)
    result = train(vocab.encode(text), len(vocab), settings, iterations, progress=progress)
    path = save_snapshot(out, result.params.map(lambda a: a.astype(np.float32)),
                         result.memory.map(lambda a: a.astype(np.float32)), vocab,
                         hidden_size=hidden_size, seq_length=seq_length, learning_rate=learning_rate,
                         batch_size=batch_size, iterations=result.iterations, seed=seed,
                         smooth_loss=result.smooth_loss, plays="+".join(plays), corpus_sha256=corpus_hash(text),
                         train_seconds=round(result.seconds, 1))
    return path, result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m labutils.snapshot")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help=f"train a char-RNN and save it (default {DEFAULT_PATH.name})")
    t.add_argument("--plays", default="coriolanus", help="comma-separated play names (labutils.data.list_plays())")
    t.add_argument("--hidden-size", type=int, default=250)
    t.add_argument("--iterations", type=int, default=12000)
    # Adagrad's first steps move every weight by about learning_rate; at 250 units, 0.1 drives the
    # recurrence into saturation and learning stalls (measured: smoothed loss 88 vs 72 after 1,500 iterations).
    t.add_argument("--learning-rate", type=float, default=0.05)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=str(DEFAULT_PATH))
    args = parser.parse_args(argv)
    path, result = train_snapshot(tuple(args.plays.split(",")), hidden_size=args.hidden_size,
                                  learning_rate=args.learning_rate, iterations=args.iterations,
                                  batch_size=args.batch_size, seed=args.seed, out=args.out)
    print(f"saved {path}: {result.iterations} iterations, smoothed loss {result.smooth_loss:.2f}, "
          f"{result.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
