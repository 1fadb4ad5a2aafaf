"""Library mode: grouping, season mode across a library, resume after SIGKILL, bad files, engines."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vpos.library import LibraryOptions, LocalEngine, find_library_videos, group_seasons, plan_library, run_library
from vpos.pipeline import AnalysisOptions

FAST = dict(extractors=("visual", "audio"))  # what opening/ending detection and season mode need


def _touch(root: Path, names: list[str]) -> None:
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def test_grouping_on_realistic_names(tmp_path):
    _touch(tmp_path, [
        "Anime/Kaze no Nikki/[SubsPlease] Kaze no Nikki - 01 [1080p].mkv",
        "Anime/Kaze no Nikki/[SubsPlease] Kaze no Nikki - 02 [1080p].mkv",
        "Anime/Kaze no Nikki/[SubsPlease] Kaze no Nikki - 03v2 [1080p][ABCD1234].mkv",
        "Anime/Kaze no Nikki/[SubsPlease] Kaze no Nikki S2 - 01 [1080p].mkv",
        "Anime/Kaze no Nikki/[SubsPlease] Kaze no Nikki S2 - 02 [1080p].mkv",
        "Anime/Kaze no Nikki/[SubsPlease] Kaze no Nikki - NCOP1 [1080p].mkv",
        "Anime/Yoru Monogatari 2nd Season - 05.mkv",
        "Anime/Yoru Monogatari 2nd Season - 06.webm",
        "Anime/Yoru Monogatari - 12.mkv",
        "TV/Mori Tabi/Season 1/Mori.Tabi.S01E01.1080p.WEB.h264.mkv",
        "TV/Mori Tabi/Season 1/Mori.Tabi.S01E02.1080p.WEB.h264.mkv",
        "TV/Mori Tabi/Season 2/Mori Tabi - S02E01 - The Return.mp4",
        "TV/Mori Tabi/Season 2/Mori Tabi - S02E02 - The Road.m2ts",
        "TV/Sora/Season 3/01.avi",
        "TV/Sora/Season 3/02.avi",
        "Movies/Some Film (2019).mkv",
        "Movies/.hidden.mkv",
        "Movies/Other Film.mkv.part",
        "Movies/Third Film.crdownload",
        "Movies/notes.txt",
        ".trash/Show - S01E01.mkv",
    ])
    videos = find_library_videos(tmp_path)
    assert not any(v.name.startswith(".") or ".trash" in v.parts or v.suffix in (".part", ".txt") for v in videos)
    plan = group_seasons(tmp_path, videos)
    seasons = {s.name: [Path(e.rel).name for e in s.episodes] for s in plan.seasons}
    assert seasons == {
        "Kaze no Nikki S01": ["[SubsPlease] Kaze no Nikki - 01 [1080p].mkv", "[SubsPlease] Kaze no Nikki - 02 [1080p].mkv",
                              "[SubsPlease] Kaze no Nikki - 03v2 [1080p][ABCD1234].mkv"],
        "Kaze no Nikki S02": ["[SubsPlease] Kaze no Nikki S2 - 01 [1080p].mkv", "[SubsPlease] Kaze no Nikki S2 - 02 [1080p].mkv"],
        "Yoru Monogatari S02": ["Yoru Monogatari 2nd Season - 05.mkv", "Yoru Monogatari 2nd Season - 06.webm"],
        "Mori Tabi S01": ["Mori.Tabi.S01E01.1080p.WEB.h264.mkv", "Mori.Tabi.S01E02.1080p.WEB.h264.mkv"],
        "Mori Tabi S02": ["Mori Tabi - S02E01 - The Return.mp4", "Mori Tabi - S02E02 - The Road.m2ts"],
        "Sora S03": ["01.avi", "02.avi"],
    }
    assert sorted(Path(e.rel).name for e in plan.singles) == [
        "Some Film (2019).mkv", "Yoru Monogatari - 12.mkv", "[SubsPlease] Kaze no Nikki - NCOP1 [1080p].mkv"]
    assert all(e.season is None for e in plan.singles)


@pytest.fixture(scope="module")
def engine():
    """One local worker for the module's runs: it loads the models once."""
    e = LocalEngine(LibraryOptions(out="unused", workers=1))
    yield e
    e.close()


def _episode(path: Path, show_seed: int, episode: int) -> None:
    from vpos.synth import season_episode

    # cold open 0-2 s, opening 2-24 s, body 24-30 s, ending 30-52 s, preview 52-54 s
    season_episode(path, show_seed, episode, body_seconds=6, cold_seconds=2, preview_seconds=2, episode_audio="silence")


