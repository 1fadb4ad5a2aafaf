"""The tagger: truth labels, model shapes, text motion, save/load, shipped weights, the tags CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vpos.tagger import AUDIO_DIM, EMBED_DIM, SENTENCE_DIM, TEXT_DIM, TagInputs, TaggerNet, predict_per_second, text_motion
from vpos.tags import DEFAULT_TAGS_WEIGHTS, DEFAULT_VOCABULARY, labels_from_truth, load_tagger, summarize


def _truth():
    # 4 s at 10 fps: a title shot (frames 0-9), footage (10-19), a drawn scene with scrolling credits.
    return {
        "fps": 10.0, "frame_count": 40, "duration": 4.0,
        "shots": [{"start_frame": 0, "end_frame": 10, "kind": "title"}, {"start_frame": 10, "end_frame": 20, "kind": "footage"},
                  {"start_frame": 20, "end_frame": 40, "kind": "scene"}],
        "segments": [{"label": "part_a", "start_frame": 0, "end_frame": 30}, {"label": "eyecatch", "start_frame": 30, "end_frame": 40}],
        "credits": [{"start_frame": 25, "end_frame": 40, "velocity": [0, -40]}, {"start_frame": 0, "end_frame": 10, "velocity": [0, 0]}],
        "per_second": {"speech": [1, 0, 0, 1], "music": [0, 1, 1, 0], "silence": [0, 0, 0, 0], "on_screen_text": [1, 0, 1, 1],
                       "still": [0, 0, 1, 0]},
    }


def test_labels_from_truth():
    y = labels_from_truth(_truth(), 4)
    col = {lab: y[:, i].tolist() for i, lab in enumerate(DEFAULT_VOCABULARY)}
    assert col["speech"] == [1, 0, 0, 1]
    assert col["title_card"] == [1, 0, 0, 0]
    assert col["footage"] == [0, 1, 0, 0]
    assert col["animation"] == [1, 0, 1, 1]
    # Static credits on the title do not count; the scrolling block covers >= half of seconds 2.5-4.
    assert col["credits_scroll"] == [0, 0, 1, 1]
    assert col["eyecatch"] == [0, 0, 0, 1]
    assert col["still"] == [0, 0, 1, 0]
    t = _truth()
    del t["per_second"]["still"]
    with pytest.raises(ValueError, match="still"):
        labels_from_truth(t, 4)


def test_text_motion_sees_a_scroll_and_a_still_card():
    m = np.zeros((4, 27, 36), np.float32)
    m[0, 10:14, 5:30] = 1
    m[1, 7:11, 5:30] = 1  # moved up 3 rows
    m[2] = m[1]  # held
    out = text_motion(m)
    assert out[1, 1] > 0.5 and out[1, 0] < 0.5  # shifting explains the change
    assert out[2, 0] == pytest.approx(1.0) and out[2, 1] == 0.0


@pytest.mark.parametrize("pooling", ["text_guided", "self"])
def test_tagger_shapes_and_padding(pooling):
    torch.manual_seed(0)
    m = TaggerNet(labels=["a", "b", "c"], pooling=pooling, window=5, hidden=8, proj=16).eval()
    b, t = 2, 9
    out = m(torch.randn(b, t, EMBED_DIM), torch.randn(b, t, AUDIO_DIM), torch.randn(b, t, TEXT_DIM), torch.randn(b, SENTENCE_DIM))
    assert out.shape == (b, t, 3) and torch.isfinite(out).all()
    inp = TagInputs(np.random.randn(100, EMBED_DIM).astype("f4"), np.random.randn(100, AUDIO_DIM).astype("f4"),
                    np.random.randn(100, TEXT_DIM).astype("f4"), np.zeros(SENTENCE_DIM, "f4"))
    p = predict_per_second(m, inp, chunk=32)
    assert p.shape == (100, 3) and (p >= 0).all() and (p <= 1).all()


def test_train_learns_and_round_trips(tmp_path):
    from vpos.train_tags import Episode, choose_thresholds, per_label_report, predict_all, train

    rng = np.random.default_rng(0)

    def ep(n):
        y = np.zeros((n, 2), np.float32)
        y[:, 0] = (np.arange(n) // 10) % 2  # alternating 10-s blocks, carried by the audio
        y[:, 1] = 1 - y[:, 0]
        aud = rng.normal(0, 0.3, (n, AUDIO_DIM)).astype("f4")
        aud[:, 0] += 2 * y[:, 0]
        inp = TagInputs(rng.normal(0, 1, (n, EMBED_DIM)).astype("f4"), aud, np.zeros((n, TEXT_DIM), "f4"), np.zeros(SENTENCE_DIM, "f4"))
        return Episode("x", "g", inp, y)

    eps = [ep(80) for _ in range(3)]
    torch.set_num_threads(1)
    model = train(eps, ["on", "off"], epochs=6, batch=4, chunk=32, window=5, hidden=16, proj=16, log=lambda s: None, modality_dropout=0.0)
    probs, ys = predict_all(model, eps[:1])
    model.thresholds = choose_thresholds(probs, ys)
    rep = per_label_report(model.labels, model.thresholds, probs, ys)
    assert rep["on"]["f1"] > 0.8, rep
    model._hub_mixin_config["thresholds"] = model.thresholds
    model.save_pretrained(tmp_path / "w")
    loaded = load_tagger(tmp_path / "w")
    assert loaded.labels == ["on", "off"] and loaded.thresholds == model.thresholds
    assert np.allclose(predict_per_second(loaded, eps[0].inputs), probs[: eps[0].inputs.steps], atol=1e-5)


def test_summarize_scenes_and_video():
    probs = np.zeros((10, 2), np.float32)
    probs[:5, 0] = 0.9
    probs[5:, 1] = 0.8
    block = summarize(["a", "b"], [0.5, 0.5], probs, 1.0, [{"index": 0, "start_time": 0, "end_time": 5}, {"index": 1, "start_time": 5, "end_time": 10}])
    assert block["scenes"][0]["labels"] == [{"label": "a", "score": 1.0}]
    assert block["scenes"][1]["labels"] == [{"label": "b", "score": 1.0}]
    assert {d["label"] for d in block["video"]} == {"a", "b"}
    assert len(block["per_second"]["a"]) == 10


def test_shipped_weights_load_strictly():
    assert (DEFAULT_TAGS_WEIGHTS / "config.json").exists(), "weights/tags is missing"
    cfg = json.loads((DEFAULT_TAGS_WEIGHTS / "config.json").read_text())
    m = load_tagger(DEFAULT_TAGS_WEIGHTS)
    assert m.labels == list(DEFAULT_VOCABULARY)
    assert m.thresholds == cfg["thresholds"] and len(m.thresholds) == len(m.labels)
    assert (DEFAULT_TAGS_WEIGHTS / "README.md").read_text().count("F1") >= 1
    assert sum(f.stat().st_size for f in DEFAULT_TAGS_WEIGHTS.iterdir()) < 8_000_000


def test_tags_cli_train_eval_predict(tmp_path, cache_dir, capsys):
    from vpos.cli import main
    from vpos.synth import AudioSpec, ShotSpec, render_clip

    lines = []
    for i, (kind, label) in enumerate([("tone", "tonal"), ("noise", "noisy"), ("tone", "tonal"), ("noise", "noisy")]):
        path = tmp_path / f"c{i}.mp4"
        render_clip(path, [ShotSpec(frames=75, seed=i, motion="static")], [AudioSpec(kind, 3.0)], fps=25, size=(96, 64))
        lines.append(f"{path.name}\tclip {i}\t{label}")
    lst = tmp_path / "list.tsv"
    lst.write_text("\n".join(lines) + "\n")
    out = tmp_path / "tagger"
    args = ["--cache-dir", cache_dir, "--extractors", "visual,audio"]
    assert main(["tags", "train", str(lst), "--out", str(out), "--epochs", "2", "--window", "3", "--val", str(lst)] + args) == 0
    assert (out / "config.json").exists() and (out / "model.safetensors").exists()
    capsys.readouterr()
    assert main(["tags", "eval", str(lst), "--tagger", str(out), "--json", str(tmp_path / "m.json")] + args) == 0
    text = capsys.readouterr().out
    assert "Hit@1" in text and "GAP@20" in text
    rep = json.loads((tmp_path / "m.json").read_text())
    assert rep["videos"] == 4 and 0 <= rep["hit@1"] <= 1 and set(rep["labels"]) == {"noisy", "tonal"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("only-one-column\n")
    assert main(["tags", "eval", str(bad), "--tagger", str(out)]) == 2


def test_tags_figure_lanes():
    from vpos.plots import tags_figure

    doc = {"per_second": {"t": [0, 1, 2]}, "shots": [{"start_time": 0}, {"start_time": 1.5}],
           "tags": {"vocabulary": ["speech", "music"], "per_second": {"speech": [0.1, 0.9, 0.8], "music": [0.0, 0.2, 0.9]},
                    "video": [{"label": "speech", "score": 0.67}], "scenes": []}}
    fig = tags_figure(doc)
    heat = fig.data[0]
    assert list(heat.y) == ["speech", "music"] and len(heat.z[0]) == 3
    # Each value covers [t, t+1), like the timeline's step lines: the cut at 1.5 s is inside second 1's cell.
    assert list(heat.x) == [0.5, 1.5, 2.5] and heat.customdata[0][1] == "00:01"
    assert "speech 67%" in fig.layout.title.text
    assert list(fig.layout.xaxis.ticktext[:2]) == ["00:00", "00:01"] and "mm:ss" in fig.layout.xaxis.title.text
    assert tags_figure({"per_second": {"t": [0]}, "tags": None}) is None


def test_tags_figure_draws_hundreds_of_cuts_as_one_trace():
    """A 24-minute episode: 300 cuts and 40 scenes are two line traces with a legend entry each,
    not 340 layout shapes (which make plotly crawl in the browser)."""
    from vpos.plots import tags_figure

    n = 1440
    doc = {"per_second": {"t": [float(k) for k in range(n)]}, "video": {"duration": float(n)},
           "shots": [{"start_time": k * 4.8} for k in range(301)],
           "scenes": [{"index": k, "start_time": k * 36.0, "end_time": (k + 1) * 36.0} for k in range(40)],
           "tags": {"vocabulary": ["speech"], "per_second": {"speech": [0.5] * n}, "video": [], "scenes": []}}
    fig = tags_figure(doc, title="")
    assert not fig.layout.shapes
    lines = {tr.name: tr for tr in fig.data if tr.type == "scatter"}
    assert set(lines) == {"shot cuts (300)", "scene boundaries (39)"}  # the scene at 0 s is no boundary
    assert lines["shot cuts (300)"].x.count(None) == 300 and lines["shot cuts (300)"].yaxis == "y2"
    assert fig.layout.yaxis2.overlaying == "y" and list(fig.layout.yaxis2.range) == [0, 1]
    assert "video tags" in fig.layout.title.text and "none" in fig.layout.title.text
    assert fig.layout.xaxis.ticktext[-1] == "24:00"
    fig.to_json()


def test_analyze_with_tags(clips, cache_dir):
    from vpos.pipeline import AnalysisOptions, analyze

    path, _ = clips["demo"]
    r = analyze(path, AnalysisOptions(cache_dir=cache_dir, extractors=("visual", "audio"), oped=False))
    tags = r.to_dict()["tags"]
    assert tags["vocabulary"] == list(DEFAULT_VOCABULARY)
    n = len(r.per_second["t"])
    assert all(len(tags["per_second"][lab]) == n for lab in DEFAULT_VOCABULARY)
    assert all(0.0 <= p <= 1.0 for p in tags["per_second"]["speech"])
    assert r.timings["tags"] > 0
    off = analyze(path, AnalysisOptions(cache_dir=cache_dir, extractors=("visual", "audio"), oped=False, tags=False))
    assert off.tags is None
