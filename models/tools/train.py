"""Training of the shapes model on this machine's CPU cores, resumable.

  python3 -m models.tools.train all      # VAE, latent pool, UNet + text encoder, export (unattended)
  python3 -m models.tools.train vae      # one stage at a time: vae | latents | unet | decoder | export
  python3 -m models.tools.train all --smoke --work /tmp/smoke   # a few steps of everything

State lives in --work (default models/tools/work, git-ignored): vae.pt,
latents.pt, unet.pt, decoder.pt, DONE.  Rerunning a stage continues from its checkpoint;
a finished stage is skipped unless a larger --*-minutes / --*-steps budget is
given, which extends it (after extending the VAE, delete latents.pt and
unet.pt so the UNet learns the new latent space).  Each stage has a step count and a wall-clock
budget; the learning rate follows a cosine over whichever runs out first, so
a busy machine gives a shorter but still properly annealed run.
"""
import argparse
import math
import os
import random
import shutil
import time

import torch
import torch.nn.functional as F

from . import data, export, fp16, tokenizer as tok_mod
from .model import AutoencoderKL, TextEncoder, UNet, count
from .schedulers import alphas_cumprod

CONFIG = {
    "vae": dict(channels=(32, 64, 64, 64), latent_channels=4, layers=1, groups=16),
    "text": dict(width=128, layers=2, heads=4),
    "unet": dict(channels=(64, 128), layers=1, heads=4, groups=32),
}
SHAPE_IDS = {s: i for i, s in enumerate(data.SHAPES)}
COLOUR_IDS = {c: i for i, c in enumerate(data.COLOURS)}
BG_IDS = {b: i for i, b in enumerate(data.BACKGROUNDS)}


def log(msg):
    print(time.strftime("%Y-%m-%d %H:%M:%S"), msg, flush=True)


def save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def lr_at(progress, step, base, warmup):
    return base * min(1.0, (step + 1) / warmup) * max(0.02, 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class ThreadGovernor:
    """Picks one or two threads by measurement.

    With two OpenMP threads on two cores, a busy neighbour stalls every parallel
    region on the descheduled thread (steps run up to ~10x slower), and one
    thread does better; on a quiet machine two threads win.  Every 40 steps the
    other setting is tried for 4 steps and the faster one kept.  On a quiet
    machine the trials only cost time (a noisy trial can also leave a run on
    one thread for a while): --fixed-threads turns the governor off."""

    adaptive = True

    def __init__(self, threads):
        self.modes = [threads, 1] if threads > 1 and ThreadGovernor.adaptive else [threads]
        self.avg = {}
        self.n = 0
        self.trial = 0

    def after_step(self, dt):
        cur = torch.get_num_threads()
        self.avg[cur] = dt if cur not in self.avg else 0.6 * self.avg[cur] + 0.4 * dt
        self.n += 1
        if len(self.modes) == 1:
            return
        if self.trial > 0:
            self.trial -= 1
            if self.trial == 0:
                torch.set_num_threads(min(self.avg, key=self.avg.get))
        elif self.n % 40 == 5:
            torch.set_num_threads(self.modes[1] if cur == self.modes[0] else self.modes[0])
            self.trial = 4


def make_vae():
    return AutoencoderKL(**CONFIG["vae"])


def make_text_unet(vocab_size):
    te = TextEncoder(vocab_size, **CONFIG["text"])
    unet = UNet(context_dim=CONFIG["text"]["width"], latent_channels=CONFIG["vae"]["latent_channels"],
                **CONFIG["unet"])
    return te, unet


# ---------------------------------------------------------------- VAE

def sample_posterior(mean, logvar):
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)


def edge_loss(rec, x):
    """L1 between horizontal and vertical pixel differences: keeps corners and outlines crisp."""
    return ((rec[..., 1:] - rec[..., :-1]) - (x[..., 1:] - x[..., :-1])).abs().mean() + \
        ((rec[..., 1:, :] - rec[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])).abs().mean()


def optimizer_step(opt, loss, params):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def progress_of(st, steps, minutes):
    """How far a stage is through its budget: whichever of steps and minutes runs out first."""
    return max(st["step"] / steps, st["elapsed"] / (minutes * 60))


