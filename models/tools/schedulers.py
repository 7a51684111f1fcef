"""Noise schedules and samplers matching diffusers (SD 1.x settings)."""
import torch

NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012


def scaled_linear_betas(n=NUM_TRAIN_TIMESTEPS, start=BETA_START, end=BETA_END):
    return torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float32) ** 2


def alphas_cumprod(n=NUM_TRAIN_TIMESTEPS):
    return torch.cumprod(1.0 - scaled_linear_betas(n), dim=0)
