"""A small model with Stable Diffusion 1.x's structure.

* TextEncoder: CLIP text transformer (token + position embeddings, causal
  pre-LayerNorm transformer over 77 tokens, quick-GELU MLP, final LayerNorm,
  pooled output at the end-of-text token = argmax of the ids).
* VAE: AutoencoderKL-style encoder/decoder (ResNet blocks, mid-block
  self-attention, quant/post-quant 1x1 convs), 8x spatial downsampling,
  4 latent channels.
* UNet: sinusoidal timestep embedding (flip_sin_to_cos, shift 0, as SD) and
  MLP, conv_in, down blocks / mid block / up blocks of ResNet blocks and
  spatial transformers (self-attention, cross-attention to the text states,
  GEGLU feed-forward), skip connections, conv_out.

Attention is plain matmul + softmax so the ONNX graphs stay simple.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def group_norm(ch, groups=32):
    g = math.gcd(ch, groups)
    return nn.GroupNorm(g, ch, eps=1e-6 if groups != 32 else 1e-5)


def _exporting():
    return torch.onnx.is_in_onnx_export()


class Linear(nn.Linear):
    """nn.Linear that trains through oneDNN's 1x1 convolution.

    Debian's torch links the reference BLAS, whose matrix multiply is ~30x
    slower than oneDNN's convolution on this kind of CPU.  Same maths, same
    parameters; ONNX export uses the plain MatMul/Gemm path."""

    def forward(self, x):
        if _exporting():
            return F.linear(x, self.weight, self.bias)
        if not torch.is_grad_enabled():
            shape = x.shape
            y = _rows16(x.reshape(-1, shape[-1]), lambda r: F.conv2d(r, self.weight[:, :, None, None], self.bias))
            return y.reshape(*shape[:-1], self.out_features)
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).t().reshape(1, shape[-1], 1, -1)
        y = F.conv2d(flat, self.weight[:, :, None, None], self.bias)
        return y.reshape(self.out_features, -1).t().reshape(*shape[:-1], self.out_features)


def _rows16(x, conv):
    """Applies a 1x1 convolution conv to the rows of x [N, C] laid out as a batch of 16 images
    [16, C, 1, ceil(N/16)]: torch picks oneDNN for a batch of 16 even on one thread, and its
    own, far slower, reference-BLAS convolution for a batch of one there (inference path)."""
    n, c = x.shape
    pad = (-n) % 16
    if pad:
        x = F.pad(x, (0, 0, 0, pad))
    w = (n + pad) // 16
    y = conv(x.reshape(16, w, c).permute(0, 2, 1).reshape(16, c, 1, w))
    return y.reshape(16, -1, w).permute(0, 2, 1).reshape(n + pad, -1)[:n]


def bmm(a, b):
    """a [B,n,k] @ b [B,k,m]; trains through a grouped 1x1 convolution (see Linear)."""
    if _exporting():
        return torch.matmul(a, b)
    B, n, k = a.shape
    if not torch.is_grad_enabled():
        m = b.shape[-1]
        pad = (-n) % 16
        x = F.pad(a, (0, 0, 0, pad)) if pad else a
        w = (n + pad) // 16
        x = x.reshape(B, 16, w, k).permute(1, 0, 3, 2).reshape(16, B * k, 1, w)
        y = F.conv2d(x, b.transpose(1, 2).reshape(B * m, k, 1, 1), groups=B)
        return y.reshape(16, B, m, w).permute(1, 0, 3, 2).reshape(B, n + pad, m)[:, :n]
    m = b.shape[-1]
    y = F.conv2d(a.transpose(1, 2).reshape(1, B * k, 1, n), b.transpose(1, 2).reshape(B * m, k, 1, 1), groups=B)
    return y.reshape(B, m, n).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head attention; context=None is self-attention."""

    def __init__(self, dim, heads, context_dim=None, bias=False):
        super().__init__()
        context_dim = context_dim or dim
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = Linear(dim, dim, bias=bias)
        self.to_k = Linear(context_dim, dim, bias=bias)
        self.to_v = Linear(context_dim, dim, bias=bias)
        self.to_out = Linear(dim, dim)

    def forward(self, x, context=None, mask=None):
        context = x if context is None else context
        b, n, c = x.shape
        h = self.heads
        q = self.to_q(x).reshape(b, n, h, c // h).transpose(1, 2)
        k = self.to_k(context).reshape(b, -1, h, c // h).transpose(1, 2)
        v = self.to_v(context).reshape(b, -1, h, c // h).transpose(1, 2)
        m = k.shape[2]
        w = bmm(q.reshape(-1, n, c // h), k.reshape(-1, m, c // h).transpose(1, 2)).reshape(b, h, n, m)
        w = w * self.scale
        if mask is not None:
            w = w + mask
        w = w.softmax(dim=-1)
        out = bmm(w.reshape(-1, n, m), v.reshape(-1, m, c // h)).reshape(b, h, n, c // h)
        out = out.transpose(1, 2).reshape(b, n, c)
        return self.to_out(out)


# ---------------------------------------------------------------- text encoder

class TextLayer(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(width)
        self.self_attn = Attention(width, heads, bias=True)
        self.layer_norm2 = nn.LayerNorm(width)
        self.fc1 = Linear(width, 4 * width)
        self.fc2 = Linear(4 * width, width)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask=mask)
        h = self.fc1(self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu, as CLIP
        return x + self.fc2(h)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size, width=128, layers=3, heads=4, max_length=77):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, width=width, layers=layers, heads=heads, max_length=max_length)
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Parameter(torch.randn(max_length, width) * 0.01)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.layers = nn.ModuleList([TextLayer(width, heads) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(width)
        # large negative rather than -inf: stays finite in float16
        mask = torch.full((max_length, max_length), -1e4).triu(1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.token_embedding(ids) + self.position_embedding
        for layer in self.layers:
            x = layer(x, self.causal_mask)
        x = self.final_layer_norm(x)
        # pooled output at the first end-of-text token (the largest id), as CLIP
        eot = ids.argmax(dim=-1)
        pooled = torch.gather(x, 1, eot[:, None, None].expand(-1, 1, x.shape[-1]))[:, 0]
        return x, pooled


# ---------------------------------------------------------------- shared blocks

class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, temb_dim=None, groups=32):
        super().__init__()
        self.norm1 = group_norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = Linear(temb_dim, cout) if temb_dim else None
        self.norm2 = group_norm(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, size=None):
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class SpatialSelfAttention(nn.Module):
    """The VAE mid-block attention (one head over all positions)."""

    def __init__(self, ch, groups=32):
        super().__init__()
        self.group_norm = group_norm(ch, groups)
        self.attn = Attention(ch, 1, bias=True)

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, -1).transpose(1, 2)
        t = self.attn(t)
        return x + t.transpose(1, 2).reshape(b, c, h, w)


# ---------------------------------------------------------------- VAE

class VaeEncoder(nn.Module):
    def __init__(self, channels, latent_channels, layers, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        blocks = []
        cin = channels[0]
        for i, ch in enumerate(channels):
            for _ in range(layers):
                blocks.append(ResnetBlock(cin, ch, groups=groups))
                cin = ch
            if i < len(channels) - 1:
                blocks.append(Downsample(ch))
        self.down = nn.Sequential(*blocks)
        self.mid = nn.Sequential(ResnetBlock(cin, cin, groups=groups), SpatialSelfAttention(cin, groups),
                                 ResnetBlock(cin, cin, groups=groups))
        self.norm_out = group_norm(cin, groups)
        self.conv_out = nn.Conv2d(cin, 2 * latent_channels, 3, padding=1)

    def forward(self, x):
        h = self.mid(self.down(self.conv_in(x)))
        return self.conv_out(F.silu(self.norm_out(h)))


class VaeDecoder(nn.Module):
    def __init__(self, channels, latent_channels, layers, groups):
        super().__init__()
        top = channels[-1]
        self.conv_in = nn.Conv2d(latent_channels, top, 3, padding=1)
        self.mid = nn.Sequential(ResnetBlock(top, top, groups=groups), SpatialSelfAttention(top, groups),
                                 ResnetBlock(top, top, groups=groups))
        blocks = []
        cin = top
        for i, ch in reversed(list(enumerate(channels))):
            for _ in range(layers + 1):
                blocks.append(ResnetBlock(cin, ch, groups=groups))
                cin = ch
            if i > 0:
                blocks.append(Upsample(ch))
        self.up = nn.Sequential(*blocks)
        self.norm_out = group_norm(cin, groups)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z):
        h = self.up(self.mid(self.conv_in(z)))
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self, channels=(32, 64, 128, 128), latent_channels=4, layers=1, groups=16):
        super().__init__()
        self.config = dict(channels=list(channels), latent_channels=latent_channels, layers=layers, groups=groups)
        self.encoder = VaeEncoder(channels, latent_channels, layers, groups)
        self.decoder = VaeDecoder(channels, latent_channels, layers, groups)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)

    def encode(self, x):
        """Returns (mean, logvar) of the latent distribution."""
        moments = self.quant_conv(self.encoder(x))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


# ---------------------------------------------------------------- UNet

def timestep_embedding(t, dim, max_period=10000.0):
    """diffusers' get_timestep_embedding with flip_sin_to_cos=True, shift 0 (SD 1.x)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = Linear(dim, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, context_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(GEGLU(dim, dim * 4), Linear(dim * 4, dim))

    def forward(self, x, context):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class Transformer2D(nn.Module):
    def __init__(self, ch, heads, context_dim, groups):
        super().__init__()
        self.norm = group_norm(ch, groups)
        self.proj_in = Linear(ch, ch)
        self.block = TransformerBlock(ch, heads, context_dim)
        self.proj_out = Linear(ch, ch)

    def forward(self, x, context):
        b, c, h, w = x.shape
        t = self.norm(x).reshape(b, c, -1).transpose(1, 2)
        t = self.proj_out(self.block(self.proj_in(t), context))
        return x + t.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    def __init__(self, channels=(96, 192), layers=2, latent_channels=4, context_dim=128, heads=4, groups=32):
        super().__init__()
        self.config = dict(channels=list(channels), layers=layers, latent_channels=latent_channels,
                           context_dim=context_dim, heads=heads, groups=groups)
        c0 = channels[0]
        temb = c0 * 4
        self.time_embedding = nn.Sequential(Linear(c0, temb), nn.SiLU(), Linear(temb, temb))
        self.conv_in = nn.Conv2d(latent_channels, c0, 3, padding=1)

        self.down_res, self.down_attn, self.downsamplers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        skip_ch = [c0]
        cin = c0
        for i, ch in enumerate(channels):
            for _ in range(layers):
                self.down_res.append(ResnetBlock(cin, ch, temb, groups))
                self.down_attn.append(Transformer2D(ch, heads, context_dim, groups))
                cin = ch
                skip_ch.append(ch)
            if i < len(channels) - 1:
                self.downsamplers.append(Downsample(ch))
                skip_ch.append(ch)

        self.mid_res1 = ResnetBlock(cin, cin, temb, groups)
        self.mid_attn = Transformer2D(cin, heads, context_dim, groups)
        self.mid_res2 = ResnetBlock(cin, cin, temb, groups)

        self.up_res, self.up_attn, self.upsamplers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, ch in reversed(list(enumerate(channels))):
            for _ in range(layers + 1):
                self.up_res.append(ResnetBlock(cin + skip_ch.pop(), ch, temb, groups))
                self.up_attn.append(Transformer2D(ch, heads, context_dim, groups))
                cin = ch
            if i > 0:
                self.upsamplers.append(Upsample(ch))

        self.conv_norm_out = group_norm(cin, groups)
        self.conv_out = nn.Conv2d(cin, latent_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        """timestep: any numeric dtype, shape [batch] or [1] (broadcast to the batch)."""
        n_levels = len(self.config["channels"])
        layers = self.config["layers"]
        t = timestep.reshape(-1).float().expand(sample.shape[0])
        temb = self.time_embedding(timestep_embedding(t, self.config["channels"][0]))
        ctx = encoder_hidden_states

        h = self.conv_in(sample)
        skips = [h]
        k = 0
        for i in range(n_levels):
            for _ in range(layers):
                h = self.down_attn[k](self.down_res[k](h, temb), ctx)
                skips.append(h)
                k += 1
            if i < n_levels - 1:
                h = self.downsamplers[i](h)
                skips.append(h)

        h = self.mid_res2(self.mid_attn(self.mid_res1(h, temb), ctx), temb)

        k = 0
        for i in range(n_levels):
            for _ in range(layers + 1):
                h = torch.cat([h, skips.pop()], dim=1)
                h = self.up_attn[k](self.up_res[k](h, temb), ctx)
                k += 1
            if i < n_levels - 1:
                # upsample to the size of the matching skip so odd latent sizes work
                h = self.upsamplers[i](h, size=skips[-1].shape[-2:])
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def count(m):
    return sum(p.numel() for p in m.parameters())
