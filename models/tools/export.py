"""ONNX export in the diffusers ONNX layout with Stable Diffusion's tensor names.

  text_encoder/model.onnx  input_ids int32 [batch,77] -> last_hidden_state [batch,77,D], pooler_output [batch,D]
  unet/model.onnx          sample [batch,4,h,w], timestep, encoder_hidden_states [batch,seq,D] -> out_sample
  vae_decoder/model.onnx   latent_sample [batch,4,h,w] -> sample [batch,3,8h,8w] in [-1,1]
  vae_encoder/model.onnx   sample [batch,3,H,W] in [-1,1] -> latent_sample [batch,4,H/8,W/8] (mean, unscaled)

timestep: int64 [batch] (optimum-cli style) or float32 [1] (the old diffusers
convert_stable_diffusion_checkpoint_to_onnx.py style, which exported float32
[batch]); the graph broadcasts a single timestep over the batch either way.
"""
import json
import os

import numpy as np
import torch

from . import data, tokenizer as tok_mod
from .model import AutoencoderKL, TextEncoder, UNet

OPSET = 17
DIFFUSERS_VERSION = "0.21.4"

SCHEDULER_CONFIG = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": DIFFUSERS_VERSION,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
}

MODEL_INDEX = {
    "_class_name": "OnnxStableDiffusionPipeline",
    "_diffusers_version": DIFFUSERS_VERSION,
    "feature_extractor": [None, None],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["diffusers", "OnnxRuntimeModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "OnnxRuntimeModel"],
    "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
    "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
}


def default_denoise_settings():
    return {
        "defaults": {"guidanceScale": 4.0, "numInferenceSteps": 20, "width": 64, "height": 64, "scheduler": "pndm"},
        "limits": {"minWidth": 32, "maxWidth": 256, "minHeight": 32, "maxHeight": 256, "maxSteps": 150,
                   "maxImages": 8},
    }


class _TextEncoderOnnx(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids)


class _UNetOnnx(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.m(sample, timestep, encoder_hidden_states)


class _VaeDecoderOnnx(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, latent_sample):
        return self.m.decode(latent_sample)


class _VaeEncoderOnnx(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample):
        # the latent mean: deterministic image-to-image (standard exports sample here)
        return self.m.encode(sample)[0]


def _export(module, args, path, inputs, outputs, axes, output_dims=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET,
                          # no folding: every weight keeps its parameter name (sample.py loads them back);
                          # ONNX Runtime folds the weight transposes itself when it loads the graph
                          do_constant_folding=False)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    for o in m.graph.output:
        if output_dims and o.name in output_dims:
            for d, v in zip(o.type.tensor_type.shape.dim, output_dims[o.name]):
                if isinstance(v, str):
                    d.dim_param = v
                else:
                    d.dim_value = v
    # torch's export merges weights with identical values (e.g. untrained LayerNorm scales);
    # record which stored initializer holds each merged parameter so sample.py can load them all
    from onnx import numpy_helper
    stored = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    aliases = {}
    for name, p in module.state_dict().items():
        if name not in stored:
            v = p.detach().numpy()
            same = next((k for k, a in stored.items() if a.shape == v.shape and np.array_equal(a, v)), None)
            if same is not None:  # None: a parameter this graph does not use
                aliases[name] = same
    if aliases:
        onnx.helper.set_model_props(m, {"parameter_aliases": json.dumps(aliases)})
    m.producer_name = "denoise-models"
    onnx.save(m, path)


def _dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def preview_factors(vae, scaling_factor, n=512, seed=1234):
    """Least-squares fit rgb = sum_c scaled_latent[c] * factors[c] + bias, rgb
    being the image averaged over 8x8 blocks, in [-1, 1]."""
    import random
    imgs = torch.from_numpy(data.batch(n, random.Random(seed)))
    with torch.no_grad():
        lat = vae.encode(imgs)[0] * scaling_factor
    rgb = torch.nn.functional.avg_pool2d(imgs, 8)
    x = lat.permute(0, 2, 3, 1).reshape(-1, lat.shape[1]).double().numpy()
    y = rgb.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy()
    x1 = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    sol, *_ = np.linalg.lstsq(x1, y, rcond=None)
    r = lambda v: [round(float(e), 4) for e in v]
    return {"latentRgbFactors": [r(row) for row in sol[:-1]], "latentRgbBias": r(sol[-1])}


def export_pipeline(out, text_encoder, unet, vae, vocab, merges, scaling_factor,
                    timestep_dtype="int64", denoise_settings=None, note=None):
    """Writes a complete model folder."""
    text_encoder.eval(), unet.eval(), vae.eval()
    tok = tok_mod.write(os.path.join(out, "tokenizer"), vocab, merges)
    D = text_encoder.config["width"]
    lat_ch = vae.config["latent_channels"]

    ids = torch.tensor([tok("a red circle"), tok("")], dtype=torch.int32)
    _export(_TextEncoderOnnx(text_encoder), (ids,), os.path.join(out, "text_encoder", "model.onnx"),
            ["input_ids"], ["last_hidden_state", "pooler_output"],
            {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}},
            {"last_hidden_state": ["batch", 77, D], "pooler_output": ["batch", D]})

    sample = torch.randn(2, lat_ch, 8, 8)
    ctx = torch.randn(2, 77, D)
    unet_axes = {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
                 "encoder_hidden_states": {0: "batch", 1: "sequence"},
                 "out_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}}
    if timestep_dtype == "int64":
        t = torch.tensor([981, 981], dtype=torch.int64)
        unet_axes["timestep"] = {0: "batch"}
    elif timestep_dtype == "float32":
        t = torch.tensor([981.0], dtype=torch.float32)  # fixed shape [1]
    else:
        raise ValueError(timestep_dtype)
    _export(_UNetOnnx(unet), (sample, t, ctx), os.path.join(out, "unet", "model.onnx"),
            ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], unet_axes)

    _export(_VaeDecoderOnnx(vae), (torch.randn(1, lat_ch, 8, 8),), os.path.join(out, "vae_decoder", "model.onnx"),
            ["latent_sample"], ["sample"],
            {"latent_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
             "sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}})
    _export(_VaeEncoderOnnx(vae), (torch.randn(1, 3, 64, 64),), os.path.join(out, "vae_encoder", "model.onnx"),
            ["sample"], ["latent_sample"],
            {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
             "latent_sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}})

    vae_cfg = {"_class_name": "AutoencoderKL", "_diffusers_version": DIFFUSERS_VERSION, "in_channels": 3,
               "out_channels": 3, "latent_channels": lat_ch, "sample_size": 64,
               "block_out_channels": vae.config["channels"], "layers_per_block": vae.config["layers"],
               "norm_num_groups": vae.config["groups"], "scaling_factor": float(scaling_factor)}
    _dump(os.path.join(out, "vae_decoder", "config.json"), vae_cfg)
    _dump(os.path.join(out, "vae_encoder", "config.json"),
          dict(vae_cfg, latent_output="mean (unscaled); multiply by scaling_factor for the denoising loop"))
    _dump(os.path.join(out, "unet", "config.json"), {
        "_class_name": "UNet2DConditionModel", "_diffusers_version": DIFFUSERS_VERSION,
        "in_channels": lat_ch, "out_channels": lat_ch, "sample_size": 8,
        "block_out_channels": unet.config["channels"], "layers_per_block": unet.config["layers"],
        "cross_attention_dim": D, "attention_head_dim": unet.config["heads"],
        "norm_num_groups": unet.config["groups"], "flip_sin_to_cos": True, "freq_shift": 0,
        "timestep_dtype": timestep_dtype, "timestep_shape": ["batch"] if timestep_dtype == "int64" else [1]})
    _dump(os.path.join(out, "text_encoder", "config.json"), {
        "architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_act": "quick_gelu",
        "hidden_size": D, "intermediate_size": 4 * D, "num_attention_heads": text_encoder.config["heads"],
        "num_hidden_layers": text_encoder.config["layers"], "max_position_embeddings": 77,
        "vocab_size": text_encoder.config["vocab_size"], "bos_token_id": tok.sot, "eos_token_id": tok.eot,
        "pad_token_id": tok.eot, "input_ids_dtype": "int32"})
    _dump(os.path.join(out, "scheduler", "scheduler_config.json"), SCHEDULER_CONFIG)
    _dump(os.path.join(out, "model_index.json"), MODEL_INDEX)
    settings = denoise_settings or default_denoise_settings()
    settings = dict(settings)
    if "preview" not in settings:
        settings["preview"] = preview_factors(vae, scaling_factor)
    if note:
        settings["description"] = note
    _dump(os.path.join(out, "denoise.json"), settings)


def tiny_random(out, seed=0):
    """Random-weight model with the full structure, a few hundred KB, for plumbing tests."""
    torch.manual_seed(seed)
    vocab, merges = tok_mod.build_vocab()
    te = TextEncoder(len(vocab), width=32, layers=1, heads=2)
    unet = UNet(channels=(8, 16), layers=1, context_dim=32, heads=2, groups=8)
    # random weights everywhere, conv_out included, so the outputs are not trivially zero
    torch.nn.init.normal_(unet.conv_out.weight, std=0.02)
    vae = AutoencoderKL(channels=(8, 8, 8, 8), layers=1, groups=4)
    note = "random weights: for plumbing tests only, images are noise"
    export_pipeline(out, te, unet, vae, vocab, merges, scaling_factor=0.18215, timestep_dtype="float32",
                    note=note)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Export models in the diffusers ONNX layout")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tiny-random", help="random-weight plumbing model")
    p.add_argument("--out", default="models/tiny-random")
    p = sub.add_parser("shapes", help="the trained shapes model from a checkpoint folder")
    p.add_argument("--work", default="models/tools/work")
    p.add_argument("--out", default="models/shapes")
    p.add_argument("--fp16-out", default="models/shapes-fp16")
    a = ap.parse_args()
    if a.cmd == "tiny-random":
        tiny_random(a.out)
    else:
        from .train import export_trained
        export_trained(a.work, a.out, a.fp16_out)
