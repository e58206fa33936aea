"""The synthetic captioning scenes: every caption is true of its drawn scene, splits are fixed by seed."""
import numpy as np
import pytest

from labutils.data import scenes
from labutils.data.captions import END, NULL, START, CaptionSplit, CaptionVocab, decode_captions, encode_captions


@pytest.fixture(scope="module")
def small():
    return scenes.load_scenes(n_train=60, n_val=10, n_test=10, seed=3)


def test_every_caption_parses_back_to_its_scene(small):
    splits, _ = small
    for split in splits.values():
        for scene, refs in zip(split.scenes, split.references):
            assert len(refs) == 3
            for ref in refs:
                objects, place, rel = scenes.parse_caption(" ".join(ref))
                assert sorted(objects) == sorted((s.size, s.colour, s.kind) for s in scene)
                assert scenes.caption_is_true(" ".join(ref), scene)


def test_parse_back_catches_false_captions():
    scene = (scenes.Shape("circle", "red", "small", 0, 1), scenes.Shape("square", "blue", "large", 2, 1))
    assert scenes.caption_is_true("a small red circle above a large blue square", scene)
    assert scenes.caption_is_true("a large blue square below a small red circle", scene)
    assert not scenes.caption_is_true("a small red circle below a large blue square", scene)
    assert not scenes.caption_is_true("a small red circle and a large green square", scene)
    assert not scenes.caption_is_true("a small red circle", scene)
    assert scenes.parse_caption("a small red circle in the top left") == ([("small", "red", "circle")], (0, 0), None)
    with pytest.raises(ValueError, match="not a shape"):
        scenes.parse_caption("a huge red circle")


def test_pixels_show_the_shapes():
    scene = (scenes.Shape("square", "red", "large", 1, 1),)
    image = scenes.draw_scene(scene, np.random.default_rng(0), noise=0.0)
    assert image.shape == (3, 32, 32) and image.dtype == np.float32
    np.testing.assert_allclose(image[:, 16, 16], scenes.COLOURS["red"], atol=1e-6)    # the centre cell is red
    np.testing.assert_allclose(image[:, 2, 2], 0.1, atol=1e-6)                        # a corner is background
    circle = scenes.draw_scene((scenes.Shape("circle", "blue", "large", 1, 1),), np.random.default_rng(0), 0.0)
    square_area, circle_area = (image[0] > 0.5).sum(), (circle[2] > 0.5).sum()
    assert circle_area != square_area                                                 # shapes differ in pixels


def test_splits_are_fixed_by_seed_and_vocab_is_sorted(small):
    splits, vocab = small
    again, vocab2 = scenes.load_scenes(n_train=60, n_val=10, n_test=10, seed=3)
    np.testing.assert_array_equal(splits["test"].images, again["test"].images)
    assert splits["train"].references == again["train"].references and vocab.idx_to_word == vocab2.idx_to_word
    words = vocab.idx_to_word[4:]
    assert vocab.idx_to_word[:4] == [NULL, START, END, "<UNK>"] and words == sorted(words)
    assert not np.array_equal(splits["train"].images[:10], splits["test"].images)


def test_encode_decode_roundtrip_and_split_validation(small):
    splits, vocab = small
    tr = splits["train"]
    assert tr.captions.shape[0] == 3 * len(tr.images)
    assert tr.captions[:, 0].tolist() == [vocab[START]] * len(tr.captions)
    decoded = decode_captions(tr.captions, vocab)
    assert decoded == [ref for refs in tr.references for ref in refs]
    ids = encode_captions(["a zebra"], vocab)
    assert decode_captions(ids, vocab) == [["a", "<UNK>"]]
    assert encode_captions(["a red circle"], vocab, max_length=3).shape == (1, 3)
    with pytest.raises(ValueError, match="one image index per caption"):
        CaptionSplit(tr.images, tr.captions, tr.image_idxs[:-1], tr.references)
    assert len(CaptionVocab.build(["b a", "a c"])) == 7


def test_true_fraction_counts_false_and_ungrammatical_captions_as_not_true():
    scene_list, _, captions = scenes.make_scenes(3, seed=4)
    right = [c[0].split() for c in captions]
    assert scenes.true_fraction(right, scene_list) == 1.0
    assert scenes.true_fraction([right[1], ["circle", "a"], right[2]], scene_list) == pytest.approx(1 / 3)
