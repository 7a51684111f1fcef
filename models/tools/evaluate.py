"""Measures a model with the reference sampler (sample.py) and the rule-based scorer (score.py).

  python3 -m models.tools.evaluate --model models/shapes --guidance 1 3 4 5 7.5 --per-prompt 6 --steps 20

* accuracy: every full caption (6 colours x 3 shapes x 3 backgrounds = 54 prompts), each with
  --per-prompt seeds (seed = 1000 * prompt index + k), PNDM, no negative prompt; the images go
  through the UNet --batch at a time.  One markdown table row per guidance scale: the share of
  images whose colour, background and shape the scorer reads as prompted, and all three at once.
* negative prompt: --negative-prompt (default "a circle on a white background") over
  --negative-seeds seeds (0, 1, ...) at --negative-guidance (default: the model's
  denoise.json guidanceScale), without a negative prompt and with each of --negative-colours
  as the negative prompt; the share of images of that colour in each.
* determinism: the same request twice ("a red circle on a white background", seed 42) must
  give bit-identical PNG bytes.
* --samples PATH: a picture of --samples-seeds seeds (columns) for 12 prompts (rows) at the
  model's default guidance.
"""
import argparse
import collections
import hashlib
import io
import json
import os
import shlex
import sys
import time

import numpy as np
import torch
from PIL import Image

from . import data
from .sample import Pipeline
from .score import score

FIELDS = ("colour", "background", "shape")


def accuracy(pipe, guidance, steps, per_prompt, scheduler="pndm", batch=324):
    jobs = []
    for pi, (c, s, b) in enumerate((c, s, b) for c in data.COLOURS for s in data.SHAPES for b in data.BACKGROUNDS):
        for k in range(per_prompt):
            jobs.append((data.caption(s, c, b), 1000 * pi + k, {"colour": c, "shape": s, "background": b}))
    ok = collections.Counter()
    errors = collections.Counter()
    for i in range(0, len(jobs), batch):
        part = jobs[i:i + batch]
        images, _ = pipe.generate([j[0] for j in part], [""] * len(part), [j[1] for j in part], steps=steps,
                                  guidance=guidance, scheduler=scheduler)
        for (_, _, truth), img in zip(part, images):
            r = score(img)
            good = True
            for key in FIELDS:
                if r[key] == truth[key]:
                    ok[key] += 1
                else:
                    good = False
                    errors[f"{key}: {truth[key]} -> {r[key]}"] += 1
            ok["all"] += good
    n = len(jobs)
    return {k: ok[k] / n for k in FIELDS + ("all",)}, n, errors


def negative_effect(pipe, prompt, colours, seeds, guidance, steps, batch=324):
    """Colour shares without a negative prompt and with each colour as the negative prompt."""
    jobs = [(neg, s) for neg in [""] + list(colours) for s in range(seeds)]
    found = collections.defaultdict(collections.Counter)
    for i in range(0, len(jobs), batch):
        part = jobs[i:i + batch]
        images, _ = pipe.generate([prompt] * len(part), [j[0] for j in part], [j[1] for j in part], steps=steps,
                                  guidance=guidance)
        for (neg, _), img in zip(part, images):
            found[neg][score(img)["colour"]] += 1
    return found


