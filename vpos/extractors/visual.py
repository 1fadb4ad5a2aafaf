"""Per-sample image embedding and ImageNet top-5 with EfficientNet-Lite0.

Each analysis sample is scaled (area interpolation) to 224 px wide with its aspect kept and the
height rounded to a multiple of 32 (a 16:9 frame becomes 224x128, the whole frame is seen, nothing
is cropped), normalised as (x - 127) / 128 and run through the network in batches. The pooled
1280-d feature is the embedding; the classifier head gives the top-5 ImageNet classes.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..media import Chunk
from .base import SAMPLES, Extractor, FeatureSet, RunContext

MODEL_NAME = "efficientnet_lite0.imagenet"
INPUT_WIDTH = 224
TOP_K = 5

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()
_LABELS: list[str] | None = None


def get_model(device: str = "cpu"):
    """The EfficientNet-Lite0 for `device`, loaded once per process."""
    with _LOCK:
        model = _MODELS.get(device)
        if model is None:
            import torch

            from ..models import registry

            model = registry.load(MODEL_NAME, device)
            if str(device).startswith("cuda"):
                model = model.to(memory_format=torch.channels_last)
            _MODELS[device] = model
        return model


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, in the order of the classifier's outputs."""
    global _LABELS
    if _LABELS is None:
        from torchvision.models import EfficientNet_B0_Weights

        _LABELS = list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])
    return _LABELS


def as_rgb(samples: np.ndarray) -> np.ndarray:
    """Coerce (M,H,W), (M,H,W,1), (M,H,W,3) or (M,H,W,4) samples to (M,H,W,3) uint8."""
    a = np.asarray(samples)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise ValueError(f"samples must be (M,H,W,3), got shape {a.shape}")
    c = a.shape[-1]
    if c == 1:
        a = np.repeat(a, 3, axis=-1)
    elif c == 4:
        a = a[..., :3]
    elif c != 3:
        raise ValueError(f"samples must have 1, 3 or 4 channels, got {c}")
    return a


def prepare(samples: np.ndarray, width: int = INPUT_WIDTH) -> np.ndarray:
    """(M,H,W,3) uint8 -> (M,h,width,3) uint8 network input; h = aspect-kept height rounded to a
    multiple of 32."""
    import cv2

    from ..models.efficientnet_lite import input_size

    samples = as_rgb(samples)
    m, h, w, _ = samples.shape
    tw, th = input_size(w, h, width)
    out = np.empty((m, th, tw, 3), np.uint8)
    for i, s in enumerate(samples):
        interp = cv2.INTER_AREA if (w >= tw and h >= th) else cv2.INTER_LINEAR
        out[i] = cv2.resize(np.ascontiguousarray(s), (tw, th), interpolation=interp)
    return out


class VisualExtractor(Extractor):
    name = "visual"
    version = "1"
    needs = frozenset({SAMPLES})
    sample_width = INPUT_WIDTH

    def __init__(self, top_k: int = TOP_K):
        self.top_k = top_k
        self._ctx: RunContext | None = None
        self._pending: list[np.ndarray] = []
        self._emb: list[np.ndarray] = []
        self._idx: list[np.ndarray] = []
        self._prob: list[np.ndarray] = []

    def config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME, "width": INPUT_WIDTH, "height_multiple": 32, "top_k": self.top_k}

    def load(self, device: str = "cpu") -> None:
        get_model(device)

    # -- per video -------------------------------------------------------------------------
    def begin(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._pending, self._emb, self._idx, self._prob = [], [], [], []
        self._n_pending = 0

    @property
    def _device(self) -> str:
        return self._ctx.device if self._ctx else "cpu"

    @property
    def _batch(self) -> int:
        bs = max(1, int(self._ctx.batch_size if self._ctx else 16))
        return max(bs, 64) if self._device.startswith("cuda") else bs

    def update(self, chunk: Chunk) -> None:
        if self._ctx is None:
            raise RuntimeError("VisualExtractor.update called before begin")
        samples = chunk.samples
        if samples is None or len(samples) == 0:
            return
        x = prepare(samples)
        self._pending.append(x)
        self._n_pending += len(x)
        if self._n_pending >= self._batch:
            self._run(final=False)

    def finish(self) -> FeatureSet:
        self._run(final=True)
        k = self.top_k
        emb = np.concatenate(self._emb) if self._emb else np.zeros((0, 1280), np.float16)
        idx = np.concatenate(self._idx) if self._idx else np.zeros((0, k), np.int16)
        prob = np.concatenate(self._prob) if self._prob else np.zeros((0, k), np.float16)
        self._pending, self._emb, self._idx, self._prob = [], [], [], []
        self._ctx = None
        return FeatureSet(
            arrays={"embedding": emb, "top5_index": idx, "top5_prob": prob},
            meta={"model": MODEL_NAME, "input_width": INPUT_WIDTH},
        )

    # -- inference -------------------------------------------------------------------------
    def _run(self, final: bool) -> None:
        if not self._pending:
            return
        # Group by input shape (it only changes if the sample size changes mid-video).
        xs = self._pending
        self._pending, self._n_pending = [], 0
        groups: list[np.ndarray] = []
        for x in xs:
            if groups and groups[-1].shape[1:] == x.shape[1:]:
                groups[-1] = np.concatenate([groups[-1], x])
            else:
                groups.append(x)
        bs = self._batch
        for gi, g in enumerate(groups):
            n_full = len(g) if final or gi < len(groups) - 1 else (len(g) // bs) * bs
            for s in range(0, n_full, bs):
                e, i, p = embed_batch(g[s : min(s + bs, n_full)], self._device, self.top_k)
                self._emb.append(e)
                self._idx.append(i)
                self._prob.append(p)
            if n_full < len(g):
                self._pending.append(g[n_full:])
                self._n_pending += len(g) - n_full


def embed_batch(x: np.ndarray, device: str = "cpu", top_k: int = TOP_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B,h,w,3) uint8 prepared input -> (embedding float16 (B,1280), top-k index int16, top-k
    probability float16)."""
    import torch

    from ..models.efficientnet_lite import preprocess

    model = get_model(device)
    cuda = str(device).startswith("cuda")
    with torch.inference_mode():
        t = torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=cuda)
        inp = preprocess(t)
        if cuda:
            inp = inp.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.float16):
                feats = model.forward_features(inp)
                logits = model.forward_head(feats)
        else:
            feats = model.forward_features(inp)
            logits = model.forward_head(feats)
        probs = logits.float().softmax(-1)
        top = probs.topk(top_k, dim=-1)
        return (
            feats.float().cpu().numpy().astype(np.float16),
            top.indices.cpu().numpy().astype(np.int16),
            top.values.cpu().numpy().astype(np.float16),
        )
