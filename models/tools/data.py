"""Procedural training images and their captions.

One shape (circle, square, triangle) in one of six colours on one of three
backgrounds, random size and position, drawn anti-aliased at 64x64.
"""
import random

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 230),
    "yellow": (245, 215, 30),
    "purple": (140, 50, 190),
    "orange": (250, 135, 20),
}
BACKGROUNDS = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle")

# Every word the caption grammar can produce (plus a few harmless extras a
# user is likely to type); the tokenizer gets one token per word.
VOCABULARY = (["a", "an", "on", "shape", "background"] + list(COLOURS) + list(BACKGROUNDS)
              + list(SHAPES) + ["grey", "image", "of", "picture", "with", "and"])

_SUPERSAMPLE = 4


def draw(shape, colour, background, cx, cy, size, image_size=IMAGE_SIZE):
    """Draws one shape.  cx, cy: centre in pixels; size: width of the shape in pixels.

    Returns an HxWx3 uint8 array."""
    s = _SUPERSAMPLE
    big = image_size * s
    img = Image.new("RGB", (big, big), BACKGROUNDS[background])
    d = ImageDraw.Draw(img)
    fill = COLOURS[colour]
    x, y, r = cx * s, cy * s, size * s / 2
    if shape == "circle":
        d.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    elif shape == "square":
        d.rectangle([x - r, y - r, x + r, y + r], fill=fill)
    elif shape == "triangle":
        # upright equilateral triangle, centred on its bounding box
        h = size * s * 3 ** 0.5 / 2
        d.polygon([(x - r, y + h / 2), (x + r, y + h / 2), (x, y - h / 2)], fill=fill)
    else:
        raise ValueError(shape)
    img = img.resize((image_size, image_size), Image.BOX)
    return np.asarray(img, dtype=np.uint8)


def random_scene(rng):
    """Random (shape, colour, background, cx, cy, size) with the shape fully inside."""
    shape = rng.choice(SHAPES)
    colour = rng.choice(list(COLOURS))
    background = rng.choice(list(BACKGROUNDS))
    size = rng.uniform(18, 44)
    margin = size / 2 + 2
    cx = rng.uniform(margin, IMAGE_SIZE - margin)
    cy = rng.uniform(margin, IMAGE_SIZE - margin)
    return shape, colour, background, cx, cy, size


def article(word, rng=None):
    if word[0] in "aeiou":
        # mostly "an orange ...", sometimes the sloppy "a orange ..." people type
        return "a" if rng is not None and rng.random() < 0.3 else "an"
    return "a"


def caption(shape, colour, background, rng=None, p_drop=0.0):
    """Caption for a scene; with rng and p_drop each of colour, shape and
    background is left out with probability p_drop (all three gone -> "")."""
    drop = (lambda: rng.random() < p_drop) if rng is not None else (lambda: False)
    c = None if drop() else colour
    s = None if drop() else shape
    b = None if drop() else background
    if c is None and s is None and b is None:
        return ""
    noun = s if s is not None else "shape"
    phrase = f"{c} {noun}" if c is not None else noun
    if c is None and s is None:
        # background only
        return f"a {b} background"
    text = f"{article(phrase, rng)} {phrase}"
    if b is not None:
        text += f" on a {b} background"
    return text


# Share of training captions that name an attribute wrongly, per attribute (see models/README.md,
# "Why the captions are noisy"); train.py's --caption-noise default.
CAPTION_NOISE = 0.04


def mislabel(value, options, rng, p_wrong):
    """value, or with probability p_wrong a different one of options."""
    if rng.random() < p_wrong:
        return rng.choice([o for o in options if o != value])
    return value


def training_caption(shape, colour, background, rng, p_empty=0.1, p_drop=0.15, p_wrong=0.0):
    """A training caption: empty with probability p_empty, otherwise each attribute
    left out with probability p_drop and, with probability p_wrong, named wrongly
    (caption noise, as in real image-text data: it is what classifier-free guidance
    corrects, see models/README.md)."""
    if rng.random() < p_empty:
        return ""
    if p_wrong:
        shape = mislabel(shape, SHAPES, rng, p_wrong)
        colour = mislabel(colour, list(COLOURS), rng, p_wrong)
        background = mislabel(background, list(BACKGROUNDS), rng, p_wrong)
    return caption(shape, colour, background, rng, p_drop)


def batch(n, rng, with_scenes=False):
    """n random images as float32 [n,3,64,64] in [-1,1] plus their scenes."""
    scenes = [random_scene(rng) for _ in range(n)]
    imgs = np.stack([draw(*sc) for sc in scenes]).astype(np.float32)
    imgs = imgs.transpose(0, 3, 1, 2) / 127.5 - 1.0
    return (imgs, scenes) if with_scenes else imgs


def all_prompts():
    """Every full caption (colour, shape, background): 54 prompts."""
    return [caption(s, c, b) for c in COLOURS for s in SHAPES for b in BACKGROUNDS]


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Write a grid of sample training images")
    ap.add_argument("--out", default="models/tools/work/samples.png")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = random.Random(a.seed)
    imgs, scenes = [], []
    for _ in range(a.n):
        sc = random_scene(r)
        imgs.append(draw(*sc))
        print(training_caption(sc[0], sc[1], sc[2], r, p_wrong=CAPTION_NOISE))
    cols = 8
    rows = (a.n + cols - 1) // cols
    grid = np.zeros((rows * 64, cols * 64, 3), np.uint8)
    for i, im in enumerate(imgs):
        grid[(i // cols) * 64:(i // cols + 1) * 64, (i % cols) * 64:(i % cols + 1) * 64] = im
    import os
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    Image.fromarray(grid).save(a.out)
