"""A synthetic captioning data set for notebook 09: small scenes of coloured shapes, each with several captions.

No real captioning set (COCO, Flickr) reaches these machines, so the images are drawn here with NumPy:
1-3 shapes (circle, square, triangle; red, green, blue, yellow; small or large), each in its own cell of a
3 x 3 grid on a 32 x 32 image, with a little jitter and pixel noise. Every caption comes from a small grammar
and is true of its scene (``parse_caption`` reads one back; the tests compare it with the scene):

    one shape:    "a small red circle" / "a small red circle in the top left" / "there is a small red circle"
    two shapes:   "a small red circle above a large blue square" / "a large blue square below a small red circle"
                  / "a small red circle and a large blue square"
    three shapes: "a small red circle , a large blue square and a small green triangle" (reading order),
                  the same in reverse order, and "there is ..." + the reading order

Images are (3, 32, 32) float32 in [0, 1]. ``load_scenes`` returns COCO-style splits (see labutils.data.captions).
"""
from collections import Counter
from dataclasses import dataclass

import numpy as np

from labutils.data.captions import CaptionSplit, CaptionVocab, encode_captions

KINDS = ("circle", "square", "triangle")
COLOURS = {"red": (0.9, 0.15, 0.1), "green": (0.1, 0.75, 0.2), "blue": (0.2, 0.35, 1.0), "yellow": (0.95, 0.85, 0.1)}
SIZES = {"small": 3.0, "large": 4.8}            # half-width in pixels; a grid cell is 32/3 = 10.7 pixels wide
IMAGE_SIZE, GRID = 32, 3
PLACES = {(0, 0): "in the top left", (0, 1): "at the top", (0, 2): "in the top right",
          (1, 0): "on the left", (1, 1): "in the middle", (1, 2): "on the right",
          (2, 0): "in the bottom left", (2, 1): "at the bottom", (2, 2): "in the bottom right"}
RELATIONS = ("above", "below", "to the left of", "to the right of")


@dataclass(frozen=True)
class Shape:
    kind: str
    colour: str
    size: str
    row: int
    col: int

    @property
    def words(self):
        return f"{self.size} {self.colour} {self.kind}"