def png_bytes(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def determinism(pipe, guidance, steps):
    digests = []
    for _ in range(2):
        image = pipe("a red circle on a white background", seed=42, steps=steps, guidance=guidance)[0]
        digests.append(hashlib.sha256(png_bytes(image)).hexdigest())
    return digests


SAMPLE_PROMPTS = [
    "a red circle on a white background", "a green square on a black background",
    "a blue triangle on a gray background", "a yellow circle on a black background",
    "a purple square on a white background", "an orange triangle on a white background",
    "a red triangle on a gray background", "a blue square on a white background",
    "a green circle on a gray background", "a purple triangle on a black background",
    "a yellow square on a gray background", "an orange circle on a black background",
]


def samples(pipe, path, guidance, steps, seeds):
    n = len(SAMPLE_PROMPTS)
    prompts = [p for p in SAMPLE_PROMPTS for _ in range(seeds)]
    images, _ = pipe.generate(prompts, [""] * len(prompts), [k for _ in SAMPLE_PROMPTS for k in range(seeds)],
                              steps=steps, guidance=guidance)
    pad = 2
    grid = np.full((n * (64 + pad) + pad, seeds * (64 + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, seeds)
        grid[pad + r * (64 + pad):pad + r * (64 + pad) + 64, pad + c * (64 + pad):pad + c * (64 + pad) + 64] = im
    Image.fromarray(grid).save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/shapes")
    ap.add_argument("--guidance", type=float, nargs="*", default=[4.0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--per-prompt", type=int, default=6)
    ap.add_argument("--scheduler", default="pndm")
    ap.add_argument("--batch", type=int, default=324, help="images per UNet call")
    ap.add_argument("--negative-prompt", default="a circle on a white background")
    ap.add_argument("--negative-colours", nargs="*", default=["red", "blue"])
    ap.add_argument("--negative-seeds", type=int, default=60, help="0 skips the negative-prompt measurement")
    ap.add_argument("--negative-guidance", type=float, help="default: the model's guidanceScale")
    ap.add_argument("--samples", help="write a sample picture (12 prompts x --samples-seeds) to this PNG")
    ap.add_argument("--samples-seeds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    print("command: python3 -m models.tools.evaluate " + shlex.join(sys.argv[1:]))
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.model, "denoise.json"), encoding="utf-8") as f:
        default_guidance = json.load(f)["defaults"]["guidanceScale"]
    print(f"model {a.model}, default guidance {default_guidance}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    sys.stdout.flush()
    pipe = Pipeline(a.model)

    if a.guidance:
        rows = []
        for g in a.guidance:
            t0 = time.time()
            acc, n, errors = accuracy(pipe, g, a.steps, a.per_prompt, a.scheduler, a.batch)
            rows.append((g, n, acc, time.time() - t0))
            print(f"guidance {g}: {n} images, colour {acc['colour']:.3f}, background {acc['background']:.3f}, "
                  f"shape {acc['shape']:.3f}, all three {acc['all']:.3f} ({time.time() - t0:.0f}s); most common errors:")
            for e, cnt in errors.most_common(6):
                print(f"    {cnt:4d}  {e}")
            sys.stdout.flush()
        print(f"\n{a.scheduler.upper()}, {a.steps} steps, 54 prompts x {a.per_prompt} seeds:\n")
        print("| guidance | images | colour | background | shape | all three |")
        print("|---:|---:|---:|---:|---:|---:|")
        for g, n, acc, _ in rows:
            print(f"| {g:g} | {n} | " + " | ".join(f"{100 * acc[k]:.1f}%" for k in FIELDS + ("all",)) + " |")
        best = max(rows, key=lambda r: r[2]["all"])
        print(f"\nbest guidance by the all-three share: {best[0]:g}\n")
        sys.stdout.flush()

    if a.negative_seeds > 0:
        g = a.negative_guidance if a.negative_guidance is not None else default_guidance
        t0 = time.time()
        found = negative_effect(pipe, a.negative_prompt, a.negative_colours, a.negative_seeds, g, a.steps, a.batch)
        print(f'negative prompt: "{a.negative_prompt}", seeds 0..{a.negative_seeds - 1}, guidance {g:g}, '
              f"{a.steps} PNDM steps ({time.time() - t0:.0f}s)\n")
        print("| colour C | images of colour C, no negative prompt | with negative prompt \"C\" |")
        print("|---|---:|---:|")
        for c in a.negative_colours:
            print(f"| {c} | {found[''][c]}/{a.negative_seeds} ({100 * found[''][c] / a.negative_seeds:.1f}%) | "
                  f"{found[c][c]}/{a.negative_seeds} ({100 * found[c][c] / a.negative_seeds:.1f}%) |")
        print("\ncolours found without a negative prompt: "
              + ", ".join(f"{k} {v}" for k, v in found[""].most_common()))
        for c in a.negative_colours:
            print(f'colours found with negative "{c}": ' + ", ".join(f"{k} {v}" for k, v in found[c].most_common()))
        print()
        sys.stdout.flush()

    d = determinism(pipe, default_guidance, a.steps)
    print(f"determinism: same request twice -> PNG sha256 {d[0][:16]}... and {d[1][:16]}...: "
          + ("bit-identical" if d[0] == d[1] else "DIFFERENT"))

    if a.samples:
        samples(pipe, a.samples, default_guidance, a.steps, a.samples_seeds)
        print(f"wrote {a.samples} ({len(SAMPLE_PROMPTS)} prompts x seeds 0..{a.samples_seeds - 1}, "
              f"guidance {default_guidance:g}, {a.steps} PNDM steps)")


if __name__ == "__main__":
    main()
