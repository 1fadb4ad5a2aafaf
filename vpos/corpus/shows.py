"""Fictional shows and the structure of their episodes, generated from a seed.

A :class:`Show` fixes what a real season keeps constant: title, format, frame rate, resolution,
container, cast, locations, OP and ED (song + montage + credits, identical in every episode),
credit style, cut rate, speech density, quirks.  :func:`plan_episode` lays out one episode as a
list of :class:`Shot` (frame counts), on-screen :class:`Text` items and :class:`AudioEvent` items;
:mod:`vpos.corpus.render` turns a plan into a video file and its exact ground truth.

Structure follows REFERENCE.md "Anime episode structure": optional cold open of varying length ->
OP -> optional sponsor card -> A part -> optional eyecatch -> B part -> ED -> preview / C part /
nothing.  Season quirks: episode 1 without OP, a new OP from mid-season, a short OP, the OP used
as the ED of the last episode.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, List, Optional, Tuple

import numpy as np

from .material import LOCATIONS, MaterialLibrary

FPS_CHOICES = [Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001)]
RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
CONTAINERS = {  # name -> (extension, video codec, audio codec)
    "mp4": ("mp4", "libx264", "aac"),
    "webm": ("webm", "libvpx-vp9", "libopus"),
    "mkv": ("mkv", "libx264", "libopus"),
}

# (kanji, romaji) pieces for titles and names
TITLE_WORDS = [("星", "Hoshi"), ("空", "Sora"), ("雲", "Kumo"), ("花", "Hana"), ("海", "Umi"), ("夢", "Yume"),
               ("光", "Hikari"), ("風", "Kaze"), ("月", "Tsuki"), ("桜", "Sakura"), ("雪", "Yuki"),
               ("夜", "Yoru"), ("猫", "Neko"), ("魔法", "Mahou"), ("学園", "Gakuen"), ("少女", "Shoujo"),
               ("虹", "Niji"), ("森", "Mori"), ("鈴", "Suzu"), ("歌", "Uta")]
TITLE_TAILS = [("物語", "Monogatari"), ("日常", "Nichijou"), ("冒険", "Bouken"), ("日記", "Nikki"),
               ("旅", "Tabi"), ("約束", "Yakusoku"), ("放課後", "Houkago"), ("協奏曲", "Kyousoukyoku")]
SURNAMES = [("山田", "Yamada"), ("佐藤", "Satou"), ("鈴木", "Suzuki"), ("高橋", "Takahashi"), ("田中", "Tanaka"),
            ("伊藤", "Itou"), ("渡辺", "Watanabe"), ("中村", "Nakamura"), ("小林", "Kobayashi"), ("加藤", "Katou"),
            ("吉田", "Yoshida"), ("山口", "Yamaguchi"), ("松本", "Matsumoto"), ("井上", "Inoue"), ("木村", "Kimura"),
            ("林", "Hayashi"), ("清水", "Shimizu"), ("森", "Mori"), ("池田", "Ikeda"), ("橋本", "Hashimoto")]
GIVEN = [("太郎", "Tarou"), ("花子", "Hanako"), ("美咲", "Misaki"), ("翔太", "Shouta"), ("陽菜", "Hina"),
         ("健", "Ken"), ("優", "Yuu"), ("真司", "Shinji"), ("彩", "Aya"), ("葵", "Aoi"), ("蓮", "Ren"),
         ("結衣", "Yui"), ("大輝", "Daiki"), ("さくら", "Sakura"), ("悠真", "Yuuma"), ("凛", "Rin"),
         ("七海", "Nanami"), ("拓海", "Takumi"), ("千尋", "Chihiro"), ("奏", "Kanade"), ("ひかり", "Hikari"),
         ("湊", "Minato"), ("楓", "Kaede"), ("芽衣", "Mei")]
ROLES = [("原作", "Original Work"), ("監督", "Director"), ("シリーズ構成", "Series Composition"),
         ("キャラクターデザイン", "Character Design"), ("総作画監督", "Chief Animation Director"),
         ("美術監督", "Art Director"), ("色彩設計", "Color Design"), ("撮影監督", "Director of Photography"),
         ("編集", "Editing"), ("音響監督", "Sound Director"), ("音楽", "Music"), ("アニメーション制作", "Animation Production")]
STUDIOS = [("スタジオ雲", "Studio Kumo"), ("アニメ工房ひかり", "Anime Koubou Hikari"), ("風の谷スタジオ", "Kaze no Tani Studio"),
           ("桜ピクチャーズ", "Sakura Pictures"), ("星屑アニメーション", "Hoshikuzu Animation")]
SPONSORS = [("ほしぞら製菓", "Hoshizora Confectionery"), ("ユメ玩具", "Yume Toys"), ("ひかり電機", "Hikari Electric"),
            ("くも出版", "Kumo Publishing"), ("さくらゲームス", "Sakura Games"), ("にじ音楽", "Niji Music")]
SEGMENT_ORDER = ["cold_open", "opening", "sponsor", "part_a", "eyecatch", "part_b", "ending", "preview", "c_part"]


def rng_for(*keys) -> np.random.Generator:
    h = hashlib.sha256("|".join(str(k) for k in keys).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def person(rng) -> Tuple[str, str]:
    s, g = _pick(rng, SURNAMES), _pick(rng, GIVEN)
    return f"{s[0]}{g[0]}", f"{s[1]} {g[1]}"


# --------------------------------------------------------------------------------------------
# plan dataclasses
# --------------------------------------------------------------------------------------------

@dataclass
class SpriteUse:
    char: str
    x: float  # centre, fraction of width
    y: float  # bottom, fraction of height (may be > 1: cut off by the frame)
    h: float  # height, fraction of frame height
    expr: int = 0
    flip: bool = False
    dx: float = 0.0  # horizontal drift over the shot, fraction of width


@dataclass
class Shot:
    kind: str  # scene | op | ed | sponsor | eyecatch | preview_title | title | footage | abstract
    n: int
    bg: tuple  # ("loc", name) | ("illus", key) | ("color", (r,g,b), (r,g,b)) | ("footage", path, start, step)
    pan: Tuple[float, float, float, float] = (0.5, 0.5, 0.5, 0.5)  # window position start/end (0..1)
    zoom: Tuple[float, float] = (1.0, 1.0)  # window size relative to the frame-sized window (<=1 zooms in)
    sprites: List[SpriteUse] = field(default_factory=list)
    trans_in: str = "cut"  # cut | dissolve | fade | wipe
    trans_len: int = 0
    fade_out: int = 0  # frames of fade to black at the end
    fade_in: int = 0  # frames of fade from black at the start
    location: str = ""
    seed: int = 0
    effect: str = ""  # "", "speedlines", "flash", "bokeh"
    shake: float = 0.0  # camera shake: per-frame jitter amplitude, fraction of frame height
    # filled by plan_episode
    start: int = 0
    segment: str = ""
    scene: int = -1


@dataclass
class Text:
    text: str
    lang: str  # ja | romaji | en | mixed
    font: str  # "cjk" | "latin" | "latin_bold"
    size: float  # fraction of frame height
    x: float  # left, fraction of width (or centre when align == "center")
    y: float  # top, fraction of height
    start: int  # global frames (plan_episode shifts segment-local ones)
    end: int  # exclusive
    color: Tuple[int, int, int] = (255, 255, 255)
    stroke: Tuple[int, int, int] = (20, 20, 40)
    align: str = "left"
    vy: float = 0.0  # scroll speed, fraction of height per frame (credit roll moves up)
    segment: str = ""
    credit: bool = True
    lines: Optional[List[Tuple[str, str, str]]] = None  # credit roll: (text, lang, font) per line
    line_gap: float = 1.5


@dataclass
class AudioEvent:
    kind: str  # op_song | ed_song | speech | bgm | jingle | sfx
    start: float  # seconds
    dur: float
    source: tuple  # ("song", key) etc; see render.AudioBank
    gain: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    speaker: str = ""
    offset: float = 0.0  # seconds into the source


@dataclass
class Character:
    name: str
    name_ja: str
    seed: int
    sprite_set: int = -1  # index into fetched sprites, -1 = drawn
    tint: float = 0.0  # hue rotation for fetched sprites
    voice: tuple = ("synth", 220.0)  # ("synth", pitch) | ("files", (paths...), rate)
    va: Tuple[str, str] = ("", "")  # voice actor (ja, romaji)


@dataclass
class Song:
    key: str
    title: Tuple[str, str]
    artist: Tuple[str, str]
    source: tuple  # ("synth", seed, style) | ("file", path, offset)


@dataclass
class Sequence_:
    """An OP or ED: montage shots + credits + song, identical wherever it is used."""
    key: str
    kind: str  # op | ed
    n: int  # frames
    shots: List[Shot]
    texts: List[Text]  # segment-local frames
    song: Song


@dataclass
class Show:
    slug: str
    title: Tuple[str, str]
    seed: int
    fmt: str  # small | short | mid | full
    fps: Fraction
    width: int
    height: int
    container: str
    characters: List[Character]
    locations: Dict[str, tuple]  # name -> ("proc", seed) | ("file", path, tint, flip)
    style: dict
    ops: List[Sequence_] = field(default_factory=list)
    eds: List[Sequence_] = field(default_factory=list)
    quirks: dict = field(default_factory=dict)
    n_episodes: int = 2
    material_part: int = 0

    @property
    def ext(self) -> str:
        return CONTAINERS[self.container][0]


@dataclass
class EpisodePlan:
    show: Show
    episode: int
    id: str
    n: int
    shots: List[Shot]
    texts: List[Text]
    audio: List[AudioEvent]
    segments: List[Tuple[str, int, int]]  # label, start_frame, end_frame (exclusive)
    scenes: List[dict]
    op_key: Optional[str] = None
    ed_key: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def fps(self) -> Fraction:
        return self.show.fps


# --------------------------------------------------------------------------------------------
# presets
# --------------------------------------------------------------------------------------------

PRESETS = {
    # 2 shows x 2 episodes of ~40-60 s at 480p: renders in well under a minute (tests)
    "small": {"shows": 2, "episodes": (2, 2), "formats": ["small"], "resolutions": ["480p"],
              "containers": ["mp4", "webm"], "fps": [Fraction(24000, 1001), Fraction(25)]},
    # a quick real-looking set: 3 shows x 3 episodes, 3-6 minutes
    "medium": {"shows": 3, "episodes": (3, 3), "formats": ["short"], "resolutions": ["480p", "720p"],
               "containers": ["mp4", "webm", "mkv"], "fps": FPS_CHOICES},
    # training material for the opening/ending models: many shows (diversity beats volume), mostly
    # short and mid-length episodes with some full-length ones so position priors see every length
    "train": {"shows": 12, "episodes": (2, 2), "formats": ["short", "mid", "short", "full", "short", "mid"],
              "resolutions": ["480p", "480p", "720p", "480p", "480p", "720p"],
              "containers": ["mp4", "webm", "mp4", "mkv", "mp4", "webm"], "fps": FPS_CHOICES},
    # the benchmark: 6 shows x 6-8 episodes, 3 to 24 minutes, 480p-1080p, OP/ED 60-95 s
    "benchmark": {"shows": 6, "episodes": (6, 6), "formats": ["full", "mid", "short", "full", "short", "mid"],
                  "resolutions": ["480p", "720p", "1080p", "480p", "480p", "720p"],
                  "containers": ["mp4", "webm", "mp4", "mkv", "webm", "mp4"], "fps": FPS_CHOICES},
}

FORMATS = {  # seconds
    "small": {"dur": (38, 52), "op": (10, 13), "ed": (9, 12), "cold": (2, 7), "sponsor": (2, 3),
              "eyecatch": (1.5, 2.5), "preview": (3, 6), "c_part": (3, 6), "shot": (0.9, 3.0), "scene_min": 2},
    "short": {"dur": (180, 400), "op": (60, 80), "ed": (55, 75), "cold": (5, 40), "sponsor": (4, 7),
              "eyecatch": (2, 4), "preview": (10, 20), "c_part": (8, 25), "shot": (1.5, 7.0), "scene_min": 4},
    "mid": {"dur": (600, 900), "op": (75, 92), "ed": (70, 90), "cold": (10, 90), "sponsor": (5, 10),
            "eyecatch": (2, 5), "preview": (15, 30), "c_part": (10, 40), "shot": (1.5, 8.0), "scene_min": 4},
    "full": {"dur": (1380, 1440), "op": (85, 95), "ed": (85, 95), "cold": (15, 110), "sponsor": (5, 10),
             "eyecatch": (2, 5), "preview": (15, 30), "c_part": (10, 60), "shot": (1.5, 8.0), "scene_min": 4},
}


# --------------------------------------------------------------------------------------------
# show generation
# --------------------------------------------------------------------------------------------

def _fr(seconds: float, fps: Fraction) -> int:
    return max(1, int(round(seconds * float(fps))))


def make_show(index: int, seed: int, preset: str, lib: MaterialLibrary, material_part: int = 0,
              n_episodes: Optional[int] = None, used_slugs: Optional[set] = None) -> Show:
    P = PRESETS[preset]
    rng = rng_for("show", seed, preset, index)
    # title
    for _ in range(50):
        a, b = _pick(rng, TITLE_WORDS), _pick(rng, TITLE_TAILS)
        slug = f"{a[1]}-{b[1]}".lower()
        if not used_slugs or slug not in used_slugs:
            break
    if used_slugs is not None:
        used_slugs.add(slug)
    title = (f"{a[0]}の{b[0]}", f"{a[1]} no {b[1]}")
    fmt = P["formats"][index % len(P["formats"])]
    res = P["resolutions"][index % len(P["resolutions"])]
    width, height = RESOLUTIONS[res]
    container = P["containers"][index % len(P["containers"])]
    fps = P["fps"][int(rng.integers(len(P["fps"])))] if preset != "small" else P["fps"][index % len(P["fps"])]
    lo, hi = P["episodes"]
    n_eps = n_episodes or int(rng.integers(lo, hi + 1))
    F = lib.fetched
    part = material_part

    def mine(seq):  # the half of the fetched material this show may use (split-honest)
        return [x for i, x in enumerate(seq) if i % 2 == part] if len(seq) > 1 else list(seq)

    # cast
    n_chars = int(rng.integers(3, 6)) if fmt != "small" else 3
    chars: List[Character] = []
    used_given = set()
    sprite_sets = mine(list(range(len(F.sprites))))
    voices = mine(F.voices)
    for c in range(n_chars):
        while True:
            g = _pick(rng, GIVEN)
            if g[1] not in used_given:
                used_given.add(g[1])
                break
        s = _pick(rng, SURNAMES)
        ch = Character(name=g[1], name_ja=f"{s[0]}{g[0]}", seed=int(rng.integers(1 << 30)), va=person(rng))
        if F.sprites_given:
            # given sprites (corpus build --sprites): real art as drawn, no tint, one set per character
            free = [k for k in range(len(F.sprites)) if k not in {x.sprite_set for x in chars}]
            if free and rng.random() < F.sprite_share:
                ch.sprite_set = int(_pick(rng, free))
        elif sprite_sets and c == 0 and rng.random() < 0.6:
            ch.sprite_set = int(_pick(rng, sprite_sets))
            ch.tint = float(rng.random()) if rng.random() < 0.7 else 0.0
        r = rng.random()
        if voices and r < 0.35:
            k = int(rng.integers(0, max(1, len(voices) - 40)))
            ch.voice = ("files", tuple(voices[k:k + 40]), float(rng.uniform(0.9, 1.15)))
        elif F.espeak and r < 0.75:
            variant = _pick(rng, ["ja", "ja+f1", "ja+f2", "ja+f3", "ja+f4", "ja+m1", "ja+m3", "ja+klatt"])
            ch.voice = ("espeak", variant, int(rng.integers(25, 90)), int(rng.integers(140, 200)))
        else:
            ch.voice = ("synth", float(rng.uniform(150, 320)))
        chars.append(ch)
    # locations
    n_loc = int(rng.integers(3, 6)) if fmt == "small" else int(rng.integers(4, 8))
    locs: Dict[str, tuple] = {}
    real_bgs = mine(sorted(F.backgrounds.items()))
    names = list(rng.permutation(LOCATIONS))
    for i in range(n_loc):
        if real_bgs and rng.random() < 0.35:
            name, path = real_bgs.pop(int(rng.integers(len(real_bgs))))
            locs[name] = ("file", path, float(rng.uniform(-0.06, 0.06)), bool(rng.random() < 0.5))
        else:
            locs[str(names.pop())] = ("proc", int(rng.integers(1 << 30)))
    F_ = FORMATS[fmt]
    style = {
        "credit_pos": _pick(rng, ["bottom_left", "bottom_right", "top_left", "top_right", "center_low", "left_mid"]),
        "credit_color": _pick(rng, [(255, 255, 255), (255, 250, 220), (240, 240, 255), (255, 230, 240), (30, 30, 40)]),
        "credit_size": float(rng.uniform(0.038, 0.06)),
        "credit_latin_font": _pick(rng, ["latin", "latin_bold", "latin_serif"]),
        "roll_side": _pick(rng, ["left", "right", "center"]),
        "op_cut": float(rng.uniform(0.6, 2.2)),  # mean OP shot length (s)
        "shot_mean": float(rng.uniform(*F_["shot"])),
        "speech": float(rng.uniform(0.45, 0.95)),
        "bgm": float(rng.uniform(0.1, 0.6)),
        "pan": float(rng.uniform(0.2, 0.7)),
        "dissolve": float(rng.uniform(0.0, 0.12)),
        "p_cold": float(rng.uniform(0.4, 0.95)),
        "sponsor": bool(rng.random() < 0.6),
        "eyecatch": bool(rng.random() < 0.75),
        "tail": _pick(rng, [("preview", 0.7), ("c_part", 0.6), ("preview", 0.4), ("none", 0.0)]),
        "palette": float(rng.random()),
        "ed_stills": int(rng.integers(1, 5)),
        "footage_op": bool(F.footage) and (rng.random() < 0.5 or F.footage_share is not None),
        "episode_title": bool(rng.random() < 0.6),
    }
    if F.footage and F.footage_share is not None:  # corpus build --footage-share: footage in every opening
        style["footage_share"] = float(F.footage_share)
    if F.footage and F.footage_vary:  # corpus build --vary-footage (render only; the plan is unchanged)
        style["footage_vary"] = True
    show = Show(slug=slug, title=title, seed=int(rng.integers(1 << 30)), fmt=fmt, fps=fps, width=width,
                height=height, container=container, characters=chars, locations=locs, style=style,
                n_episodes=n_eps, material_part=part)
    songs = mine(F.songs)
    # OPs / EDs
    quirks = {}
    if fmt != "small":
        if rng.random() < 0.35:
            quirks["no_op_episode"] = 1
        if n_eps >= 4 and rng.random() < 0.4:
            quirks["new_op_from"] = n_eps // 2 + 1
        if rng.random() < 0.3:
            quirks["short_op_episode"] = int(rng.integers(2, n_eps + 1))
        if rng.random() < 0.3:
            quirks["op_as_ed_episode"] = n_eps
    else:
        # the small preset keeps every show with an OP and an ED (tests compare them); one show
        # starts its OP at 0:00
        quirks["no_cold_open"] = index % 2 == 1
    show.quirks = quirks
    op_len = float(rng.uniform(*F_["op"]))
    ed_len = float(rng.uniform(*F_["ed"]))
    show.ops.append(make_sequence(show, "op", "op1", op_len, songs, rng))
    if "new_op_from" in quirks:
        show.ops.append(make_sequence(show, "op", "op2", float(rng.uniform(*F_["op"])), songs, rng))
    show.eds.append(make_sequence(show, "ed", "ed1", ed_len, songs, rng))
    return show


def _song(show: Show, key: str, seconds: float, songs: list, rng) -> Song:
    w1, w2 = _pick(rng, TITLE_WORDS), _pick(rng, TITLE_TAILS + TITLE_WORDS)
    title = (f"{w1[0]}の{w2[0]}", f"{w1[1]} no {w2[1]}")
    artist = person(rng)
    if songs and rng.random() < 0.55:
        path = _pick(rng, songs)
        src = ("file", path, float(rng.uniform(5, 40)))
    else:
        src = ("synth", int(rng.integers(1 << 30)), {})
    return Song(key=f"{show.slug}-{key}", title=title, artist=artist, source=src)


def make_sequence(show: Show, kind: str, key: str, seconds: float, songs: list, rng) -> Sequence_:
    fps = show.fps
    n = _fr(seconds, fps)
    st = show.style
    W, H = show.width, show.height
    shots: List[Shot] = []
    texts: List[Text] = []
    song = _song(show, key, seconds, songs, rng)
    chars = [c.name for c in show.characters]
    locs = list(show.locations)
    if kind == "op":
        fpsf = float(fps)
        mean = st["op_cut"] * fpsf
        lens: List[int] = []
        t = 0
        while t < n:
            ln = int(np.clip(rng.gamma(3.0, mean / 3.0), 0.45 * fpsf, 5 * fpsf))
            if n - t - ln < 0.45 * fpsf:
                ln = n - t
            lens.append(ln)
            t += ln
        # the title card: first shot, a shot early in the song, or the last shot
        r0 = rng.random()
        ti = 0 if r0 < 0.45 or len(lens) < 4 else (int(rng.integers(1, max(2, len(lens) // 3))) if r0 < 0.75 else len(lens) - 1)
        need = int(1.2 * fpsf)
        if lens[ti] < need:
            donor = max((j for j in range(len(lens)) if j != ti), key=lambda j: lens[j], default=None)
            if donor is not None:
                give = min(need - lens[ti], lens[donor] - int(0.45 * fpsf))
                if give > 0:
                    lens[ti] += give
                    lens[donor] -= give
        title_start = sum(lens[:ti])
        share = st.get("footage_share", 0.2)
        for i, ln in enumerate(lens):
            r = rng.random()
            footage = st["footage_op"] and r < share
            if not footage and st["footage_op"] and "footage_share" in st:
                r = 0.2 + (r - share) * 0.8 / max(1e-6, 1.0 - share)  # the other kinds keep their proportions
            if i == ti:
                sh = Shot("title", ln, ("color", _hue_rgb(st["palette"], 0.5, 0.9), _hue_rgb(st["palette"] + 0.1, 0.8, 0.4)),
                          sprites=[SpriteUse(_pick(rng, chars), float(rng.uniform(0.6, 0.8)), 1.05, 0.9)],
                          effect="bokeh", zoom=(1.0, 0.9))
                if i == 0 and rng.random() < 0.5:
                    sh.fade_in = min(ln // 2, int(0.5 * fpsf))
            elif footage:
                sh = Shot("footage", ln, ("footage", int(rng.integers(1 << 30))))
            elif r < 0.45:
                k = int(rng.integers(1, min(3, len(chars)) + 1))
                who = list(rng.choice(chars, size=k, replace=False))
                sh = Shot("op", ln, ("loc", _pick(rng, locs)),
                          sprites=[SpriteUse(c, (j + 1) / (k + 1) + float(rng.uniform(-0.05, 0.05)),
                                             float(rng.uniform(0.95, 1.3)), float(rng.uniform(0.7, 1.2)),
                                             expr=int(rng.integers(0, 3)), flip=bool(rng.random() < 0.3))
                                   for j, c in enumerate(who)],
                          pan=_rand_pan(rng), zoom=(float(rng.uniform(0.6, 1.0)),) * 2)
            elif r < 0.7:
                sh = Shot("op", ln, ("loc", _pick(rng, locs)), pan=_rand_pan(rng, strong=True),
                          zoom=(float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.6, 1.0))))
            else:
                sh = Shot("abstract", ln, ("color", _hue_rgb(rng.random(), 0.7, 0.8), _hue_rgb(rng.random(), 0.9, 0.3)),
                          sprites=[SpriteUse(_pick(rng, chars), float(rng.uniform(0.3, 0.7)), float(rng.uniform(1.0, 1.4)),
                                             float(rng.uniform(0.9, 1.5)), dx=float(rng.uniform(-0.15, 0.15)))],
                          effect=_pick(rng, ["speedlines", "flash", "bokeh"]))
            sh.seed = int(rng.integers(1 << 30))
            if i > 0 and rng.random() < st["dissolve"] and ln > 12:
                sh.trans_in, sh.trans_len = "dissolve", int(rng.integers(6, 13))
            shots.append(sh)
        if rng.random() < 0.5:
            shots[-1].fade_out = min(shots[-1].n // 2, int(0.6 * float(fps)))
        # title text on the first shot
        tsz = float(rng.uniform(0.07, 0.11))
        t_end = title_start + lens[ti]
        texts.append(Text(show.title[0], "ja", "cjk", tsz, 0.5, float(rng.uniform(0.25, 0.45)), title_start, t_end,
                          align="center", credit=False, color=(255, 255, 255), stroke=_hue_rgb(st["palette"], 0.8, 0.3)))
        texts.append(Text(show.title[1], "romaji", "latin_bold", tsz * 0.5, 0.5, texts[-1].y + tsz * 1.25, title_start,
                          t_end, align="center", credit=False))
        # credits (role ja / name ja + romaji), one after another
        credits = [(ROLES[0], person(rng)), (ROLES[1], person(rng)), (ROLES[3], person(rng)), (ROLES[10], person(rng)),
                   (("主題歌", "Theme Song"), (f"「{song.title[0]}」 {song.artist[0]}", f"\"{song.title[1]}\" {song.artist[1]}")),
                   (ROLES[11], _pick(rng, STUDIOS))]
        credits += [(ROLES[int(rng.integers(2, 10))], person(rng)) for _ in range(int(rng.integers(1, 4)))]
        slot0 = int(rng.uniform(0.5, 2.0) * fpsf) if ti != 0 else t_end + int(0.3 * fpsf)
        avail = n - slot0 - int(0.5 * fpsf) - (t_end - title_start if ti != 0 else 0)
        k = len(credits)
        dur = max(int(0.8 * fpsf), min(int(3.2 * fpsf), int(avail / k * 0.85)))
        gap = max(0, (avail - dur * k) // max(1, k))
        f = slot0
        for (role, name) in credits:
            if f < t_end and f + dur > title_start:  # never over the title card
                f = t_end + int(0.2 * fpsf)
            if f + dur > n:
                break
            texts += credit_block(show, role, name, f, f + dur, rng, "opening")
            f += dur + gap
    else:  # ED: stills + credit roll
        k = max(1, st["ed_stills"])
        lens = _split(n, k, rng, min_len=int(2 * float(fps)))
        for j, ln in enumerate(lens):
            who = [_pick(rng, chars)] if rng.random() < 0.8 else []
            sh = Shot("ed", ln, ("loc", _pick(rng, locs)),
                      sprites=[SpriteUse(c, float(rng.uniform(0.55, 0.75)) if st["roll_side"] == "left" else float(rng.uniform(0.25, 0.45)),
                                         float(rng.uniform(1.0, 1.2)), float(rng.uniform(0.8, 1.1)), expr=int(rng.integers(0, 3)))
                               for c in who],
                      pan=_rand_pan(rng, slow=True), zoom=(float(rng.uniform(0.8, 1.0)),) * 2, seed=int(rng.integers(1 << 30)))
            if j > 0:
                sh.trans_in, sh.trans_len = ("dissolve", int(rng.integers(8, 20))) if rng.random() < 0.6 else ("cut", 0)
            shots.append(sh)
        if rng.random() < 0.6:
            shots[0].fade_in = int(0.5 * float(fps))
        lines: List[Tuple[str, str, str]] = [(song.title[0], "ja", "cjk"), (song.artist[0], "ja", "cjk"), ("", "", "")]
        for role in ROLES[:10]:
            p = person(rng)
            lines += [(role[0], "ja", "cjk"), (p[0], "ja", "cjk"), (p[1], "romaji", st["credit_latin_font"]), ("", "", "")]
        lines += [("キャスト", "ja", "cjk"), ("Cast", "en", st["credit_latin_font"])]
        for c in show.characters:
            lines += [(f"{c.name_ja}　{c.va[0]}", "ja", "cjk"), (f"{c.name}  {c.va[1]}", "romaji", st["credit_latin_font"])]
        studio = _pick(rng, STUDIOS)
        lines += [("", "", ""), ("制作", "ja", "cjk"), (studio[0], "ja", "cjk"), (studio[1], "romaji", st["credit_latin_font"])]
        x = {"left": 0.06, "right": 0.62, "center": 0.5}[st["roll_side"]]
        size = st["credit_size"] * 0.8
        lead = int(0.5 * float(fps))
        texts.append(Text("\n".join(l[0] for l in lines), "mixed", "cjk", size, x, 1.02, lead, n - int(0.3 * float(fps)),
                          color=st["credit_color"] if sum(st["credit_color"]) > 200 else (255, 255, 255),
                          align="center" if st["roll_side"] == "center" else "left", lines=lines,
                          line_gap=float(rng.uniform(1.3, 1.8))))
        # vy is set by the renderer so that the roll spans the ED
    return Sequence_(key=key, kind=kind, n=n, shots=shots, texts=texts, song=song)


def credit_block(show: Show, role, name, f0: int, f1: int, rng, segment: str) -> List[Text]:
    st = show.style
    size = st["credit_size"]
    pos = st["credit_pos"]
    x = {"bottom_left": 0.05, "top_left": 0.05, "left_mid": 0.06, "bottom_right": 0.6, "top_right": 0.6, "center_low": 0.5}[pos]
    y = {"bottom_left": 0.72, "bottom_right": 0.72, "top_left": 0.07, "top_right": 0.07, "center_low": 0.74, "left_mid": 0.4}[pos]
    x += float(rng.uniform(-0.02, 0.02))
    y += float(rng.uniform(-0.02, 0.02))
    align = "center" if pos == "center_low" else "left"
    col = st["credit_color"]
    stroke = (20, 20, 40) if sum(col) > 300 else (245, 245, 245)
    out = [Text(role[0], "ja", "cjk", size * 0.6, x, y, f0, f1, col, stroke, align, segment=segment),
           Text(name[0], "ja", "cjk", size, x, y + size * 0.85, f0, f1, col, stroke, align, segment=segment),
           Text(name[1], "romaji", st["credit_latin_font"], size * 0.55, x, y + size * 2.05, f0, f1, col, stroke, align,
                segment=segment)]
    return out


def _hue_rgb(h, s, v):
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))


def _rand_pan(rng, strong=False, slow=False):
    if slow:
        a = float(rng.uniform(0.3, 0.7))
        return (a, 0.5, a + float(rng.uniform(-0.2, 0.2)), 0.5 + float(rng.uniform(-0.1, 0.1)))
    d = 1.0 if strong else 0.5
    x0, y0 = float(rng.uniform(0, 1)), float(rng.uniform(0.2, 0.8))
    if rng.random() < 0.6:  # horizontal pan
        return (x0, y0, float(np.clip(x0 + rng.choice([-1, 1]) * d * rng.uniform(0.3, 1), 0, 1)), y0)
    return (x0, y0, x0, float(np.clip(y0 + rng.choice([-1, 1]) * d * rng.uniform(0.3, 1), 0, 1)))


def _split(n: int, k: int, rng, min_len: int) -> List[int]:
    k = max(1, min(k, n // max(1, min_len)))
    w = rng.uniform(0.6, 1.4, size=k)
    lens = [int(n * x / w.sum()) for x in w]
    lens[-1] = n - sum(lens[:-1])
    return lens


# --------------------------------------------------------------------------------------------
# episode planning
# --------------------------------------------------------------------------------------------

def _scene_shots(show: Show, rng, n_frames: int, label: str, shot_mean_s: float, max_shots: int = 4,
                 chars_pool: Optional[List[str]] = None) -> List[List[Shot]]:
    """Fill ``n_frames`` with scenes (lists of shots) of the show's locations and cast."""
    fps = float(show.fps)
    F_ = FORMATS[show.fmt]
    min_shot = max(int(0.6 * fps), int(F_["shot"][0] * fps * 0.6))
    scenes: List[List[Shot]] = []
    left = n_frames
    chars = chars_pool or [c.name for c in show.characters]
    locs = list(show.locations)
    last_loc = None
    st = show.style
    while left > 0:
        loc = _pick(rng, [l for l in locs if l != last_loc] or locs)
        last_loc = loc
        k = int(rng.integers(1, max_shots + 1))
        present = list(rng.choice(chars, size=int(rng.integers(1, min(3, len(chars)) + 1)), replace=False))
        if rng.random() < 0.5:
            present = [chars[0]] + [c for c in present if c != chars[0]][:2]
        shots: List[Shot] = []
        for j in range(k):
            ln = int(np.clip(rng.lognormal(np.log(shot_mean_s * fps), 0.45), min_shot, 12 * fps))
            if left - ln < min_shot:
                ln = left
            if ln <= 0:
                break
            kind_r = rng.random()
            if j == 0 and kind_r < 0.3 or kind_r < 0.08:  # establishing / empty
                sprites = [] if rng.random() < 0.6 else [SpriteUse(c, (i + 1) / (len(present) + 1), float(rng.uniform(0.95, 1.02)),
                                                                   float(rng.uniform(0.35, 0.5))) for i, c in enumerate(present)]
                pan, zoom = _rand_pan(rng) if rng.random() < st["pan"] else ((0.5,) * 4), (1.0, 1.0)
            elif kind_r < 0.55:  # wide / two-shot
                sprites = [SpriteUse(c, (i + 1) / (len(present) + 1) + float(rng.uniform(-0.05, 0.05)), float(rng.uniform(1.0, 1.15)),
                                     float(rng.uniform(0.6, 0.8)), expr=int(rng.integers(0, 3)), flip=i >= len(present) / 2)
                           for i, c in enumerate(present)]
                pan = _rand_pan(rng, slow=True) if rng.random() < st["pan"] else ((float(rng.uniform(0.2, 0.8)), 0.5) * 2)
                zoom = (float(rng.uniform(0.85, 1.0)),) * 2
            else:  # close-up of one character
                c = _pick(rng, present)
                sprites = [SpriteUse(c, float(rng.uniform(0.3, 0.7)), float(rng.uniform(1.3, 1.6)), float(rng.uniform(1.2, 1.6)),
                                     expr=int(rng.integers(0, 3)), flip=bool(rng.random() < 0.5))]
                x = float(rng.uniform(0, 1))
                pan, zoom = (x, 0.4, x, 0.4), (float(rng.uniform(0.45, 0.7)),) * 2
            sh = Shot("scene", int(ln), ("loc", loc), pan=tuple(pan), zoom=tuple(zoom), sprites=sprites, location=loc,
                      seed=int(rng.integers(1 << 30)))
            shots.append(sh)
            left -= int(ln)
            if left <= 0:
                break
        if shots:
            r = rng.random()
            if scenes and r < st["dissolve"] and shots[0].n > 16 and scenes[-1][-1].n > 16:
                shots[0].trans_in, shots[0].trans_len = "dissolve", int(rng.integers(8, 16))
            elif scenes and r < st["dissolve"] * 1.5 and shots[0].n > 24 and scenes[-1][-1].n > 24:
                shots[0].trans_in, shots[0].trans_len = "fade", int(rng.integers(8, 14))
            scenes.append(shots)
    return scenes