def random_scene(rng, max_shapes=3):
    """1..max_shapes shapes in distinct grid cells, sorted in reading order (row, then column)."""
    n = int(rng.integers(1, max_shapes + 1))
    cells = rng.choice(GRID * GRID, size=n, replace=False)
    shapes = [Shape(str(rng.choice(KINDS)), str(rng.choice(list(COLOURS))), str(rng.choice(list(SIZES))),
                    int(c) // GRID, int(c) % GRID) for c in cells]
    return tuple(sorted(shapes, key=lambda s: (s.row, s.col)))


def draw_scene(scene, rng, noise=0.03):
    """-> image (3, 32, 32) float32 in [0, 1]: dark background, each shape filled with its colour."""
    image = np.full((3, IMAGE_SIZE, IMAGE_SIZE), 0.1, dtype=np.float32)
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] + 0.5
    cell = IMAGE_SIZE / GRID
    for s in scene:
        cy, cx = (s.row + 0.5) * cell + rng.uniform(-0.5, 0.5), (s.col + 0.5) * cell + rng.uniform(-0.5, 0.5)
        r, dy, dx = SIZES[s.size], yy - cy, xx - cx
        if s.kind == "circle":
            mask = dx ** 2 + dy ** 2 <= r ** 2
        elif s.kind == "square":
            mask = (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
        else:                                   # triangle, apex up: width grows from 0 at the top to 2r at the base
            mask = (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
        image[:, mask] = np.asarray(COLOURS[s.colour], dtype=np.float32)[:, None]
    image += rng.normal(0, noise, image.shape).astype(np.float32)
    return np.clip(image, 0, 1)


def relation(a, b):
    """How a lies relative to b: "above"/"below" when their rows differ, else "to the left of"/"to the right of"."""
    if a.row != b.row:
        return "above" if a.row < b.row else "below"
    return "to the left of" if a.col < b.col else "to the right of"


def captions_for(scene):
    """All the grammar's phrasings of a scene -> list of strings (3 for every scene)."""
    a = [f"a {s.words}" for s in scene]
    if len(scene) == 1:
        return [a[0], f"{a[0]} {PLACES[scene[0].row, scene[0].col]}", f"there is {a[0]}"]
    if len(scene) == 2:
        return [f"{a[0]} {relation(*scene)} {a[1]}", f"{a[1]} {relation(scene[1], scene[0])} {a[0]}",
                f"{a[0]} and {a[1]}"]
    if len(scene) == 3:
        return [f"{a[0]} , {a[1]} and {a[2]}", f"{a[2]} , {a[1]} and {a[0]}", f"there is {a[0]} , {a[1]} and {a[2]}"]
    raise ValueError(f"the grammar describes 1 to 3 shapes, not {len(scene)}")


def parse_caption(caption):
    """Read a caption of the grammar back -> (objects, place, relation).

    objects: list of (size, colour, kind) in the caption's order; place: (row, col) or None; relation: the words
    relating the first object to the second, or None. Raises ValueError on anything the grammar can't produce.
    """
    words = caption.split()
    if words[:2] == ["there", "is"]:
        words = words[2:]
    objects, place, rel, i = [], None, None, 0
    while i < len(words):
        if words[i] != "a" or len(words) - i < 4:
            raise ValueError(f"expected 'a <size> <colour> <kind>' at word {i} of {caption!r}")
        size, colour, kind = words[i + 1:i + 4]
        if size not in SIZES or colour not in COLOURS or kind not in KINDS:
            raise ValueError(f"{' '.join(words[i:i + 4])!r} is not a shape of the grammar (in {caption!r})")
        objects.append((size, colour, kind))
        i += 4
        rest = " ".join(words[i:])
        for phrase in (",", "and", *RELATIONS):
            if rest.startswith(phrase + " a "):
                rel = phrase if phrase in RELATIONS else rel
                i += len(phrase.split())
                break
        else:
            matches = [cell for cell, text in PLACES.items() if rest == text]
            if matches and len(objects) == 1:
                place, i = matches[0], len(words)
            elif rest:
                raise ValueError(f"can't read {rest!r} in {caption!r}")
    return objects, place, rel


def caption_is_true(caption, scene):
    """True when the caption names exactly the scene's shapes and its place or relation holds."""
    objects, place, rel = parse_caption(caption)
    if Counter(objects) != Counter((s.size, s.colour, s.kind) for s in scene):
        return False
    if place is not None and place != (scene[0].row, scene[0].col):
        return False
    if rel is not None:
        first, second = ([s for s in scene if (s.size, s.colour, s.kind) == o] for o in objects[:2])
        return any(relation(a, b) == rel for a in first for b in second if a != b)
    return True


def true_fraction(hypotheses, scene_list):
    """The share of generated captions (lists of words) that are true of their scenes; an ungrammatical caption
    counts as false."""
    ok = 0
    for words, scene in zip(hypotheses, scene_list):
        try:
            ok += caption_is_true(" ".join(words), scene)
        except ValueError:                       # not even grammatical
            pass
    return ok / len(hypotheses)


def cell_labels(scene):
    """-> (9,) int64: for each grid cell in reading order, 0 if empty, else 1 + the index of (kind, colour, size)."""
    labels = np.zeros(GRID * GRID, dtype=np.int64)
    for s in scene:
        labels[s.row * GRID + s.col] = 1 + (KINDS.index(s.kind) * len(COLOURS) + list(COLOURS).index(s.colour)) \
            * len(SIZES) + list(SIZES).index(s.size)
    return labels


N_CELL_CLASSES = 1 + len(KINDS) * len(COLOURS) * len(SIZES)


def make_scenes(n, seed):
    """n random scenes, their images (n, 3, 32, 32) and captions (n lists of strings), all from one seed."""
    rng = np.random.default_rng(seed)
    scenes = [random_scene(rng) for _ in range(n)]
    images = np.stack([draw_scene(s, rng) for s in scenes]) if n else np.zeros((0, 3, IMAGE_SIZE, IMAGE_SIZE))
    return scenes, images.astype(np.float32), [captions_for(s) for s in scenes]


def load_scenes(n_train=4000, n_val=500, n_test=500, seed=0, max_length=None):
    """Fixed train/val/test splits (each split has its own seed derived from ``seed``) and their vocabulary.

    -> (splits {"train", "val", "test"}: CaptionSplit, vocab: CaptionVocab). Every caption of every image is a
    training pair; all captions of an image are its references for BLEU. Drawing 5,000 scenes takes about 2 s.
    """
    raw = {name: make_scenes(n, seed * 1000 + k) for k, (name, n) in
           enumerate((("train", n_train), ("val", n_val), ("test", n_test)))}
    vocab = CaptionVocab.build(c for _, _, caps in raw.values() for cs in caps for c in cs)
    splits = {}
    for name, (scenes, images, caps) in raw.items():
        texts = [c for cs in caps for c in cs]
        image_idxs = np.repeat(np.arange(len(caps)), [len(cs) for cs in caps])
        splits[name] = CaptionSplit(images, encode_captions(texts, vocab, max_length), image_idxs,
                                    [[c.split() for c in cs] for cs in caps], scenes)
    return splits, vocab
