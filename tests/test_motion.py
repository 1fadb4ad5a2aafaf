"""Camera-motion truth of the corpus builder, the motion model, its extractor and its outputs."""

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from vpos.corpus.shows import EpisodePlan, Shot, make_corpus_plan
from vpos.corpus.truth import CAMERA_LABELS, TRANSITION_LABELS, camera_label, transitions_per_second
from vpos.motion import DEFAULT_MOTION_WEIGHTS, MotionNet, load_motion_model, motion_block, window_inputs, windows_from_frames


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory):
    """Six one-second shots over one background: static, pan, tilt, zoom in, shake, then a wipe
    into a zoom out."""
    cv2 = pytest.importorskip("cv2")  # noqa: F841
    from vpos.corpus import material as M

    mp = pytest.MonkeyPatch()
    mp.setenv("VPOS_MATERIAL_DIR", str(tmp_path_factory.mktemp("empty-material")))
    lib = M.MaterialLibrary.open("procedural", log=lambda *a: None)
    shows, _ = make_corpus_plan("small", 0, lib, n_shows=1, n_episodes=1)
    show = shows[0]
    show.fps, show.width, show.height = Fraction(24), 320, 180
    loc = ("loc", sorted(show.locations)[0])
    n = 24
    shots = [Shot("scene", n, loc, seed=1),
             Shot("scene", n, loc, pan=(0.1, 0.5, 0.9, 0.5), seed=2),
             Shot("scene", n, loc, pan=(0.5, 0.1, 0.5, 0.9), seed=3),
             Shot("scene", n, loc, zoom=(1.0, 0.6), seed=4),
             Shot("scene", n, loc, shake=0.03, seed=5),
             Shot("scene", n, loc, zoom=(0.6, 1.0), trans_in="wipe", trans_len=10, seed=6)]
    for i, sh in enumerate(shots):
        sh.start, sh.segment = i * n, "part_a"
    plan = EpisodePlan(show=show, episode=1, id="tiny-e01", n=n * len(shots), shots=shots, texts=[], audio=[],
                       segments=[("part_a", 0, n * len(shots))], scenes=[{"start_frame": 0, "end_frame": n * len(shots)}])
    from vpos.corpus.render import Assets, Compositor

    comp = Compositor(plan, Assets(show, lib), {})
    yield plan, comp
    mp.undo()


def test_truth_labels_of_a_tiny_clip(tiny_plan):
    from vpos.corpus.render import motion_truth

    plan, _ = tiny_plan
    shots = [{} for _ in plan.shots]
    m = motion_truth(plan, [], shots, plan.n / 24)
    assert [s["camera"] for s in shots] == ["static", "pan", "tilt", "zoom_in", "shake", "zoom_out"]
    assert m["camera"] == ["static", "pan", "tilt", "zoom_in", "shake", "zoom_out"]
    assert m["transitions"]["cut"] == [0, 1, 1, 1, 1, 0]
    assert m["transitions"]["wipe"][4] + m["transitions"]["wipe"][5] >= 1
    assert sum(m["transitions"]["dissolve"]) == 0


def _shift(a, b):
    import cv2

    (dx, dy), _ = cv2.phaseCorrelate(a.astype(np.float32).mean(2), b.astype(np.float32).mean(2))
    return dx, dy


