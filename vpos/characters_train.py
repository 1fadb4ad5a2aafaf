"""Train the character network (`vpos/character_model.py`) on composites of many identities.

    python -m vpos.characters_train --out weights/characters [--images 3500] [--epochs 12]

Training material (nothing from the corpus cast; the corpus episodes are kept for testing):

* DiceBear avatars (npm `@dicebear/core` + `@dicebear/collection`, rendered to PNG with
  `rsvg-convert`): 14 styles x N seeds; a seed is an identity, its variants change only eyes,
  mouth and eyebrows (expressions).  Half of them get a drawn body below the head, coloured per
  identity, so that full figures and busts both occur.
* Figures drawn here with random parameters (head shape, hair shape and colour, eyes, clothes,
  accessories; expression and arm pose vary per appearance).  This drawer is not the corpus's.

Each training image is a 384x224 frame: a background (the corpus's background generator over its
location types, or random gradients/shapes/noise, with non-character distractor shapes), 0-3
characters at heights from 20% to 220% of the frame (close-ups show only the head), anywhere
including cut by the frame edge, mirrored at random.  Every pixel's identity is known, so every
16x16 cell gets an objectness target and, when one identity covers most of it, an identity label.

The Lite0 features are computed once (frozen backbone) and the head trains on them for a few
minutes on a CPU.  Identities are split: the last 12% are never trained on and give the held-out
retrieval figures and the similarity -> probability calibration written into config.json.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .character_model import GRID_H, GRID_W, INPUT_H, INPUT_W, STRIDE

DICEBEAR_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "dicebear_identities.mjs"
SKIP_STYLES = ("dylan",)  # opaque square backgrounds: not a figure


# --- identities -------------------------------------------------------------------------------

@dataclass
class Identity:
    key: str
    kind: str  # "dicebear" | "drawn"
    files: list = field(default_factory=list)  # dicebear variant PNGs
    params: dict = field(default_factory=dict)  # drawn figure / body parameters


def _hsv(rng, s=(0.2, 1.0), v=(0.2, 1.0)) -> tuple:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v))
    return int(r * 255), int(g * 255), int(b * 255)


def render_dicebear(out: Path, per_style: int, variants: int, seed: int, node_modules: Path, rsvg: str) -> list:
    """SVGs via node, PNGs via rsvg-convert (arg lists only); returns the PNG paths."""
    out.mkdir(parents=True, exist_ok=True)
    svg = out / "svg"
    script = node_modules.parent / DICEBEAR_SCRIPT.name  # ESM resolves packages next to the script
    shutil.copy(DICEBEAR_SCRIPT, script)
    subprocess.run(["node", str(script), str(svg), str(per_style), str(variants), str(seed)], check=True)
    png = out / "png"
    png.mkdir(exist_ok=True)
    done = []
    for f in sorted(svg.glob("*.svg")):
        p = png / (f.stem + ".png")
        if not p.exists():
            subprocess.run([rsvg, "-h", "256", str(f), "-o", str(p)], check=True)
        done.append(str(p))
    return done


def dicebear_identities(png_dir: str) -> list[Identity]:
    by_id: dict[str, list] = {}
    for p in sorted(glob.glob(os.path.join(png_dir, "*.png"))):
        stem = os.path.basename(p).rsplit(".", 1)[0]
        stem = stem[:-4] if stem.endswith(".svg") else stem
        ident = stem.rsplit("_", 1)[0]
        if ident.split("-")[0] in SKIP_STYLES:
            continue
        by_id.setdefault(ident, []).append(p)
    out = []
    for k, files in sorted(by_id.items()):
        rng = np.random.default_rng(int(hashlib.md5(k.encode()).hexdigest()[:8], 16))
        body = None
        if rng.random() < 0.5:
            body = {"color": _hsv(rng), "color2": _hsv(rng), "shape": int(rng.integers(0, 3)), "len": float(rng.uniform(1.0, 1.8))}
        out.append(Identity(key=k, kind="dicebear", files=files, params={"body": body}))
    return out


def drawn_identity(i: int, seed: int) -> Identity:
    rng = np.random.default_rng([seed, i, 17])
    skin = _hsv(rng, (0.1, 0.5), (0.55, 1.0)) if rng.random() < 0.8 else _hsv(rng)
    p = {
        "skin": skin, "hair": _hsv(rng), "hair2": _hsv(rng), "eyes": _hsv(rng, (0.4, 1.0), (0.3, 0.9)),
        "clothes": _hsv(rng), "clothes2": _hsv(rng), "head_w": float(rng.uniform(0.75, 1.15)),
        "head_h": float(rng.uniform(0.85, 1.2)), "head_frac": float(rng.uniform(0.18, 0.4)),
        "hair_style": int(rng.integers(0, 7)), "eye_style": int(rng.integers(0, 4)),
        "eye_size": float(rng.uniform(0.7, 1.5)), "body": int(rng.integers(0, 4)), "pattern": int(rng.integers(0, 4)),
        "accessory": int(rng.integers(0, 5)), "width": float(rng.uniform(0.35, 0.65)),
        "outline": bool(rng.random() < 0.8),
    }
    return Identity(key=f"drawn-{seed}-{i}", kind="drawn", params=p)


def draw_figure(p: dict, height: int, rng: np.random.Generator) -> np.ndarray:
    """A figure from identity parameters `p`; expression and arm pose from `rng`. RGBA."""
    from PIL import Image, ImageDraw

    s = 2
    H = height * s
    W = int(H * p["width"]) + 4
    im = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    ol = (30, 25, 35, 255) if p["outline"] else None
    lw = max(1, H // 150)
    cx = W // 2
    hh = int(H * p["head_frac"])
    hw = int(hh * p["head_w"] * 0.5)
    hy = int(H * 0.02) + hh // 2  # head centre
    hair, hair2, skin = p["hair"] + (255,), p["hair2"] + (255,), p["skin"] + (255,)
    c1, c2 = p["clothes"] + (255,), p["clothes2"] + (255,)
    top = hy + hh // 2
    bw = int(hw * 1.4)
    st = p["hair_style"]
    if st == 2:  # long hair behind
        d.rectangle([cx - hw - hw // 6, hy - hh // 3, cx + hw + hw // 6, top + hh], fill=hair, outline=ol)
    # arms (pose varies per appearance)
    for sx in (-1, 1):
        ang = rng.uniform(-0.5, 0.9)
        x0, y0 = cx + sx * bw // 2, top + hh // 6
        x1, y1 = x0 + int(sx * np.sin(ang) * hh * 1.3), y0 + int(np.cos(ang) * hh * 1.3)
        d.line([x0, y0, x1, y1], fill=c1, width=max(3, hw // 3))
        d.ellipse([x1 - hw // 6, y1 - hw // 6, x1 + hw // 6, y1 + hw // 6], fill=skin)
    # body
    bot = H - 1
    if p["body"] == 0:
        d.polygon([(cx - bw // 2, top), (cx + bw // 2, top), (cx + bw, bot), (cx - bw, bot)], fill=c1, outline=ol)
    elif p["body"] == 1:
        d.rectangle([cx - bw // 2, top, cx + bw // 2, top + int((bot - top) * 0.6)], fill=c1, outline=ol)
        for sx in (-1, 1):  # legs
            d.rectangle([cx + sx * bw // 4 - bw // 6, top + int((bot - top) * 0.6), cx + sx * bw // 4 + bw // 6, bot], fill=c2, outline=ol)
    elif p["body"] == 2:
        d.rounded_rectangle([cx - bw // 2, top, cx + bw // 2, bot], radius=max(2, bw // 3), fill=c1, outline=ol)
    else:
        d.polygon([(cx - bw // 3, top), (cx + bw // 3, top), (cx + bw // 2, top + (bot - top) // 2), (cx - bw // 2, top + (bot - top) // 2)], fill=c1, outline=ol)
        d.polygon([(cx - bw // 2, top + (bot - top) // 2), (cx + bw // 2, top + (bot - top) // 2), (cx + int(bw * 0.9), bot), (cx - int(bw * 0.9), bot)], fill=c2, outline=ol)
    if p["pattern"] == 1:  # stripes
        for k in range(3):
            y = top + (k + 1) * (bot - top) // 5
            d.line([cx - bw // 2, y, cx + bw // 2, y], fill=c2, width=max(2, H // 60))
    elif p["pattern"] == 2:  # belt
        y = top + (bot - top) // 2
        d.rectangle([cx - bw // 2, y - H // 80, cx + bw // 2, y + H // 80], fill=c2)
    elif p["pattern"] == 3:  # tie / buttons
        d.polygon([(cx - hw // 6, top), (cx + hw // 6, top), (cx, top + hh)], fill=c2)
    # head
    d.ellipse([cx - hw, hy - hh // 2, cx + hw, hy + hh // 2], fill=skin, outline=ol, width=lw)
    # eyes (expression varies)
    closed = rng.random() < 0.2
    ey = hy + hh // 12
    es = p["eye_size"]
    for sx in (-1, 1):
        ex = cx + sx * int(hw * 0.42)
        ew, eh = max(2, int(hw * 0.14 * es)), max(2, int(hh * 0.1 * es))
        if closed:
            d.arc([ex - ew, ey - eh, ex + ew, ey + eh], 200, 340, fill=(30, 25, 35, 255), width=lw)
        elif p["eye_style"] == 0:
            d.ellipse([ex - ew // 2, ey - ew // 2, ex + ew // 2, ey + ew // 2], fill=(20, 20, 25, 255))
        elif p["eye_style"] == 1:
            d.ellipse([ex - ew, ey - eh, ex + ew, ey + eh], fill=(255, 255, 255, 255), outline=ol)
            d.ellipse([ex - ew // 2, ey - eh // 2, ex + ew // 2, ey + eh], fill=p["eyes"] + (255,))
        elif p["eye_style"] == 2:
            d.rectangle([ex - ew, ey - eh // 3, ex + ew, ey + eh // 3], fill=(20, 20, 25, 255))
        else:
            d.ellipse([ex - ew, ey - eh, ex + ew, ey + eh], fill=p["eyes"] + (255,), outline=ol)
            d.ellipse([ex - ew // 3, ey - eh // 2, ex, ey - eh // 6], fill=(255, 255, 255, 255))
    my = hy + int(hh * 0.28)
    m = int(rng.integers(0, 4))
    if m == 0:
        d.line([cx - hw // 5, my, cx + hw // 5, my], fill=(60, 20, 30, 255), width=lw)
    elif m == 1:
        d.ellipse([cx - hw // 7, my - hh // 20, cx + hw // 7, my + hh // 12], fill=(150, 40, 50, 255))
    elif m == 2:
        d.arc([cx - hw // 4, my - hh // 10, cx + hw // 4, my + hh // 20], 20, 160, fill=(60, 20, 30, 255), width=lw)
    if rng.random() < 0.25:  # blush
        for sx in (-1, 1):
            bx = cx + sx * int(hw * 0.6)
            d.ellipse([bx - hw // 6, my - hh // 10, bx + hw // 6, my - hh // 30], fill=(240, 140, 150, 150))
    # hair
    if st in (0, 2, 3):  # cap of hair
        d.chord([cx - hw - hw // 8, hy - hh // 2 - hh // 8, cx + hw + hw // 8, hy + hh // 6], 180, 360, fill=hair, outline=ol)
    if st == 0:
        for k in range(5):
            x0 = cx - hw + k * 2 * hw // 5
            d.polygon([(x0, hy - hh // 2), (x0 + 2 * hw // 5, hy - hh // 2), (x0 + hw // 5, hy - hh // 2 - hh // 4)], fill=hair)
    elif st == 1:  # afro
        d.ellipse([cx - int(hw * 1.4), hy - int(hh * 0.9), cx + int(hw * 1.4), hy], fill=hair, outline=ol)
        d.ellipse([cx - hw, hy - hh // 2 + hh // 6, cx + hw, hy + hh // 2], fill=skin, outline=ol)
    elif st == 3:  # bun
        d.ellipse([cx - hw // 3, hy - hh // 2 - hh // 3, cx + hw // 3, hy - hh // 2 + hh // 8], fill=hair2, outline=ol)
    elif st == 4:  # mohawk
        d.polygon([(cx - hw // 5, hy - hh // 2 + 4), (cx + hw // 5, hy - hh // 2 + 4), (cx, hy - hh)], fill=hair, outline=ol)
    elif st == 5:  # side parting
        d.polygon([(cx - hw, hy), (cx - hw, hy - hh // 2), (cx + hw, hy - hh // 2), (cx + hw, hy - hh // 4), (cx - hw // 3, hy - hh // 4)], fill=hair, outline=ol)
    elif st == 6:  # hat
        d.rectangle([cx - int(hw * 1.3), hy - hh // 2, cx + int(hw * 1.3), hy - hh // 2 + hh // 12], fill=hair2, outline=ol)
        d.rectangle([cx - int(hw * 0.8), hy - hh, cx + int(hw * 0.8), hy - hh // 2], fill=hair2, outline=ol)
    acc = p["accessory"]
    if acc == 1:  # glasses
        for sx in (-1, 1):
            ex = cx + sx * int(hw * 0.42)
            r = int(hw * 0.22)
            d.ellipse([ex - r, ey - r, ex + r, ey + r], outline=(40, 40, 50, 255), width=lw)
    elif acc == 2:  # bow
        bx, by = cx + hw // 2, hy - hh // 2
        d.polygon([(bx, by), (bx - hw // 3, by - hh // 8), (bx - hw // 3, by + hh // 8)], fill=hair2)
        d.polygon([(bx, by), (bx + hw // 3, by - hh // 8), (bx + hw // 3, by + hh // 8)], fill=hair2)
    elif acc == 3:  # scarf
        d.rectangle([cx - bw // 2, top, cx + bw // 2, top + hh // 6], fill=hair2, outline=ol)
    im = im.resize((max(1, W // s), height), Image.LANCZOS)
    return np.asarray(im)


def _with_body(head: np.ndarray, body: dict) -> np.ndarray:
    """A DiceBear bust on a drawn body of the identity's colours (RGBA)."""
    from PIL import Image, ImageDraw

    hh, hw = head.shape[:2]
    bh = int(hh * body["len"])
    W, H = hw, hh + bh - hh // 8
    im = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    cx, top = W // 2, hh - hh // 5
    bw = int(hw * 0.45)
    c1, c2 = body["color"] + (255,), body["color2"] + (255,)
    if body["shape"] == 0:
        d.polygon([(cx - bw // 2, top), (cx + bw // 2, top), (cx + bw, H - 1), (cx - bw, H - 1)], fill=c1, outline=(30, 30, 30, 255))
    elif body["shape"] == 1:
        d.rectangle([cx - bw // 2, top, cx + bw // 2, top + (H - top) * 3 // 5], fill=c1, outline=(30, 30, 30, 255))
        d.rectangle([cx - bw // 2, top + (H - top) * 3 // 5, cx + bw // 2, H - 1], fill=c2, outline=(30, 30, 30, 255))
    else:
        d.rounded_rectangle([cx - bw // 2, top, cx + bw // 2, H - 1], radius=bw // 4, fill=c1, outline=(30, 30, 30, 255))
        d.rectangle([cx - bw // 2, top + (H - top) // 3, cx + bw // 2, top + (H - top) // 3 + H // 40], fill=c2)
    im.alpha_composite(Image.fromarray(head))
    return np.asarray(im)


class SpriteSource:
    """Renders (identity, appearance) sprites at a requested height, with a small cache."""

    def __init__(self):
        self._png: dict[str, np.ndarray] = {}

    def sprite(self, ident: Identity, height: int, rng: np.random.Generator) -> np.ndarray:
        import cv2

        if ident.kind == "drawn":
            base = draw_figure(ident.params, min(height, 360), rng)
        else:
            f = ident.files[int(rng.integers(0, len(ident.files)))]
            if f not in self._png:
                from PIL import Image

                self._png[f] = np.asarray(Image.open(f).convert("RGBA"))
            base = self._png[f]
            if ident.params.get("body"):
                base = _with_body(base, ident.params["body"])
        h, w = base.shape[:2]
        s = height / h
        img = cv2.resize(base, (max(2, int(w * s)), max(2, height)), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        return img


# --- frames -----------------------------------------------------------------------------------

def random_background(rng: np.random.Generator, photo_like: bool = False) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    from .corpus.material import LOCATIONS, draw_background

    r = rng.random()
    if photo_like:
        bg = photo_like_background(rng)
    elif r < 0.5:
        bg = draw_background(str(rng.choice(LOCATIONS)), int(rng.integers(0, 10**6)), INPUT_W, INPUT_H)
    else:
        top, bot = np.array(_hsv(rng), np.float32), np.array(_hsv(rng), np.float32)
        a = np.linspace(0, 1, INPUT_H, dtype=np.float32)[:, None, None]
        bg = np.broadcast_to(top * (1 - a) + bot * a, (INPUT_H, INPUT_W, 3)).astype(np.uint8).copy()
    im = Image.fromarray(bg)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(0, 7))):  # distractors: shapes, posters, windows, furniture
        x, y = int(rng.integers(-40, INPUT_W)), int(rng.integers(-40, INPUT_H))
        w, h = int(rng.integers(10, 160)), int(rng.integers(10, 160))
        kind = rng.integers(0, 3)
        if kind == 0:
            d.rectangle([x, y, x + w, y + h], fill=_hsv(rng), outline=_hsv(rng) if rng.random() < 0.5 else None)
        elif kind == 1:
            d.ellipse([x, y, x + w, y + h], fill=_hsv(rng))
        else:
            d.polygon([(x, y), (x + w, y + h // 3), (x + w // 2, y + h)], fill=_hsv(rng))
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3))))
    out = np.asarray(im).astype(np.int16)
    if rng.random() < 0.5:
        out += rng.integers(-6, 7, size=(INPUT_H, INPUT_W, 1), dtype=np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)


def _fractal(rng: np.random.Generator, h: int, w: int, octaves: int = 6, base: int = 3, decay: float = 0.55) -> np.ndarray:
    """1/f-like value noise in [0, 1] (h, w): random grids of growing resolution, upsampled and summed."""
    import cv2

    out = np.zeros((h, w), np.float32)
    amp, tot = 1.0, 0.0
    for k in range(octaves):
        gh, gw = base * 2 ** k, max(2, int(base * 2 ** k * w / h))
        g = rng.random((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        tot += amp
        amp *= decay
    out /= tot
    lo, hi = np.percentile(out, 1), np.percentile(out, 99)
    return np.clip((out - lo) / max(1e-6, hi - lo), 0, 1)


def _palette(rng: np.random.Generator, natural: bool) -> np.ndarray:
    """3 colour stops: natural (greens, browns, greys, sky blues, sand) or any hue."""
    if not natural:
        return np.array([_hsv(rng) for _ in range(3)], np.float32)
    import colorsys

    hue = float(rng.choice([0.08, 0.12, 0.22, 0.3, 0.36, 0.55, 0.6, 0.0])) + rng.uniform(-0.04, 0.04)
    sat = rng.uniform(0.05, 0.7)
    vals = np.sort(rng.uniform(0.1, 0.95, 3))
    return np.array([[c * 255 for c in colorsys.hsv_to_rgb(hue % 1.0, min(1, sat * rng.uniform(0.7, 1.3)), v)] for v in vals],
                    np.float32)


def _colorize(field: np.ndarray, pal: np.ndarray) -> np.ndarray:
    x = np.linspace(0, 1, len(pal))
    return np.stack([np.interp(field, x, pal[:, c]) for c in range(3)], -1).astype(np.float32)


def photo_like_background(rng: np.random.Generator, h: int = INPUT_H, w: int = INPUT_W) -> np.ndarray:
    """A textured, photo-like scene drawn procedurally (no image file): sky and clouds, distant
    hills, foliage masses and trees, grass strokes, gravel/roads in perspective, building facades
    with window grids, bricks, or plain 1/f texture -- blurred, graded and noised like footage and
    painted backgrounds. Hard negatives: the character objectness must not fire on texture."""
    import cv2

    natural = rng.random() < 0.75
    kind = int(rng.integers(0, 5))
    img = _colorize(_fractal(rng, h, w, base=int(rng.integers(2, 6)), decay=float(rng.uniform(0.45, 0.75))), _palette(rng, natural))
    if kind in (0, 1, 2):  # outdoor: sky above a horizon, ground below
        hy = int(rng.uniform(0.15, 0.65) * h)
        sky_top, sky_bot = np.array(_hsv(rng, (0.1, 0.6), (0.6, 1.0)), np.float32), np.array(_hsv(rng, (0.0, 0.3), (0.7, 1.0)), np.float32)
        a = np.linspace(0, 1, hy, dtype=np.float32)[:, None, None]
        sky = np.broadcast_to(sky_top * (1 - a) + sky_bot * a, (hy, w, 3)).copy()
        cloud = _fractal(rng, hy, w, base=2)[..., None]
        sky = sky * (1 - 0.6 * cloud ** 2) + 255 * 0.6 * cloud ** 2
        img[:hy] = sky
        # distant hills / tree line: a noisy contour
        prof = hy - (8 + 40 * _fractal(rng, 1, w, octaves=5, base=2)[0]).astype(int)
        hills = _colorize(_fractal(rng, h, w), _palette(rng, True))
        rows = np.arange(h)[:, None]
        m = (rows >= prof[None, :]) & (rows < hy + 2)
        img[m] = hills[m]
    if kind == 2 or (kind in (0, 1) and rng.random() < 0.4):  # road in perspective
        vx = rng.uniform(0.2, 0.8) * w
        top = int(rng.uniform(0.3, 0.7) * h)
        bl, br = rng.uniform(-0.6, 0.3) * w, rng.uniform(0.7, 1.6) * w
        poly = np.array([[vx - 4, top], [vx + 4, top], [br, h], [bl, h]], np.int32)
        road = _colorize(_fractal(rng, h, w, base=8), _palette(rng, True) * 0.5 + 60)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [poly], 1)
        img[mask > 0] = road[mask > 0]
        if rng.random() < 0.6:
            cv2.line(img, (int(vx), top), (int((bl + br) / 2), h), tuple(float(v) for v in _hsv(rng, (0, 0.3), (0.8, 1))), 2)
    if kind in (0, 1, 4):  # foliage masses / trees
        for _ in range(int(rng.integers(1, 6))):
            cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(0.0, 0.8) * h
            r = rng.uniform(0.08, 0.45) * h
            base_col = np.array(_palette(rng, True)[1])
            if rng.random() < 0.7:
                cv2.rectangle(img, (int(cx - r * 0.12), int(cy)), (int(cx + r * 0.12), h),
                              tuple(float(v) for v in base_col * 0.45), -1)
            for _ in range(int(rng.integers(80, 400))):
                ang, rad = rng.uniform(0, 2 * np.pi), r * np.sqrt(rng.random())
                col = np.clip(base_col * rng.uniform(0.5, 1.4), 0, 255)
                cv2.circle(img, (int(cx + rad * np.cos(ang)), int(cy + rad * np.sin(ang) * 0.8)),
                           int(rng.integers(2, max(3, int(r * 0.25)))), tuple(float(v) for v in col), -1)
    if kind in (1, 4) or rng.random() < 0.2:  # grass strokes in the lower part
        y0 = int(rng.uniform(0.4, 0.85) * h)
        gcol = np.array(_palette(rng, True)[1])
        for _ in range(int(rng.integers(300, 1500))):
            x, y = rng.uniform(0, w), rng.uniform(y0, h)
            L = rng.uniform(3, 14) * (0.5 + (y - y0) / max(1, h - y0))
            col = np.clip(gcol * rng.uniform(0.5, 1.5), 0, 255)
            cv2.line(img, (int(x), int(y)), (int(x + rng.uniform(-3, 3)), int(y - L)), tuple(float(v) for v in col), 1)
    if kind == 3 or (kind == 2 and rng.random() < 0.5):  # buildings: facades with windows, bricks
        x = rng.uniform(-0.2, 0.1) * w
        while x < w:
            bw, top = rng.uniform(0.15, 0.5) * w, int(rng.uniform(0.0, 0.5) * h)
            col = np.array(_palette(rng, natural)[1])
            cv2.rectangle(img, (int(x), top), (int(x + bw), h), tuple(float(v) for v in col), -1)
            if rng.random() < 0.4:  # bricks
                bh = int(rng.integers(4, 10))
                for yy in range(top, h, bh):
                    cv2.line(img, (int(x), yy), (int(x + bw), yy), tuple(float(v) for v in col * 0.7), 1)
            ww, wh = rng.uniform(6, 24), rng.uniform(8, 28)
            gx, gy = ww * rng.uniform(1.4, 2.5), wh * rng.uniform(1.3, 2.2)
            wcol = np.array(_hsv(rng, (0, 0.5), (0.2, 1.0)), np.float32)
            yy = top + gy * 0.5
            while yy + wh < h:
                xx = x + gx * 0.4
                while xx + ww < x + bw:
                    cv2.rectangle(img, (int(xx), int(yy)), (int(xx + ww), int(yy + wh)),
                                  tuple(float(v) for v in np.clip(wcol * rng.uniform(0.7, 1.2), 0, 255)), -1)
                    xx += gx
                yy += gy
            x += bw + rng.uniform(-0.05, 0.05) * w
    # footage / painted-background look: texture detail, blur, grading, noise, vignette
    detail = (_fractal(rng, h, w, octaves=3, base=48) - 0.5)[..., None] * rng.uniform(0, 60)
    img = img + detail
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 3.0)))
    img = img * rng.uniform(0.6, 1.2) + rng.uniform(-25, 25)
    if rng.random() < 0.4:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        v = 1 - 0.5 * rng.random() * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / 2
        img = img * v[..., None]
    img = img + rng.normal(0, rng.uniform(0, 8), (h, w, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def blend(frame: np.ndarray, idmap: np.ndarray, sprite: np.ndarray, x: int, y: int, label: int) -> None:
    h, w = sprite.shape[:2]
    H, W = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    sp = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
    a = sp[..., 3:4].astype(np.float32) / 255.0
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = (region * (1 - a) + sp[..., :3] * a).astype(np.uint8)
    idmap[y0:y1, x0:x1][sp[..., 3] > 127] = label


def make_frame(rng: np.random.Generator, identities: list, pool: list, src: SpriteSource, n_chars: int | None = None,
               photo_like: bool = False):
    """A composite frame (224, 384, 3) and its per-pixel identity map (-1 = none); identities are
    indices into `identities` drawn from `pool`. `photo_like`: over a textured photo-like scene."""
    frame = random_background(rng, photo_like)
    idmap = np.full((INPUT_H, INPUT_W), -1, np.int32)
    if n_chars is None:
        n_chars = int(rng.choice([0, 1, 2, 3], p=[0.1, 0.35, 0.35, 0.2]))
    chosen = rng.choice(pool, size=n_chars, replace=False) if n_chars else []
    for idx in chosen:
        ident = identities[int(idx)]
        hf = float(np.exp(rng.uniform(np.log(0.2), np.log(2.2))))
        height = int(hf * INPUT_H)
        sp = src.sprite(ident, height, rng)
        if rng.random() < 0.5:
            sp = sp[:, ::-1]
        h, w = sp.shape[:2]
        x = int(rng.uniform(-0.45 * w, INPUT_W - 0.55 * w))
        if hf > 1.0:  # close-up: the head is in frame, the rest below the frame edge
            y = int(rng.uniform(-0.1 * h, 0.05 * INPUT_H))
        else:
            y = int(rng.uniform(INPUT_H * 0.95 - h, INPUT_H - 0.55 * h))
        blend(frame, idmap, np.ascontiguousarray(sp), x, y, int(idx))
    if rng.random() < 0.3:  # colour grading / fade
        frame = np.clip(frame.astype(np.float32) * rng.uniform(0.6, 1.15) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    return frame, idmap


def cell_targets(idmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 16x16 cell: character coverage (14, 24) float and dominant identity (-1: none or no
    identity covering half the cell)."""
    g = idmap.reshape(GRID_H, STRIDE, GRID_W, STRIDE).transpose(0, 2, 1, 3).reshape(GRID_H, GRID_W, -1)
    cover = (g >= 0).mean(-1)
    ident = np.full((GRID_H, GRID_W), -1, np.int64)
    for i in range(GRID_H):
        for j in range(GRID_W):
            v = g[i, j][g[i, j] >= 0]
            if len(v) >= STRIDE * STRIDE // 2:
                vals, cnt = np.unique(v, return_counts=True)
                if cnt.max() >= STRIDE * STRIDE // 2:
                    ident[i, j] = vals[cnt.argmax()]
    return cover.astype(np.float32), ident


# --- features ---------------------------------------------------------------------------------

def compute_features(frames: list, batch: int = 16) -> np.ndarray:
    import torch

    from .character_model import backbone_features
    from .extractors.visual import get_model
    from .models.efficientnet_lite import preprocess

    bb = get_model("cpu")
    out = []
    with torch.inference_mode():
        for s in range(0, len(frames), batch):
            x = preprocess(torch.from_numpy(np.stack(frames[s:s + batch])))
            out.append(backbone_features(bb, x).numpy().astype(np.float16))
    return np.concatenate(out)


def build_set(rng, identities, pool, n_images, src, photo_like: bool = False):
    frames, covers, idents = [], [], []
    for _ in range(n_images):
        f, m = make_frame(rng, identities, pool, src, photo_like=photo_like)
        c, i = cell_targets(m)
        frames.append(f)
        covers.append(c)
        idents.append(i)
    return frames, np.stack(covers), np.stack(idents)


# --- training ---------------------------------------------------------------------------------

def class_mean_proxies(model, feats, ident, n_classes):
    """Unit mean embedding of every training identity's cells under `model`: the proxies from which
    fine-tuning an already trained head starts (random proxies would first pull its embedding apart)."""
    import torch
    import torch.nn.functional as F

    sums = torch.zeros(n_classes, model.embed_dim)
    with torch.inference_mode():
        for s in range(0, len(feats), 64):
            _, e = model.eval()(torch.from_numpy(feats[s:s + 64]).float())
            i = torch.from_numpy(ident[s:s + 64])
            e = e.permute(0, 2, 3, 1)[i >= 0]
            sums.index_add_(0, i[i >= 0], e)
    empty = sums.norm(dim=1) == 0
    sums[empty] = torch.randn(int(empty.sum()), model.embed_dim)
    return F.normalize(sums, dim=1)


def character_losses(obj, emb, cover, ident, proxies, scale: float = 20.0, margin: float = 0.25):
    """The two training losses per batch of cells: objectness BCE (cells at least 30% covered are
    characters, cells under 5% are not, the ones between are not scored) and a cosine-margin
    softmax of every labelled cell's unit embedding over the identity proxies."""
    import torch
    import torch.nn.functional as F

    tgt = (cover >= 0.3).float()
    w = ((cover >= 0.3) | (cover < 0.05)).float()
    lo = F.binary_cross_entropy_with_logits(obj, tgt, weight=w)
    e = emb.permute(0, 2, 3, 1)[ident >= 0]
    lab = ident[ident >= 0]
    if not len(lab):
        return lo, torch.zeros((), device=obj.device)
    cos = e @ F.normalize(proxies, dim=1).t()
    logits = scale * (cos - margin * F.one_hot(lab, len(proxies)).float())
    return lo, F.cross_entropy(logits, lab)


def train_head(feats, cover, ident, n_classes, epochs=12, lr=2e-3, seed=0, hidden=96, log=print, init=None):
    import torch
    import torch.nn.functional as F

    from .character_model import CharacterNet

    torch.manual_seed(seed)
    model = CharacterNet(hidden=hidden)
    if init is not None:  # fine-tune a trained head (same architecture)
        model.load_state_dict(init.state_dict())
        proxies = torch.nn.Parameter(class_mean_proxies(model, feats, ident, n_classes))
    else:
        proxies = torch.nn.Parameter(F.normalize(torch.randn(n_classes, model.embed_dim), dim=1))
    opt = torch.optim.AdamW(list(model.parameters()) + [proxies], lr=lr, weight_decay=1e-4)
    n = len(feats)
    steps = epochs * ((n + 31) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    X = torch.from_numpy(feats)
    C = torch.from_numpy(cover)
    I = torch.from_numpy(ident)
    scale, margin = 20.0, 0.25
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n)
        tot_o = tot_e = 0.0
        t0 = time.time()
        for s in range(0, n, 32):
            b = perm[s:s + 32]
            x = X[b].float()
            if torch.rand(1).item() < 0.5:  # mirrored features are mirrored frames, nearly
                x = x.flip(-1)
                c, i = C[b].flip(-1), I[b].flip(-1)
            else:
                c, i = C[b], I[b]
            obj, emb = model(x)
            lo, le = character_losses(obj, emb, c, i, proxies, scale, margin)
            loss = lo + le
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot_o += float(lo.detach()) * len(b)
            tot_e += float(le.detach()) * len(b)
        log(f"epoch {ep + 1}/{epochs}: objectness {tot_o / n:.4f} identity {tot_e / n:.4f} ({time.time() - t0:.0f}s)")
    return model.eval()


def dense_outputs(model, feats):
    import torch

    objs, embs = [], []
    with torch.inference_mode():
        for s in range(0, len(feats), 64):
            o, e = model(torch.from_numpy(feats[s:s + 64]).float())
            objs.append(torch.sigmoid(o).numpy())
            embs.append(e.permute(0, 2, 3, 1).numpy())
    return np.concatenate(objs), np.concatenate(embs)


def presence_matrix(ident: np.ndarray, names: list) -> np.ndarray:
    """(N, 14, 24) cell identities -> (N, len(names)) bool: the identity covers at least 2 cells of
    the frame (a sliver at the frame edge does not count as present)."""
    present = np.zeros((len(ident), len(names)), bool)
    col = {int(k): j for j, k in enumerate(names)}
    for n in range(len(ident)):
        ids, cnt = np.unique(ident[n][ident[n] >= 0], return_counts=True)
        for v, c in zip(ids, cnt):
            if c >= 2 and int(v) in col:
                present[n, col[int(v)]] = True
    return present


def evaluate_heldout(model, rng, identities, pool, src, n_frames=300, log=print) -> dict:
    """Held-out identities: objectness AP per cell, and frame-level presence from 2 single-character
    reference frames per identity (the same matching as `vpos.characters`). Fits the calibration."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    from .characters import match_scores, reference_bank

    frames, cover, ident = build_set(rng, identities, pool, n_frames, src)
    obj, emb = dense_outputs(model, compute_features(frames))
    mask = (cover >= 0.3) | (cover < 0.05)
    ap = float(average_precision_score((cover >= 0.3)[mask], obj[mask]))
    # references: 2 frames each with the identity alone
    names = [int(i) for i in pool]
    banks = {}
    for k in names:
        rf = [make_frame(rng, identities, [k], src, n_chars=1)[0] for _ in range(2)]
        o, e = dense_outputs(model, compute_features(rf))
        banks[k] = reference_bank(o, e, model.obj_threshold)
    sims = match_scores(obj, emb, [banks[k] for k in names], model.obj_threshold)  # (N, names)
    present = presence_matrix(ident, names)
    # only identities that are clearly visible or clearly absent are scored
    x, y = sims.reshape(-1, 1), present.reshape(-1)
    lr = LogisticRegression(C=10.0).fit(x, y)
    a = float(lr.coef_[0, 0])
    b = float(-lr.intercept_[0] / a)
    p = 1 / (1 + np.exp(-a * (sims - b)))
    pred = p >= 0.5
    tp, fp, fn = int((pred & present).sum()), int((pred & ~present).sum()), int((~pred & present).sum())
    res = {"heldout_frames": n_frames, "heldout_identities": len(names), "cell_objectness_ap": round(ap, 4),
           "presence_accuracy": round(float((pred == present).mean()), 4),
           "presence_f1": round(2 * tp / max(1, 2 * tp + fp + fn), 4), "calib_a": round(a, 3), "calib_b": round(b, 4)}
    log(json.dumps(res))
    return res


def write_model_card(out: Path, info: dict, corpus: str = "") -> None:
    """README.md of the checkpoint: what it is, what it was trained on, what it measured."""
    h = info["heldout"]
    if "cell_objectness_ap" in h:
        measured = f"""Held-out identities (never trained on; {h['heldout_frames']} composite frames, 2 single-character
reference frames per identity): cell objectness AP {h['cell_objectness_ap']}, frame presence
accuracy {h['presence_accuracy']}, presence F1 {h['presence_f1']}. Calibration of the best reference
similarity s: p = sigmoid({h['calib_a']} * (s - {h['calib_b']}))."""
    else:
        measured = "Synthetic held-out identities: not measured in this run (--heldout-frames 0)."
    text = f"""---
library_name: vpos
license: mit
tags: [anime, character-detection, character-identification, metric-learning]
---
# vpos character network (head over frozen EfficientNet-Lite0)

Dense per-cell character objectness + 64-d identity embedding over the stage-5/7 feature maps of
the ImageNet EfficientNet-Lite0 (frame scaled to 384x224, 24x14 cells of 16 px). Used by
`vpos.characters` to find named characters from 1-5 reference images per name; see
`vpos/character_model.py`.

## Training data
Synthetic composites only; no frame or character of the vpos corpus (kept for testing).
* {info['dicebear']} DiceBear identities (npm `@dicebear/collection` 9.x, 14 styles x seeds; CC0 /
  CC BY 4.0 styles), 4 expression variants each, half of them on a drawn body;
* {info['drawn']} figures drawn by `vpos/characters_train.py` with random parameters;
* {info['images']} frames of 384x224: corpus-generator or random backgrounds with distractor
  shapes, 0-3 characters at 20-220% of the frame height, cut by frame edges, mirrored.
{info['train_identities']} identities trained, {h['heldout_identities']} held out. {info['epochs']} epochs,
seed {info['seed']}, {info['train_seconds']} s on 2 CPU cores
(`python -m vpos.characters_train --out weights/characters`).

## Measured
{measured}
{corpus}
"""
    (out / "README.md").write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="weights/characters")
    ap.add_argument("--work", default="/tmp/vpos_characters_train")
    ap.add_argument("--node-modules", default="/tmp/dicebear/node_modules", help="where @dicebear/* are installed (npm)")
    ap.add_argument("--rsvg", default=shutil.which("rsvg-convert") or "/tmp/rsvg/root/usr/bin/rsvg-convert")
    ap.add_argument("--dicebear-per-style", type=int, default=50)
    ap.add_argument("--dicebear-png", default=None, help="reuse rendered DiceBear PNGs from this folder")
    ap.add_argument("--drawn", type=int, default=500, help="procedurally drawn identities")
    ap.add_argument("--images", type=int, default=3500)
    ap.add_argument("--hard-images", type=int, default=0,
                    help="extra frames over photo-like textured scenes (trees, grass, roads, buildings): hard negatives")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--heldout-frames", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--init", default=None, help="fine-tune the head in this weights folder instead of starting afresh")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--base-subset", type=int, default=0, help="train on only the first N base frames (0: all)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t_all = time.time()
    work = Path(args.work)
    png = args.dicebear_png or str(work / "dicebear" / "png")
    if not glob.glob(os.path.join(png, "*.png")):
        render_dicebear(work / "dicebear", args.dicebear_per_style, 4, args.seed, Path(args.node_modules), args.rsvg)
    identities = dicebear_identities(png) + [drawn_identity(i, args.seed) for i in range(args.drawn)]
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(identities))
    n_val = int(0.12 * len(identities))
    val_pool, train_pool = order[:n_val], order[n_val:]
    remap = {int(k): j for j, k in enumerate(train_pool)}
    print(f"{len(identities)} identities ({sum(i.kind == 'dicebear' for i in identities)} DiceBear, "
          f"{sum(i.kind == 'drawn' for i in identities)} drawn); {len(train_pool)} train, {n_val} held out", flush=True)
    src = SpriteSource()
    cache = work / f"train_{args.seed}_{args.images}_{len(identities)}.npz"
    if cache.exists():  # the frozen features of the same frames: retrain the head only
        z = np.load(cache)
        feats, cover, ident = z["feats"], z["cover"], z["ident"]
        print(f"features from {cache}", flush=True)
    else:
        t0 = time.time()
        frames, cover, ident = build_set(rng, identities, train_pool, args.images, src)
        ident = np.vectorize(lambda v: remap.get(int(v), -1))(ident).astype(np.int64)
        print(f"rendered {len(frames)} frames in {time.time() - t0:.0f}s", flush=True)
        t0 = time.time()
        feats = compute_features(frames)
        del frames
        print(f"features {feats.shape} in {time.time() - t0:.0f}s", flush=True)
        work.mkdir(parents=True, exist_ok=True)
        np.savez(cache, feats=feats, cover=cover, ident=ident)
    if args.base_subset:
        feats, cover, ident = feats[:args.base_subset], cover[:args.base_subset], ident[:args.base_subset]
    if args.hard_images:  # their own frames and cache: the base set's features are reused as they are
        hard_cache = work / f"hard_{args.seed}_{args.hard_images}_{len(identities)}.npz"
        if hard_cache.exists():
            z = np.load(hard_cache)
            hf, hc, hi = z["feats"], z["cover"], z["ident"]
            print(f"hard-negative features from {hard_cache}", flush=True)
        else:
            t0 = time.time()
            frames, hc, hi = build_set(np.random.default_rng(args.seed + 100), identities, train_pool, args.hard_images, src,
                                       photo_like=True)
            hi = np.vectorize(lambda v: remap.get(int(v), -1))(hi).astype(np.int64)
            hf = compute_features(frames)
            del frames
            print(f"hard-negative frames + features {hf.shape} in {time.time() - t0:.0f}s", flush=True)
            np.savez(hard_cache, feats=hf, cover=hc, ident=hi)
        feats, cover, ident = np.concatenate([feats, hf]), np.concatenate([cover, hc]), np.concatenate([ident, hi])
        del hf
    init = None
    if args.init:
        from .character_model import load_head

        init = load_head(args.init)
    model = train_head(feats, cover, ident, len(train_pool), epochs=args.epochs, lr=args.lr, hidden=args.hidden,
                       log=lambda m: print(m, flush=True), init=init)
    if init is not None:  # until recalibrated, the calibration of the head it started from
        model.calib_a, model.calib_b = init.calib_a, init.calib_b
    del feats
    if args.heldout_frames:
        res = evaluate_heldout(model, np.random.default_rng(args.seed + 1), identities, val_pool, src,
                               n_frames=args.heldout_frames, log=lambda m: print(m, flush=True))
        model.calib_a, model.calib_b = res["calib_a"], res["calib_b"]
    else:  # calibrate on development episodes instead (bench/characters_headcache.py calibrate --write)
        res = {"heldout_frames": 0, "heldout_identities": len(val_pool), "note": "not measured (--heldout-frames 0)"}
    cfg_model = type(model)(hidden=args.hidden, calib_a=model.calib_a, calib_b=model.calib_b, obj_threshold=model.obj_threshold)
    cfg_model.load_state_dict(model.state_dict())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_model.save_pretrained(str(out))
    info = {"identities": len(identities), "dicebear": sum(i.kind == "dicebear" for i in identities),
            "drawn": sum(i.kind == "drawn" for i in identities), "train_identities": len(train_pool),
            "images": args.base_subset or args.images, "hard_images": args.hard_images, "epochs": args.epochs, "lr": args.lr,
            "init": args.init, "seed": args.seed, "heldout": res,
            "train_seconds": round(time.time() - t_all)}
    (out / "training.json").write_text(json.dumps(info, indent=1))
    write_model_card(out, info)
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
