"""Reference fixtures for the Java pipeline, made with the reference sampler (sample.py).

  python3 -m models.tools.fixtures --model models/shapes            # -> src/test/resources/fixtures/shapes/
  python3 -m models.tools.fixtures --model models/tiny-random --out /tmp/fixtures

One <case>.json per case, with the request, the token ids the sampler fed the
text encoder, the final latents and the names of the PNG files written next to it:
<case>.png (one image) or <case>-0.png, <case>-1.png (two), and <case>-init.png for
image-to-image.  JSON fields:

  case, model, prompt, negativePrompt ("" for none), seed, scheduler ("pndm" | "ddim"), eta,
  numInferenceSteps, guidanceScale, width, height, numImages, strength (null for text-to-image),
  initImage (file name or null), latentShape [numImages, 4, h/8, w/8],
  finalLatents (flat row-major float32 values after the last denoising step, before the
  division by scaling_factor), images (PNG file names, one per image), promptIds, negativeIds.

The sampler's conventions are listed in sample.py's docstring.  Floats are written
with the shortest decimal that reads back as the same float32.
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image

from . import data
from .sample import Pipeline


def cases(default_guidance):
    """(case, request) pairs.  "init" draws the image-to-image start with data.draw."""
    g = default_guidance
    return [
        ("pndm_red_circle_s7", dict(prompt="a red circle on a white background", seed=7, scheduler="pndm",
                                    steps=20, guidance=g)),
        ("pndm_negative_blue_s11", dict(prompt="a circle on a white background", negative="blue", seed=11,
                                        scheduler="pndm", steps=20, guidance=g)),
        ("pndm_no_guidance_s3", dict(prompt="a blue square on a black background", seed=3, scheduler="pndm",
                                     steps=20, guidance=1.0)),
        ("ddim_eta0_s5", dict(prompt="a yellow triangle on a gray background", seed=5, scheduler="ddim",
                              steps=15, guidance=7.5)),
        ("ddim_eta1_s6", dict(prompt="a purple circle on a black background", seed=6, scheduler="ddim", eta=1.0,
                              steps=10, guidance=g)),
        ("pndm_two_images_s100", dict(prompt="an orange square on a white background", seed=100,
                                      scheduler="pndm", steps=20, guidance=g, num_images=2)),
        ("pndm_img2img_s9_strength06", dict(prompt="a red square on a black background", seed=9,
                                            scheduler="pndm", steps=20, guidance=g, strength=0.6,
                                            init=("square", "green", "black", 32.0, 32.0, 28.0))),
        ("ddim_img2img_s21_strength05", dict(prompt="a yellow circle on a white background", seed=21,
                                             scheduler="ddim", steps=15, guidance=g, strength=0.5,
                                             init=("circle", "blue", "white", 30.0, 34.0, 30.0))),
    ]


def f32(values):
    """float32 values as the shortest decimals that read back as the same float32."""
    return [float(np.format_float_positional(np.float32(v), unique=True, trim="0")) for v in values]


def write_case(pipe, model_name, out, name, req):
    prompt, negative = req["prompt"], req.get("negative", "")
    n = req.get("num_images", 1)
    width = height = 64
    init_image, init_name, strength = None, None, None
    if "init" in req:
        init_image = data.draw(*req["init"])
        init_name = f"{name}-init.png"
        Image.fromarray(init_image).save(os.path.join(out, init_name))
        # read back what the Java side will read
        init_image = np.asarray(Image.open(os.path.join(out, init_name)).convert("RGB"))
        strength = req["strength"]
        height, width = init_image.shape[:2]
    images, latents = pipe.generate([prompt] * n, [negative] * n, [req["seed"] + i for i in range(n)],
                                    steps=req["steps"], guidance=req["guidance"], width=width, height=height,
                                    scheduler=req["scheduler"], eta=req.get("eta", 0.0), init_image=init_image,
                                    strength=strength if strength is not None else 0.8)
    names = [f"{name}.png"] if n == 1 else [f"{name}-{i}.png" for i in range(n)]
    for im, fn in zip(images, names):
        Image.fromarray(im).save(os.path.join(out, fn))
    doc = {
        "case": name,
        "model": model_name,
        "prompt": prompt,
        "negativePrompt": negative,
        "seed": req["seed"],
        "scheduler": req["scheduler"],
        "eta": float(req.get("eta", 0.0)),
        "numInferenceSteps": req["steps"],
        "guidanceScale": float(req["guidance"]),
        "width": width,
        "height": height,
        "numImages": n,
        "strength": strength,
        "initImage": init_name,
        "latentShape": list(latents.shape),
        "finalLatents": f32(latents.reshape(-1).tolist()),
        "images": names,
        "promptIds": pipe.ids(prompt),
        "negativeIds": pipe.ids(negative),
    }
    with open(os.path.join(out, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/shapes")
    ap.add_argument("--out", help="default: src/test/resources/fixtures/<model folder name>")
    ap.add_argument("--case", action="append", help="only these cases")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model_name = os.path.basename(os.path.normpath(a.model))
    out = a.out or os.path.join("src", "test", "resources", "fixtures", model_name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(a.model, "denoise.json"), encoding="utf-8") as f:
        default_guidance = json.load(f)["defaults"]["guidanceScale"]
    pipe = Pipeline(a.model)
    for name, req in cases(default_guidance):
        if a.case and name not in a.case:
            continue
        doc = write_case(pipe, model_name, out, name, req)
        lat = np.array(doc["finalLatents"], np.float32)
        print(f"{out}/{name}.json: {doc['images']} latents {doc['latentShape']} "
              f"mean {lat.mean():+.4f} std {lat.std():.4f}")


if __name__ == "__main__":
    main()
