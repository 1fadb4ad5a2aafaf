"""Probing and decoding media files: one decode pass per video feeds every extractor.

`probe` reads the container header (and decodes one frame to prove the stream is readable).
`decode` walks the file once and yields `Chunk`s holding, for a span of video time:
- every frame, scaled to the small size the shot detector needs (48x27 RGB),
- the frames at the analysis rate (1 per second by default), scaled to the largest size any
  extractor asked for,
- the audio, resampled to 16 kHz mono float32.
Chunks are bounded in length, so peak memory does not grow with the length of the video.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import (
    AudioOnlyError,
    CorruptMediaError,
    EmptyFileError,
    MediaLimitError,
    MediaNotFoundError,
    NotAVideoError,
)

AUDIO_RATE = 16000
SMALL_SIZE = (48, 27)  # (width, height) the TransNetV2 shot detector was trained on
MOTION_SIZE = (96, 54)  # (width, height) of the grey frames the motion model reads (48x27 hides slow pans)

# Leading bytes of containers we know: a file that starts like a video but cannot be opened is
# reported as damaged rather than as "not a video".
_CONTAINER_MAGIC = (
    (4, b"ftyp"),  # mp4 / mov / m4v / 3gp
    (0, b"\x1a\x45\xdf\xa3"),  # matroska / webm
    (0, b"RIFF"),  # avi
    (0, b"OggS"),
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # mpeg-ps
    (0, b"\x47"),  # mpeg-ts sync byte
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
)


@dataclass(frozen=True)
class Limits:
    """Inputs vpos refuses before spending any time on them."""

    max_width: int = 7680
    max_height: int = 4320
    max_duration: float = 6 * 3600.0
    min_duration: float = 0.2


@dataclass
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None = None


@dataclass
class VideoInfo:
    path: str
    duration: float
    fps: float
    frame_count: int
    width: int
    height: int
    rotation: int = 0
    variable_frame_rate: bool = False
    codec: str = ""
    container: str = ""
    size_bytes: int = 0
    audio_streams: list[AudioStreamInfo] = field(default_factory=list)

    @property
    def has_audio(self) -> bool:
        return bool(self.audio_streams)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after applying the rotation a player would apply."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height

    def to_dict(self) -> dict:
        d = asdict(self)
        d["has_audio"] = self.has_audio
        return d


def _looks_like_container(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(16)
    return any(head[off : off + len(magic)] == magic for off, magic in _CONTAINER_MAGIC)


def _open(path: Path):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.EOFError) as e:
        if _looks_like_container(path):
            raise CorruptMediaError(
                f"{path.name}: the file looks like a video container but cannot be read; it is "
                f"probably truncated or damaged ({e.__class__.__name__}: {_short(e)})."
            ) from None
        raise NotAVideoError(
            f"{path.name}: this is not a video file vpos can read (ffmpeg found no known media "
            f"format in it)."
        ) from None
    except av.error.FFmpegError as e:
        raise CorruptMediaError(f"{path.name}: cannot open the file: {_short(e)}") from None


def _short(e: Exception) -> str:
    text = str(e)
    return text if len(text) < 200 else text[:200] + "..."


def _stream_rotation(stream) -> int:
    # PyAV exposes the display matrix on decoded frames; older files carry a 'rotate' tag.
    rot = stream.metadata.get("rotate") if stream.metadata else None
    try:
        return int(round(float(rot))) % 360 if rot is not None else 0
    except ValueError:
        return 0


def probe(path: str | os.PathLike, limits: Limits | None = None) -> VideoInfo:
    """Read what the file is, or raise a `MediaError` that says why it cannot be analysed."""
    limits = limits or Limits()
    p = Path(path)
    if not p.exists():
        raise MediaNotFoundError(f"{p}: no such file.")
    if p.is_dir():
        raise NotAVideoError(f"{p}: is a folder, not a video file.")
    size = p.stat().st_size
    if size == 0:
        raise EmptyFileError(f"{p.name}: the file is empty (0 bytes).")

    container = _open(p)
    try:
        vstreams = list(container.streams.video)
        astreams = list(container.streams.audio)
        # Cover art in audio files shows up as a one-frame video stream.
        vstreams = [s for s in vstreams if not (s.disposition and "attached_pic" in str(s.disposition).lower())]
        if not vstreams:
            if astreams:
                raise AudioOnlyError(
                    f"{p.name}: the file holds audio but no video stream; vpos analyses videos."
                )
            raise NotAVideoError(f"{p.name}: the file holds no video stream.")
        vs = vstreams[0]
        cc = vs.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        base = vs.base_rate
        vfr = bool(base and vs.average_rate and abs(float(base) - float(vs.average_rate)) > 0.01 * float(base))

        duration = 0.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        if duration <= 0 and container.duration:
            duration = container.duration / 1_000_000
        frame_count = int(vs.frames or 0)
        if frame_count <= 0 and fps > 0:
            frame_count = int(round(duration * fps))

        # Decode one frame: a header alone does not prove the stream is readable.
        first = None
        try:
            for frame in container.decode(vs):
                first = frame
                break
        except Exception as e:  # noqa: BLE001 - any decoder failure means damaged data
            raise CorruptMediaError(
                f"{p.name}: the video stream cannot be decoded ({_short(e)}); the file is probably "
                f"damaged."
            ) from None
        if first is None:
            raise CorruptMediaError(f"{p.name}: the video stream holds no decodable frame.")
        if width <= 0 or height <= 0:
            width, height = first.width, first.height
        rotation = _stream_rotation(vs)
        if not rotation and getattr(first, "rotation", 0):
            rotation = int(first.rotation) % 360
        if fps <= 0:
            raise CorruptMediaError(f"{p.name}: the video stream declares no frame rate.")
        if duration <= 0:
            duration = frame_count / fps if frame_count else 0.0

        audio = [
            AudioStreamInfo(
                index=s.index,
                codec=s.codec_context.name or "",
                sample_rate=int(s.codec_context.sample_rate or 0),
                channels=int(s.codec_context.channels or 0),
                language=(s.metadata or {}).get("language"),
            )
            for s in astreams
        ]
        info = VideoInfo(
            path=str(p),
            duration=float(duration),
            fps=fps,
            frame_count=frame_count,
            width=width,
            height=height,
            rotation=rotation,
            variable_frame_rate=vfr,
            codec=cc.name or "",
            container=container.format.name or "",
            size_bytes=size,
            audio_streams=audio,
        )
    finally:
        container.close()

    if width > limits.max_width or height > limits.max_height:
        raise MediaLimitError(
            f"{p.name}: {width}x{height} is larger than the limit of {limits.max_width}x"
            f"{limits.max_height}; raise the limit (--max-width/--max-height) to analyse it."
        )
    if info.duration > limits.max_duration:
        raise MediaLimitError(
            f"{p.name}: {info.duration / 3600:.1f} h is longer than the limit of "
            f"{limits.max_duration / 3600:.1f} h; raise it with --max-duration."
        )
    if info.duration < limits.min_duration:
        raise MediaLimitError(f"{p.name}: the video is only {info.duration:.2f} s long; too short to analyse.")
    return info


@dataclass(frozen=True)
class DecodePlan:
    """What one decode pass must deliver. Built from the extractors' needs."""

    sample_rate: float = 1.0  # analysis samples per second of video
    sample_width: int = 0  # 0: no samples needed
    small_frames: bool = False  # every frame at SMALL_SIZE
    audio: bool = False
    chunk_seconds: float = 10.0
    motion_rate: float = 0.0  # grey MOTION_SIZE frames per second of video (0: none)
    # also deliver one sample from each shot the sample grid misses (shots shorter than the step
    # that fall between two samples): `Chunk.shot_samples`. Cuts are found on the fly by a cheap
    # frame difference (`SHOT_SAMPLE_CUT`); a shot the pipeline's shot detector splits differently
    # just makes such a sample redundant.
    shot_samples: bool = False


