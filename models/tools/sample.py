"""Reference sampler: the service's text-to-image / image-to-image pipeline in PyTorch.

Loads the weights straight from an exported model folder (the ONNX
initializers keep their parameter names), so it needs nothing but models/<name>/.

  python3 -m models.tools.sample --model models/shapes --prompt "a red circle on a white background" \
      --negative "" --seed 42 --steps 20 --guidance 4 --scheduler pndm --out /tmp/x.png

Conventions (the Java pipeline follows the same):
  * image i starts from torch.randn([1,4,h/8,w/8], generator=Generator().manual_seed(seed + i))
    (x init_noise_sigma); DDIM with eta > 0 draws its step noise from the same per-image
    generator, one randn([1,4,h/8,w/8]) per image per step, in image order;
  * the images of a request share the UNet calls; the classifier-free guidance batch is
    [negative (or "") x n, positive x n]; noise = u + g * (c - u) in float32;
    guidance <= 1 runs the positive prompts only;
  * decode: vae_decoder(latents / scaling_factor), (x / 2 + 0.5).clamp(0, 1), (x * 255).round();
  * image-to-image: init image pixels v -> 2 * (v / 255) - 1 (float32); init_timestep = min(int(N * strength), N); t_start = max(N - init_timestep, 0);
    timesteps = timesteps[t_start * order:]; latents = add_noise(scaling_factor * encoder_mean(image),
    first randn draw of the image's generator, timesteps[0]).
"""
import json
import os

import numpy as np
import torch

from . import tokenizer as tok_mod
from .model import AutoencoderKL, TextEncoder, UNet
from .schedulers import SCHEDULERS


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _onnx_weights(path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).astype(np.float32).copy()) for i in m.graph.initializer}
    for prop in m.metadata_props:
        if prop.key == "parameter_aliases":
            for name, stored in json.loads(prop.value).items():
                w[name] = w[stored]
    return {k[2:]: v for k, v in w.items() if k.startswith("m.")}


def _load(module, weights, prefixes=None):
    own = module.state_dict()
    missing = [k for k in own if (prefixes is None or k.startswith(prefixes)) and k not in weights]
    if missing:
        raise RuntimeError(f"weights missing from the ONNX file: {missing[:5]}")
    module.load_state_dict({**own, **{k: v for k, v in weights.items() if k in own}})