def run_stage(name, st, steps, minutes, opt, lr, warmup, threads, step, checkpoint):
    """The training loop every stage shares: until the budget is spent, set the learning rate, run
    step() (which returns the stage's own figures for the log), count the step and its time, let
    the thread governor see it, log every 25 steps and checkpoint every 3 minutes."""
    last_save = time.time()
    governor = ThreadGovernor(threads)
    while True:
        progress = progress_of(st, steps, minutes)
        if progress >= 1:
            return
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(progress, st["step"], lr, warmup)
        figures = step()
        st["step"] += 1
        st["elapsed"] += time.time() - t0
        governor.after_step(time.time() - t0)
        if st["step"] % 25 == 0:
            log(f"{name} step {st['step']} progress {progress:.3f} {figures} lr {opt.param_groups[0]['lr']:.2e} "
                f"{(time.time() - t0):.2f}s/step {torch.get_num_threads()} threads")
        if time.time() - last_save > 180:
            checkpoint()
            last_save = time.time()


def vae_loss(vae, x):
    mean, logvar = vae.encode(x)
    rec = vae.decode(sample_posterior(mean, logvar))
    l1 = (rec - x).abs().mean()
    edge = edge_loss(rec, x)
    kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).sum(dim=(1, 2, 3)).mean()
    return l1 + 0.5 * edge + 1e-6 * kl, l1, edge, kl


def train_vae(work, minutes, steps, batch, lr, seed=1, threads=2):
    path = os.path.join(work, "vae.pt")
    torch.manual_seed(seed)  # the initial weights
    vae = make_vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    st = {"step": 0, "elapsed": 0.0}
    if os.path.exists(path):
        ck = torch.load(path)
        vae.load_state_dict(ck["model"])
        st = ck["state"]
        if ck.get("done") and progress_of(st, steps, minutes) >= 1:
            log(f"vae: done already (scaling_factor {ck['scaling_factor']:.5f})")
            return
        if ck.get("done"):
            log("vae: extending a finished run (delete latents.pt and unet.pt to retrain on the new VAE)")
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        log(f"vae: resuming at step {st['step']}, {st['elapsed'] / 60:.1f} min in")
    log(f"vae: {count(vae)} parameters, budget {minutes} min / {steps} steps, batch {batch}")

    def step():
        rng = random.Random(seed * 1000003 + st["step"])
        torch.manual_seed(seed * 1000003 + st["step"])
        x = torch.from_numpy(data.batch(batch, rng))
        loss, l1, edge, kl = vae_loss(vae, x)
        optimizer_step(opt, loss, vae.parameters())
        return f"loss {loss.item():.4f} l1 {l1.item():.4f} edge {edge.item():.4f} kl {kl.item():.1f}"

    run_stage("vae", st, steps, minutes, opt, lr, 100, threads, step,
              lambda: save({"model": vae.state_dict(), "opt": opt.state_dict(), "state": st}, path))
    vae.eval()
    with torch.no_grad():
        x = torch.from_numpy(data.batch(1024, random.Random(99)))
        mean, _ = vae.encode(x)
        scaling = float(1.0 / mean.std())
        rec = vae.decode(mean)
        err = (rec - x).abs().mean().item()
    log(f"vae: finished at step {st['step']}, held-out L1 {err:.4f}, latent std {mean.std():.4f}, "
        f"mean {mean.mean():.4f} -> scaling_factor {scaling:.5f}")
    save({"model": vae.state_dict(), "opt": opt.state_dict(), "state": st, "done": True,
          "scaling_factor": scaling, "config": CONFIG["vae"]}, path)


def load_vae(work):
    """The finished VAE, with the fine-tuned decoder (decoder.pt) when there is one."""
    ck = torch.load(os.path.join(work, "vae.pt"))
    assert ck.get("done"), "VAE training has not finished"
    vae = make_vae()
    vae.load_state_dict(ck["model"])
    tuned = os.path.join(work, "decoder.pt")
    if os.path.exists(tuned):
        dk = torch.load(tuned)
        vae.decoder.load_state_dict(dk["decoder"])
        vae.post_quant_conv.load_state_dict(dk["post_quant_conv"])
    return vae.eval(), ck["scaling_factor"]


