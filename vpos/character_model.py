"""The character network: a small dense head over frozen EfficientNet-Lite0 feature maps.

One backbone pass per analysis sample (the frame scaled to 384x224) gives two Lite0 maps: stage 5
(112 channels, stride 16) and stage 7 (320 channels, stride 32, upsampled to stride 16). The head
turns every 16x16 cell of that 24x14 grid into

* an objectness logit -- "this cell shows a character" (the character-region detector), and
* a 64-d unit-norm identity embedding -- trained with a cosine-margin softmax over thousands of
  DiceBear and procedurally drawn identities, so that cells of the same character are close
  whatever the expression, scale, crop, flip or background, and cells of different characters are
  apart.  Characters never seen in training are recognised by comparing their cells with the cells
  of a few reference images (`vpos/characters.py`).

Regions therefore come per cell: a character in a corner, cut by the frame edge or in close-up
covers some cells and is matched there; several characters in one frame cover different cells.
`calib_a`/`calib_b` turn the best reference similarity into a probability (fitted on held-out
training identities, stored in config.json).  Only the head (< 1 MB) is shipped in
`weights/characters/`; the backbone is the registry's ImageNet Lite0.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

INPUT_W, INPUT_H = 384, 224  # network input; a 16:9 frame scaled to 384 wide, height rounded to 32
STRIDE = 16
GRID_W, GRID_H = INPUT_W // STRIDE, INPUT_H // STRIDE
FEAT_DIM = 112 + 320
STAGE5_END, STAGE7_END = 10, 15  # indices of the last Lite0 blocks of stages 5 and 7
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "characters"
HUB_ENV = "VPOS_CHARACTER_WEIGHTS"


class CharacterNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="vpos",
    tags=["anime", "character-detection", "character-identification", "metric-learning"],
    license="mit",
):
    """Dense objectness + identity-embedding head over Lite0 stage-5/7 features (B, 432, 14, 24)."""

    def __init__(self, in_dim: int = FEAT_DIM, hidden: int = 96, embed_dim: int = 64,
                 calib_a: float = 12.0, calib_b: float = 0.6, obj_threshold: float = 0.5, own_backbone: bool = False):
        super().__init__()
        self.embed_dim = embed_dim
        # own_backbone: the checkpoint carries its own (fine-tuned) Lite0 stem and blocks up to stage 7;
        # without it the head reads the registry's ImageNet Lite0.
        self.own_backbone = bool(own_backbone)
        if self.own_backbone:
            self.backbone = lite0_trunk()
        self.calib_a, self.calib_b, self.obj_threshold = float(calib_a), float(calib_b), float(obj_threshold)
        self.reduce = nn.Sequential(nn.Conv2d(in_dim, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU())
        self.ctx = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.ReLU())
        self.obj = nn.Conv2d(hidden, 1, 1)
        self.emb = nn.Sequential(nn.Conv2d(hidden * 2, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, embed_dim, 1))

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, 432, h, w) -> objectness logits (B, h, w), unit embeddings (B, D, h, w)."""
        r = self.reduce(feats)
        c = self.ctx(r)
        obj = self.obj(c).squeeze(1)
        emb = F.normalize(self.emb(torch.cat([r, c], 1)), dim=1)
        return obj, emb

    def calibrate(self, similarity: np.ndarray) -> np.ndarray:
        """Best reference similarity -> probability that the character is on screen."""
        return 1.0 / (1.0 + np.exp(-self.calib_a * (np.asarray(similarity, np.float64) - self.calib_b)))

    def similarity_at(self, probability: float) -> float:
        """The inverse of `calibrate`: the similarity whose probability is `probability`."""
        t = float(np.clip(probability, 1e-3, 1 - 1e-3))
        return self.calib_b + float(np.log(t / (1 - t))) / self.calib_a


def lite0_trunk() -> nn.Module:
    """EfficientNet-Lite0 without its 1280-d head and classifier: the part `backbone_features` runs.
    Parameter names stay those of `vpos.models.efficientnet_lite` (so ImageNet weights load into it)."""
    from .models.efficientnet_lite import EfficientNetLite

    m = EfficientNetLite()
    del m._conv_head, m._bn1, m._fc
    return m


def backbone_features(backbone, x: torch.Tensor) -> torch.Tensor:
    """Normalised Lite0 input (B, 3, 224, 384) -> (B, 432, 14, 24): stage-5 map concatenated with
    the upsampled stage-7 map."""
    h = F.relu6(backbone._bn0(backbone._conv_stem(x)))
    s5 = None
    for i, block in enumerate(backbone._blocks):
        h = block(h)
        if i == STAGE5_END:
            s5 = h
        if i == STAGE7_END:
            break
    up = F.interpolate(h, size=s5.shape[-2:], mode="nearest")
    return torch.cat([s5, up], 1)


def prepare_frames(frames: np.ndarray) -> np.ndarray:
    """(M, H, W, 3) uint8 frames -> (M, 224, 384, 3) network input (the whole frame, aspect
    squeezed to 384x224 like the training composites)."""
    import cv2

    out = np.empty((len(frames), INPUT_H, INPUT_W, 3), np.uint8)
    for i, f in enumerate(frames):
        f = np.ascontiguousarray(f[..., :3])
        interp = cv2.INTER_AREA if f.shape[1] >= INPUT_W else cv2.INTER_LINEAR
        out[i] = cv2.resize(f, (INPUT_W, INPUT_H), interpolation=interp)
    return out


@torch.inference_mode()
def run_dense(backbone, head: CharacterNet, x: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Prepared input (B, 224, 384, 3) uint8 -> objectness probability (B, 14, 24) float32 and
    embeddings (B, 14, 24, D) float32."""
    from .models.efficientnet_lite import preprocess

    if head.own_backbone:
        backbone = head.backbone
    t = preprocess(torch.from_numpy(np.ascontiguousarray(x)).to(device))
    cuda = str(device).startswith("cuda")
    ctx = torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext()
    with ctx:
        feats = backbone_features(backbone, t)
        obj, emb = head(feats.float() if not cuda else feats)
    obj = torch.sigmoid(obj.float()).cpu().numpy()
    emb = F.normalize(emb.float(), dim=1).permute(0, 2, 3, 1).cpu().numpy()
    return obj, emb


def resolve_source(source: str | os.PathLike | None) -> Path:
    """A local folder, or a Hub repo id `owner/name[@revision]` downloaded to the HF cache."""
    from .hub import weights_folder

    return weights_folder(source, HUB_ENV, DEFAULT_WEIGHTS, "character weights",
                          "train them with `python -m vpos.characters_train`")


_LOADED: dict[tuple[str, str], CharacterNet] = {}


def load_head(source: str | os.PathLike | None = None, device: str = "cpu") -> CharacterNet:
    from .errors import ModelLoadError

    root = resolve_source(source)
    key = (str(root), str(device))
    if key not in _LOADED:
        if not (root / "config.json").exists():
            raise ModelLoadError(f"{root} holds no character checkpoint (no config.json)")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                m = CharacterNet.from_pretrained(str(root), strict=True, map_location="cpu")
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"character checkpoint {root} does not load: {e}") from None
        _LOADED[key] = m.to(device).eval()
    return _LOADED[key]