class Pipeline:
    def __init__(self, model_dir):
        self.dir = model_dir
        self.tokenizer = tok_mod.ClipTokenizer.load(os.path.join(model_dir, "tokenizer"))
        tc = _read(os.path.join(model_dir, "text_encoder", "config.json"))
        uc = _read(os.path.join(model_dir, "unet", "config.json"))
        vc = _read(os.path.join(model_dir, "vae_decoder", "config.json"))
        self.text_encoder = TextEncoder(tc["vocab_size"], tc["hidden_size"], tc["num_hidden_layers"],
                                        tc["num_attention_heads"])
        self.unet = UNet(uc["block_out_channels"], uc["layers_per_block"], uc["in_channels"],
                         uc["cross_attention_dim"], uc["attention_head_dim"], uc["norm_num_groups"])
        self.vae = AutoencoderKL(vc["block_out_channels"], vc["latent_channels"], vc["layers_per_block"],
                                 vc["norm_num_groups"])
        self.scaling_factor = vc["scaling_factor"]
        _load(self.text_encoder, _onnx_weights(os.path.join(model_dir, "text_encoder", "model.onnx")))
        _load(self.unet, _onnx_weights(os.path.join(model_dir, "unet", "model.onnx")))
        _load(self.vae, _onnx_weights(os.path.join(model_dir, "vae_decoder", "model.onnx")),
              ("decoder.", "post_quant_conv."))
        _load(self.vae, _onnx_weights(os.path.join(model_dir, "vae_encoder", "model.onnx")),
              ("encoder.", "quant_conv."))
        for m in (self.text_encoder, self.unet, self.vae):
            m.eval()

    def ids(self, text):
        """The 77 token ids the text encoder gets for a prompt ("" for no prompt)."""
        return self.tokenizer(text or "")

    @torch.no_grad()
    def encode_prompts(self, texts):
        """Text states [len(texts), 77, D]; each distinct text is encoded once."""
        unique = sorted(set(t or "" for t in texts))
        states = self.text_encoder(torch.tensor([self.ids(t) for t in unique], dtype=torch.int64))[0]
        index = {t: i for i, t in enumerate(unique)}
        return states[[index[t or ""] for t in texts]]

    @torch.no_grad()
    def encode_prompt(self, text):
        return self.encode_prompts([text])[0]

    @torch.no_grad()
    def encode_image(self, image):
        """uint8 HxWx3 -> scaled latent mean [1,4,H/8,W/8]; pixels v -> 2 * (v / 255) - 1 in float32."""
        x = torch.from_numpy(np.asarray(image, dtype=np.float32)[..., :3].copy()).permute(2, 0, 1)[None]
        x = 2 * (x / 255) - 1
        return self.vae.encode(x)[0] * self.scaling_factor

    @torch.no_grad()
    def decode(self, latents, batch=64):
        out = []
        for i in range(0, latents.shape[0], batch):
            img = self.vae.decode(latents[i:i + batch] / self.scaling_factor)
            img = (img / 2 + 0.5).clamp(0, 1)
            out.append((img.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy())
        return np.concatenate(out)

    @torch.no_grad()
    def generate(self, prompts, negatives, seeds, steps=20, guidance=4.0, width=64, height=64, scheduler="pndm",
                 eta=0.0, init_image=None, strength=0.8, decode=True):
        """Image i: prompt prompts[i], negative prompt negatives[i], generator manual_seed(seeds[i]).

        All images go through the UNet together: the batch is [negatives..., prompts...] with
        guidance, [prompts...] without (guidance <= 1).  Returns (uint8 images [n,H,W,3] or None,
        final latents [n,4,h,w] before the division by scaling_factor)."""
        n = len(prompts)
        assert len(negatives) == n and len(seeds) == n
        cfg = guidance > 1.0
        ctx = self.encode_prompts(list(negatives) + list(prompts)) if cfg else self.encode_prompts(prompts)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        sched = SCHEDULERS[scheduler](eta=eta) if scheduler == "ddim" else SCHEDULERS[scheduler]()
        sched.set_timesteps(steps)
        timesteps = sched.timesteps
        if init_image is None:
            shape = [1, 4, height // 8, width // 8]
            latents = torch.cat([torch.randn(shape, generator=g) for g in gens]) * sched.init_noise_sigma
        else:
            init_latents = self.encode_image(init_image)
            init_t = min(int(steps * strength), steps)
            t_start = max(steps - init_t, 0)
            timesteps = timesteps[t_start * sched.order:]
            noise = torch.cat([torch.randn(init_latents.shape, generator=g) for g in gens])
            init_latents = torch.cat([init_latents] * n)
            latents = sched.add_noise(init_latents, noise, timesteps[0]) if len(timesteps) else init_latents
        for t in timesteps:
            inp = torch.cat([latents] * 2) if cfg else latents
            inp = sched.scale_model_input(inp, t)
            noise_pred = self.unet(inp, t.reshape(1), ctx)
            if cfg:
                u, c = noise_pred.chunk(2)
                noise_pred = u + guidance * (c - u)
            latents = sched.step(noise_pred, t, latents, generator=gens)
        return (self.decode(latents) if decode else None), latents

    @torch.no_grad()
    def __call__(self, prompt, negative_prompt="", seed=0, num_images=1, steps=20, guidance=4.0,
                 width=64, height=64, scheduler="pndm", eta=0.0, init_image=None, strength=0.8,
                 return_latents=False):
        """One request: num_images images of one prompt, image i seeded with seed + i."""
        images, latents = self.generate([prompt] * num_images, [negative_prompt or ""] * num_images,
                                        [seed + i for i in range(num_images)], steps, guidance, width, height,
                                        scheduler, eta, init_image, strength)
        images = list(images)
        return (images, list(latents.split(1))) if return_latents else images


def main():
    import argparse
    from PIL import Image
    ap = argparse.ArgumentParser(description="Reference sampler (PyTorch) for an exported model folder")
    ap.add_argument("--model", default="models/shapes")
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--negative", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-images", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, help="default: the model's denoise.json guidanceScale")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--scheduler", default="pndm", choices=sorted(SCHEDULERS))
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--init-image")
    ap.add_argument("--strength", type=float, default=0.8)
    ap.add_argument("--out", default="out.png", help="image i is written as <out stem>-<i>.png when several")
    a = ap.parse_args()
    torch.set_num_threads(2)
    pipe = Pipeline(a.model)
    if a.guidance is None:
        a.guidance = _read(os.path.join(a.model, "denoise.json"))["defaults"]["guidanceScale"]
    init = np.asarray(Image.open(a.init_image).convert("RGB")) if a.init_image else None
    imgs = pipe(a.prompt, a.negative, a.seed, a.num_images, a.steps, a.guidance, a.width, a.height, a.scheduler,
                a.eta, init, a.strength)
    stem, ext = os.path.splitext(a.out)
    for i, im in enumerate(imgs):
        path = a.out if len(imgs) == 1 else f"{stem}-{i}{ext}"
        Image.fromarray(im).save(path)
        print(path)


if __name__ == "__main__":
    main()