def tune_decoder(work, minutes, steps, batch, lr, seed=4, threads=2):
    """Trains the decoder further with the encoder frozen.

    The latent space (and with it latents.pt and the UNet trained on it) stays
    exactly as it is, so a decoder that blurs colours or corners can be improved
    at any time without retraining anything else.  The loss adds a squared
    term to the VAE's L1 + edge loss: a shape that is slightly off in colour
    everywhere (red drifting to orange) costs more than a few wrong pixels.
    """
    path = os.path.join(work, "decoder.pt")
    base = torch.load(os.path.join(work, "vae.pt"))
    assert base.get("done"), "train the VAE first"
    vae = make_vae()
    vae.load_state_dict(base["model"])
    for p in list(vae.encoder.parameters()) + list(vae.quant_conv.parameters()):
        p.requires_grad_(False)
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    st = {"step": 0, "elapsed": 0.0}
    if os.path.exists(path):
        ck = torch.load(path)
        st = ck["state"]
        if progress_of(st, steps, minutes) >= 1:
            log("decoder: done already")
            return
        vae.decoder.load_state_dict(ck["decoder"]), vae.post_quant_conv.load_state_dict(ck["post_quant_conv"])
        opt.load_state_dict(ck["opt"])
        log(f"decoder: resuming at step {st['step']}, {st['elapsed'] / 60:.1f} min in")
    log(f"decoder: {sum(p.numel() for p in params)} parameters, budget {minutes} min / {steps} steps, batch {batch}")
    vae.encoder.eval()

    def checkpoint():
        save({"decoder": vae.decoder.state_dict(), "post_quant_conv": vae.post_quant_conv.state_dict(),
              "opt": opt.state_dict(), "state": st}, path)

    def step():
        rng = random.Random(seed * 1000003 + st["step"])
        torch.manual_seed(seed * 1000003 + st["step"])
        x = torch.from_numpy(data.batch(batch, rng))
        with torch.no_grad():
            z = sample_posterior(*vae.encode(x))
        rec = vae.decode(z)
        l1 = (rec - x).abs().mean()
        l2 = ((rec - x) ** 2).mean()
        edge = edge_loss(rec, x)
        loss = l1 + l2 + 0.5 * edge
        optimizer_step(opt, loss, params)
        return f"loss {loss.item():.4f} l1 {l1.item():.4f} l2 {l2.item():.4f} edge {edge.item():.4f}"

    run_stage("decoder", st, steps, minutes, opt, lr, 50, threads, step, checkpoint)
    checkpoint()
    log(f"decoder: finished at step {st['step']} ({st['elapsed'] / 60:.1f} min)")


# ---------------------------------------------------------------- latent pool

