"""Small synthetic clips with known structure, for tests, examples and benchmarks.

Every frame and audio sample is generated here, so where the cuts are, where text is drawn and
which seconds are loud, silent, tonal or speech-like is known exactly. (The corpus builder in
`vpos.corpus` renders full realistic episodes; this module stays small and dependency-free.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

AUDIO_RATE_OUT = 48000


@dataclass
class ShotSpec:
    frames: int
    seed: int = 0
    motion: str = "pan"  # "static" | "pan" | "zoom"
    text: str | None = None  # drawn text, if any
    text_box: tuple[float, float, float] = (0.1, 0.45, 1.6)  # x, y (fractions), font scale
    fade_in: int = 0  # frames of dissolve from the previous shot


@dataclass
class AudioSpec:
    kind: str  # "silence" | "tone" | "music" | "noise" | "speech" | "song" | "voice" | "bgm"
    seconds: float
    level_db: float = -12.0
    seed: int | None = None  # its own generator (the same seed gives the same sound in any clip); None: the clip's


@dataclass
class ClipTruth:
    path: str
    fps: float
    frame_count: int
    width: int
    height: int
    cuts: list[int] = field(default_factory=list)  # first frame of each shot after the first
    text_frames: list[tuple[int, int, tuple[int, int, int, int]]] = field(default_factory=list)  # (start, end_excl, box xywh)
    audio: list[tuple[float, float, str]] = field(default_factory=list)  # (start_s, end_s, kind)

    def duration(self) -> float:
        return self.frame_count / self.fps


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random colour field plus a few shapes: distinct per seed, cheap to make."""
    import cv2

    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 7))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        center = (int(rng.integers(0, w * 2)), int(rng.integers(0, h * 2)))
        if rng.random() < 0.5:
            cv2.circle(img, center, int(rng.integers(h // 8, h // 2)), color, -1)
        else:
            x2, y2 = center[0] + int(rng.integers(20, w)), center[1] + int(rng.integers(20, h))
            cv2.rectangle(img, center, (x2, y2), color, -1)
    return img


def _shot_frames(spec: ShotSpec, h: int, w: int):
    import cv2

    rng = np.random.default_rng(spec.seed)
    canvas = _texture(rng, h, w)
    # Pan direction and speed; the path stays inside the 2x canvas so the view never jumps.
    dx, dy = rng.uniform(-1, 1, 2)
    for i in range(spec.frames):
        if spec.motion == "static":
            x, y = w // 2, h // 2
            frame = canvas[y : y + h, x : x + w]
        elif spec.motion == "zoom":
            s = 1.0 + 0.3 * i / max(1, spec.frames)
            cw, ch = int(w * 2 / s), int(h * 2 / s)
            x0, y0 = (w * 2 - cw) // 2, (h * 2 - ch) // 2
            frame = cv2.resize(canvas[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
        else:
            x = int(w // 2 + dx * (w // 2 - 1) * i / max(1, spec.frames))
            y = int(h // 2 + dy * (h // 2 - 1) * i / max(1, spec.frames))
            frame = canvas[y : y + h, x : x + w]
        frame = np.ascontiguousarray(frame)
        if spec.text:
            fx, fy, scale = spec.text_box
            cv2.putText(frame, spec.text, (int(fx * w), int(fy * h)), cv2.FONT_HERSHEY_SIMPLEX, scale * w / 640, (255, 255, 255), max(2, int(3 * w / 640)), cv2.LINE_AA)
        yield frame


def text_box(spec: ShotSpec, w: int, h: int) -> tuple[int, int, int, int]:
    import cv2

    fx, fy, scale = spec.text_box
    (tw, th), base = cv2.getTextSize(spec.text, cv2.FONT_HERSHEY_SIMPLEX, scale * w / 640, max(2, int(3 * w / 640)))
    x, y = int(fx * w), int(fy * h)
    return x, y - th, tw, th + base


def _audio(spec: AudioSpec, rng: np.random.Generator) -> np.ndarray:
    n = int(round(spec.seconds * AUDIO_RATE_OUT))
    t = np.arange(n) / AUDIO_RATE_OUT
    amp = 10 ** (spec.level_db / 20)
    if spec.kind == "silence":
        return np.zeros(n, np.float32)
    if spec.kind == "tone":
        return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    if spec.kind == "noise":
        return (amp * rng.standard_normal(n) / 3).astype(np.float32)
    if spec.kind == "music":
        # Sustained chords with harmonics, changing every half second, and a soft beat.
        out = np.zeros(n)
        roots = [220.0, 246.9, 261.6, 293.7, 329.6]
        for k in range(int(np.ceil(spec.seconds * 2))):
            a, b = int(k * AUDIO_RATE_OUT / 2), min(n, int((k + 1) * AUDIO_RATE_OUT / 2))
            f0 = roots[int(rng.integers(0, len(roots)))]
            for ratio in (1, 1.25, 1.5, 2):
                for h_ in (1, 2, 3):
                    out[a:b] += np.sin(2 * np.pi * f0 * ratio * h_ * t[a:b]) / (h_ * 4)
        beat = np.exp(-((t * 2) % 1.0) * 30)
        out += 0.3 * beat * rng.standard_normal(n)
        return (amp * out / (np.abs(out).max() + 1e-9)).astype(np.float32)
    if spec.kind == "speech":
        # Syllable-rate (3-6 Hz) bursts of voiced sound with pauses between phrases.
        out = np.zeros(n)
        pos = 0
        while pos < n:
            phrase = int(rng.uniform(0.8, 2.0) * AUDIO_RATE_OUT)
            end = min(n, pos + phrase)
            tt = t[pos:end]
            rate = rng.uniform(3.5, 5.5)
            env = np.clip(np.sin(np.pi * rate * (tt - tt[0])), 0, None) ** 2
            f0 = rng.uniform(110, 240) * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * tt))
            phase = 2 * np.pi * np.cumsum(f0) / AUDIO_RATE_OUT
            voiced = sum(np.sin(h_ * phase) / h_ for h_ in range(1, 8))
            out[pos:end] = env * voiced
            pos = end + int(rng.uniform(0.2, 0.5) * AUDIO_RATE_OUT)
        return (amp * out / (np.abs(out).max() + 1e-9)).astype(np.float32)
    if spec.kind in ("song", "voice", "bgm"):
        # The corpus builder's melodic song, phrase-level speech and background score: unlike the
        # stationary kinds above, these change from second to second, as real soundtracks do.
        from .corpus import material

        seed = int(rng.integers(0, 2**31))
        fn = {"song": material.synth_song, "voice": material.synth_speech, "bgm": material.synth_bgm}[spec.kind]
        out = np.asarray(fn(seed, spec.seconds, sr=AUDIO_RATE_OUT), np.float32)[:n]
        out = np.pad(out, (0, n - len(out)))
        return (amp * out / (np.abs(out).max() + 1e-9)).astype(np.float32)
    raise ValueError(f"unknown audio kind {spec.kind}")


def render_clip(
    path: str | Path,
    shots: list[ShotSpec],
    audio: list[AudioSpec] | None = None,
    fps: float | Fraction = 25,
    size: tuple[int, int] = (320, 180),
    seed: int = 0,
    video_codec: str | None = None,
    audio_codec: str | None = None,
    crf: int = 23,
) -> ClipTruth:
    """Encode the described clip with PyAV and return its exact ground truth."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    suffix = path.suffix.lower()
    if video_codec is None:
        video_codec = "libvpx-vp9" if suffix == ".webm" else "libx264"
    if audio_codec is None:
        audio_codec = "libopus" if suffix in (".webm", ".mkv") else "aac"
    truth = ClipTruth(path=str(path), fps=float(rate), frame_count=0, width=w, height=h)
    rng = np.random.default_rng(seed)

    with av.open(str(path), "w") as out:
        vs = out.add_stream(video_codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if video_codec == "libx264":
            vs.options = {"crf": str(crf), "preset": "veryfast", "g": "250"}
        elif video_codec == "libvpx-vp9":
            vs.options = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        astream = None
        if audio:
            astream = out.add_stream(audio_codec, rate=AUDIO_RATE_OUT)
            astream.layout = "stereo"

        frame_no = 0
        prev_tail = None
        for si, spec in enumerate(shots):
            if si > 0:
                # A dissolve's boundary is its middle frame, as shot-detection benchmarks count it.
                truth.cuts.append(frame_no + spec.fade_in // 2)
            if spec.text:
                truth.text_frames.append((frame_no, frame_no + spec.frames, text_box(spec, w, h)))
            for i, img in enumerate(_shot_frames(spec, h, w)):
                if spec.fade_in and prev_tail is not None and i < spec.fade_in:
                    a = (i + 1) / (spec.fade_in + 1)
                    img = (a * img + (1 - a) * prev_tail).astype(np.uint8)
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                vf.pts = frame_no
                vf.time_base = 1 / rate
                for p in vs.encode(vf):
                    out.mux(p)
                frame_no += 1
                last = img
            prev_tail = last
        for p in vs.encode():
            out.mux(p)
        truth.frame_count = frame_no

        if astream is not None:
            pos = 0.0
            parts = []
            for a in audio:
                parts.append(_audio(a, rng if a.seed is None else np.random.default_rng(a.seed)))
                truth.audio.append((pos, pos + a.seconds, a.kind))
                pos += a.seconds
            samples = np.concatenate(parts)
            stereo = np.stack([samples, samples])
            block = 1024 if audio_codec != "libopus" else 960
            fmt = "fltp"
            for k in range(0, stereo.shape[1], block):
                piece = np.ascontiguousarray(stereo[:, k : k + block])
                af = av.AudioFrame.from_ndarray(piece, format=fmt, layout="stereo")
                af.sample_rate = AUDIO_RATE_OUT
                af.pts = k
                for p in astream.encode(af):
                    out.mux(p)
            for p in astream.encode():
                out.mux(p)
    return truth


def demo_clip(path: str | Path, seconds: int = 20, size=(320, 180), fps=25, seed=1) -> ClipTruth:
    """A short clip with a few cuts, one dissolve, a caption and music/speech/silence audio."""
    rng = np.random.default_rng(seed)
    total = int(seconds * fps)
    shots, used = [], 0
    i = 0
    while used < total:
        n = int(min(total - used, rng.integers(int(1.5 * fps), int(4 * fps))))
        text = "EPISODE 1" if i == 1 else ("Staff: Studio vpos" if i == 3 else None)
        shots.append(ShotSpec(frames=n, seed=seed * 100 + i, motion=("pan", "static", "zoom")[i % 3], text=text, fade_in=12 if i == 4 else 0))
        used += n
        i += 1
    third = seconds / 3
    audio = [AudioSpec("music", third), AudioSpec("speech", third), AudioSpec("silence", seconds - 2 * third)]
    return render_clip(path, shots, audio, fps=fps, size=size, seed=seed)


def season_episode(path: str | Path, show_seed: int, episode: int, op_seconds: int = 22, body_seconds: int = 10,
                   ed_seconds: int = 22, cold_seconds: int = 3, preview_seconds: int = 3, size=(160, 90), fps=10,
                   episode_audio: str = "voice") -> ClipTruth:
    """One episode of a generated show: an episode-specific cold open, the show's opening (the same
    pictures and song in every episode), an episode-specific body, the show's ending (the same in
    every episode) and an episode-specific preview. For season-mode and library tests.
    `episode_audio` is the sound of the episode's own parts ("silence" keeps them from matching
    each other by sound alone: the generated voices all share one spectral shape)."""

    def part(seed: int, seconds: int) -> list[ShotSpec]:
        rng = np.random.default_rng(seed)
        shots, used, i = [], 0, 0
        while used < seconds * fps:
            n = int(min(seconds * fps - used, rng.integers(2 * fps, 4 * fps)))
            shots.append(ShotSpec(frames=n, seed=seed * 100 + i, motion=("pan", "static", "zoom")[i % 3]))
            used += n
            i += 1
        return shots

    op_seed, ed_seed = show_seed * 1000 + 1, show_seed * 1000 + 2
    own = show_seed * 1000 + 10 * (episode + 1)  # seeds of this episode's own parts
    layout = [(own, cold_seconds, episode_audio), (op_seed, op_seconds, "song"), (own + 1, body_seconds, episode_audio),
              (ed_seed, ed_seconds, "song"), (own + 2, preview_seconds, episode_audio)]
    shots, audio = [], []
    for seed, seconds, kind in layout:
        if seconds > 0:
            shots += part(seed, seconds)
            audio.append(AudioSpec(kind, seconds, seed=seed))
    return render_clip(path, shots, audio, fps=fps, size=size, seed=own)


def chunk_of_samples(samples: np.ndarray, sample_start: int = 0, index: int = 0):
    """A decode `Chunk` holding only analysis samples (one per second), for driving sample
    extractors directly with images made in a test, without a video file."""
    from .media import Chunk

    m = len(samples)
    return Chunk(
        index=index,
        frame_start=0,
        small_frames=np.zeros((0, 27, 48, 3), np.uint8),
        frame_times=np.zeros(0),
        sample_start=sample_start,
        samples=samples,
        sample_times=np.arange(sample_start, sample_start + m, dtype=np.float64),
        audio_start=0,
        audio=np.zeros(0, np.float32),
        video_end=float(sample_start + m),
    )
