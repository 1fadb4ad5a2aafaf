"""Write each scene as its own clip, cut on the exact frames.

A stream copy can only start on a keyframe, so a copied scene would begin up to a GOP early. Here
the source is decoded once (PyAV, no ffmpeg binary) and every frame is re-encoded (H.264, AAC) into
the clip of the scene it belongs to: frame `start_frame` is the first frame of the clip and
`end_frame` the last. Frames are counted in decode order, as the analysis counts them, so the
indices of the JSON result address the same frames. Audio is cut at the time of the scene's first
frame (the first scene also gets the audio before its first frame, the last the audio after its
last frame).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import VposError

AUDIO_RATE_OUT = 48000


@dataclass
class ClipOptions:
    video_codec: str = "libx264"
    crf: int = 20  # x264 quality (lower: better, larger)
    preset: str = "veryfast"
    audio: bool = True
    audio_bitrate: int = 160_000


def safe_stem(name: str) -> str:
    """A file-name stem with only letters, digits, '.', '_' and '-' (no path separators, no
    leading dot), at most 80 characters."""
    name = re.sub(r"\.[A-Za-z0-9]{2,4}$", "", str(name))  # a file extension
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return (stem or "video")[:80]


def clip_names(stem: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{safe_stem(stem)}-scene-{k + 1:0{width}d}.mp4" for k in range(n)]


def _scene_ranges(scenes: Sequence) -> list[tuple[int, int]]:
    out = []
    for s in scenes:
        a = s["start_frame"] if isinstance(s, dict) else s.start_frame
        b = s["end_frame"] if isinstance(s, dict) else s.end_frame
        out.append((int(a), int(b)))
    for (a, b), (c, _) in zip(out, out[1:]):
        if not (a <= b < c):
            raise VposError("scenes must be in order, not overlap, and each hold at least one frame")
    if out and out[-1][0] > out[-1][1]:
        raise VposError("every scene must hold at least one frame")
    return out


class _Writer:
    """One output clip: an H.264 video stream and (optionally) an AAC audio stream."""

    def __init__(self, path: Path, width: int, height: int, rate: Fraction, audio_layout: str | None, options: ClipOptions):
        import av

        self.path = path
        self.container = av.open(str(path), "w")
        self.v = self.container.add_stream(options.video_codec, rate=rate)
        self.v.width, self.v.height = width, height
        self.v.pix_fmt = "yuv420p"
        self.v.options = {"crf": str(options.crf), "preset": options.preset}
        self.v.codec_context.time_base = Fraction(1, 1) / rate
        self.frames = 0
        self.a = None
        self.samples = 0
        if audio_layout is not None:
            self.a = self.container.add_stream("aac", rate=AUDIO_RATE_OUT)
            self.a.layout = audio_layout
            self.a.bit_rate = options.audio_bitrate

    def video(self, frame) -> None:
        frame.pts = self.frames
        frame.time_base = self.v.codec_context.time_base
        frame.pict_type = 0  # let the encoder choose (the source's frame types mean nothing here)
        for p in self.v.encode(frame):
            self.container.mux(p)
        self.frames += 1

    def audio(self, data: np.ndarray, layout: str) -> None:
        import av

        if self.a is None or data.shape[1] == 0:
            return
        f = av.AudioFrame.from_ndarray(np.ascontiguousarray(data, np.float32), format="fltp", layout=layout)
        f.sample_rate = AUDIO_RATE_OUT
        f.pts = self.samples
        f.time_base = Fraction(1, AUDIO_RATE_OUT)
        self.samples += data.shape[1]
        for p in self.a.encode(f):
            self.container.mux(p)

    def close(self) -> None:
        for p in self.v.encode(None):
            self.container.mux(p)
        if self.a is not None:
            for p in self.a.encode(None):
                self.container.mux(p)
        self.container.close()


def save_scene_clips(
    video: str | Path,
    scenes: Sequence,
    out_dir: str | Path,
    stem: str | None = None,
    options: ClipOptions | None = None,
    progress: Callable[[str, float, float], None] | None = None,
) -> list[Path]:
    """Write scene k (dicts or `Scene`s with start_frame/end_frame, inclusive) to
    `out_dir/<stem>-scene-00k.mp4`. Frames outside every scene are skipped. Returns the paths."""
    import av

    options = options or ClipOptions()
    ranges = _scene_ranges(scenes)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VposError(f"cannot create the scene folder {out}: {e}") from None
    names = clip_names(stem or Path(video).stem, len(ranges))
    paths = [out / n for n in names]
    if not ranges:
        return []
    try:
        container = av.open(str(video))
    except (av.error.FFmpegError, OSError) as e:
        raise VposError(f"cannot open {video}: {e}") from None
    progress = progress or (lambda *_: None)
    writers: dict[int, _Writer] = {}
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        streams = [vs]
        astream = container.streams.audio[0] if (options.audio and container.streams.audio) else None
        if astream is not None:
            streams.append(astream)
        rate = vs.average_rate or vs.guessed_rate or Fraction(25)
        width, height = vs.codec_context.width // 2 * 2, vs.codec_context.height // 2 * 2
        layout = "stereo" if astream is not None and astream.codec_context.channels >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=AUDIO_RATE_OUT) if astream is not None else None

        starts = np.array([a for a, _ in ranges])
        n_scenes = len(ranges)
        scene_t0: dict[int, float] = {}  # source time of each scene's first frame, once decoded
        scene_t1: dict[int, float] = {}  # source time of the frame after each scene's last frame
        channels = 2 if layout == "stereo" else 1
        pending = np.zeros((channels, 0), np.float32)  # decoded audio not yet given to a clip
        pending_t = None  # source time of pending[:, 0]
        last_video_t = -np.inf
        frame_index = 0
        ak = 0  # the scene the audio has reached
        closed: set[int] = set()
        total = ranges[-1][1] + 1

        def scene_of(i: int) -> int | None:
            k = int(np.searchsorted(starts, i, side="right") - 1)
            return k if k >= 0 and ranges[k][0] <= i <= ranges[k][1] else None

        def writer(k: int) -> _Writer:
            if k not in writers:
                writers[k] = _Writer(paths[k], width, height, rate, layout if astream is not None else None, options)
            return writers[k]

        def consume(n: int, to: int | None) -> None:
            nonlocal pending, pending_t
            if to is not None and to not in closed:
                writer(to).audio(pending[:, :n], layout)
            pending = pending[:, n:]
            pending_t += n / AUDIO_RATE_OUT

        def samples_until(t: float) -> int:
            if t == np.inf:
                return pending.shape[1]
            if t == -np.inf:
                return 0
            return max(0, min(pending.shape[1], int(round((t - pending_t) * AUDIO_RATE_OUT))))

        def route_audio(final: bool) -> None:
            """Give pending audio to the clip whose time span holds it, as far as that is known:
            scene k spans [time of its first frame, time of the frame after its last)."""
            nonlocal ak
            while pending.shape[1] and pending_t is not None:
                if ak >= n_scenes:
                    consume(pending.shape[1], None)
                    return
                if ak == 0 and ranges[0][0] == 0:
                    a0 = -np.inf  # audio before the first frame belongs to the first clip
                else:
                    a0 = scene_t0.get(ak)
                if a0 is None:  # scene ak has not started: audio before the latest frame is in a gap
                    n = samples_until(np.inf if final else last_video_t)
                    if n == 0:
                        return
                    consume(n, None)
                    continue
                if pending_t < a0 - 0.5 / AUDIO_RATE_OUT:
                    consume(max(1, samples_until(a0)), None)
                    continue
                a1 = scene_t1.get(ak, np.inf if final else None)
                n = samples_until(a1 if a1 is not None else last_video_t)
                if n:
                    consume(n, ak)
                if a1 is not None and (pending_t >= a1 - 0.5 / AUDIO_RATE_OUT or a1 == np.inf):
                    ak += 1
                    continue
                if n == 0:
                    return

        def close_done() -> None:
            """Close the clips whose frames and audio are all written."""
            for k in list(writers):
                if k not in closed and frame_index > ranges[k][1] and (astream is None or ak > k):
                    writers[k].close()
                    closed.add(k)

        for packet in container.demux(*streams):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            if packet.stream is astream:
                for af in frames:
                    for rf in resampler.resample(af):
                        if pending_t is None:
                            pending_t = float(rf.time) if rf.time is not None else 0.0
                        pending = np.concatenate([pending, rf.to_ndarray().astype(np.float32, copy=False)], axis=1)
                route_audio(final=False)
                close_done()
                continue
            for frame in frames:
                t = float(frame.time) if frame.time is not None else frame_index / float(rate)
                k = scene_of(frame_index)
                if k is not None:
                    if k not in scene_t0:
                        scene_t0[k] = t
                    if frame.width != width or frame.height != height or frame.format.name != "yuv420p":
                        frame = frame.reformat(width=width, height=height, format="yuv420p")
                    writer(k).video(frame)
                prev = scene_of(frame_index - 1) if frame_index else None
                if prev is not None and prev != k:
                    scene_t1[prev] = t
                last_video_t = t
                frame_index += 1
                if frame_index % 200 == 0:
                    progress("save scenes", min(frame_index, total), total)
            route_audio(final=False)
            close_done()
            if frame_index > ranges[-1][1] and (astream is None or ak >= n_scenes):
                break
        if resampler is not None:
            for rf in resampler.resample(None):
                if pending_t is None:
                    pending_t = float(rf.time) if rf.time is not None else 0.0
                pending = np.concatenate([pending, rf.to_ndarray().astype(np.float32, copy=False)], axis=1)
        route_audio(final=True)
        for k in sorted(writers):
            if k not in closed:
                writers[k].close()
                closed.add(k)
        progress("save scenes", total, total)
    except av.error.FFmpegError as e:
        raise VposError(f"could not write the scene clips of {Path(video).name}: {e}") from None
    finally:
        container.close()
    if frame_index <= ranges[-1][1]:
        raise VposError(f"{Path(video).name} has {frame_index} frames; the scenes ask for frames up to {ranges[-1][1]}")
    return [p for k, p in enumerate(paths) if k in writers]


def scene_thumbnails(video: str | Path, scenes: Sequence, height: int = 72,
                     progress: Callable[[str, float, float], None] | None = None) -> list[np.ndarray]:
    """One RGB thumbnail (height x aspect-kept width) per scene: its middle frame. One decode pass
    that converts only the frames it keeps."""
    import av

    ranges = _scene_ranges(scenes)
    if not ranges:
        return []
    targets = {(a + b) // 2: k for k, (a, b) in enumerate(ranges)}
    out: list[np.ndarray | None] = [None] * len(ranges)
    progress = progress or (lambda *_: None)
    last = max(targets)
    try:
        with av.open(str(video)) as container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            w = max(2, int(round(vs.codec_context.width * height / max(1, vs.codec_context.height))) // 2 * 2)
            for i, frame in enumerate(container.decode(vs)):
                k = targets.get(i)
                if k is not None:
                    out[k] = frame.to_ndarray(format="rgb24", width=w, height=height)
                if i % 500 == 0:
                    progress("scene thumbnails", i, last)
                if i >= last:
                    break
    except (av.error.FFmpegError, OSError) as e:
        raise VposError(f"cannot read {Path(video).name} for scene thumbnails: {e}") from None
    blank = next((t for t in out if t is not None), np.zeros((height, height * 16 // 9, 3), np.uint8))
    return [t if t is not None else np.zeros_like(blank) for t in out]


def zip_scene_clips(paths: Sequence[Path], zip_path: str | Path) -> Path:
    """The clips in one zip (stored, not deflated: H.264 does not compress further)."""
    import zipfile

    zip_path = Path(zip_path)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as zf:
        for p in paths:
            zf.write(p, arcname=Path(p).name)
    return zip_path
