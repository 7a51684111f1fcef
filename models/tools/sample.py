"""Reference sampler: the service's text-to-image / image-to-image pipeline in PyTorch.

Loads the weights straight from an exported model folder (the ONNX
initializers keep their parameter names), so it needs nothing but models/<name>/.

  python3 -m models.tools.sample --model models/shapes --prompt "a red circle on a white background" \
      --negative "" --seed 42 --steps 20 --guidance 4 --scheduler pndm --out /tmp/x.png

Conventions (the Java pipeline follows the same):
  * image i starts from torch.randn([1,4,h/8,w/8], generator=Generator().manual_seed(seed + i));
    DDIM with eta > 0 draws its noise from the same per-image generator;
  * classifier-free guidance batch is [negative (or ""), positive]; noise = u + g * (c - u);
    guidance <= 1 runs the UNet once, positive prompt only;
  * decode: vae_decoder(latents / scaling_factor), (x / 2 + 0.5).clamp(0, 1), (x * 255).round();
  * image-to-image: init_timestep = min(int(N * strength), N); t_start = max(N - init_timestep, 0);
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

    @torch.no_grad()
    def encode_prompt(self, text):
        ids = torch.tensor([self.tokenizer(text)], dtype=torch.int64)
        return self.text_encoder(ids)[0]

    @torch.no_grad()
    def encode_image(self, image):
        """uint8 HxWx3 -> scaled latent mean [1,4,H/8,W/8]."""
        x = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1.0
        return self.vae.encode(x)[0] * self.scaling_factor

    @torch.no_grad()
    def decode(self, latents):
        img = self.vae.decode(latents / self.scaling_factor)
        img = (img / 2 + 0.5).clamp(0, 1)
        return (img.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()

    @torch.no_grad()
    def __call__(self, prompt, negative_prompt="", seed=0, num_images=1, steps=20, guidance=4.0,
                 width=64, height=64, scheduler="pndm", eta=0.0, init_image=None, strength=0.8,
                 return_latents=False):
        cond = self.encode_prompt(prompt)
        uncond = self.encode_prompt(negative_prompt or "")
        cfg = guidance > 1.0
        ctx = torch.cat([uncond, cond]) if cfg else cond
        images, finals = [], []
        init_latents = self.encode_image(init_image) if init_image is not None else None
        for i in range(num_images):
            gen = torch.Generator().manual_seed(seed + i)
            sched = SCHEDULERS[scheduler](eta=eta) if scheduler == "ddim" else SCHEDULERS[scheduler]()
            sched.set_timesteps(steps)
            timesteps = sched.timesteps
            if init_latents is None:
                latents = torch.randn([1, 4, height // 8, width // 8], generator=gen) * sched.init_noise_sigma
            else:
                init_t = min(int(steps * strength), steps)
                t_start = max(steps - init_t, 0)
                timesteps = timesteps[t_start * sched.order:]
                noise = torch.randn(init_latents.shape, generator=gen)
                latents = sched.add_noise(init_latents, noise, timesteps[0]) if len(timesteps) else init_latents
            for t in timesteps:
                inp = torch.cat([latents] * 2) if cfg else latents
                inp = sched.scale_model_input(inp, t)
                noise_pred = self.unet(inp, t.reshape(1), ctx)
                if cfg:
                    u, c = noise_pred.chunk(2)
                    noise_pred = u + guidance * (c - u)
                latents = sched.step(noise_pred, t, latents, generator=gen)
            finals.append(latents)
            images.append(self.decode(latents)[0])
        return (images, finals) if return_latents else images


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
    ap.add_argument("--guidance", type=float, default=4.0)
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