def _magnified_error(a, b, s):
    """Mean error between b and the centre of a magnified s times (inner half of the frame)."""
    import cv2

    h, w = a.shape[:2]
    ch, cw = int(round(h / s)), int(round(w / s))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    z = cv2.resize(a[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(float)
    return float(np.abs(z - b.astype(float))[h // 4: -h // 4, w // 4: -w // 4].mean())


def test_rendered_pixels_move_as_the_truth_says(tiny_plan):
    """The picture really moves the way the label says: phase correlation between frames."""
    plan, comp = tiny_plan
    f = [comp.frame(i, draw_text=False) for i in range(plan.n)]
    sdx, sdy = _shift(f[10], f[12])
    assert abs(sdx) < 0.5 and abs(sdy) < 0.5  # static
    pdx, pdy = _shift(f[34], f[36])
    assert abs(pdx) > 3 and abs(pdy) < 1  # pan: horizontal
    tdx, tdy = _shift(f[58], f[60])
    assert abs(tdy) > 2 and abs(tdx) < 1  # tilt: vertical
    jit = [_shift(f[97 + k], f[98 + k]) for k in range(6)]
    assert max(math.hypot(*d) for d in jit) > 2  # shake: jumps between consecutive frames
    # zoom in: frame 86 is frame 82 magnified about the centre (and not the other way round)
    assert _magnified_error(f[82], f[86], 1.08) < 0.7 * _magnified_error(f[82], f[86], 1.0)
    assert _magnified_error(f[86], f[82], 1.08) > _magnified_error(f[82], f[86], 1.08)
    # zoom out: the reverse
    assert _magnified_error(f[134], f[130], 1.08) < 0.7 * _magnified_error(f[134], f[130], 1.0)
    # wipe: mid-transition, part of the frame is the old shot and part the new one
    mid = comp.frame(120, draw_text=False).astype(int)
    old = comp.render_shot(plan.shots[4], 24).astype(int)
    new = comp.render_shot(plan.shots[5], 0).astype(int)
    same_old = (np.abs(mid - old).max(2) < 3).mean()
    same_new = (np.abs(mid - new).max(2) < 3).mean()
    assert 0.2 < same_old < 0.8 and 0.2 < same_new < 0.8


def test_camera_label_thresholds():
    assert camera_label(0.0, 0.0, 0.0, False, False) == "static"
    assert camera_label(0.2, 0.01, 0.0, False, False) == "pan"
    assert camera_label(0.01, 0.2, 0.0, False, False) == "tilt"
    assert camera_label(0.05, 0.0, -0.3, False, False) == "zoom_out"
    assert camera_label(0.02, 0.0, 0.0, False, False) is None  # a drift between the thresholds
    assert camera_label(0.0, 0.0, 0.0, True, False) == "shake"
    assert camera_label(0.0, 0.0, 0.0, False, True) == "scroll"
    tr = transitions_per_second([("cut", 30, 31), ("dissolve", 44, 56)], Fraction(24), 3.0)
    assert tr["cut"] == [0, 1, 0] and tr["dissolve"] == [0, 1, 1]


def test_model_shapes_and_shift_ablation():
    torch.manual_seed(0)
    frames = np.random.default_rng(0).integers(0, 255, (3, 9, 54, 96), dtype=np.uint8)
    x = window_inputs(frames)
    assert x.shape == (3, 8, 4, 54, 96)
    for shift in (True, False):
        m = MotionNet(shift=shift).eval()
        cam, tr = m(x)
        assert cam.shape == (3, len(CAMERA_LABELS)) and tr.shape == (3, len(TRANSITION_LABELS))
        perm = x[:, torch.tensor([3, 1, 7, 0, 2, 6, 5, 4])]
        same = torch.allclose(m(perm)[0], cam, atol=1e-5)
        # without the shift the steps are only averaged: their order cannot matter; with it, it does
        assert same is (not shift)
    w = windows_from_frames(np.zeros((20, 54, 96), np.uint8))
    assert w.shape == (3, 9, 54, 96)


def test_save_and_load_roundtrip(tmp_path):
    m = MotionNet(width=8, transition_thresholds=[0.3, 0.4, 0.5, 0.6])
    m.save_pretrained(tmp_path / "w")
    back = load_motion_model(str(tmp_path / "w"))
    assert back.transition_thresholds == [0.3, 0.4, 0.5, 0.6]
    for a, b in zip(m.state_dict().values(), back.state_dict().values()):
        assert torch.equal(a, b)
    from vpos.errors import ModelLoadError

    with pytest.raises(ModelLoadError):
        load_motion_model(str(tmp_path / "missing"))


def test_shipped_weights_load_with_a_card():
    from vpos.global_motion import N_FEATURES

    m = load_motion_model(str(DEFAULT_MOTION_WEIGHTS))
    assert m.camera_labels == CAMERA_LABELS and m.shift and m.motion_features == N_FEATURES
    card = (DEFAULT_MOTION_WEIGHTS / "README.md").read_text()
    assert "Held-out" in card and "macro F1" in card


def test_motion_block_shape():
    cam = np.eye(7, dtype=np.float32)[[0, 0, 1, 1, 5]]
    tr = np.zeros((5, 4), np.float32)
    tr[2, 0] = 0.9
    b = motion_block(cam, tr, [0, 1, 2, 3, 4], CAMERA_LABELS, TRANSITION_LABELS, [0.5] * 4,
                     scenes=[{"index": 0, "start_time": 0.0, "end_time": 2.0}, {"index": 1, "start_time": 2.0, "end_time": 5.0}])
    assert b["vocabulary"] == CAMERA_LABELS + TRANSITION_LABELS
    assert all(len(v) == 5 for v in b["per_second"].values())
    assert b["scenes"][0]["labels"] == [{"label": "static", "score": 1.0}]
    assert {d["label"] for d in b["scenes"][1]["labels"]} == {"pan", "shake", "cut"}
    assert b["video"][0] == {"label": "static", "score": 0.4}


def test_extractor_and_json_field(clips, cache_dir, tmp_path, monkeypatch):
    from vpos.pipeline import AnalysisOptions, analyze

    monkeypatch.delenv("VPOS_TSM_WEIGHTS", raising=False)

    path, truth = clips["webm"]
    res = analyze(path, AnalysisOptions(extractors=("colour", "motion"), cache_dir=cache_dir, oped=False, tags=False, scenes=False))
    doc = json.loads(res.to_json())
    m = doc["motion"]
    assert m is not None, doc["warnings"]
    assert doc["actions"] is None  # no Kinetics weights configured: no actions, never untrained ones
    n = len(doc["per_second"]["t"])
    assert set(m["per_second"]) == set(CAMERA_LABELS + TRANSITION_LABELS)
    assert all(len(v) == n for v in m["per_second"].values())
    cams = np.array([m["per_second"][lab] for lab in CAMERA_LABELS])
    assert np.allclose(cams.sum(0), 1.0, atol=0.01)
    fs = res.features["motion"]
    assert fs["camera"].shape[1] == 7 and fs["transitions"].shape[1] == 4
    assert abs(len(fs["camera"]) - math.ceil(res.video.duration)) <= 1
    off = analyze(path, AnalysisOptions(extractors=("colour", "motion"), cache_dir=cache_dir, oped=False, tags=False, scenes=False, motion=False))
    assert off.motion is None and "motion" not in off.features


def test_cli_flag():
    from vpos.cli import build_parser, options_from_args

    p = build_parser()
    assert options_from_args(p.parse_args(["analyze", "x.mp4"])).motion is True
    opts = options_from_args(p.parse_args(["analyze", "x.mp4", "--no-motion", "--motion-weights", "some/dir"]))
    assert opts.motion is False and opts.motion_weights == "some/dir"
    assert options_from_args(p.parse_args(["analyze", "x.mp4", "--tsm-weights", "k.pth"])).tsm_weights == "k.pth"


def test_eval_scores_motion():
    from vpos.evaluate import aggregate_motion, score_motion

    cam = ["static", "pan", None, "shake", "static"]
    truth = {"motion": {"camera": cam, "transitions": {"cut": [0, 1, 0, 1, 0], "dissolve": [0] * 5, "fade": [0] * 5, "wipe": [0] * 5}}}

    def pred(labels, cuts):
        ps = {lab: [1.0 if x == lab else 0.0 for x in labels] for lab in CAMERA_LABELS}
        ps.update({"cut": cuts, "dissolve": [0.0] * 5, "fade": [0.0] * 5, "wipe": [0.0] * 5})
        return {"per_second": {"t": [0, 1, 2, 3, 4]},
                "motion": {"camera_labels": CAMERA_LABELS, "transition_labels": TRANSITION_LABELS, "per_second": ps,
                           "thresholds": [None] * 7 + [0.5] * 4}}

    good = aggregate_motion({"e": {"motion": score_motion(truth, pred(["static", "pan", "tilt", "shake", "static"], [0, 1, 0, 1, 0]))}})
    assert good["camera_macro_f1"] == 1.0 and good["transitions"]["cut"]["f1"] == 1.0
    bad = aggregate_motion({"e": {"motion": score_motion(truth, pred(["pan", "pan", "tilt", "static", "static"], [1, 0, 0, 1, 0]))}})
    assert bad["camera_macro_f1"] < 0.7 and bad["transitions"]["cut"]["f1"] == 0.5


def test_motion_lane_figure():
    from vpos.plots import actions_rows, motion_figure

    cam = np.eye(7, dtype=np.float32)[[0, 1, 1, 5]]
    tr = np.zeros((4, 4), np.float32)
    block = motion_block(cam, tr, [0, 1, 2, 3], CAMERA_LABELS, TRANSITION_LABELS, [0.5] * 4)
    doc = {"per_second": {"t": [0, 1, 2, 3]}, "motion": block, "shots": [{"start_time": 0.0}, {"start_time": 2.0}]}
    fig = motion_figure(doc)
    bars = {tr.name: list(tr.x) for tr in fig.data if tr.type == "bar"}
    # Bars and transition cells cover [t, t+1), centred half a second later, hover in mm:ss.
    assert bars == {"static": [0.5], "pan": [1.5, 2.5], "shake": [3.5]}
    assert [tr.customdata[0] for tr in fig.data if tr.name == "pan"] == ["00:01"]
    cuts = [tr for tr in fig.data if tr.type == "scatter"]
    assert len(cuts) == 2 and [tr.name for tr in cuts if tr.showlegend is not False] == ["shot cuts (1)"]
    assert {(tr.xaxis, tr.yaxis) for tr in cuts} == {("x", "y"), ("x2", "y3")} and not fig.layout.shapes
    assert fig.layout.xaxis2.title.text == "time (mm:ss)" and fig.layout.xaxis2.ticktext[1] == "00:01"
    assert motion_figure({"per_second": {"t": [0]}, "motion": None}) is None
    rows = actions_rows([{"start": 0, "end": 8, "top5": [{"label": "dancing", "score": 0.5}]}])
    assert rows == [{"start": 0, "end": 8, "top-5 actions": "dancing 0.50"}]
