"""The feature cache: a second run is served from it; a damaged entry is detected and rebuilt."""

from __future__ import annotations

import numpy as np

from vpos import AnalysisOptions, analyze
from vpos.cache import FeatureCache
from vpos.extractors.base import FeatureSet


def test_second_run_is_served_from_cache(clips, cache_dir):
    path, _ = clips["demo"]
    opts = AnalysisOptions(extractors=("audio", "shots"), cache_dir=cache_dir)
    first = analyze(path, opts)
    assert first.cache["misses"] == 2 and first.cache["hits"] == 0
    second = analyze(path, opts)
    assert second.cache["hits"] == 2 and second.cache["misses"] == 0
    assert "extract_total" not in second.timings
    assert first.cut_frames == second.cut_frames
    assert first.per_second == second.per_second
    # A changed setting is a different key: recomputed, not served stale.
    third = analyze(path, AnalysisOptions(extractors=("audio",), silence_db=-30, cache_dir=cache_dir))
    assert third.cache["misses"] == 1


def test_corrupted_entry_is_rebuilt(clips, cache_dir, tmp_path):
    path, _ = clips["demo"]
    opts = AnalysisOptions(extractors=("shots",), cache_dir=cache_dir)
    first = analyze(path, opts)
    files = [p for p in (tmp_path / "cache").rglob("*.npz")]
    assert len(files) == 1
    raw = bytearray(files[0].read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\x00" * 64
    files[0].write_bytes(bytes(raw))
    again = analyze(path, opts)
    assert again.cache["rebuilt"] == 1 and again.cache["hits"] == 0
    assert again.cut_frames == first.cut_frames
    assert analyze(path, opts).cache["hits"] == 1  # the rebuilt entry is good


def test_truncated_entry_and_no_temp_files(tmp_path):
    cache = FeatureCache(tmp_path)
    key = {"name": "x", "version": "1", "config": {"a": 1}}
    fs = FeatureSet(arrays={"v": np.arange(10.0)}, meta={"k": 1})
    p = cache.put("ab" * 20, key, fs)
    assert not [q for q in p.parent.iterdir() if q.name.startswith(".tmp-")]
    got = cache.get("ab" * 20, key)
    assert np.array_equal(got["v"], fs["v"]) and got.meta == {"k": 1}
    p.write_bytes(p.read_bytes()[:100])
    assert cache.get("ab" * 20, key) is None and not p.exists()


def test_no_cache_option(clips, cache_dir, tmp_path):
    path, _ = clips["noaudio"]
    r = analyze(path, AnalysisOptions(extractors=("shots",), cache_dir=cache_dir, use_cache=False))
    assert r.cache["enabled"] is False
    assert not list((tmp_path / "cache").rglob("*.npz"))