@dataclass
class Chunk:
    """A span of decoded video. Arrays are views the extractors must not modify."""

    index: int
    frame_start: int  # index of small_frames[0] in the whole video
    small_frames: np.ndarray  # (N, 27, 48, 3) uint8, or (0,...) when not planned
    frame_times: np.ndarray  # (N,) float64 seconds
    sample_start: int  # index of samples[0] among all analysis samples
    samples: np.ndarray  # (M, H, W, 3) uint8 RGB
    sample_times: np.ndarray  # (M,) the analysis times k / sample_rate these samples stand for
    audio_start: int  # index of audio[0] in the 16 kHz sample stream
    audio: np.ndarray  # (K,) float32 mono at AUDIO_RATE
    video_end: float  # time up to which video is complete after this chunk
    motion_start: int = 0  # index of motion_frames[0] among all motion frames
    motion_frames: np.ndarray = field(default_factory=lambda: np.zeros((0, MOTION_SIZE[1], MOTION_SIZE[0]), np.uint8))
    motion_times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))  # k / motion_rate
    # samples of the shots the grid misses (DecodePlan.shot_samples), at their frames' own times
    shot_samples: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 3), np.uint8))
    shot_sample_times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))


@dataclass
class DecodeReport:
    """Filled in while decoding; read after the iterator ends."""

    frames: int = 0
    samples: int = 0
    shot_samples: int = 0
    audio_samples: int = 0
    decode_errors: int = 0
    last_time: float = 0.0
    warnings: list[str] = field(default_factory=list)