def _speech_for(show: Show, rng, shots: List[Shot], t0: float, density: float, narrator: Optional[str] = None) -> List[AudioEvent]:
    """Dialogue lines over a scene: speakers are mostly visible characters."""
    fps = float(show.fps)
    ev: List[AudioEvent] = []
    start = t0
    for sh in shots:
        dur = sh.n / fps
        vis = [s.char for s in sh.sprites]
        if narrator or (vis and rng.random() < density) or (not vis and rng.random() < density * 0.3):
            t = start + float(rng.uniform(0.1, 0.6))
            while t < start + dur - 0.6:
                ln = float(rng.uniform(0.8, 3.2))
                ln = min(ln, start + dur - t + (0.4 if rng.random() < 0.3 else -0.1))
                if ln < 0.5:
                    break
                who = narrator or (_pick(rng, vis) if vis and rng.random() < 0.85 else _pick(rng, [c.name for c in show.characters]))
                ev.append(AudioEvent("speech", round(t, 4), round(ln, 4), ("voice", who, int(rng.integers(1 << 30))), gain=1.0,
                                     speaker=who))
                t += ln + float(rng.uniform(0.15, 1.0))
        start += dur
    return ev


def plan_episode(show: Show, episode: int, seed: int = 0) -> EpisodePlan:
    rng = rng_for("episode", show.seed, episode, seed)
    fps = show.fps
    fpsf = float(fps)
    F_ = FORMATS[show.fmt]
    st = show.style
    q = show.quirks
    eid = f"{show.slug}-e{episode:02d}"
    notes: List[str] = []
    # choose the OP / ED for this episode
    op = show.ops[1] if ("new_op_from" in q and episode >= q["new_op_from"] and len(show.ops) > 1) else show.ops[0]
    if "new_op_from" in q and episode == q["new_op_from"]:
        notes.append("new OP from this episode")
    has_op = q.get("no_op_episode") != episode
    if not has_op:
        notes.append("episode without OP")
    short_op = q.get("short_op_episode") == episode and has_op
    op_n = op.n
    if short_op:
        op_n = int(op.n * float(rng.uniform(0.45, 0.65)))
        notes.append("short OP")
    ed = show.eds[0]
    ed_is_op = q.get("op_as_ed_episode") == episode
    if ed_is_op:
        ed = show.ops[0]
        notes.append("OP used as ED")
    total = _fr(float(rng.uniform(*F_["dur"])), fps)
    cold = 0
    if not q.get("no_cold_open") and rng.random() < st["p_cold"]:
        cold = _fr(float(rng.uniform(*F_["cold"])), fps)
    sponsor = _fr(float(rng.uniform(*F_["sponsor"])), fps) if st["sponsor"] and has_op else 0
    eyecatch = _fr(float(rng.uniform(*F_["eyecatch"])), fps) if st["eyecatch"] else 0
    tail_kind, tail_p = st["tail"]
    tail = "none"
    if tail_kind != "none" and rng.random() < tail_p:
        tail = tail_kind
    elif tail_kind != "none" and rng.random() < 0.3:
        tail = "c_part" if tail_kind == "preview" else "preview"
    tail_n = _fr(float(rng.uniform(*F_[tail])), fps) if tail != "none" else 0
    fixed = cold + (op_n if has_op else 0) + sponsor + eyecatch + ed.n + tail_n
    body = total - fixed
    min_body = _fr(2 * F_["scene_min"], fps)
    if body < min_body:
        body = min_body
    a_n = int(body * float(rng.uniform(0.4, 0.6)))
    b_n = body - a_n
    layout = [("cold_open", cold), ("opening", op_n if has_op else 0), ("sponsor", sponsor), ("part_a", a_n),
              ("eyecatch", eyecatch), ("part_b", b_n), ("ending", ed.n), (tail, tail_n)]
    shots: List[Shot] = []
    texts: List[Text] = []
    audio: List[AudioEvent] = []
    segments: List[Tuple[str, int, int]] = []
    scenes: List[dict] = []
    f = 0
    chars = [c.name for c in show.characters]

    def add_scene_block(label: str, n: int, shot_mean: float, max_shots=4, density=None):
        nonlocal f
        sc_list = _scene_shots(show, rng, n, label, shot_mean, max_shots)
        for sc in sc_list:
            s0 = f
            for sh in sc:
                sh.start, sh.segment = f, label
                shots.append(sh)
                f += sh.n
            audio.extend(_speech_for(show, rng, sc, s0 / fpsf, st["speech"] if density is None else density))
            if rng.random() < st["bgm"]:
                audio.append(AudioEvent("bgm", s0 / fpsf, (f - s0) / fpsf, ("bgm", int(rng.integers(1 << 30))),
                                        gain=float(rng.uniform(0.35, 0.8)), fade_in=0.8, fade_out=0.8))
            scenes.append({"start_frame": s0, "end_frame": f, "location": sc[0].location, "segment": label})

    def add_sequence(seq: Sequence_, label: str, n: int):
        nonlocal f
        s0 = f
        left = n
        for sh0 in seq.shots:
            if left <= 0:
                break
            sh = Shot(**{**sh0.__dict__})
            sh.n = min(sh0.n, left)
            if n < seq.n and left == sh.n:  # truncated (short OP): fade out at the cut point
                sh.fade_out = min(sh.n // 2, int(0.5 * fpsf))
            sh.start, sh.segment, sh.location = f, label, label
            shots.append(sh)
            f += sh.n
            left -= sh.n
        for t in seq.texts:
            if t.start >= n:
                continue
            tt = Text(**{**t.__dict__})
            tt.start, tt.end, tt.segment = s0 + t.start, s0 + min(t.end, n), label
            if t.lines is not None:
                tt.vy = -1.0  # renderer computes; marks "roll over the sequence's full length"
                tt.end = s0 + t.end
                if n < seq.n:
                    tt.end = s0 + n
            texts.append(tt)
        kind = "op_song" if seq.kind == "op" else "ed_song"
        audio.append(AudioEvent(kind, s0 / fpsf, n / fpsf, ("song", seq.song.key), gain=1.0, fade_out=1.2 if n < seq.n else 0.4))
        scenes.append({"start_frame": s0, "end_frame": f, "location": label, "segment": label})

    for label, n in layout:
        if n <= 0 or label == "none":
            continue
        s0 = f
        if label == "cold_open":
            add_scene_block(label, n, st["shot_mean"], max_shots=4)
        elif label == "opening":
            add_sequence(op, label, n)
        elif label == "ending":
            add_sequence(ed, label, n)
        elif label in ("part_a", "part_b"):
            add_scene_block(label, n, st["shot_mean"])
            if label == "part_a" and st["episode_title"] and n > 3 * fpsf:
                ln = int(min(n, 3 * fpsf))
                ja = f"第{episode}話　{_pick(rng, TITLE_WORDS)[0]}の{_pick(rng, TITLE_TAILS)[0]}"
                texts.append(Text(ja, "ja", "cjk", float(rng.uniform(0.05, 0.07)), float(rng.uniform(0.08, 0.5)),
                                  float(rng.uniform(0.1, 0.75)), s0 + int(0.3 * fpsf), s0 + ln, segment=label, credit=False,
                                  align="left"))
        elif label == "sponsor":
            sh = Shot("sponsor", n, ("loc", _pick(rng, list(show.locations))), zoom=(1.0, 1.0),
                      sprites=[SpriteUse(_pick(rng, chars), float(rng.uniform(0.15, 0.3)), 1.0, 0.7)],
                      seed=int(rng.integers(1 << 30)), location="sponsor")
            sh.start, sh.segment = f, label
            shots.append(sh)
            f += n
            sp = [SPONSORS[i] for i in rng.choice(len(SPONSORS), size=int(rng.integers(2, 5)), replace=False)]
            texts.append(Text("提供", "ja", "cjk", 0.08, 0.62, 0.12, s0, f, segment=label, credit=False, align="center"))
            for i, (ja, en) in enumerate(sp):
                texts.append(Text(ja, "ja", "cjk", 0.055, 0.62, 0.3 + 0.13 * i, s0, f, segment=label, credit=False, align="center"))
            audio.append(AudioEvent("speech", s0 / fpsf + 0.3, min(4.0, n / fpsf - 0.6), ("voice", "announcer", int(rng.integers(1 << 30))),
                                    speaker="announcer"))
            scenes.append({"start_frame": s0, "end_frame": f, "location": "sponsor", "segment": label})
        elif label == "eyecatch":
            sh = Shot("eyecatch", n, ("color", _hue_rgb(st["palette"] + 0.3, 0.5, 0.95), _hue_rgb(st["palette"] + 0.4, 0.6, 0.7)),
                      sprites=[SpriteUse(_pick(rng, chars), float(rng.uniform(0.3, 0.7)), 1.02, float(rng.uniform(0.7, 0.95)), expr=1)],
                      seed=show.seed, location="eyecatch", effect="bokeh")
            if rng.random() < 0.5:
                sh.fade_in = min(n // 3, 8)
            sh.start, sh.segment = f, label
            shots.append(sh)
            f += n
            texts.append(Text(show.title[0], "ja", "cjk", 0.09, 0.5, 0.08, s0, f, segment=label, credit=False, align="center",
                              stroke=_hue_rgb(st["palette"], 0.8, 0.3)))
            audio.append(AudioEvent("jingle", s0 / fpsf, n / fpsf, ("jingle", show.seed), gain=0.9, fade_out=0.3))
            scenes.append({"start_frame": s0, "end_frame": f, "location": "eyecatch", "segment": label})
        elif label == "preview":
            tl = min(n // 3, int(1.5 * fpsf))
            sh = Shot("preview_title", tl, ("color", (15, 15, 30), _hue_rgb(st["palette"], 0.6, 0.4)), seed=int(rng.integers(1 << 30)),
                      location="preview")
            sh.start, sh.segment = f, label
            shots.append(sh)
            f += tl
            texts.append(Text("次回予告", "ja", "cjk", 0.1, 0.5, 0.4, s0, f, segment=label, credit=False, align="center"))
            pv = n - tl
            mont = []
            for sc in _scene_shots(show, rng, pv, label, max(0.8, st["shot_mean"] * 0.5), 4):
                for sh in sc:
                    sh.start, sh.segment, sh.location = f, label, "preview"
                    sh.trans_in, sh.trans_len = "cut", 0
                    shots.append(sh)
                    mont.append(sh)
                    f += sh.n
            narr = _pick(rng, chars)
            audio.extend(_speech_for(show, rng, mont, (s0 + tl) / fpsf, 1.0, narrator=narr))
            audio.append(AudioEvent("bgm", s0 / fpsf, n / fpsf, ("bgm", show.seed + 7), gain=0.9, fade_out=0.5))
            ep_t = f"第{episode + 1}話　{_pick(rng, TITLE_WORDS)[0]}と{_pick(rng, TITLE_WORDS)[0]}"
            texts.append(Text(ep_t, "ja", "cjk", 0.06, 0.5, 0.8, f - min(pv, int(2 * fpsf)), f, segment=label, credit=False,
                              align="center"))
            scenes.append({"start_frame": s0, "end_frame": f, "location": "preview", "segment": label})
        elif label == "c_part":
            add_scene_block(label, n, st["shot_mean"], max_shots=3)
        segments.append((label, s0, f))
        assert f - s0 == n, (label, f - s0, n)
    # OP / ED sequences start with a cut, never a dissolve from outside
    for sh in shots:
        if sh.segment in ("opening", "ending") and sh.start in (s for _, s, _ in segments):
            sh.trans_in, sh.trans_len = "cut", 0
    for lab, s0, _ in segments:
        for sh in shots:
            if sh.start == s0 and sh.trans_in == "dissolve" and lab not in ("part_a", "part_b", "cold_open", "c_part"):
                sh.trans_in, sh.trans_len = "cut", 0
    # dialogue never runs into the OP / ED (they stay identical across episodes)
    for ev in audio:
        if ev.kind != "speech":
            continue
        for lab, a, b in segments:
            t0 = a / fpsf
            if lab in ("opening", "ending", "eyecatch") and ev.start < t0 < ev.start + ev.dur:
                ev.dur = round(max(0.05, t0 - ev.start - 0.05), 4)
    # dissolves across segment boundaries are dropped (segment starts are exact)
    seg_starts = {s for _, s, _ in segments}
    for sh in shots:
        if sh.start in seg_starts and sh.trans_in == "dissolve":
            sh.trans_in, sh.trans_len = "cut", 0
    add_camera_moves(shots, segments, show, episode, seed)
    return EpisodePlan(show=show, episode=episode, id=eid, n=f, shots=shots, texts=texts, audio=audio, segments=segments,
                       scenes=scenes, op_key=op.key if has_op else None, ed_key=ed.key, notes=notes)


BODY_SEGMENTS = ("cold_open", "part_a", "part_b", "c_part")


def add_camera_moves(shots: List[Shot], segments, show: Show, episode: int, seed: int = 0) -> None:
    """Camera shakes, zooms in/out and wipes on the story shots of an episode.

    Drawn from their own random stream ("motion"), so every other choice of the plan (and of
    the shows and episodes rendered before these existed) stays what it was; only the shots
    picked here render differently.  Only held (unpanned, unzoomed) shots over a background are
    changed, so a shot carries one camera move.
    """
    mrng = rng_for("motion", show.seed, episode, seed)
    fps = float(show.fps)
    seg_starts = {s for _, s, _ in segments}
    for k, sh in enumerate(shots):
        if sh.segment not in BODY_SEGMENTS:
            continue
        r = float(mrng.random())  # drawn for every story shot: one draw per shot keeps the stream aligned
        a, b = float(mrng.uniform(0, 1)), float(mrng.uniform(0, 1))
        w = float(mrng.random())
        held = sh.bg[0] == "loc" and sh.pan[0] == sh.pan[2] and sh.pan[1] == sh.pan[3] and sh.zoom[0] == sh.zoom[1]
        if held and sh.n >= int(0.8 * fps):
            if r < 0.12:
                sh.shake = 0.008 + 0.022 * a  # 0.8-3% of the frame height, every frame
            elif r < 0.30:
                z_wide = sh.zoom[0]
                z_tight = z_wide * (0.55 + 0.25 * b)
                sh.zoom = (z_wide, z_tight) if r < 0.21 else (z_tight, z_wide)  # in | out
        if k > 0 and sh.start not in seg_starts and sh.trans_in == "cut" and w < 0.1 and sh.n > 16 and shots[k - 1].n > 16:
            sh.trans_in, sh.trans_len = "wipe", int(8 + 8 * a)


QUIRKS = ["no_op_episode", "new_op_from", "short_op_episode", "op_as_ed_episode"]


def ensure_quirks(shows: List[Show], lib: MaterialLibrary, seed: int, groups: Optional[List[List[Show]]] = None) -> None:
    """Every season quirk (episode 1 without OP, new OP from mid-season, short OP, OP as ED)
    appears at least once in each group of shows (train and test), so both sides see them."""
    rng = rng_for("quirks", seed, len(shows))
    F = lib.fetched
    for group in groups or [shows]:
        if not group:
            continue
        for qi, q in enumerate(QUIRKS):
            if any(q in s.quirks for s in group):
                continue
            cands = [s for s in group if s.n_episodes >= 4] or group
            s = cands[(qi + int(rng.integers(len(cands)))) % len(cands)]
            if q == "no_op_episode":
                s.quirks[q] = 1
            elif q == "new_op_from":
                s.quirks[q] = s.n_episodes // 2 + 1
                if len(s.ops) < 2:
                    songs = [x for i, x in enumerate(F.songs) if i % 2 == s.material_part] if len(F.songs) > 1 else list(F.songs)
                    srng = rng_for("op2", s.seed)
                    s.ops.append(make_sequence(s, "op", "op2", float(srng.uniform(*FORMATS[s.fmt]["op"])), songs, srng))
            elif q == "short_op_episode":
                s.quirks[q] = max(2, s.n_episodes - 1)
            else:
                s.quirks[q] = s.n_episodes


def make_corpus_plan(preset: str, seed: int, lib: MaterialLibrary, n_shows: Optional[int] = None,
                     n_episodes: Optional[int] = None) -> Tuple[List[Show], dict]:
    """The shows of a corpus and its train/val/test split (by show)."""
    P = PRESETS[preset]
    k = n_shows or P["shows"]
    used: set = set()
    # split by show: train/val use one half of the fetched material, test the other half
    if k == 1:
        roles = ["test"]
    elif k == 2:
        roles = ["train", "test"]
    elif k <= 4:
        roles = ["train"] * (k - 2) + ["val", "test"]
    else:
        n_test = max(2, k // 3)
        roles = ["train"] * (k - 1 - n_test) + ["val"] + ["test"] * n_test
    shows = []
    for i in range(k):
        shows.append(make_show(i, seed, preset, lib, material_part=1 if roles[i] == "test" else 0,
                               n_episodes=n_episodes, used_slugs=used))
    if preset != "small":
        ensure_quirks(shows, lib, seed, groups=[[s for s, r in zip(shows, roles) if r != "test"],
                                                [s for s, r in zip(shows, roles) if r == "test"]])
    split = {"train": [], "val": [], "test": []}
    for s, r in zip(shows, roles):
        split[r].append(s.slug)
    return shows, split


SPLIT_NOTE = ("split by show: no test show shares a title, cast, OP/ED song or montage with a train show; "
              "test shows draw from the other half of the fetched material files than train/val shows")
