"""EfficientFace: the per-frame face trunk of the self-attention-fusion baseline (``saf``).

EfficientFace (Zhao, Liu, Wang; AAAI 2021) is a ShuffleNet-V2 trunk with two additions that
make it robust to occlusion and pose: a *local feature extractor* that runs depthwise
convolutions on the four quadrants of the early feature map, and a channel+spatial
*modulator* that re-weights the second stage's output. Chumachenko, Iosifidis and Gabbouj
(ICPR 2022; https://github.com/katerynaCh/multimodal-emotion-recognition, file
``models/efficientface.py`` and ``EfficientFaceTemporal`` in ``models/multimodalcnn.py``)
use it, up to ``conv5`` and a global average pool, as the visual frontend of every frame.

Layer order and widths follow the official code exactly (stem 3→29, stages 116×4, 232×8,
464×4, local extractor 29→116 on four patches, modulator on 116 channels with reduction 16,
conv5 464→1024); the parameter names differ (ours are short), and
:func:`official_key_map` translates a checkpoint of the official layout to ours.

One generalisation: the official local extractor slices fixed 28-pixel patches, which only
works for 224-pixel crops (a 56×56 map after the stem). We split the map at an even row and
column near its middle, which gives the same 28/28 split at 224 pixels and lets the fully
convolutional, globally pooled trunk run on the feature store's 48-pixel crops as well.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.nn.frontends import channels_last_grad


def _depthwise(in_ch: int, out_ch: int, stride: int) -> nn.Conv2d:
    """3×3 grouped convolution with one group per input channel (``out_ch`` a multiple)."""
    return nn.Conv2d(in_ch, out_ch, 3, stride, 1, groups=in_ch, bias=False)


def _pointwise(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, 1, 0, bias=False)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle. A channels_last map (the ``"fast"`` kernels) is shuffled
    in its own layout: the NCHW formula's reshape copies it to NCHW, and every next layer
    converted it back (two full copies per unit; measured side by side, SAF's synthetic training
    step is 1.03x faster without them). The result holds the same values in the same order of
    channels; only the memory layout differs."""
    b, c, h, w = x.shape
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        shuffled = x.permute(0, 2, 3, 1).reshape(b, h, w, groups, c // groups).transpose(3, 4).reshape(b, h, w, c)
        return shuffled.permute(0, 3, 1, 2)
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet-V2 unit: split (stride 1) or duplicate (stride 2), two branches, shuffle."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        half = out_ch // 2
        if stride == 1 and in_ch != out_ch:
            raise ValueError(f"a stride-1 ShuffleUnit keeps its width; got {in_ch}->{out_ch}")
        self.stride = stride
        # Branch 1 exists only when downsampling; at stride 1 the first half passes through.
        self.branch1 = (
            nn.Sequential(
                _depthwise(in_ch, in_ch, stride), nn.BatchNorm2d(in_ch),
                _pointwise(in_ch, half), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            )
            if stride > 1
            else None
        )
        self.branch2 = nn.Sequential(
            _pointwise(in_ch if stride > 1 else half, half), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            _depthwise(half, half, stride), nn.BatchNorm2d(half),
            _pointwise(half, half), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch1 is None:
            keep, x2 = x.chunk(2, dim=1)
            out = torch.cat((keep, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


def _even_split(n: int) -> int:
    """An even split point near ``n / 2``: each half's stride-2 output adds up to ceil(n / 2)."""
    return 2 * ((n + 2) // 4)


class LocalFeatureExtractor(nn.Module):
    """Depthwise conv pairs on the four quadrants of the stem's map, reassembled in place.

    Patch order (top-left, bottom-left, top-right, bottom-right) follows the official code;
    each patch gets its own weights: stride-2 then stride-1 depthwise conv, BN, ReLU.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.patches = nn.ModuleList(
            nn.Sequential(
                _depthwise(in_ch, out_ch, 2), nn.BatchNorm2d(out_ch), nn.ReLU(),
                _depthwise(out_ch, out_ch, 1), nn.BatchNorm2d(out_ch), nn.ReLU(),
            )
            for _ in range(4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        sh, sw = _even_split(h), _even_split(w)
        tl, bl, tr, br = (
            x[..., :sh, :sw], x[..., sh:, :sw], x[..., :sh, sw:], x[..., sh:, sw:]
        )
        tl, bl, tr, br = (conv(p) for conv, p in zip(self.patches, (tl, bl, tr, br)))
        return torch.cat((torch.cat((tl, bl), dim=2), torch.cat((tr, br), dim=2)), dim=3)


class Modulator(nn.Module):
    """Channel gate × spatial gate, squashed by a sigmoid, re-weights the feature map.

    Channel gate: global mean → Linear(C, C/r) → BN → ReLU → Linear(C/r, C).
    Spatial gate: 1×1 conv to C/r → BN → ReLU → two dilated (4) 3×3 convs with BN, ReLU
    → 1×1 conv to one map. ``att = sigmoid(channel * spatial)``; output ``att * x``.
    """

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4, dilated_convs: int = 2):
        super().__init__()
        mid = channels // reduction
        self.channel = nn.Sequential(
            nn.Linear(channels, mid), nn.BatchNorm1d(mid), nn.ReLU(), nn.Linear(mid, channels)
        )
        layers: list[nn.Module] = [nn.Conv2d(channels, mid, 1), nn.BatchNorm2d(mid), nn.ReLU()]
        for _ in range(dilated_convs):
            layers += [
                nn.Conv2d(mid, mid, 3, padding=dilation, dilation=dilation),
                nn.BatchNorm2d(mid),
                nn.ReLU(),
            ]
        layers.append(nn.Conv2d(mid, 1, 1))
        self.spatial = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The mean over an NCHW copy: a channels_last map sums in another order, and the NCHW
        # order keeps the numbers of every run trained before channel_shuffle kept the layout.
        channel = self.channel(x.contiguous().mean((2, 3)))[:, :, None, None]
        spatial = self.spatial(x)
        # x first: the product takes x's layout (a channels_last map stays one, so the next
        # stage's convolutions need no copy); multiplication commutes, so the numbers are as
        # with the gate first.
        return x * torch.sigmoid(channel * spatial)


class EfficientFace(nn.Module):
    """EfficientFace trunk up to conv5 + global average pool: (N, 3, H, W) → (N, widths[-1]).

    ``widths`` = (stem, stage2, stage3, stage4, conv5) channels, ``repeats`` = units per stage
    (official: (29, 116, 232, 464, 1024) and (4, 8, 4)). The local extractor runs on the
    stem's (max-pooled) map and is added to the modulated stage-2 output, as in the paper.
    """

    def __init__(
        self,
        widths: tuple[int, ...] | list[int] = (29, 116, 232, 464, 1024),
        repeats: tuple[int, ...] | list[int] = (4, 8, 4),
        modulator_reduction: int = 16,
    ):
        super().__init__()
        if len(widths) != 5 or len(repeats) != 3:
            raise ValueError(f"EfficientFace needs 5 widths and 3 stage repeats, got {widths}, {repeats}")
        stem, *stage_widths, top = widths
        self.out_dim = top
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages = []
        in_ch = stem
        for width, n in zip(stage_widths, repeats):
            stages.append(nn.Sequential(ShuffleUnit(in_ch, width, 2), *(ShuffleUnit(width, width, 1) for _ in range(n - 1))))
            in_ch = width
        self.stage2, self.stage3, self.stage4 = stages
        self.local = LocalFeatureExtractor(stem, stage_widths[0])
        self.modulator = Modulator(stage_widths[0], modulator_reduction)
        self.conv5 = nn.Sequential(
            nn.Conv2d(in_ch, top, 1, 1, 0, bias=False), nn.BatchNorm2d(top), nn.ReLU(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The local extractor's quadrant slices hand their gradient back NCHW; under channels_last
        # weights the pool's backward then copied its input and its result across layouts
        # (SAF step 1.03x without that, every number the same).
        x = channels_last_grad(self.maxpool(self.conv1(x)))
        x = self.modulator(self.stage2(x)) + self.local(x)
        x = self.conv5(self.stage4(self.stage3(x)))
        return x.mean((2, 3))


def official_key_map(prefix: str = "") -> dict[str, str]:
    """Renames of module paths from the official EfficientFace layout to ours.

    Only the local extractor and the modulator are named differently; every other path
    (conv1, stage2-4 units with ``branch1``/``branch2``, conv5) is the same. Keys are module
    prefixes (``local.conv1_1``); :func:`rename_official` applies them to a state dict.
    """
    renames = {}
    for i in range(4):
        src, dst = f"local.conv{i + 1}_", f"local.patches.{i}."
        renames[f"{prefix}{src}1"] = f"{prefix}{dst}0"
        renames[f"{prefix}local.bn{i + 1}_1"] = f"{prefix}{dst}1"
        renames[f"{prefix}{src}2"] = f"{prefix}{dst}3"
        renames[f"{prefix}local.bn{i + 1}_2"] = f"{prefix}{dst}4"
    gate_c = f"{prefix}modulator.channel_att.gate_c."
    renames[gate_c + "gate_c_fc_0"] = f"{prefix}modulator.channel.0"
    renames[gate_c + "gate_c_bn_1"] = f"{prefix}modulator.channel.1"
    renames[gate_c + "gate_c_fc_final"] = f"{prefix}modulator.channel.3"
    gate_s = f"{prefix}modulator.spatial_att.gate_s."
    spatial = ["conv_reduce0", "bn_reduce0", None, "conv_di_0", "bn_di_0", None,
               "conv_di_1", "bn_di_1", None, "conv_final"]
    for index, name in enumerate(spatial):
        if name is not None:
            renames[gate_s + "gate_s_" + name] = f"{prefix}modulator.spatial.{index}"
    return renames


def rename_official(state_dict: dict[str, torch.Tensor], renames: dict[str, str]) -> dict[str, torch.Tensor]:
    """Apply module-prefix renames (longest match first) to every key of a state dict."""
    ordered = sorted(renames.items(), key=lambda kv: -len(kv[0]))
    out = {}
    for key, value in state_dict.items():
        key = key.replace("module.", "", 1) if key.startswith("module.") else key
        for src, dst in ordered:
            if key.startswith(src + "."):
                key = dst + key[len(src):]
                break
        out[key] = value
    return out
