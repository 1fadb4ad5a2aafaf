"""Scenes: OSG on constructed distance matrices, the count estimate, and the end-to-end JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vpos.errors import OptionsError, VposError
from vpos.result import Shot
from vpos.scenes import (
    SceneOptions,
    boundary_contrast,
    estimate_scene_count,
    osg_fixed,
    osg_penalized,
    scenes_from_starts,
    sequence_constraints,
)


def block_matrix(sizes, seed=0, within=0.1, across=0.9, noise=0.05):
    rng = np.random.default_rng(seed)
    lab = np.repeat(np.arange(len(sizes)), sizes)
    d = np.where(lab[:, None] == lab[None, :], within, across) + rng.uniform(-noise, noise, (len(lab), len(lab)))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d.astype(np.float32), np.cumsum([0] + list(sizes[:-1])).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_osg_recovers_blocks(seed):
    rng = np.random.default_rng(100 + seed)
    sizes = [int(x) for x in rng.integers(1, 6, size=int(rng.integers(3, 20)))]
    d, starts = block_matrix(sizes, seed)
    assert osg_fixed(d, len(sizes)) == starts
    assert osg_penalized(d, 0.35) == starts
    assert estimate_scene_count(d) == len(sizes)


def test_osg_fixed_count_and_penalty_extremes():
    d, starts = block_matrix([3, 2, 4], seed=1)
    assert osg_fixed(d, 1) == [0]
    assert osg_fixed(d, len(d)) == list(range(len(d)))  # one shot per group
    assert osg_fixed(d, 50) == list(range(len(d)))  # capped at the shot count
    assert osg_penalized(d, 100.0) == [0]  # a huge penalty: one scene
    assert osg_penalized(d, 0.0) == list(range(len(d)))  # no penalty: every shot alone
    assert osg_fixed(np.zeros((0, 0)), 3) == [] and osg_penalized(np.zeros((0, 0)), 1) == []


def test_osg_respects_forbidden_boundaries():
    # Shots 4..7 are an opening: four unlike shots that must stay one scene.
    d, _ = block_matrix([2, 1, 1, 1, 1, 3], seed=2)
    free = osg_penalized(d, 0.35)
    assert {3, 4, 5} <= set(free)
    allowed = np.ones(len(d), bool)
    allowed[3:6] = False  # no scene may start at shots 3, 4, 5: shots 2..5 stay together
    got = osg_penalized(d, 0.35, allowed)
    assert not ({3, 4, 5} & set(got)) and 2 in got and 6 in got
    assert not ({3, 4, 5} & set(osg_fixed(d, 4, allowed)))


def test_sequence_constraints_from_spans():
    shots = [Shot(i, 25 * i, 25 * i + 24, float(i), float(i + 1)) for i in range(8)]
    allowed = sequence_constraints(shots, [(2.0, 5.0)])  # shots 2, 3, 4 lie inside
    assert allowed.tolist() == [True, True, True, False, False, True, True, True]


def test_boundary_contrast_peaks_at_scene_starts():
    d, starts = block_matrix([3, 3, 2, 4], seed=3)
    c = boundary_contrast(d, context=2)
    truth = set(starts[1:])
    lows = [c[i] for i in range(1, len(d)) if i not in truth]
    assert min(c[i] for i in truth) > max(lows)


def test_scenes_from_starts_frames_and_times():
    shots = [Shot(i, 10 * i, 10 * i + 9, i * 0.4, (i + 1) * 0.4) for i in range(5)]
    scenes = scenes_from_starts(shots, [0, 2])
    assert [s.shots for s in scenes] == [[0, 1], [2, 3, 4]]
    assert (scenes[1].start_frame, scenes[1].end_frame) == (20, 49)
    assert scenes[1].start_time == pytest.approx(0.8) and scenes[1].end_time == pytest.approx(2.0)


def test_scene_options_validate():
    for bad in (SceneOptions(n_scenes=-1), SceneOptions(penalty=-1), SceneOptions(count="x"),
                SceneOptions(visual_weight=0, colour_weight=0, audio_weight=0, border_weight=0, grid_weight=0)):
        with pytest.raises(OptionsError):
            bad.validate()


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory):
    """Three 'places' (textures), each filmed as two zooms (the second starts wide again: a cut): six shots,
    three scenes."""
    from vpos.synth import AudioSpec, ShotSpec, render_clip

    d = tmp_path_factory.mktemp("scenes")
    shots = []
    for place in (101, 202, 303):
        shots += [ShotSpec(frames=70, seed=place, motion="zoom"), ShotSpec(frames=80, seed=place, motion="zoom")]
    audio = [AudioSpec("tone", 6.0), AudioSpec("noise", 6.0), AudioSpec("music", 6.0)]
    truth = render_clip(d / "places.mp4", shots, audio, fps=25, size=(192, 108))
    return d / "places.mp4", truth


@pytest.fixture(scope="module")
def scene_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("scene-cache"))


def test_analyze_json_has_scenes(scene_clip, scene_cache):
    from vpos.pipeline import AnalysisOptions, analyze

    path, truth = scene_clip
    res = analyze(path, AnalysisOptions(extractors=("visual", "audio", "shots", "colour"), oped=False, cache_dir=scene_cache))
    doc = json.loads(res.to_json())
    cuts = [s["start_frame"] for s in doc["shots"][1:]]
    assert set(cuts) <= set(truth.cuts) and {150, 300} <= set(cuts)  # the cuts between places are found
    scenes = doc["scenes"]
    assert [s["start_frame"] for s in scenes] == [0, 150, 300]
    assert sum((s["shots"] for s in scenes), []) == list(range(len(doc["shots"])))
    assert set(scenes[0]) == {"index", "shots", "start_frame", "end_frame", "start_time", "end_time"}
    assert [s["end_frame"] for s in scenes] == [149, 299, truth.frame_count - 1]
    assert scenes[1]["start_time"] == pytest.approx(150 / 25, abs=1e-3)
    assert doc["counts"] == {"shots": len(doc["shots"]), "scenes": 3}
    probs = doc["per_shot"]["scene_boundary_prob"]
    assert len(probs) == len(doc["shots"]) and probs[0] == 1.0
    starts = [i for i, s in enumerate(doc["shots"]) if s["start_frame"] in (150, 300)]
    others = [p for i, p in enumerate(probs) if i and i not in starts]
    assert min(probs[i] for i in starts) > max(others)
    assert "scenes" in doc["timings"]


def test_save_scene_clips_frame_exact(scene_clip, tmp_path):
    import av

    from vpos.scene_clips import save_scene_clips

    path, truth = scene_clip
    scenes = [{"start_frame": 0, "end_frame": 149}, {"start_frame": 150, "end_frame": 299}, {"start_frame": 300, "end_frame": 449}]
    written = save_scene_clips(path, scenes, tmp_path / "out", stem="my show: ep/1.mp4")
    assert [p.name for p in written] == ["my_show_ep_1-scene-001.mp4", "my_show_ep_1-scene-002.mp4", "my_show_ep_1-scene-003.mp4"]

    def frames_of(p):
        with av.open(str(p)) as c:
            return [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]

    src = frames_of(path)
    for p, s in zip(written, scenes):
        got = frames_of(p)
        assert len(got) == s["end_frame"] - s["start_frame"] + 1
        # the first and last frames are the scene's own (not a neighbour from a keyframe-aligned copy)
        for g, k in ((got[0], s["start_frame"]), (got[-1], s["end_frame"])):
            errs = [np.abs(g - src[j]).mean() for j in range(max(0, k - 3), min(len(src), k + 4))]
            assert int(np.argmin(errs)) + max(0, k - 3) == k
        with av.open(str(p)) as c:
            assert c.streams.audio and abs(float(c.duration / 1e6) - len(got) / 25) < 0.15
    # a subset with a gap; bad ranges are refused
    sub = save_scene_clips(path, [{"start_frame": 80, "end_frame": 89}], tmp_path / "sub", stem="x")
    assert len(frames_of(sub[0])) == 10
    with pytest.raises(VposError):
        save_scene_clips(path, [{"start_frame": 10, "end_frame": 5}], tmp_path / "bad")
    with pytest.raises(VposError):
        save_scene_clips(path, [{"start_frame": 0, "end_frame": 5000}], tmp_path / "bad2")


def test_cli_save_scenes(scene_clip, scene_cache, tmp_path):
    import av

    from vpos.cli import main

    path, _ = scene_clip
    out = tmp_path / "clips"
    rc = main(["analyze", str(path), "-q", "--extractors", "visual,audio,shots,colour", "--no-oped", "--cache-dir", scene_cache,
               "--json", str(tmp_path / "r.json"), "--save-scenes", str(out)])
    assert rc == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"places-scene-{k:03d}.mp4" for k in range(1, len(doc["scenes"]) + 1)]
    for name, sc in zip(names, doc["scenes"]):
        with av.open(str(out / name)) as c:
            assert sum(1 for _ in c.decode(video=0)) == sc["end_frame"] - sc["start_frame"] + 1
    rc = main(["analyze", str(path), "-q", "--extractors", "visual,audio,shots,colour", "--no-oped", "--no-scenes",
               "--cache-dir", scene_cache, "--save-scenes", str(tmp_path / "none")])
    assert rc == 2  # a clear error, no traceback


def test_app_scene_strip_table_and_zip(scene_clip, scene_cache, tmp_path, monkeypatch):
    import importlib.util
    import zipfile
    from pathlib import Path

    pytest.importorskip("gradio")
    from vpos.pipeline import AnalysisOptions, analyze

    path, _ = scene_clip
    res = analyze(path, AnalysisOptions(extractors=("visual", "audio", "shots", "colour"), oped=False, cache_dir=scene_cache))
    json_path = tmp_path / "r.json"
    res.save(json_path)
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("vpos_app_scenes", root / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(app, "OUTPUT_ROOT", tmp_path / "app-out")
    fig, table = app.scene_views(str(path), str(json_path))
    assert len(fig.layout.images) == len(res.scenes) == len(table) == 3
    assert list(table["start frame"]) == [0, 150, 300]
    assert all(img.source.startswith("data:image/png;base64,") for img in fig.layout.images)
    zpath = app.scene_clips_zip(str(path), str(json_path))
    assert zipfile.ZipFile(zpath).namelist() == ["places-scene-001.mp4", "places-scene-002.mp4", "places-scene-003.mp4"]
    empty_fig, empty_table = app.scene_views(str(path), None)
    assert len(empty_table) == 0 and not empty_fig.layout.images


def test_weak_transition_right_after_a_cut_is_a_flash():
    from vpos.extractors.shots import shots_from_predictions

    prob = np.zeros(200)
    prob[50] = 0.98  # a cut
    prob[54] = 0.55  # a flash 4 frames later: not a new shot
    prob[120] = 0.95  # a rapid montage: two confident cuts 5 frames apart are both kept
    prob[125] = 0.9
    starts = [a for a, _ in shots_from_predictions(prob, 0.5, min_shot=9)]
    assert starts == [0, 51, 121, 126]
    assert [a for a, _ in shots_from_predictions(prob, 0.5)] == [0, 51, 55, 121, 126]  # off by default


def test_montage_runs_are_one_scene_without_a_detected_opening():
    from vpos.scenes import montage_runs

    lengths = [4.0, 1.0, 0.5, 1.2, 0.8, 0.6, 1.1, 5.0, 1.0, 1.0, 6.0]  # shots 1..6: a montage of six
    shots, t = [], 0.0
    for i, d in enumerate(lengths):
        shots.append(Shot(i, int(t * 25), int((t + d) * 25) - 1, t, t + d))
        t += d
    assert montage_runs(shots, 2.5, 6) == [(1, 6)]
    assert montage_runs(shots, 2.5, 0) == [] and montage_runs(shots, 0.9, 6) == []