@pytest.fixture(scope="module")
def two_seasons(tmp_path_factory):
    """Two shows, two episodes each; every show repeats its own opening and ending."""
    root = tmp_path_factory.mktemp("library")
    for show, seed in (("Alpha", 1), ("Beta", 2)):
        for e in (1, 2):
            _episode(root / show / f"{show} - S01E{e:02d}.mp4", seed, e)
    return root, tmp_path_factory.mktemp("features")


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "library-summary.csv", newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f)}


def test_two_season_library_finds_the_shared_opening_and_ending(two_seasons, engine, tmp_path):
    root, cache = two_seasons
    out = tmp_path / "results"
    opts = LibraryOptions(out=str(out), analysis=AnalysisOptions(cache_dir=str(cache), **FAST))
    report = run_library(plan_library(root), opts, engine=engine)
    assert report.counts() == {"analysed": 4} and report.seasons_matched == 2
    rows = _rows(out)
    assert set(rows) == {f"{s}/{s} - S01E0{e}.mp4" for s in ("Alpha", "Beta") for e in (1, 2)}
    for rel, row in rows.items():
        assert row["status"] == "analysed" and row["season_mode"] == "matched" and row["season"] == rel.split("/")[0] + " S01"
        doc = json.loads(Path(row["result"]).read_text())
        assert doc["video"]["path"].endswith(rel)  # the same document as `vpos analyze`, fused by season mode
        rep = np.array(doc["per_second"]["repetition"])
        # the opening (2-24 s) and the ending (30-52 s) repeat across the season; the body does not
        assert (rep[3:22] >= 1).all() and (rep[32:50] >= 1).all(), rep
        assert rep[0] == 0 and (rep[25:29] == 0).all(), rep
        assert doc["opening"] is not None and abs(doc["opening"]["start"] - 2.0) <= 1.5, doc["opening"]
        assert float(row["opening_start"]) == pytest.approx(doc["opening"]["start"], abs=1e-3)
        stem = Path(row["result"]).with_suffix("")
        assert "Opening" in Path(f"{stem}.chapters.vtt").read_text() and Path(f"{stem}.edl").read_text().strip()
    summary = json.loads((out / "library-summary.json").read_text())
    assert summary["counts"] == {"analysed": 4} and summary["episodes_per_hour"] > 0


def test_engine_ray_gives_the_same_results_as_local(two_seasons, engine, tmp_path):
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip("ray is not installed (optional: pip install -r requirements-ray.txt)")
    root, cache = two_seasons
    local_engine = engine
    docs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        opts = LibraryOptions(out=str(out), engine=engine, workers=2 if engine == "ray" else 0,
                              analysis=AnalysisOptions(cache_dir=str(cache), **FAST))
        report = run_library(plan_library(root), opts, engine=local_engine if engine == "local" else None)
        assert report.engine == engine and report.counts() == {"analysed": 4} and report.seasons_matched == 2
        docs[engine] = {rel: json.loads(Path(r["result"]).read_text()) for rel, r in _rows(out).items()}
    assert docs["local"].keys() == docs["ray"].keys()
    for rel, a in docs["local"].items():
        b = docs["ray"][rel]
        for label in ("opening", "ending"):
            assert (a[label] is None) == (b[label] is None), (rel, label)
            if a[label]:
                assert a[label]["start"] == pytest.approx(b[label]["start"], abs=0.05)
                assert a[label]["end"] == pytest.approx(b[label]["end"], abs=0.05)
        for key in ("op_prob", "ed_prob", "repetition"):
            np.testing.assert_allclose(a["per_second"][key], b["per_second"][key], atol=2e-3)


def test_ray_workers_see_every_vpos_setting_of_the_driver():
    # Without ray installed: the environment handed to Ray workers. A model's weights set by
    # environment (VPOS_TAGS_WEIGHTS, ...) must reach the workers, not only the opening/ending set.
    from vpos.library_ray import worker_env

    env = worker_env(3, {"VPOS_TAGS_WEIGHTS": "me/tags@v2", "VPOS_MOTION_WEIGHTS": "/w/motion",
                         "VPOS_CACHE_DIR": "/shared/cache", "HF_HUB_OFFLINE": "1", "HOME": "/root",
                         "SECRET_TOKEN": "x", "VPOS_EMPTY": "", "PYTHONPATH": "/extra"})
    assert env["VPOS_TAGS_WEIGHTS"] == "me/tags@v2" and env["VPOS_MOTION_WEIGHTS"] == "/w/motion"
    assert env["VPOS_CACHE_DIR"] == "/shared/cache" and env["HF_HUB_OFFLINE"] == "1"
    assert "HOME" not in env and "SECRET_TOKEN" not in env and "VPOS_EMPTY" not in env
    assert env["OMP_NUM_THREADS"] == "3"
    assert env["PYTHONPATH"].split(os.pathsep)[-1] == "/extra" and Path(env["PYTHONPATH"].split(os.pathsep)[0], "vpos").is_dir()