# Mean absolute difference (0-255) of consecutive 48x27 RGB frames above which the decoder takes
# a frame as the start of a new shot, for `DecodePlan.shot_samples` only. Deliberately low: a false
# cut costs one redundant sample; a missed one leaves a short shot unsampled, as before.
SHOT_SAMPLE_CUT = 15.0
SHOT_SAMPLE_RATIO = 2.0  # ... and this many times the mean difference of the 5 frames before
# The shot sample is this many frames after the cut (a frame right at a cut can still blend the
# two shots); a "shot" shorter than that is a flash and gets none.
SHOT_SAMPLE_OFFSET = 2


class _ShotSampler:
    """Picks one frame from each shot that holds no grid sample, as the frames go by: after each
    cut it keeps a frame of the new shot; a grid sample in that shot drops it, the next cut (or the
    end of the video) releases it."""

    def __init__(self):
        self.prev: np.ndarray | None = None
        self.recent: list[float] = []  # the last few frame differences
        self.since_cut = -1  # frames since the last cut; -1 before the first cut
        self.gridded = True  # the current shot already holds a grid sample
        self.pending: tuple[float, np.ndarray] | None = None

    def frame(self, tiny: np.ndarray, t: float, take) -> tuple[float, np.ndarray] | None:
        """A new frame (48x27 RGB, time t; `take()` gives it at sample size). Returns a released
        shot sample, if any."""
        out = None
        cut = False
        if self.prev is not None:
            d = float(np.abs(tiny.astype(np.int16) - self.prev).mean())
            # a cut stands out from the motion just before it (fast action or camera shake keeps
            # every difference high; only a jump well above the recent ones counts)
            cut = d > SHOT_SAMPLE_CUT and d > SHOT_SAMPLE_RATIO * (sum(self.recent) / len(self.recent) if self.recent else 0.0)
            self.recent = (self.recent + [d])[-5:]
        self.prev = tiny
        if cut:
            out, self.pending = self.pending, None
            self.since_cut, self.gridded = 0, False
        elif self.since_cut >= 0:
            self.since_cut += 1
        if self.since_cut == SHOT_SAMPLE_OFFSET and not self.gridded:
            self.pending = (t, take())
        return out

    def grid_sample(self) -> None:
        self.gridded = True
        self.pending = None

    def end(self) -> tuple[float, np.ndarray] | None:
        out, self.pending = self.pending, None
        return out


def sample_size(info: VideoInfo, width: int) -> tuple[int, int]:
    """Size (w, h) of analysis samples: `width` wide, display aspect kept, even height."""
    dw, dh = info.display_size
    width = min(width, dw) if dw >= 16 else width
    height = max(2, int(round(width * dh / dw / 2)) * 2)
    return width, height


def _rotate(img: np.ndarray, rotation: int) -> np.ndarray:
    # The display matrix rotates counter-clockwise by `rotation` degrees.
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(img, k=k)) if k else img


