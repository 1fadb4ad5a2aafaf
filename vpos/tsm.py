"""Temporal Shift Module (source system: TSM, REFERENCE.md 4.) and a TSM ResNet-50 whose parameter
names match the official Kinetics-400 checkpoints.

- `shift(x, n_segment, fold_div, mode)`: 1/fold_div of the channels come from the next frame and
  1/fold_div from the previous one ("bidirectional", offline), or 1/fold_div from the previous frame
  only ("unidirectional", usable online).
- `TemporalShift(net)`: shifts, then runs the wrapped conv (`.net`, as in the official code, so the
  checkpoint keys read `layer1.0.conv1.net.weight`). In "online" mode it keeps the previous frame's
  shifted channels in a buffer and processes a stream frame by frame; the result equals the offline
  unidirectional one (tests/test_tsm.py).
- `TSMResNet50`: torchvision's ResNet-50 with every bottleneck's conv1 shifted (the official
  "blockres" place), `base_model.fc` replaced by dropout and a `new_fc` head, averaged over segments.
  `load_official(path)` takes the official checkpoint (`module.base_model.*`, `module.new_fc.*`) and
  loads it strictly. vpos ships no Kinetics weights: without them no action is ever shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .errors import ModelLoadError

TSM_ENV = "VPOS_TSM_WEIGHTS"
N_SEGMENT = 8
INPUT_SIZE = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
HOW_TO_ADD = (
    "no TSM Kinetics-400 weights are configured, so no actions are shown. Download the official "
    "checkpoint TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth (MIT-Han-Lab "
    "temporal-shift-module model zoo) and pass --tsm-weights PATH or set VPOS_TSM_WEIGHTS=PATH"
)


def shift(x: torch.Tensor, n_segment: int, fold_div: int = 8, mode: str = "bidirectional") -> torch.Tensor:
    """x (N*T, C, H, W) -> the same shape with channels shifted along T."""
    nt, c, h, w = x.shape
    n = nt // n_segment
    x = x.view(n, n_segment, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    if mode == "bidirectional":
        out[:, :-1, :fold] = x[:, 1:, :fold]  # from the future
        out[:, 1:, fold : 2 * fold] = x[:, :-1, fold : 2 * fold]  # from the past
        out[:, :, 2 * fold :] = x[:, :, 2 * fold :]
    elif mode == "unidirectional":
        out[:, 1:, :fold] = x[:, :-1, :fold]  # from the past only
        out[:, :, fold:] = x[:, :, fold:]
    else:
        raise ValueError(f"mode must be bidirectional or unidirectional, got {mode!r}")
    return out.view(nt, c, h, w)


class TemporalShift(nn.Module):
    def __init__(self, net: nn.Module, n_segment: int = N_SEGMENT, fold_div: int = 8, mode: str = "bidirectional"):
        super().__init__()
        self.net = net
        self.n_segment = n_segment
        self.fold_div = fold_div
        self.mode = mode  # "bidirectional" | "unidirectional" | "online"
        self.buffer: torch.Tensor | None = None

    def reset(self) -> None:
        self.buffer = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "online":
            # One frame per call (N, C, H, W): the first fold channels come from the cached
            # previous frame (zeros at the start of the stream).
            fold = x.shape[1] // self.fold_div
            cur = x[:, :fold].clone()
            out = x.clone()
            out[:, :fold] = self.buffer if self.buffer is not None else 0.0
            self.buffer = cur
            return self.net(out)
        return self.net(shift(x, self.n_segment, self.fold_div, self.mode))


class TSMResNet50(nn.Module):
    """The official TSM layout: `base_model` (ResNet-50, shifted conv1 in every bottleneck, fc =
    dropout) + `new_fc`; the segment scores are averaged."""

    def __init__(self, num_classes: int = 400, n_segment: int = N_SEGMENT, fold_div: int = 8, mode: str = "bidirectional", dropout: float = 0.5,
                 arch: str = "resnet50"):
        super().__init__()
        import torchvision.models

        if arch not in ("resnet18", "resnet34", "resnet50", "resnet101"):
            raise ValueError(f"arch must be a torchvision ResNet, got {arch!r}")
        self.n_segment = n_segment
        base = getattr(torchvision.models, arch)(weights=None)
        for layer in (base.layer1, base.layer2, base.layer3, base.layer4):
            for block in layer:
                block.conv1 = TemporalShift(block.conv1, n_segment, fold_div, mode)
        feat = base.fc.in_features
        base.fc = nn.Dropout(dropout)
        self.base_model = base
        self.new_fc = nn.Linear(feat, num_classes)

    def set_mode(self, mode: str) -> None:
        for m in self.modules():
            if isinstance(m, TemporalShift):
                m.mode = mode
                m.reset()

    def frame_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """(N*T, 3, H, W) -> (N*T, classes), before the segment average."""
        return self.new_fc(self.base_model(frames))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, T, 3, H, W) -> (N, classes), averaged over the T segments."""
        n, t = clips.shape[:2]
        return self.frame_logits(clips.reshape(n * t, *clips.shape[2:])).view(n, t, -1).mean(1)


