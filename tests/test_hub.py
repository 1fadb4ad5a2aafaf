"""Loading our own models from a local folder or a Hub id, with errors a person can act on."""

from __future__ import annotations

import pytest

from vpos import ModelLoadError
from vpos.hub import load_pretrained, resolve_source
from vpos.motion import DEFAULT_MOTION_WEIGHTS, MOTION_ENV, MotionNet


def test_resolve_source_prefers_argument_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VPOS_TEST_WEIGHTS", str(tmp_path / "env"))
    assert resolve_source("given", "VPOS_TEST_WEIGHTS", tmp_path / "default") == "given"
    assert resolve_source(None, "VPOS_TEST_WEIGHTS", tmp_path / "default") == str(tmp_path / "env")
    monkeypatch.delenv("VPOS_TEST_WEIGHTS")
    assert resolve_source(None, "VPOS_TEST_WEIGHTS", tmp_path / "default") == str(tmp_path / "default")


def test_load_pretrained_local_cached_and_clear_errors(monkeypatch, tmp_path):
    monkeypatch.delenv(MOTION_ENV, raising=False)
    cache: dict = {}
    m = load_pretrained(MotionNet, None, MOTION_ENV, DEFAULT_MOTION_WEIGHTS, "motion model", cache)
    assert not m.training and load_pretrained(MotionNet, None, MOTION_ENV, DEFAULT_MOTION_WEIGHTS, "motion model", cache) is m
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_pretrained(MotionNet, str(tmp_path / "empty"), MOTION_ENV, DEFAULT_MOTION_WEIGHTS, "motion model")
    with pytest.raises(ModelLoadError, match="not found"):
        load_pretrained(MotionNet, str(tmp_path / "no" / "such" / "folder"), MOTION_ENV, DEFAULT_MOTION_WEIGHTS, "motion model")
    # A Hub id with no network (offline mode): the message names the offline copy.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline copy"):
        load_pretrained(MotionNet, "someone/missing-motion@v1", MOTION_ENV, DEFAULT_MOTION_WEIGHTS, "motion model")