def decode(
    info: VideoInfo,
    plan: DecodePlan,
    report: DecodeReport | None = None,
    prefetch: int = 2,
) -> Iterator[Chunk]:
    """Decode `info.path` once and yield chunks of about `plan.chunk_seconds` of video.

    Decoding runs in a background thread (PyAV releases the GIL), so the extractors' inference on
    one chunk overlaps the decoding of the next. At most `prefetch` chunks wait in memory.
    """
    report = report if report is not None else DecodeReport()
    q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()
    _END = object()

    def producer():
        try:
            for chunk in _decode_chunks(info, plan, report, stop):
                while not stop.is_set():
                    try:
                        q.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
            q.put(e)

    thread = threading.Thread(target=producer, name="vpos-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Drain so the producer can see the stop flag and exit.
        while thread.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def _decode_chunks(info: VideoInfo, plan: DecodePlan, report: DecodeReport, stop: threading.Event):
    import av

    container = _open(Path(info.path))
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        streams = [vs]
        astream = None
        if plan.audio and container.streams.audio:
            astream = container.streams.audio[0]
            streams.append(astream)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE) if astream else None

        sw, sh = sample_size(info, plan.sample_width) if plan.sample_width else (0, 0)
        if info.rotation % 180:
            dec_w, dec_h = sh, sw  # scale in coded orientation, rotate after
        else:
            dec_w, dec_h = sw, sh
        step = 1.0 / plan.sample_rate
        half_frame = 0.5 / info.fps if info.fps else 0.0

        small: list[np.ndarray] = []
        ftimes: list[float] = []
        samples: list[np.ndarray] = []
        stimes: list[float] = []
        extra: list[np.ndarray] = []
        etimes: list[float] = []
        shot_sampler = _ShotSampler() if (plan.shot_samples and sw) else None
        audio_parts: list[np.ndarray] = []
        motion: list[np.ndarray] = []
        mtimes: list[float] = []
        motion_index = 0
        motion_start = 0
        mstep = 1.0 / plan.motion_rate if plan.motion_rate else 0.0
        frame_index = 0
        frame_start = 0
        sample_index = 0
        sample_start = 0
        audio_start_chunk = 0
        video_t0: float | None = None
        aligner = _AudioAligner()
        chunk_index = 0
        chunk_end = plan.chunk_seconds
        last_t = -1.0

        def flush(video_end: float) -> Chunk:
            nonlocal small, ftimes, samples, stimes, audio_parts, frame_start, sample_start, motion, mtimes, motion_start
            nonlocal extra, etimes
            nonlocal audio_start_chunk, chunk_index
            aud = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.float32)
            chunk = Chunk(
                index=chunk_index,
                frame_start=frame_start,
                small_frames=np.stack(small) if small else np.zeros((0, SMALL_SIZE[1], SMALL_SIZE[0], 3), np.uint8),
                frame_times=np.asarray(ftimes, np.float64),
                sample_start=sample_start,
                samples=np.stack(samples) if samples else np.zeros((0, sh, sw, 3), np.uint8),
                sample_times=np.asarray(stimes, np.float64),
                audio_start=audio_start_chunk,
                audio=aud,
                video_end=video_end,
                motion_start=motion_start,
                motion_frames=np.stack(motion) if motion else np.zeros((0, MOTION_SIZE[1], MOTION_SIZE[0]), np.uint8),
                motion_times=np.asarray(mtimes, np.float64),
                shot_samples=np.stack(extra) if extra else np.zeros((0, sh, sw, 3), np.uint8),
                shot_sample_times=np.asarray(etimes, np.float64),
            )
            report.shot_samples += len(etimes)
            extra, etimes = [], []
            motion_start += len(mtimes)
            motion, mtimes = [], []
            frame_start += len(small)
            sample_start += len(stimes)
            audio_start_chunk += len(aud)
            small, ftimes, samples, stimes, audio_parts = [], [], [], [], []
            chunk_index += 1
            return chunk

        packets = container.demux(*streams)
        while True:
            if stop.is_set():
                return
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError:
                # A damaged packet header: skip what cannot be demuxed and go on.
                report.decode_errors += 1
                if report.decode_errors > 1000:
                    break
                continue
            if packet.stream is astream:
                try:
                    aframes = packet.decode()
                except av.error.FFmpegError:
                    report.decode_errors += 1
                    continue
                for af in aframes:
                    if aligner.audio_t0 is None:
                        aligner.audio_t0 = float(af.time) if af.time is not None else 0.0
                    for rf in resampler.resample(af):
                        aligner.push(rf.to_ndarray().reshape(-1).astype(np.float32, copy=False), audio_parts)
                continue
            try:
                vframes = packet.decode()
            except av.error.FFmpegError:
                report.decode_errors += 1
                continue
            for frame in vframes:
                t_raw = frame.time
                if video_t0 is None:
                    video_t0 = float(t_raw) if t_raw is not None else 0.0
                    aligner.video_t0 = video_t0
                    aligner.push(np.zeros(0, np.float32), audio_parts)
                t = (float(t_raw) - video_t0) if t_raw is not None else frame_index / info.fps
                if t <= last_t:  # duplicate or out-of-order timestamp: keep frames monotonic
                    t = last_t + 1.0 / info.fps
                last_t = t
                if plan.small_frames:
                    small.append(
                        frame.to_ndarray(
                            format="rgb24", width=SMALL_SIZE[0], height=SMALL_SIZE[1], interpolation="BICUBIC"
                        )
                    )
                    ftimes.append(t)
                frame_index += 1
                mimg = None
                while mstep and motion_index * mstep <= t + half_frame:
                    if mimg is None:
                        mw, mh = (MOTION_SIZE[1], MOTION_SIZE[0]) if info.rotation % 180 else MOTION_SIZE
                        mimg = _rotate(frame.to_ndarray(format="gray", width=mw, height=mh, interpolation="AREA"), info.rotation)
                    motion.append(mimg)
                    mtimes.append(motion_index * mstep)
                    motion_index += 1
                img = None

                def sample_image():
                    nonlocal img
                    if img is None:
                        img = _rotate(frame.to_ndarray(format="rgb24", width=dec_w, height=dec_h, interpolation="AREA"),
                                      info.rotation)
                    return img

                if shot_sampler is not None:
                    tiny = small[-1] if plan.small_frames else frame.to_ndarray(
                        format="rgb24", width=SMALL_SIZE[0], height=SMALL_SIZE[1], interpolation="AREA")
                    got = shot_sampler.frame(tiny, t, sample_image)
                    if got is not None:
                        etimes.append(got[0])
                        extra.append(got[1])
                while sample_index * step <= t + half_frame:
                    if sw:
                        samples.append(sample_image())
                    if shot_sampler is not None:
                        shot_sampler.grid_sample()
                    stimes.append(sample_index * step)
                    sample_index += 1
                if t >= chunk_end:
                    yield flush(t)
                    chunk_end += plan.chunk_seconds
        # Flush the audio resampler.
        if resampler is not None:
            for rf in resampler.resample(None):
                aligner.push(rf.to_ndarray().reshape(-1).astype(np.float32, copy=False), audio_parts)
        end_t = last_t + 1.0 / info.fps if last_t >= 0 else 0.0
        if shot_sampler is not None and (got := shot_sampler.end()) is not None:
            etimes.append(got[0])
            extra.append(got[1])
        yield flush(end_t)
        report.frames = frame_index
        report.samples = sample_index
        report.last_time = end_t
        if frame_index == 0:
            raise CorruptMediaError(f"{Path(info.path).name}: no frame of the video could be decoded.")
        if info.duration > 0 and end_t < 0.9 * info.duration - 1.0:
            report.warnings.append(
                f"the video stream ends at {end_t:.1f} s but the file declares {info.duration:.1f} s: "
                f"the file is probably truncated; the readable part was analysed."
            )
        if report.decode_errors:
            report.warnings.append(f"{report.decode_errors} damaged packet(s) were skipped while decoding.")
    finally:
        container.close()


