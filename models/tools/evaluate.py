"""Measures a model with the reference sampler and the scorer.

  python3 -m models.tools.evaluate --model models/shapes --per-prompt 6 --guidance 3 4 5 --steps 20

Prompts: every full caption (6 colours x 3 shapes x 3 backgrounds = 54), each
with --per-prompt seeds (seed = 1000 * prompt index + k).  Prints colour,
background and shape accuracy per guidance scale, plus the most common errors.
"""
import argparse
import collections
import time

import torch

from . import data
from .sample import Pipeline
from .score import score


def evaluate(pipe, guidance, steps, per_prompt, scheduler="pndm", grid=None):
    prompts = [(c, s, b) for c in data.COLOURS for s in data.SHAPES for b in data.BACKGROUNDS]
    ok = collections.Counter()
    errors = collections.Counter()
    n = 0
    images = []
    for pi, (c, s, b) in enumerate(prompts):
        text = data.caption(s, c, b)
        for k in range(per_prompt):
            img = pipe(text, seed=1000 * pi + k, steps=steps, guidance=guidance, scheduler=scheduler)[0]
            r = score(img)
            n += 1
            for key, truth in (("colour", c), ("shape", s), ("background", b)):
                if r[key] == truth:
                    ok[key] += 1
                else:
                    errors[f"{key}: {truth} -> {r[key]}"] += 1
            if k == 0:
                images.append(img)
    if grid:
        import numpy as np
        from PIL import Image
        cols = 9
        rows = (len(images) + cols - 1) // cols
        g = np.zeros((rows * 64, cols * 64, 3), np.uint8)
        for i, im in enumerate(images):
            g[(i // cols) * 64:(i // cols + 1) * 64, (i % cols) * 64:(i % cols + 1) * 64] = im
        Image.fromarray(g).save(grid)
    return {k: ok[k] / n for k in ("colour", "background", "shape")}, n, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/shapes")
    ap.add_argument("--guidance", type=float, nargs="+", default=[4.0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--per-prompt", type=int, default=6)
    ap.add_argument("--scheduler", default="pndm")
    ap.add_argument("--grid", help="write the first image of every prompt to this PNG")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pipe = Pipeline(a.model)
    for g in a.guidance:
        t0 = time.time()
        acc, n, errors = evaluate(pipe, g, a.steps, a.per_prompt, a.scheduler, a.grid)
        print(f"guidance {g}: {n} images, colour {acc['colour']:.3f}, background {acc['background']:.3f}, "
              f"shape {acc['shape']:.3f} ({time.time() - t0:.0f}s)")
        for e, cnt in errors.most_common(8):
            print(f"    {cnt:4d}  {e}")


if __name__ == "__main__":
    main()
