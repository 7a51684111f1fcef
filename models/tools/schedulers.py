"""Noise schedules and samplers matching diffusers (SD 1.x settings)."""
import torch

NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012


def scaled_linear_betas(n=NUM_TRAIN_TIMESTEPS, start=BETA_START, end=BETA_END):
    return torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float32) ** 2


def alphas_cumprod(n=NUM_TRAIN_TIMESTEPS):
    return torch.cumprod(1.0 - scaled_linear_betas(n), dim=0)


class PNDM:
    """diffusers' PNDMScheduler with skip_prk_steps=True (PLMS steps only),
    set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading", epsilon prediction."""
    order = 1

    def __init__(self, steps_offset=1):
        self.alphas_cumprod = alphas_cumprod()
        self.final_alpha_cumprod = self.alphas_cumprod[0]
        self.steps_offset = steps_offset
        self.init_noise_sigma = 1.0

    def set_timesteps(self, n):
        self.num_inference_steps = n
        ratio = NUM_TRAIN_TIMESTEPS // n
        ts = [i * ratio + self.steps_offset for i in range(n)]
        plms = ts[:-1] + ts[-2:-1] + ts[-1:]
        self.timesteps = torch.tensor(plms[::-1], dtype=torch.int64)
        self.ets = []
        self.counter = 0
        self.cur_sample = None

    def scale_model_input(self, sample, t):
        return sample

    def step(self, model_output, timestep, sample, generator=None):
        timestep = int(timestep)
        ratio = NUM_TRAIN_TIMESTEPS // self.num_inference_steps
        prev_timestep = timestep - ratio
        if self.counter != 1:
            self.ets = self.ets[-3:]
            self.ets.append(model_output)
        else:
            prev_timestep = timestep
            timestep = timestep + ratio
        ets = self.ets
        if len(ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(ets) == 1 and self.counter == 1:
            model_output = (model_output + ets[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(ets) == 2:
            model_output = (3 * ets[-1] - ets[-2]) / 2
        elif len(ets) == 3:
            model_output = (23 * ets[-1] - 16 * ets[-2] + 5 * ets[-3]) / 12
        else:
            model_output = (1 / 24) * (55 * ets[-1] - 59 * ets[-2] + 37 * ets[-3] - 9 * ets[-4])
        prev = self._prev_sample(sample, timestep, prev_timestep, model_output)
        self.counter += 1
        return prev

    def _prev_sample(self, sample, timestep, prev_timestep, model_output):
        a_t = self.alphas_cumprod[timestep]
        a_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        b_t, b_prev = 1 - a_t, 1 - a_prev
        sample_coeff = (a_prev / a_t) ** 0.5
        denom = a_t * b_prev ** 0.5 + (a_t * b_t * a_prev) ** 0.5
        return sample_coeff * sample - (a_prev - a_t) * model_output / denom

    def add_noise(self, x, noise, t):
        a = self.alphas_cumprod[int(t)]
        return a ** 0.5 * x + (1 - a) ** 0.5 * noise


class DDIM(PNDM):
    """diffusers' DDIMScheduler with SD 1.x settings (clip_sample=False,
    set_alpha_to_one=False, steps_offset=1, "leading" spacing); eta=0 is deterministic."""

    def __init__(self, steps_offset=1, eta=0.0):
        super().__init__(steps_offset)
        self.eta = eta

    def set_timesteps(self, n):
        self.num_inference_steps = n
        ratio = NUM_TRAIN_TIMESTEPS // n
        self.timesteps = torch.tensor([i * ratio + self.steps_offset for i in range(n)][::-1], dtype=torch.int64)

    def step(self, model_output, timestep, sample, generator=None):
        timestep = int(timestep)
        prev_timestep = timestep - NUM_TRAIN_TIMESTEPS // self.num_inference_steps
        a_t = self.alphas_cumprod[timestep]
        a_prev = self.alphas_cumprod[prev_timestep] if prev_timestep >= 0 else self.final_alpha_cumprod
        b_t, b_prev = 1 - a_t, 1 - a_prev
        pred_x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
        variance = (b_prev / b_t) * (1 - a_t / a_prev)
        std = self.eta * variance ** 0.5
        prev = a_prev ** 0.5 * pred_x0 + (1 - a_prev - std ** 2) ** 0.5 * model_output
        if self.eta > 0:
            prev = prev + std * step_noise(model_output.shape, generator)
        return prev


def step_noise(shape, generator):
    """Noise for a stochastic step.  generator: one torch.Generator, or a list of one
    per image (image i's noise is randn([1, ...]) from generator i, drawn in image order)."""
    if isinstance(generator, (list, tuple)):
        assert len(generator) == shape[0]
        return torch.cat([torch.randn([1, *shape[1:]], generator=g) for g in generator])
    return torch.randn(shape, generator=generator)


SCHEDULERS = {"pndm": PNDM, "ddim": DDIM}
