import pickle

import numpy as np
import pytest

from labutils.data import Vocab
from labutils.rnn import RNNParams
from labutils.snapshot import SnapshotError, load_snapshot, save_snapshot


def make(rng, chars="\n :abc"):
    vocab = Vocab.from_text(chars)
    params = RNNParams.init(len(vocab), 4, len(vocab), rng, scale=0.5)
    return params, params.map(np.abs), vocab


def test_roundtrip(tmp_path, rng):
    params, memory, vocab = make(rng)
    path = save_snapshot(tmp_path / "s.npz", params, memory, vocab, iterations=10, plays="coriolanus")
    snap = load_snapshot(path)
    assert snap.vocab == vocab and snap.meta == {"iterations": 10, "plays": "coriolanus"}
    for (name, a), (_, b) in zip(params.items(), snap.params.items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"], "temporary files left behind"


def test_adam_state_is_saved_as_its_second_moment(tmp_path, rng):
    from labutils.charlm import AdamState
    params, memory, vocab = make(rng)
    path = save_snapshot(tmp_path / "s.npz", params, AdamState(params.zeros_like(), memory, step=3), vocab)
    snap = load_snapshot(path)
    assert snap.meta == {"optimizer": "adam"}
    np.testing.assert_array_equal(snap.memory.Whh, memory.Whh)


def test_vocabulary_mismatch_names_the_problem(tmp_path, rng):
    path = save_snapshot(tmp_path / "s.npz", *make(rng))
    load_snapshot(path, corpus="abc: \n")
    with pytest.raises(SnapshotError, match=r"does not match the corpus .*only in corpus: \['z'\]"):
        load_snapshot(path, corpus="abcz: \n")


def test_missing_and_corrupt_files_say_how_to_rebuild(tmp_path):
    with pytest.raises(SnapshotError, match="labutils.snapshot train"):
        load_snapshot(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SnapshotError, match="rebuild"):
        load_snapshot(bad)


def test_wrong_shapes_are_rejected(tmp_path, rng):
    params, memory, vocab = make(rng)
    arrays = {**dict(params.items()), **{f"m{k}": v for k, v in memory.items()}, "chars": np.array(vocab.chars)}
    arrays["Whh"] = np.zeros((3, 3))
    np.savez(tmp_path / "x.npz", **arrays)
    with pytest.raises(SnapshotError, match="Whh has shape"):
        load_snapshot(tmp_path / "x.npz")


def test_npz_with_objects_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", chars=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        load_snapshot(tmp_path / "obj.npz")


def legacy_dict(params, memory, chars):
    d = {k.encode(): v for k, v in params.items()}
    d.update({b"m" + k.encode(): v for k, v in memory.items()})
    d[b"chars"] = [c.encode() for c in chars]
    d[b"char_to_ix"] = {c.encode(): i for i, c in enumerate(chars)}
    d[b"ix_to_char"] = {i: c.encode() for i, c in enumerate(chars)}
    d[b"data_size"], d[b"vocab_size"] = 1000, len(chars)
    return d


def test_legacy_pickle_is_loaded_and_its_vocabulary_sorted(tmp_path, rng):
    unsorted = ["c", "a", "\n", ":", " ", "b"]          # like list(set(data))
    V, H = len(unsorted), 4
    params = RNNParams.init(V, H, V, rng, scale=0.5)
    memory = params.map(np.abs)
    path = tmp_path / "char-rnn-snapshot.pkl"
    path.write_bytes(pickle.dumps(legacy_dict(params, memory, unsorted), protocol=2))
    snap = load_snapshot(path)
    assert snap.vocab.chars == tuple(sorted(unsorted))
    assert snap.meta["data_size"] == 1000
    # the same character must give the same hidden state and the same output probability
    for c in unsorted:
        old, new = unsorted.index(c), snap.vocab.char_to_ix[c]
        np.testing.assert_allclose(params.Wxh[:, old], snap.params.Wxh[:, new])
        np.testing.assert_allclose(params.Why[old], snap.params.Why[new])


class Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.target}",))


def test_pickle_that_runs_code_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({b"chars": [b"a"], b"Wxh": Evil(marker)}, protocol=2))
    with pytest.raises(SnapshotError, match="refusing to load"):
        load_snapshot(path)
    assert not marker.exists()


def test_pickle_that_is_not_a_dict(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(SnapshotError, match="expected a dict"):
        load_snapshot(path)


def test_a_model_from_another_notebook_is_checked_before_use(tmp_path):
    from labutils.data import Vocab
    from labutils.rnn import RNNParams
    from labutils.snapshot import SnapshotError, load_snapshot, save_snapshot
    vocab = Vocab.from_text("abc")
    params = RNNParams.init(3, 4, 3, np.random.default_rng(0))
    path = save_snapshot(tmp_path / "m.npz", params, params.zeros_like(), vocab, plays="coriolanus", mode="quick",
                         iterations=10)
    snap = load_snapshot(path)
    snap.check_meta("notebook 02", plays="coriolanus", mode="quick")
    with pytest.raises(SnapshotError, match="mode = 'quick' \\(this notebook needs 'full'\\); rerun notebook 02"):
        snap.check_meta("notebook 02", plays="coriolanus", mode="full")


def test_the_rebuild_command_is_the_readmes():
    from labutils.config import PROJECT_ROOT
    from labutils.snapshot import REBUILD
    assert f"`{REBUILD}`" in (PROJECT_ROOT / "README.md").read_text()
