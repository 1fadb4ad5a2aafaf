"""Shared fixtures: small clips generated once per test session (no third-party media)."""

from __future__ import annotations

import os

import pytest

# Keep tests offline and away from the user's caches.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """Generated clips with exact truth: {name: (path, ClipTruth)}."""
    from vpos.synth import AudioSpec, ShotSpec, demo_clip, render_clip

    d = tmp_path_factory.mktemp("clips")
    out = {}
    out["demo"] = (d / "demo.mp4", demo_clip(d / "demo.mp4", seconds=20, size=(320, 180), fps=25))
    shots = [ShotSpec(frames=n, seed=10 + i, motion=m) for i, (n, m) in enumerate([(40, "static"), (55, "pan"), (35, "zoom"), (60, "static"), (50, "pan")])]
    out["webm"] = (
        d / "clip.webm",
        render_clip(d / "clip.webm", shots, [AudioSpec("tone", 4.0), AudioSpec("silence", 4.0)], fps=24, size=(256, 144)),
    )
    ntsc = [ShotSpec(frames=n, seed=30 + i, motion="pan") for i, n in enumerate([70, 45, 90])]
    from fractions import Fraction

    out["ntsc"] = (d / "ntsc.mkv", render_clip(d / "ntsc.mkv", ntsc, [AudioSpec("noise", 7.0)], fps=Fraction(30000, 1001), size=(320, 240)))
    silent = [ShotSpec(frames=n, seed=50 + i, motion="static") for i, n in enumerate([60, 60])]
    out["noaudio"] = (d / "noaudio.mp4", render_clip(d / "noaudio.mp4", silent, None, fps=25, size=(160, 90)))
    return out


@pytest.fixture()
def cache_dir(tmp_path):
    return str(tmp_path / "cache")
