"""TransNetV2 finds the generated cuts; the gate skips only windows where nothing changed."""

from __future__ import annotations

import numpy as np

from vpos import AnalysisOptions, analyze
from vpos.extractors.shots import shots_from_predictions


def _match(pred, truth, tol=2):
    pred, used, hits = list(pred), set(), 0
    for c in truth:
        best = [i for i, p in enumerate(pred) if i not in used and abs(p - c) <= tol]
        if best:
            used.add(min(best, key=lambda i: abs(pred[i] - c)))
            hits += 1
    return hits


def test_cuts_found_within_two_frames(clips, cache_dir):
    for name in ("demo", "webm", "ntsc"):
        path, truth = clips[name]
        r = analyze(path, AnalysisOptions(extractors=("shots",), cache_dir=cache_dir))
        pred = r.cut_frames
        assert _match(pred, truth.cuts) == len(truth.cuts), (name, pred, truth.cuts)
        assert len(pred) == len(truth.cuts), (name, pred, truth.cuts)
        # Shots tile the video: contiguous, inclusive ends, times from frame timestamps.
        assert r.shots[0].start_frame == 0 and r.shots[-1].end_frame == r.video.frame_count - 1
        for a, b in zip(r.shots, r.shots[1:]):
            assert b.start_frame == a.end_frame + 1
            assert abs(b.start_time - b.start_frame / truth.fps) < 1e-3


def test_gate_skips_held_frames_without_losing_cuts(clips, cache_dir):
    path, truth = clips["noaudio"]  # two static shots
    gated = analyze(path, AnalysisOptions(extractors=("shots",), cache_dir=cache_dir))
    full = analyze(path, AnalysisOptions(extractors=("shots",), shot_gate=False, cache_dir=cache_dir))
    assert gated.cut_frames == full.cut_frames == truth.cuts
    ran = gated.features["shots"]["evaluated"]
    assert ran.sum() < len(ran)  # the held parts were skipped
    assert full.features["shots"]["evaluated"].all()


def test_gradual_transition_is_one_boundary():
    prob = np.zeros(100)
    prob[40:52] = np.hanning(14)[1:13]  # a 12-frame dissolve peaking in its middle
    prob[80] = 0.9  # a hard cut
    shots = shots_from_predictions(prob, 0.5)
    starts = [a for a, _ in shots]
    assert len(shots) == 3 and starts[1] in range(44, 50) and starts[2] == 81
    assert shots[-1][1] == 99


def test_flash_does_not_create_sliver_shots():
    prob = np.zeros(60)
    prob[[30, 32]] = 0.8  # one flash lighting up two frames
    assert len(shots_from_predictions(prob, 0.5)) == 2


def test_hard_cuts_on_a_clip_shorter_than_the_look_ahead():
    # A clip of a few frames (shorter than the look-ahead of change_long) has no hard cut and no error.
    from vpos.extractors.shots import LONG_LAG, hard_cut_frames

    for n in range(3, LONG_LAG + 2):
        assert len(hard_cut_frames(np.linspace(0, 1, n), np.linspace(0, 1, n))) <= n
