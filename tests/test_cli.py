"""The CLI: a JSON result, clear errors for bad input (no traceback), documented options."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "vpos", *args], capture_output=True, text=True, timeout=300)


def test_analyze_writes_json(clips, tmp_path):
    path, truth = clips["demo"]
    out = tmp_path / "r.json"
    p = _run("analyze", str(path), "--json", str(out), "--extractors", "audio,shots", "--cache-dir", str(tmp_path / "c"))
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    assert doc["video"]["frame_count"] == truth.frame_count and doc["video"]["has_audio"] is True
    assert len(doc["shots"]) == len(truth.cuts) + 1
    assert set(doc["shots"][0]) == {"index", "start_frame", "end_frame", "start_time", "end_time"}
    n = len(doc["per_second"]["t"])
    assert n == 20 and all(len(v) == n for v in doc["per_second"].values())
    for reserved in ("opening", "ending", "segments", "scenes", "characters", "tags"):
        assert reserved in doc
    assert "real-time factor" in p.stderr and "timings" in p.stderr


def test_bad_input_is_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("hello")
    p = _run("analyze", str(bad))
    assert p.returncode == 2
    assert "not a video file" in p.stderr and "Traceback" not in p.stderr
    p = _run("analyze", str(tmp_path / "nope.mkv"))
    assert p.returncode == 2 and "no such file" in p.stderr


def test_wrong_arguments(clips):
    p = _run("analyze", str(clips["demo"][0]), "--extractors", "visual,bogus")
    assert p.returncode == 2 and "choose from" in p.stderr
    p = _run("analyze", str(clips["demo"][0]), "--sample-rate", "-1")
    assert p.returncode == 2
    p = _run("analyze", "--help")
    assert p.returncode == 0
    for opt in ("--json", "--device", "--sample-rate", "--no-cache", "--cache-dir", "--shot-threshold", "--max-duration"):
        assert opt in p.stdout


def test_models_lists_pretrained_parts_and_our_trained_models(monkeypatch, capsys):
    from vpos.cli import main

    monkeypatch.setenv("VPOS_TAGS_WEIGHTS", "someone/vpos-tags@v2")
    monkeypatch.delenv("VPOS_MOTION_WEIGHTS", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("transnetv2", "efficientnet_lite0.imagenet", "vpos.oped", "vpos.scene_boundary", "vpos.characters",
                 "vpos.tagger", "vpos.motion"):
        assert name in out, name
    assert "$VPOS_TAGS_WEIGHTS=someone/vpos-tags@v2" in out
    motion = next(line for line in out.splitlines() if "vpos.motion" in line)
    assert "weights/motion (offline copy" in motion and "MISSING" not in motion