class _AudioAligner:
    """Lines audio sample 0 up with the first video frame, whichever stream starts first.

    Audio that starts after the video is padded with silence; audio before it is dropped.
    Until both start times are known, audio is held back.
    """

    def __init__(self):
        self.audio_t0: float | None = None
        self.video_t0: float | None = None
        self._held: list[np.ndarray] = []
        self._drop = -1  # samples still to drop; -1 while the offset is unknown

    def push(self, data: np.ndarray, out: list[np.ndarray]) -> None:
        if self._drop < 0:
            if data.size:
                self._held.append(data)
            if self.audio_t0 is None or self.video_t0 is None:
                return
            offset = self.audio_t0 - self.video_t0
            n = int(round(abs(offset) * AUDIO_RATE))
            if offset > 0 and n:
                out.append(np.zeros(n, np.float32))
            self._drop = n if offset < 0 else 0
            data = np.concatenate(self._held) if self._held else np.zeros(0, np.float32)
            self._held = []
        if self._drop:
            k = min(self._drop, data.size)
            data = data[k:]
            self._drop -= k
        if data.size:
            out.append(data)


def frame_rate_fraction(fps: float) -> Fraction:
    """The NTSC-style fraction closest to fps (29.97 -> 30000/1001)."""
    for base in (24, 30, 60, 120, 48):
        ntsc = Fraction(base * 1000, 1001)
        if math.isclose(fps, float(ntsc), abs_tol=1e-3):
            return ntsc
    return Fraction(fps).limit_denominator(1001)