def build_latents(work, n, seed=2):
    path = os.path.join(work, "latents.pt")
    if os.path.exists(path):
        log("latents: done already")
        return
    vae, scaling = load_vae(work)
    rng = random.Random(seed)
    lats, scenes = [], []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, n, 256):
            imgs, sc = data.batch(min(256, n - i), rng, with_scenes=True)
            lats.append(vae.encode(torch.from_numpy(imgs))[0] * scaling)
            scenes += [(SHAPE_IDS[s[0]], COLOUR_IDS[s[1]], BG_IDS[s[2]]) for s in sc]
            if (i // 256) % 40 == 0:
                log(f"latents: {i + 256}/{n} ({time.time() - t0:.0f}s)")
    lats = torch.cat(lats)
    log(f"latents: {lats.shape}, std {lats.std():.4f}, mean {lats.mean():.4f}")
    save({"latents": lats, "scenes": torch.tensor(scenes, dtype=torch.int64)}, path)


# ---------------------------------------------------------------- UNet + text encoder

def ema_update(ema, model, decay):
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train_unet(work, minutes, steps, batch, lr, caption_noise, seed=3, threads=2):
    path = os.path.join(work, "unet.pt")
    pool = torch.load(os.path.join(work, "latents.pt"))
    lats, scenes = pool["latents"], pool["scenes"].tolist()
    vocab, merges = tok_mod.build_vocab()
    tok = tok_mod.ClipTokenizer(vocab, merges)
    torch.manual_seed(seed)  # the initial weights
    te, unet = make_text_unet(len(vocab))
    ema_te, ema_unet = make_text_unet(len(vocab))
    ema_te.load_state_dict(te.state_dict())
    ema_unet.load_state_dict(unet.state_dict())
    params = list(te.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    st = {"step": 0, "elapsed": 0.0}
    if os.path.exists(path):
        ck = torch.load(path)
        st = ck["state"]
        if ck.get("done") and progress_of(st, steps, minutes) >= 1:
            log("unet: done already")
            return
        if ck.get("done"):
            log("unet: extending a finished run")
        te.load_state_dict(ck["te"]), unet.load_state_dict(ck["unet"])
        ema_te.load_state_dict(ck["ema_te"]), ema_unet.load_state_dict(ck["ema_unet"])
        opt.load_state_dict(ck["opt"])
        log(f"unet: resuming at step {st['step']}, {st['elapsed'] / 60:.1f} min in")
    # which caption noise the steps were trained with: [[from step, noise], ...] (checkpoints that predate
    # caption noise were trained without it)
    history = st.setdefault("caption_noise", [[0, 0.0]] if st["step"] else [])
    if not history or history[-1][1] != caption_noise:
        if history:
            log(f"unet: caption noise {history[-1][1]} -> {caption_noise} from step {st['step']}")
        history.append([st["step"], caption_noise])
    log(f"unet: {count(unet)} + text encoder {count(te)} parameters, pool {len(lats)}, "
        f"budget {minutes} min / {steps} steps, batch {batch}, caption noise {caption_noise}")
    ac = alphas_cumprod()
    shapes, colours, bgs = data.SHAPES, list(data.COLOURS), list(data.BACKGROUNDS)
    ids_cache = {}
    loss_avg = None

    def checkpoint(done=False):
        save({"te": te.state_dict(), "unet": unet.state_dict(), "ema_te": ema_te.state_dict(),
              "ema_unet": ema_unet.state_dict(), "opt": opt.state_dict(), "state": st, "done": done,
              "config": CONFIG}, path)

    def step():
        nonlocal loss_avg
        rng = random.Random(seed * 1000003 + st["step"])
        gen = torch.Generator().manual_seed(seed * 1000003 + st["step"])
        idx = torch.randint(len(lats), (batch,), generator=gen)
        x0 = lats[idx]
        caps = []
        for i in idx.tolist():
            s, c, b = scenes[i]
            caps.append(data.training_caption(shapes[s], colours[c], bgs[b], rng, p_wrong=caption_noise))
        uniq = sorted(set(caps))
        for cap in uniq:
            if cap not in ids_cache:
                ids_cache[cap] = tok(cap)
        ids = torch.tensor([ids_cache[c] for c in uniq], dtype=torch.int64)
        where = {c: i for i, c in enumerate(uniq)}
        ctx = te(ids)[0][torch.tensor([where[c] for c in caps])]
        t = torch.randint(0, 1000, (batch,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        a = ac[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = F.mse_loss(unet(noisy, t, ctx), noise)
        optimizer_step(opt, loss, params)
        decay = min(0.999, (1 + st["step"]) / (10 + st["step"]))
        ema_update(ema_te, te, decay)
        ema_update(ema_unet, unet, decay)
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        return f"loss {loss.item():.4f} avg {loss_avg:.4f}"

    run_stage("unet", st, steps, minutes, opt, lr, 200, threads, step, checkpoint)
    checkpoint(done=True)
    log(f"unet: finished at step {st['step']} ({st['elapsed'] / 60:.1f} min), loss avg {loss_avg}")


def load_text_unet(work, use_ema=True):
    ck = torch.load(os.path.join(work, "unet.pt"))
    vocab, merges = tok_mod.build_vocab()
    te, unet = make_text_unet(len(vocab))
    te.load_state_dict(ck["ema_te" if use_ema else "te"])
    unet.load_state_dict(ck["ema_unet" if use_ema else "unet"])
    return te.eval(), unet.eval(), vocab, merges


# ---------------------------------------------------------------- export

SHAPES_GUIDANCE = 2.5


def export_trained(work, out, fp16_out):
    vae, scaling = load_vae(work)
    te, unet, vocab, merges = load_text_unet(work)
    note = ("shapes: one circle, square or triangle in red, green, blue, yellow, purple or orange on a white, "
            "black or gray background, e.g. 'a red circle on a white background'")
    settings = export.default_denoise_settings()
    # best measured guidance scale for the trained model (README: "What it draws, measured")
    settings["defaults"]["guidanceScale"] = SHAPES_GUIDANCE
    export.export_pipeline(out, te, unet, vae, vocab, merges, scaling, timestep_dtype="int64",
                           denoise_settings=settings, note=note)
    if os.path.exists(fp16_out):
        shutil.rmtree(fp16_out)
    shutil.copytree(out, fp16_out)
    for part in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
        fp16.convert(os.path.join(out, part, "model.onnx"), os.path.join(fp16_out, part, "model.onnx"))
    log(f"exported {out} and {fp16_out}")


# ---------------------------------------------------------------- CLI

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["all", "vae", "latents", "unet", "decoder", "export"])
    ap.add_argument("--work", default="models/tools/work")
    ap.add_argument("--out", default="models/shapes")
    ap.add_argument("--fp16-out", default="models/shapes-fp16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fixed-threads", action="store_true",
                    help="always use --threads (for a machine with nothing else running)")
    ap.add_argument("--vae-minutes", type=float, default=22)
    ap.add_argument("--vae-steps", type=int, default=4000)
    ap.add_argument("--vae-batch", type=int, default=32)
    ap.add_argument("--vae-lr", type=float, default=1e-3)
    ap.add_argument("--decoder-minutes", type=float, default=20)
    ap.add_argument("--decoder-steps", type=int, default=2000)
    ap.add_argument("--decoder-lr", type=float, default=3e-4)
    ap.add_argument("--pool", type=int, default=100000, help="training images encoded into the latent pool")
    ap.add_argument("--unet-minutes", type=float, default=60)
    ap.add_argument("--unet-steps", type=int, default=20000)
    ap.add_argument("--unet-batch", type=int, default=64)
    ap.add_argument("--unet-lr", type=float, default=4e-4)
    ap.add_argument("--caption-noise", type=float, default=data.CAPTION_NOISE,
                    help="probability that a training caption names the colour, shape or background wrongly (each)")
    ap.add_argument("--smoke", action="store_true", help="a few steps of every stage (checks the whole chain)")
    a = ap.parse_args()
    if not 0 <= a.caption_noise < 1:
        ap.error(f"--caption-noise must be in [0, 1): {a.caption_noise}")
    if a.smoke:
        a.vae_steps, a.pool, a.unet_steps, a.decoder_steps = 3, 512, 3, 3
        if a.out == "models/shapes":
            a.out, a.fp16_out = os.path.join(a.work, "shapes"), os.path.join(a.work, "shapes-fp16")
    ThreadGovernor.adaptive = not a.fixed_threads
    torch.set_num_threads(a.threads)  # torch.get_num_threads() reports 1 on this machine
    os.makedirs(a.work, exist_ok=True)
    log(f"start: {vars(a)}")
    if a.stage in ("all", "vae"):
        train_vae(a.work, a.vae_minutes, a.vae_steps, a.vae_batch, a.vae_lr, threads=a.threads)
    if a.stage in ("all", "latents"):
        build_latents(a.work, a.pool)
    if a.stage in ("all", "unet"):
        train_unet(a.work, a.unet_minutes, a.unet_steps, a.unet_batch, a.unet_lr, a.caption_noise,
                   threads=a.threads)
    if a.stage in ("all", "decoder"):
        tune_decoder(a.work, a.decoder_minutes, a.decoder_steps, a.vae_batch, a.decoder_lr, threads=a.threads)
    if a.stage in ("all", "export"):
        export_trained(a.work, a.out, a.fp16_out)
        if a.stage == "all":
            with open(os.path.join(a.work, "DONE"), "w") as f:
                f.write(time.strftime("%Y-%m-%d %H:%M:%S") + "\n")
    log("all done" if a.stage == "all" else f"{a.stage} done")


if __name__ == "__main__":
    main()
