"""Audio descriptors line up with what was generated."""

from __future__ import annotations

import numpy as np

from vpos import AnalysisOptions, analyze


def test_loudness_silence_and_speech_cue(clips, cache_dir):
    path, truth = clips["demo"]
    r = analyze(path, AnalysisOptions(extractors=("audio",), cache_dir=cache_dir))
    ps = r.per_second
    t = np.array(ps["t"])
    loud = np.array(ps["loudness_db"])
    silence = np.array(ps["silence"])
    cue = np.array(ps["speech_cue"])
    spans = {kind: (a, b) for a, b, kind in truth.audio}

    def inside(kind):
        a, b = spans[kind]
        return (t >= a + 0.5) & (t + 1 <= b - 0.5)  # seconds fully inside the span

    assert silence[inside("silence")].all()
    assert not silence[inside("music")].any() and not silence[inside("speech")].any()
    assert loud[inside("music")].min() > -30 and loud[inside("silence")].max() < -60
    # Speech alternates syllables and pauses; music is sustained.
    assert cue[inside("speech")].mean() > 0.6 > 0.2 > cue[inside("music")].mean()
    assert len(r.features["audio"]["mfcc"]) >= 19 * 100  # 100 MFCC frames per second


def test_video_without_audio_continues_and_says_so(clips, cache_dir):
    path, _ = clips["noaudio"]
    r = analyze(path, AnalysisOptions(extractors=("audio", "shots"), cache_dir=cache_dir))
    assert not r.video.has_audio
    assert any("no audio track" in w for w in r.warnings)
    assert "loudness_db" not in r.per_second
    assert len(r.shots) == 2
