"""The shipped opening/ending checkpoint set: strict loading, Hub-mixin round trip, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vpos import ModelLoadError, oped
from vpos.oped_model import AVTNet, episode_inputs, predict_per_second


def test_shipped_set_loads_strictly_and_runs():
    models = oped.load_checkpoints()  # weights/oped, offline
    manifest = json.loads((oped.DEFAULT_OPED_WEIGHTS / "fusion.json").read_text())
    assert len(models) == len(manifest["checkpoints"]) >= 3
    n = 400
    per_second = {"t": list(range(n)), "loudness_db": [-20.0] * n, "speech_cue": [0.8] * n}
    feats = {"visual": {"embedding": np.random.default_rng(0).random((n, 1280), dtype=np.float32)},
             "audio": {"mfcc": np.zeros((n * 100, 20), np.float16)}}
    res = oped.detect(feats, per_second, float(n), models=models)
    assert res.op_prob.shape == (n,) and res.ed_prob.shape == (n,)
    assert np.all((res.op_prob >= 0) & (res.op_prob <= 1))


def test_save_and_from_pretrained_round_trip(tmp_path):
    torch.manual_seed(0)
    m = AVTNet(variant="yolt", hidden=16, audio_width=8, video_dim=16, text_dim=16)
    m.save_pretrained(tmp_path / "ck")
    assert {p.name for p in (tmp_path / "ck").iterdir()} >= {"model.safetensors", "config.json"}
    m2 = AVTNet.from_pretrained(str(tmp_path / "ck"), strict=True)
    assert m2.variant == "yolt" and m2.yolt_cell == 10
    n = 200
    inputs = episode_inputs({}, {"t": list(range(n))}, float(n))
    assert np.allclose(predict_per_second(m, inputs), predict_per_second(m2, inputs))
    # A set folder is a fusion.json naming save_pretrained folders.
    (tmp_path / "fusion.json").write_text(json.dumps({"checkpoints": ["ck"]}))
    assert len(oped.load_checkpoints(str(tmp_path))) == 1


def test_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(ModelLoadError, match="train them"):
        oped.load_checkpoints(str(tmp_path / "nowhere"))
    with pytest.raises(ModelLoadError, match="offline copy"):
        oped.load_checkpoints("vpos-test/no-such-repo@main")  # offline: the Hub is unreachable