def _small_clip(path: Path, seed: int, seconds: int = 8) -> None:
    from vpos.synth import AudioSpec, ShotSpec, render_clip

    shots = [ShotSpec(frames=20, seed=seed * 10 + i, motion="pan") for i in range(seconds // 2)]
    render_clip(path, shots, [AudioSpec("song", float(seconds), seed=seed)], fps=10, size=(160, 90))


def test_bad_files_are_reported_and_the_rest_completes(engine, tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    _small_clip(root / "good clip.mp4", 1, seconds=4)
    (root / "broken - 01.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + os.urandom(4000))  # an EBML header, then noise
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.webm").write_text("not a video at all\n")
    out = tmp_path / "out"
    opts = LibraryOptions(out=str(out), write_beside=True,
                          analysis=AnalysisOptions(cache_dir=str(tmp_path / "c"), extractors=("audio",), oped=False))
    report = run_library(plan_library(root), opts, engine=engine)
    rows = _rows(out)
    assert rows["good clip.mp4"]["status"] == "analysed" and Path(rows["good clip.mp4"]["result"]).exists()
    # --write-beside: the exports sit beside the video, the result JSON under --out
    assert (root / "good clip.chapters.vtt").exists() and (root / "good clip.edl").exists()
    assert not (out / "good clip.chapters.vtt").exists() and (out / "good clip.json").exists()
    for bad in ("broken - 01.mkv", "empty.mp4", "notes.webm"):
        assert rows[bad]["status"] == "failed" and rows[bad]["reason"], rows[bad]
        assert "Traceback" not in rows[bad]["reason"] and not rows[bad]["result"]
    assert "empty" in rows["empty.mp4"]["reason"].lower()
    assert report.counts() == {"analysed": 1, "failed": 3}
    # A re-run does not try the bad files again (same bytes, same reason) unless asked to.
    again = run_library(plan_library(root), opts, engine=engine)
    assert again.counts() == {"current": 1, "failed": 3} and again.analysed == 0
    assert _rows(out)["empty.mp4"]["reason"] == rows["empty.mp4"]["reason"]


def test_resume_after_sigkill_redoes_only_the_unfinished(engine, tmp_path):
    root = tmp_path / "lib"
    for i in range(1, 5):
        _small_clip(root / f"Show - {i:02d}.mp4", 10 + i, seconds=4)
    out, cache = tmp_path / "out", tmp_path / "cache"
    cmd = [sys.executable, "-m", "vpos", "library", str(root), "--out", str(out), "--cache-dir", str(cache),
           "--extractors", "visual,audio", "-q"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = out / ".vpos-library" / "base"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if base.exists() and len(list(base.glob("*.json"))) >= 1:
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes, mid-way
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    finished = len(list(base.glob("*.json")))
    assert 1 <= finished < 4, "the run finished before it could be killed; make the clips longer"
    assert not (out / "library-summary.csv").exists()

    opts = LibraryOptions(out=str(out), analysis=AnalysisOptions(cache_dir=str(cache), **FAST))
    report = run_library(plan_library(root), opts, engine=engine)
    assert report.counts() == {"current": finished, "analysed": 4 - finished}, report.counts()
    assert report.seasons_matched == 1 and len(list(base.glob("*.json"))) == 4
    for r in report.rows:
        doc = json.loads(Path(r.result).read_text())  # every result complete and readable
        assert r.season_mode == "matched" and doc["video"]["path"].endswith(r.file) and doc["per_second"]["t"]

    # Nothing changed: nothing is analysed or matched again.
    same = run_library(plan_library(root), opts, engine=engine)
    assert same.counts() == {"current": 4} and same.seasons_matched == 0 and same.seasons_current == 1
    # A changed episode is analysed again and its season matched again, against the cached
    # features of the others (their cache entries are read, not rewritten); the others stay current.
    cached = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")}
    _small_clip(root / "Show - 03.mp4", 99, seconds=4)
    changed = run_library(plan_library(root), opts, engine=engine)
    assert changed.counts() == {"current": 3, "analysed": 1} and changed.seasons_matched == 1
    assert [r.file for r in changed.rows if r.status == "analysed"] == ["Show - 03.mp4"]
    assert all(p.stat().st_mtime_ns == t for p, t in cached.items())
    assert len(list(cache.rglob("*.npz"))) == len(cached) + 2  # visual + audio of the new bytes only
