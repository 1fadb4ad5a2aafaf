"""Probing, one-pass decoding and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pytest

import vpos
from vpos.media import AUDIO_RATE, DecodePlan, DecodeReport, Limits, decode, probe


def test_probe_reports_what_was_rendered(clips):
    for name in ("demo", "webm", "ntsc"):
        path, truth = clips[name]
        info = probe(path)
        assert info.width == truth.width and info.height == truth.height
        assert info.fps == pytest.approx(truth.fps, abs=1e-3)
        # Matroska stores no per-stream duration: the container's (longest stream) is reported.
        assert info.duration == pytest.approx(truth.frame_count / truth.fps, abs=0.1 if name == "demo" else 0.25)
        # A header frame count is an estimate where the container has none; decoding counts exactly.
        assert abs(info.frame_count - truth.frame_count) <= (1 if name == "demo" else 0.25 * truth.fps)
        assert info.has_audio


def test_probe_other_containers(clips):
    assert "matroska" in probe(clips["webm"][0]).container
    assert probe(clips["webm"][0]).codec == "vp9"
    assert probe(clips["ntsc"][0]).fps == pytest.approx(30000 / 1001, abs=1e-4)


def test_one_decode_pass_delivers_frames_samples_audio(clips):
    path, truth = clips["demo"]
    info = probe(path)
    report = DecodeReport()
    plan = DecodePlan(sample_rate=1.0, sample_width=160, small_frames=True, audio=True, chunk_seconds=4.0)
    n_small = n_samples = n_audio = 0
    sample_times = []
    biggest_chunk = 0
    for chunk in decode(info, plan, report):
        assert chunk.small_frames.shape[1:] == (27, 48, 3) and chunk.small_frames.dtype == np.uint8
        assert chunk.frame_start == n_small
        n_small += len(chunk.small_frames)
        n_samples += len(chunk.samples)
        sample_times.extend(chunk.sample_times.tolist())
        n_audio += len(chunk.audio)
        biggest_chunk = max(biggest_chunk, len(chunk.small_frames))
        if len(chunk.samples):
            assert chunk.samples.shape[1:] == (90, 160, 3)
    assert n_small == truth.frame_count == report.frames
    assert n_samples == 20 and sample_times == [float(k) for k in range(20)]
    assert abs(n_audio - 20 * AUDIO_RATE) < 0.05 * AUDIO_RATE
    # Streaming: a chunk holds about chunk_seconds of frames, never the whole video.
    assert biggest_chunk <= 4.0 * 25 + 2


def test_samples_at_other_rates(clips):
    path, truth = clips["ntsc"]
    info = probe(path)
    report = DecodeReport()
    times = []
    for chunk in decode(info, DecodePlan(sample_rate=2.0, sample_width=64), report):
        times.extend(chunk.sample_times.tolist())
    assert times == [k * 0.5 for k in range(len(times))]
    assert len(times) == int(np.floor(truth.frame_count / truth.fps * 2 - 1e-9)) + 1


def test_bad_inputs_get_specific_errors(tmp_path, clips):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(vpos.EmptyFileError, match="empty"):
        probe(empty)

    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(vpos.NotAVideoError, match="not a video"):
        probe(text)

    with pytest.raises(vpos.MediaNotFoundError):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(vpos.NotAVideoError, match="folder"):
        probe(tmp_path)

    data = clips["demo"][0].read_bytes()
    trunc = tmp_path / "truncated.mp4"
    trunc.write_bytes(data[: len(data) // 3])  # moov atom at the end is lost
    with pytest.raises(vpos.CorruptMediaError, match="truncated or damaged"):
        probe(trunc)

    with pytest.raises(vpos.MediaLimitError, match="larger than the limit"):
        probe(clips["demo"][0], Limits(max_width=100, max_height=100))
    with pytest.raises(vpos.MediaLimitError, match="longer than the limit"):
        probe(clips["demo"][0], Limits(max_duration=5))


def test_audio_only_file_is_refused(tmp_path):
    import av

    path = tmp_path / "song.m4a"
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=48000)
        s.layout = "stereo"
        samples = np.zeros((2, 48000), np.float32)
        for k in range(0, 48000, 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, k : k + 1024]), format="fltp", layout="stereo")
            f.sample_rate = 48000
            f.pts = k
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    with pytest.raises(vpos.AudioOnlyError, match="no video"):
        probe(path)


def test_truncated_stream_is_analysed_up_to_the_damage(tmp_path, clips):
    """An mkv cut short keeps its header: what is readable is analysed and the warning says so."""
    data = clips["ntsc"][0].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.5)])
    info = probe(cut)
    report = DecodeReport()
    n = sum(len(c.small_frames) for c in decode(info, DecodePlan(small_frames=True), report))
    assert 0 < n < clips["ntsc"][1].frame_count


def test_analysis_counts_frames_exactly(clips, cache_dir):
    path, truth = clips["ntsc"]
    r = vpos.analyze(path, vpos.AnalysisOptions(extractors=("shots",), cache_dir=cache_dir))
    assert r.video.frame_count == truth.frame_count
    assert r.video.duration == pytest.approx(truth.frame_count / truth.fps, abs=1e-3)


def test_decode_takes_a_sample_from_each_shot_the_grid_misses(tmp_path):
    from vpos.synth import ShotSpec, render_clip

    # 25 fps: shots [0, 1.32) [1.32, 1.72) [1.72, 2.52) [2.52, 2.8) [2.8, 4.0); grid samples at 0, 1, 2, 3 s
    # (and 4 s): the shots [1.32, 1.72) and [2.52, 2.8) hold none
    truth = render_clip(tmp_path / "quick.mp4", [ShotSpec(33, seed=1, motion="static"), ShotSpec(10, seed=2, motion="static"),
                                                 ShotSpec(20, seed=3, motion="static"), ShotSpec(7, seed=4, motion="static"),
                                                 ShotSpec(30, seed=5, motion="static")], fps=25)
    info = probe(truth.path)
    times, shapes, grid = [], [], []
    for ch in decode(info, DecodePlan(sample_rate=1.0, sample_width=64, shot_samples=True)):
        times += list(ch.shot_sample_times)
        shapes += [s.shape for s in ch.shot_samples]
        grid += list(ch.sample_times)
    assert grid == [0.0, 1.0, 2.0, 3.0]
    assert len(times) == 2 and 1.32 <= times[0] < 1.72 and 2.52 <= times[1] < 2.8, times
    assert shapes == [(36, 64, 3)] * 2  # at the samples' size
    # without the option, or with all shots sampled, there are none
    assert sum(len(ch.shot_sample_times) for ch in decode(info, DecodePlan(sample_rate=1.0, sample_width=64))) == 0
    assert sum(len(ch.shot_sample_times) for ch in decode(info, DecodePlan(sample_rate=4.0, sample_width=64,
                                                                           shot_samples=True))) == 0
