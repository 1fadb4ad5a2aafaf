"""A small learned scene-boundary model: P(a new scene starts at this cut) from local shot distances.

The training-free grouping (`vpos/scenes.py`, OSG with a per-scene penalty) weighs every feature the
same way at every cut. This model reads, for each cut, the distances across and around it per
feature (visual embedding, colour, border colour, layout, audio), the lengths of the two shots, how
gradual the transition is and whether the sound changes or falls silent there
(`scenes.boundary_features`), and gives a boundary probability. Its log-odds then enter the OSG
dynamic programme as a per-shot prior on starting a scene (`osg_penalized(start_bonus=...)`), so the
grouping still prefers alike shots together. A BaSSL-like contextual model in spirit (local context
around each shot boundary, trained on the corpus's scenes), but small enough to train on CPU in
seconds from cached features: `bench/scenes_train.py`.

Saved and loaded like the opening/ending model: `huggingface_hub.PyTorchModelHubMixin`
(model.safetensors + config.json), from a local folder (default `weights/scenes`) or a Hub id.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from huggingface_hub import PyTorchModelHubMixin

from .errors import ModelLoadError

DEFAULT_SCENE_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "scenes"
HUB_ENV = "VPOS_SCENE_WEIGHTS"


class SceneBoundaryNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="vpos",
    tags=["scene-segmentation", "shot-boundary", "anime"],
    repo_url="https://github.com/",
):
    """Standardise -> Linear -> ReLU -> Linear: one logit per cut (hidden=0: logistic regression)."""

    def __init__(self, feature_names: list[str] | None = None, hidden: int = 16):
        super().__init__()
        self.feature_names = list(feature_names or [])
        n = len(self.feature_names)
        self.hidden = int(hidden)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))
        if self.hidden > 0:
            self.net = nn.Sequential(nn.Linear(n, self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1))
        else:
            self.net = nn.Sequential(nn.Linear(n, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)

    @torch.inference_mode()
    def logits(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0, np.float32)
        return self.forward(torch.from_numpy(np.asarray(x, np.float32))).numpy()


def train_boundary_model(x: np.ndarray, y: np.ndarray, feature_names, hidden: int = 16, epochs: int = 300,
                         weight_decay: float = 1e-2, lr: float = 1e-2, seed: int = 0) -> SceneBoundaryNet:
    """Full-batch Adam on the weighted binary cross-entropy (boundaries are the rarer class)."""
    torch.manual_seed(seed)
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    if len(x) == 0 or y.min() == y.max():
        raise ValueError("training needs cuts of both kinds (scene starts and not)")
    model = SceneBoundaryNet(list(feature_names), hidden)
    model.mean.copy_(torch.from_numpy(x.mean(0)))
    model.std.copy_(torch.from_numpy(x.std(0) + 1e-3))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    pos_weight = torch.tensor(float((1 - y).sum() / max(y.sum(), 1.0)))
    opt = torch.optim.Adam(model.net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
    return model.eval()


_LOADED: dict[str, SceneBoundaryNet] = {}


def load_boundary_model(source: str | os.PathLike | None = None, feature_names=None) -> SceneBoundaryNet:
    """From a local `save_pretrained` folder or a Hub id (`owner/name`, `owner/name@rev`). The
    model's feature list must equal `feature_names` (the features this code computes)."""
    from .hub import load_pretrained, resolve_source

    src = resolve_source(source, HUB_ENV, DEFAULT_SCENE_WEIGHTS)
    model = load_pretrained(SceneBoundaryNet, source, HUB_ENV, DEFAULT_SCENE_WEIGHTS, "scene-boundary model", _LOADED)
    if feature_names is not None and list(model.feature_names) != list(feature_names):
        raise ModelLoadError(f"scene-boundary model at {src} was trained on other features; retrain it (bench/scenes_train.py)")
    return model