def official_state_dict(model: TSMResNet50) -> dict:
    """The model's parameters under the official checkpoint names (`module.` + our names)."""
    return {f"module.{k}": v for k, v in model.state_dict().items()}


def load_official(path_or_state, model: TSMResNet50 | None = None) -> TSMResNet50:
    """Load an official TSM Kinetics-400 checkpoint (.pth with `state_dict`, or .safetensors) strictly."""
    if isinstance(path_or_state, dict):
        sd = path_or_state
    else:
        p = Path(path_or_state).expanduser()
        if not p.exists():
            raise ModelLoadError(f"TSM weights not found: {p}")
        try:
            if p.suffix == ".safetensors":
                from safetensors.torch import load_file

                sd = load_file(str(p))
            else:
                # weights_only: tensors and plain containers, never arbitrary pickled code.
                sd = torch.load(str(p), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch's own message is many lines about weights_only
            raise ModelLoadError(f"TSM weights {p} do not load: not a checkpoint of tensors ({type(e).__name__}); "
                                 "use the official .pth or a .safetensors export of it") from None
    if not isinstance(sd, dict):
        raise ModelLoadError(f"TSM weights {path_or_state} hold no state dict (got {type(sd).__name__})")
    sd = sd.get("state_dict", sd)
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    n_classes = sd["new_fc.weight"].shape[0] if "new_fc.weight" in sd else 400
    model = model or TSMResNet50(num_classes=n_classes)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"not an official TSM ResNet-50 checkpoint layout: {str(e)[:400]}") from None
    return model.eval()


def kinetics400_labels() -> list[str]:
    from torchvision.models._meta import _KINETICS400_CATEGORIES

    return list(_KINETICS400_CATEGORIES)


def configured_weights(path: str | None = None) -> str | None:
    return path or os.environ.get(TSM_ENV) or None


def preprocess(frames: list[np.ndarray]) -> torch.Tensor:
    """RGB uint8 frames -> (T, 3, 224, 224): short side 256, centre crop 224, ImageNet normalisation
    (the official single-view test: 1 clip x 1 centre crop)."""
    import cv2

    out = []
    for f in frames:
        h, w = f.shape[:2]
        s = 256 / min(h, w)
        f = cv2.resize(f, (max(INPUT_SIZE, round(w * s)), max(INPUT_SIZE, round(h * s))), interpolation=cv2.INTER_AREA)
        h, w = f.shape[:2]
        y, x = (h - INPUT_SIZE) // 2, (w - INPUT_SIZE) // 2
        f = f[y : y + INPUT_SIZE, x : x + INPUT_SIZE].astype(np.float32) / 255.0
        out.append((f - MEAN) / STD)
    return torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2).astype(np.float32))


@torch.inference_mode()
def actions(video, weights: str | None = None, window: float = 8.0, top_k: int = 5) -> list[dict]:
    """Top-k Kinetics-400 actions per `window`-second window (8 frames sampled evenly in it).
    Raises ModelLoadError with how to add weights when none are configured."""
    import av

    src = configured_weights(weights)
    if not src:
        raise ModelLoadError(HOW_TO_ADD)
    model = load_official(src)
    labels = kinetics400_labels()
    if model.new_fc.out_features != len(labels):
        raise ModelLoadError(f"the TSM checkpoint has {model.new_fc.out_features} classes, not the 400 of Kinetics-400")
    try:
        container = av.open(str(video))
    except Exception as e:  # noqa: BLE001
        from .errors import CorruptMediaError

        raise CorruptMediaError(f"cannot open {video}: {e}") from None
    with container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration or 0) / 1e6
        n_win = max(1, int(np.ceil(duration / window)))
        wanted = [(w, (w + (k + 0.5) / N_SEGMENT) * window) for w in range(n_win) for k in range(N_SEGMENT)]
        frames: dict[int, list[np.ndarray]] = {}
        i = 0
        last = None
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            while i < len(wanted) and wanted[i][1] <= t:
                frames.setdefault(wanted[i][0], []).append(frame.to_ndarray(format="rgb24"))
                i += 1
            last = frame
        while i < len(wanted) and last is not None:
            frames.setdefault(wanted[i][0], []).append(last.to_ndarray(format="rgb24"))
            i += 1
    out = []
    for w in range(n_win):
        fr = frames.get(w, [])
        if len(fr) < N_SEGMENT:
            continue
        p = torch.softmax(model(preprocess(fr[:N_SEGMENT])[None]), 1)[0]
        top = torch.topk(p, top_k)
        out.append({"start": round(w * window, 3), "end": round(min(duration, (w + 1) * window), 3),
                    "top5": [{"label": labels[j], "score": round(float(s), 4)} for s, j in zip(top.values, top.indices)]})
    return out
