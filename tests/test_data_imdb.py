import io
import tarfile

import pytest

from labutils.data import imdb, registry
from labutils.data.imdb import load_imdb, verify_tree


def make_tree(root, n=2, skip=None):
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                if (split, label, i) != skip:
                    (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(f"{split} {label} review {i}<br />")
    return root / "aclImdb"


def test_reads_mirror_tree(tmp_path, monkeypatch):
    make_tree(tmp_path / "mirror")
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path / "mirror"))
    texts, labels = load_imdb("train", expected=2)
    assert texts == ["train neg review 0<br />", "train neg review 1<br />",
                     "train pos review 0<br />", "train pos review 1<br />"]
    assert labels.tolist() == [0, 0, 1, 1]


def test_incomplete_tree_is_reported(tmp_path):
    root = make_tree(tmp_path, n=2, skip=("test", "pos", 1))
    with pytest.raises(registry.DataNotFoundError, match="test/pos has 1 reviews, expected 2"):
        verify_tree(root, expected=2)


def test_missing_dataset_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path / "empty"))
    with pytest.raises(registry.DataNotFoundError) as err:
        load_imdb("train")
    message = str(err.value)
    assert "aclImdb_v1.tar.gz" in message and "7c2ac02c03563afcf9b574c7e56c153a" in message
    assert "RNNLAB_DATA_MIRROR" in message


def test_corrupt_tarball_in_mirror_is_refused(tmp_path, monkeypatch):
    (tmp_path / "aclImdb_v1.tar.gz").write_bytes(b"not a tarball")
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path))
    with pytest.raises(registry.DataNotFoundError, match="corrupt"):
        load_imdb("test")


def test_tarball_is_extracted_atomically(tmp_path, monkeypatch):
    make_tree(tmp_path / "src", n=1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / "aclImdb", arcname="aclImdb")
    archive = tmp_path / "mirror" / "aclImdb_v1.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(buf.getvalue())
    fake = registry.Remote("imdb", "aclImdb_v1.tar.gz", "http://invalid", registry.md5sum(archive), "aclImdb")
    monkeypatch.setitem(imdb.REGISTRY, "imdb", fake)
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path / "mirror"))
    texts, labels = load_imdb("train", expected=1)
    assert len(texts) == 2
    cache = tmp_path / "cache"
    assert (cache / "aclImdb" / "train" / "pos").is_dir()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def test_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_imdb("valid")


def test_a_review_that_is_not_utf8_is_named(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "mirror")
    (root / "train" / "pos" / "1_7.txt").write_bytes(b"caf\xe9 review")        # Latin-1, not UTF-8
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(ValueError, match=r"train/pos/1_7.txt is not UTF-8 text \(byte 3\)"):
        load_imdb("train", expected=2)
