"""The small corpus preset renders offline and its ground truth matches the rendered files."""
import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from vpos import evaluate as E  # noqa: E402
from vpos.corpus import material as M  # noqa: E402
from vpos.corpus.cli import build_corpus  # noqa: E402
from vpos.corpus.render import compositor_for  # noqa: E402
from vpos.corpus.shows import make_corpus_plan, plan_episode  # noqa: E402
from vpos.corpus.truth import load_truth, parse_fps, truth_files, truth_to_result  # noqa: E402

USER_MATERIAL = str(M.material_dir())  # the user's cache, before the fixture points elsewhere


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Render the small preset with procedural material only (no network, empty cache)."""
    root = tmp_path_factory.mktemp("corpus")
    mp = pytest.MonkeyPatch()
    mp.setenv("VPOS_MATERIAL_DIR", str(root / "empty-cache"))
    index = build_corpus(str(root / "c"), preset="small", seed=0, material="procedural", log=None)
    yield root / "c", index
    mp.undo()


class Frames:
    """Decoded video: full-resolution RGB for the frames the tests look at, a small grey copy of all."""

    def __init__(self, path, keep):
        self.full, self.small = {}, []
        with av.open(str(path)) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i in keep:
                    self.full[i] = f.to_ndarray(format="rgb24")
                self.small.append(f.reformat(width=160, height=90, format="gray").to_ndarray().astype(np.int16))

    def __len__(self):
        return len(self.small)

    def __getitem__(self, i):
        return self.full[i]


def frames_to_keep(t):
    keep = set()
    for key in ("opening",):
        s = t[key]
        keep |= set(range(s["start_frame"], s["end_frame"], 7))
    for c in t["credits"]:
        keep.add(c["start_frame"])
        keep.add(c["start_frame"] + (c["end_frame"] - c["start_frame"]) // 2)
    return keep


def decode(path, keep):
    frames = Frames(path, keep)
    with av.open(str(path)) as c:
        sr = c.streams.audio[0].rate
        res = av.AudioResampler(format="flt", layout="mono", rate=sr)
        audio = np.concatenate([r.to_ndarray().reshape(-1) for f in c.decode(audio=0) for r in res.resample(f)])
    return frames, audio, sr


@pytest.fixture(scope="module")
def decoded(corpus):
    root, _ = corpus
    out = {}
    for vid, p in truth_files(root).items():
        t = load_truth(p)
        out[vid] = (t, decode(root / t["path"], frames_to_keep(t)))
    return out


def test_index_and_split(corpus):
    root, index = corpus
    assert (root / "corpus.json").exists()
    split = json.loads((root / "split.json").read_text())
    shows = {s["slug"] for s in index["shows"]}
    assert set(split["train"]) | set(split["val"]) | set(split["test"]) == shows
    assert not set(split["train"]) & set(split["test"])
    assert split["test"], "a test show exists"
    assert len(index["episodes"]) == 4
    containers = {s["container"] for s in index["shows"]}
    assert {"mp4", "webm"} <= containers
    assert index["render_seconds"] > 0  # speed is measured by bench scripts, not asserted here


def test_truth_matches_files(decoded):
    for vid, (t, (frames, audio, sr)) in decoded.items():
        fps = parse_fps(t["fps_fraction"])
        assert len(frames) == t["frame_count"], vid
        assert next(iter(frames.full.values())).shape == (t["height"], t["width"], 3)
        assert t["duration"] == pytest.approx(float(Fraction(t["frame_count"]) / fps), abs=1e-5)
        assert abs(audio.size / sr - t["duration"]) < 0.1, vid
        # segments tile the episode, times come from frame counts
        segs = t["segments"]
        assert segs[0]["start_frame"] == 0 and segs[-1]["end_frame"] == t["frame_count"]
        for a, b in zip(segs, segs[1:]):
            assert a["end_frame"] == b["start_frame"]
        for s in segs:
            assert s["start"] == pytest.approx(s["start_frame"] / float(fps), abs=1e-5)
        # shots tile the episode and cuts are their starts
        assert [s["start_frame"] for s in t["shots"][1:]] == t["cuts"]
        assert t["opening"] and t["ending"]
        n = int(np.ceil(t["duration"]))
        for k in ("speech", "music", "silence", "on_screen_text", "opening", "ending"):
            assert len(t["per_second"][k]) == n, k
        assert sum(t["per_second"]["opening"]) >= 8


def test_container_codecs(corpus):
    root, index = corpus
    for ep in index["episodes"]:
        t = load_truth(root / ep["truth"])
        with av.open(str(root / t["path"])) as c:
            assert c.streams.video[0].codec_context.name == t["codec"]
            assert c.streams.audio[0].codec_context.name == t["audio_codec"]


def test_op_identical_across_episodes(corpus, decoded):
    root, index = corpus
    by_show = {}
    for vid, (t, _) in decoded.items():
        by_show.setdefault(t["show"], []).append(vid)
    checked = 0
    for show, ids in by_show.items():
        a, b = sorted(ids)[:2]
        ta, fa = decoded[a][0], decoded[a][1][0]
        tb, fb = decoded[b][0], decoded[b][1][0]
        oa, ob = ta["opening"], tb["opening"]
        assert oa["end_frame"] - oa["start_frame"] == ob["end_frame"] - ob["start_frame"]
        n = oa["end_frame"] - oa["start_frame"]
        diffs = [np.abs(fa[oa["start_frame"] + i].astype(int) - fb[ob["start_frame"] + i].astype(int)).mean()
                 for i in range(0, n, 7)]
        assert max(diffs) < 4.0, (show, max(diffs))  # identical pictures up to lossy coding
        # OP cuts are the same relative frames
        ca = [c - oa["start_frame"] for c in ta["cuts"] if oa["start_frame"] < c < oa["end_frame"]]
        cb = [c - ob["start_frame"] for c in tb["cuts"] if ob["start_frame"] < c < ob["end_frame"]]
        assert ca == cb and len(ca) >= 3
        # the rendered (pre-encoding) frames are pixel-identical
        lib = M.MaterialLibrary.open("procedural")
        shows, _ = make_corpus_plan(index["preset"], index["seed"], lib)
        sh = next(s for s in shows if s.slug == show)
        ca_ = compositor_for(plan_episode(sh, ta["episode"], index["seed"]), lib)
        cb_ = compositor_for(plan_episode(sh, tb["episode"], index["seed"]), lib)
        for i in range(0, n, 2):
            assert np.array_equal(ca_.frame(oa["start_frame"] + i), cb_.frame(ob["start_frame"] + i)), i
        # and the OP song is the same audio
        sra = decoded[a][1][2]
        xa = decoded[a][1][1][int(oa["start"] * sra) + 2000:int(oa["start"] * sra) + 2000 + sra * 3]
        xb = decoded[b][1][1][int(ob["start"] * sra) + 2000:int(ob["start"] * sra) + 2000 + sra * 3]
        assert np.corrcoef(xa, xb)[0, 1] > 0.9
        checked += 1
    assert checked == 2


def test_credit_is_where_truth_says(corpus, decoded):
    root, index = corpus
    lib = M.MaterialLibrary.open("procedural")
    shows, _ = make_corpus_plan(index["preset"], index["seed"], lib)
    vid = sorted(decoded)[0]
    t, (frames, _, _) = decoded[vid]
    sh = next(s for s in shows if s.slug == t["show"])
    comp = compositor_for(plan_episode(sh, t["episode"], index["seed"]), lib)
    statics = [c for c in t["credits"] if c["segment"] == "opening" and c["velocity"] == [0, 0] and c["box"][2] > 20]
    rolls = [c for c in t["credits"] if c["segment"] == "ending" and c["velocity"][1] != 0 and c["box"][2] > 20]
    assert statics and rolls
    for c in statics[:3] + rolls[:2]:
        f = c["start_frame"] + (c["end_frame"] - c["start_frame"]) // 2 if c in statics else c["start_frame"]
        x, y, w, h = c["box"]
        plain = comp.frame(f, draw_text=False).astype(int)
        diff = np.abs(frames[f].astype(int) - plain).sum(axis=2)
        inside = diff[y:y + h, x:x + w].mean()
        mask = np.ones_like(diff, bool)
        mask[max(0, y - 4):y + h + 4, max(0, x - 4):x + w + 4] = False
        outside_text = diff[mask]
        # other texts of the same moment (stacked credit lines) are excluded by comparing with the
        # drawn-with-text render too
        with_text = comp.frame(f, draw_text=True).astype(int)
        drawn = np.abs(with_text - plain).sum(axis=2)
        assert drawn[y:y + h, x:x + w].mean() > 20, c
        assert inside > 20, (c, inside)
        other = drawn[mask] > 0
        assert outside_text[~other].mean() < inside / 4, c


def test_cuts_visible_in_the_file(decoded):
    for vid, (t, (frames, _, _)) in decoded.items():
        sm = frames.small
        d = np.array([np.abs(sm[i] - sm[i - 1]).mean() for i in range(1, len(sm))])
        cuts = [c for c, tr in zip(t["cuts"], t["transitions"]) if tr["type"] == "cut"]
        at_cuts = d[np.array(cuts) - 1]
        inside = np.delete(d, np.array(cuts) - 1)
        assert np.median(at_cuts) > 4 * np.median(inside), vid


def test_audio_follows_truth(decoded):
    for vid, (t, (_, audio, sr)) in decoded.items():
        def rms(a, b):
            x = audio[int(a * sr):int(b * sr)]
            return float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
        op = t["opening"]
        assert rms(op["start"] + 0.5, op["end"] - 1) > 0.05
        for a, b, _ in t["speech"][:5]:
            assert rms(a, b) > 0.02
        busy = t["speech"] + t["music"]
        sil = [i for i, v in enumerate(t["per_second"]["silence"])
               if v and not any(a < i + 1 and b > i for a, b, _ in busy)]
        for i in sil[:5]:
            assert rms(i + 0.05, i + 0.95) < 0.02
        assert sum(t["per_second"]["speech"]) > 0 and sum(t["per_second"]["music"]) > 0


def test_truth_scores_perfectly_against_itself(corpus, tmp_path):
    root, _ = corpus
    pred = tmp_path / "pred"
    pred.mkdir()
    for vid, p in truth_files(root).items():
        (pred / f"{vid}.vpos.json").write_text(json.dumps(truth_to_result(load_truth(p))))
    rep = E.evaluate_dir(root, pred)
    s = rep["summary"]
    assert rep["episodes_scored"] == 4
    assert s["op_boundaries"]["start_metric"] == 0 and s["ed_boundaries"]["end_metric"] == 0
    assert s["shots"]["f1"] == 1.0 and s["scenes"]["f1"] == 1.0 and s["scenes"]["miou"] == pytest.approx(1.0)
    assert s["characters"]["accuracy"] == 1.0 and s["tags"]["hit1"] == 1
    test_only = E.evaluate_dir(root, pred, split="test")
    assert 0 < test_only["episodes_truth"] < 4


def test_plan_is_deterministic():
    lib = M.MaterialLibrary.open("procedural")
    a, sa = make_corpus_plan("benchmark", 7, lib)
    b, sb = make_corpus_plan("benchmark", 7, lib)
    assert sa == sb and [s.slug for s in a] == [s.slug for s in b]
    pa, pb = plan_episode(a[0], 2, 7), plan_episode(b[0], 2, 7)
    assert repr(pa.shots) == repr(pb.shots) and repr(pa.audio) == repr(pb.audio)
    # benchmark structure: real OP/ED lengths, several formats, every show in the split
    assert len(a) == 6 and len({s.fmt for s in a}) == 3
    from vpos.corpus.shows import QUIRKS

    for group in (sa["test"], sa["train"] + sa["val"]):  # every season quirk on both sides of the split
        got = {q for s in a if s.slug in group for q in s.quirks}
        assert set(QUIRKS) <= got, (group, got)
    for s in a:
        assert 55 <= s.ops[0].n / float(s.fps) <= 96
        p = plan_episode(s, 1, 7)
        assert 170 <= p.n / float(s.fps) <= 1450
        labels = [l for l, _, _ in p.segments]
        assert "part_a" in labels and "part_b" in labels and "ending" in labels


def test_competition_export(corpus, tmp_path):
    from vpos.corpus.competition import export_competition

    root, _ = corpus
    vid = sorted(truth_files(root))[0]
    t = load_truth(truth_files(root)[vid])
    r = export_competition(str(root), str(tmp_path), start_seconds=20, end_seconds=18, ids=[vid], log=None)
    fps = parse_fps(t["fps_fraction"])
    with av.open(str(tmp_path / f"{vid}_start.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == round(20 * float(fps))
    lines = (tmp_path / "start_labels.txt").read_text().split()
    if t["opening"]["end"] <= 20:
        assert lines[0] == f"{vid}_start" and float(lines[1]) == pytest.approx(t["opening"]["end"], abs=1e-3)
    end_lines = (tmp_path / "end_labels.txt").read_text().split()
    e0 = t["frame_count"] - round(18 * float(fps))
    if t["ending"]["start_frame"] >= e0:
        assert float(end_lines[1]) == pytest.approx((t["ending"]["start_frame"] - e0) / float(fps), abs=1e-3)
    assert r["clips"][0]["id"] == vid


def test_missing_tools_and_packages_are_named(tmp_path, monkeypatch):
    with pytest.raises(M.MaterialError, match="no-such-package"):
        M.fetch(["no-such-package"], str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(M.MaterialError, match="apt-get"):
        M.fetch(["renpy-thequestion"], str(tmp_path))
    # non-strict fetching reports and goes on
    got = M.fetch(["renpy-thequestion"], str(tmp_path), strict=False, log=lambda *a: None)
    assert got["renpy-thequestion"] is None


def test_procedural_material_is_varied():
    a = M.draw_background("park", 1, 320, 180)
    b = M.draw_background("classroom", 1, 320, 180)
    assert a.shape == (180, 320, 3) and np.abs(a.astype(int) - b.astype(int)).mean() > 10
    s1, s2 = M.synth_song(1, 2.0), M.synth_song(2, 2.0)
    assert s1.shape == (2 * M.SR,) and np.abs(s1).max() > 0.1 and not np.allclose(s1, s2)
    sp = M.synth_speech(3, 1.5)
    assert np.abs(sp).max() > 0.1
    c = M.draw_character(M.random_look("Aoi", 0), 200)
    assert c.shape[0] == 200 and c.shape[2] == 4 and c[..., 3].max() == 255


def test_fetched_material_is_used_when_cached():
    """With the material cache filled (`vpos corpus fetch`), shows draw on the real files."""
    lib = M.MaterialLibrary.open("auto", cache=USER_MATERIAL)
    if lib.fetched.empty:
        pytest.skip("no fetched material in the cache (run `python -m vpos corpus fetch`)")
    from vpos.corpus.render import AudioBank, mix_audio

    used = set()
    for seed in (0, 1):
        shows, _ = make_corpus_plan("small", seed, lib)
        sh = shows[seed % len(shows)]
        plan = plan_episode(sh, 1, seed)
        bank = AudioBank(sh, lib)
        audio, speech, music = mix_audio(plan, bank)
        assert audio.size and speech and music
        comp = compositor_for(plan, lib)
        for f in range(0, plan.n, max(1, plan.n // 40)):
            comp.frame(f)
        used |= comp.A.used_files | bank.used_files
    assert used, "no fetched file was used"
    if lib.has_cjk():
        shown = [it["shown"] for it in comp.text_items if it["shown"]]
        assert any(any(ord(c) > 0x3000 for c in s) for s in shown), "Japanese credits drawn with the CJK font"
