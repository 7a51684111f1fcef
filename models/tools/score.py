"""Rule-based scorer: reads an image and reports background, shape colour and shape class.

  python3 -m models.tools.score image.png [...]      # one JSON line per image
  python3 -m models.tools.score --selftest 2000      # accuracy on freshly drawn training images

Method: the background colour is the median of the 2-pixel border, classified
to the nearest of white/black/gray.  Each pixel gets a coverage alpha in [0,1]
by projecting it on the line from the background colour to the shape colour
(the median of the clearly-not-background pixels, classified to the nearest of
the six colours).  The shape class comes from the coverage mask:
  * top-half mass fraction (an upright triangle has 1/4 of its area in the top half of
    its bounding box, circles and squares 1/2) -> triangle when < 0.375;
  * otherwise the fill ratio of the bounding box (square 1, circle pi/4 = 0.785)
    -> square when > 0.87, else circle.
"""
import json
import sys

import numpy as np

from . import data

_COLOURS = {k: np.array(v, np.float32) for k, v in data.COLOURS.items()}
_BGS = {k: np.array(v, np.float32) for k, v in data.BACKGROUNDS.items()}


def _nearest(rgb, table):
    return min(table, key=lambda k: float(((table[k] - rgb) ** 2).sum()))


def score(image):
    """image: HxWx3 uint8 (or PIL image).  Returns a dict."""
    img = np.asarray(image, dtype=np.float32)[..., :3]
    border = np.concatenate([img[:2].reshape(-1, 3), img[-2:].reshape(-1, 3),
                             img[:, :2].reshape(-1, 3), img[:, -2:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    background = _nearest(bg_rgb, _BGS)
    dist = np.sqrt(((img - bg_rgb) ** 2).sum(-1))
    core = dist > 80
    result = {"background": background, "colour": None, "shape": None, "fill": None, "top_fraction": None,
              "area": 0.0}
    if core.sum() < 12:
        return result
    fg_rgb = np.median(img[core], axis=0)
    colour = _nearest(fg_rgb, _COLOURS)
    axis = fg_rgb - bg_rgb
    alpha = np.clip(((img - bg_rgb) * axis).sum(-1) / max(float((axis ** 2).sum()), 1e-6), 0, 1)
    alpha[dist < 25] = 0  # noise in the background
    mask = alpha > 0.5
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box = alpha[y0:y1, x0:x1]
    area = float(box.sum())
    fill = area / float((y1 - y0) * (x1 - x0))
    rows = box.sum(1)
    h = y1 - y0
    top = float(rows[: h // 2].sum() + (rows[h // 2] * 0.5 if h % 2 else 0.0))
    top_fraction = top / max(area, 1e-6)
    if top_fraction < 0.375:
        shape = "triangle"
    elif fill > 0.87:
        shape = "square"
    else:
        shape = "circle"
    result.update(colour=colour, shape=shape, fill=round(fill, 4), top_fraction=round(top_fraction, 4),
                  area=round(area, 1))
    return result


def selftest(n, seed=7):
    import random
    rng = random.Random(seed)
    ok = {"background": 0, "colour": 0, "shape": 0}
    wrong = []
    for _ in range(n):
        sc = data.random_scene(rng)
        r = score(data.draw(*sc))
        truth = {"shape": sc[0], "colour": sc[1], "background": sc[2]}
        for k in ok:
            ok[k] += r[k] == truth[k]
        if any(r[k] != truth[k] for k in ok):
            wrong.append((truth, r, round(sc[5], 1)))
    for k in ok:
        print(f"{k}: {ok[k] / n:.4f}")
    for w in wrong[:10]:
        print("wrong:", w)


if __name__ == "__main__":
    import argparse
    from PIL import Image
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="*")
    ap.add_argument("--selftest", type=int, default=0)
    a = ap.parse_args()
    if a.selftest:
        selftest(a.selftest)
    for path in a.images:
        r = score(Image.open(path).convert("RGB"))
        print(json.dumps(dict(r, image=path)))
        sys.stdout.flush()
