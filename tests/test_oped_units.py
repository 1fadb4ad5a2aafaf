"""Opening/ending decoding, checkpoint fusion, exports and season repetition on known inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vpos import exports
from vpos.oped import best_segment, kmeans_fuse, refine_boundary, segments_from_probs
from vpos.season import blocks, repeated_runs, repetition


def test_best_segment_finds_the_block_and_respects_limits():
    p = np.full(600, 0.05)
    p[100:190] = 0.9
    p[140] = 0.3  # a dip inside does not split it
    assert best_segment(p, 20, 200) == (100, 190)
    assert best_segment(np.full(600, 0.1), 20, 200) is None
    short = np.full(300, 0.05)
    short[10:15] = 0.95
    assert best_segment(short, 20, 200) is None  # 5 s is no opening


def test_refine_boundary_interpolates_then_snaps_to_cut():
    # Second k stands for [k, k+1): its centre is k + 0.5; the boundary is where p crosses 0.5
    # between the centres of seconds 9 and 10.
    p = np.array([0.0] * 9 + [0.25] + [1.0] * 10)
    assert refine_boundary(10.0, p, True, None) == pytest.approx(9.5 + 1 / 3, abs=0.01)
    assert refine_boundary(10.0, p, True, np.array([9.2, 30.0])) == pytest.approx(9.2)
    assert refine_boundary(10.0, p, True, np.array([12.0])) == pytest.approx(9.5 + 1 / 3, abs=0.01)


def test_kmeans_fusion_drops_the_outlier():
    assert kmeans_fuse([90.0, 90.4, 89.8, 90.2, 140.0]) == pytest.approx(90.1, abs=0.01)
    assert kmeans_fuse([12.0, 12.0]) == 12.0


def test_segments_from_probs():
    op = np.zeros(1200)
    op[30:120] = 1
    ed = np.zeros(1200)
    ed[1000:1090] = 1
    segs = segments_from_probs({"opening": op, "ending": ed}, 1200.0)
    assert segs["opening"] == pytest.approx((30.0, 120.0), abs=0.01)
    assert segs["ending"] == pytest.approx((1000.0, 1090.0), abs=0.01)


def _doc():
    return {
        "video": {"duration": 1420.0},
        "opening": {"start": 30.0, "end": 120.0, "confidence": 0.9},
        "ending": {"start": 1300.0, "end": 1390.0, "confidence": 0.8},
        "segments": [{"label": "opening", "start": 30.0, "end": 120.0, "confidence": 0.9},
                     {"label": "ending", "start": 1300.0, "end": 1390.0, "confidence": 0.8}],
        "per_second": {"t": [0, 1, 2], "op_prob": [0.1, 0.2, None]},
    }


def test_exports():
    doc = _doc()
    ch = exports.chapters(doc)
    assert [c[2] for c in ch] == ["episode", "opening", "episode", "ending", "episode"]
    assert ch[0][0] == 0 and ch[-1][1] == 1420.0
    vtt = exports.webvtt_chapters(doc)
    assert vtt.startswith("WEBVTT") and "00:00:30.000 --> 00:02:00.000\nOpening" in vtt
    ff = exports.ffmetadata(doc)
    assert ff.startswith(";FFMETADATA1") and "START=30000" in ff and "END=120000" in ff
    xml = exports.matroska_chapters(doc)
    assert "<ChapterTimeStart>00:00:30.000000000</ChapterTimeStart>" in xml
    assert exports.edl(doc) == "30.000\t120.000\t3\n1300.000\t1390.000\t3\n"
    csv_text = exports.per_second_csv(doc)
    assert csv_text.splitlines()[0] == "t,op_prob" and csv_text.splitlines()[3] == "2,"


def test_season_repetition_finds_the_shared_block():
    rng = np.random.default_rng(0)
    shared = rng.standard_normal((90, 16))
    eps = []
    for cold in (0, 37, 120):  # OP at 0:00, after a short and after a long cold open
        body = rng.standard_normal((400, 16))
        f = np.concatenate([body[:cold], shared, body[cold:]])
        eps.append(f / np.linalg.norm(f, axis=1, keepdims=True))
    runs = repeated_runs(eps[0], eps[1], threshold=0.8)
    assert any(a1 - a0 >= 85 and a0 == 0 and b0 == 37 for a0, a1, b0 in runs)
    reps = repetition(eps, threshold=0.8)
    for cold, rep in zip((0, 37, 120), reps):
        bl = blocks(rep)
        assert len(bl) == 1 and bl[0].start == cold and bl[0].end == cold + 90 and bl[0].partners == 2


def test_loose_similarity_without_a_strict_core_is_not_repetition():
    """Same background and music under different dialogue: similar (0.85) for a minute, but never
    the same material (0.9+) -> not repeated. The shared song is."""
    rng = np.random.default_rng(1)
    base = rng.standard_normal((60, 32))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    noise = rng.standard_normal((60, 32))
    noise -= (noise * base).sum(1, keepdims=True) * base  # orthogonal to base
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    similar = 0.85 * base + np.sqrt(1 - 0.85 ** 2) * noise  # cosine 0.85 to base, second by second
    assert repeated_runs(base, similar) == []
    assert repeated_runs(base, similar, core_threshold=0.8)  # with no strict core it would count
    assert repeated_runs(base, base.copy())[0][:2] == (0, 60)


def test_season_fusion_trims_talk_and_ignores_spoken_blocks():
    from vpos.season import fuse

    n = 600
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[30:120] = 0.6  # the model sees the opening (30-120), roughly
    op[120:125] = 0.3  # ... and half believes the sponsor card after it
    rep = np.zeros(n, np.int32)
    rep[30:125] = 2  # song + sponsor card repeat in every episode
    rep[300:380] = 2  # a re-used scene: repeated, but people talk in it
    speech = np.zeros(n, np.float32)
    speech[120:125] = 0.9  # the announcer of the sponsor card
    speech[300:380] = 0.8
    _, _, segs = fuse(op, ed, rep, float(n), None, speech)
    assert segs["opening"] is not None and abs(segs["opening"][1] - 120) <= 1
    assert segs["ending"] is None
    # Without the speech cue the sponsor card stays in the opening and the spoken scene at 300 s
    # (song-length, early in the episode) is taken for nothing more than it is: no second opening.
    _, _, segs_no_speech = fuse(op, ed, rep, float(n), None, None)
    assert segs_no_speech["opening"][1] >= 124


def test_export_cli_round_trip(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "ep.json"
    src.write_text(json.dumps(_doc()))
    p = subprocess.run([sys.executable, "-m", "vpos", "export", str(src), "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "x" / "ep.chapters.vtt").exists() and (tmp_path / "x" / "ep.edl").read_text().startswith("30.000")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = subprocess.run([sys.executable, "-m", "vpos", "export", str(bad), "--out", str(tmp_path / "y")], capture_output=True, text=True)
    assert p.returncode == 2 and "cannot read" in p.stderr


def test_competition_targets_know_only_what_the_label_says():
    from vpos.oped_model import CLASSES
    from vpos.train_oped import competition_targets

    op, ed = CLASSES.index("opening"), CLASSES.index("ending")
    tg, known = competition_targets("start", 90.0, 200)
    assert tg[70:90, op].all() and not tg[90:, op].any() and not tg[:, ed].any()
    assert not known[:70, op].any() and known[70:, op].all()  # before OP end - 20 s: unknown
    assert known[:, ed].all()  # no ending in the first 200 s
    assert not known[:, CLASSES.index("cold_open")].any() and not known[:, CLASSES.index("preview")].any()
    tg, known = competition_targets("end", 30.5, 180)
    assert not tg[:30, ed].any() and tg[31:50, ed].all() and not tg[51:, ed].any()
    assert known[:51, ed].all() and not known[51:, ed].any() and known[:, op].all()
    with pytest.raises(ValueError):
        competition_targets("middle", 10.0, 100)


def test_train_oped_on_the_competition_format(tmp_path, capsys):
    """`vpos train oped` on `<id>_start.mp4` / `<id>_end.mp4` clips with `name seconds` labels
    writes a checkpoint set that loads strictly and runs."""
    from vpos import oped
    from vpos.cli import main
    from vpos.synth import demo_clip

    comp = tmp_path / "competition"
    comp.mkdir()
    for ep in ("ep1", "ep2", "ep3"):
        demo_clip(comp / f"{ep}_start.mp4", seconds=8, size=(96, 54), fps=10)
        demo_clip(comp / f"{ep}_end.mp4", seconds=6, size=(96, 54), fps=10)
    (comp / "start_labels.txt").write_text("ep1_start 5.0\nep2_start 4.0\nep3_start 6.0\n")
    (comp / "end_labels.txt").write_text("ep1_end 2.0\nep2_end 1.5\nep3_end 3.0\n")
    out = tmp_path / "weights"
    rc = main(["train", "oped", "--corpus", str(comp), "--out", str(out), "--epochs", "2", "--variants", "avtnet_norm",
               "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--val-fraction", "0.34"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "training on 4 examples" in printed and "validating on 2" in printed
    fusion = json.loads((out / "fusion.json").read_text())
    assert fusion["checkpoints"] == ["avtnet_norm-s0"] and fusion["inputs"] == ["visual", "audio"]
    models = oped.load_checkpoints(str(out))
    assert len(models) == 1 and not models[0].use_text

    (comp / "end_labels.txt").write_text("ep9_end 2.0\n")  # a label without its clip: a clear message
    rc = main(["train", "oped", "--corpus", str(comp), "--out", str(out), "--epochs", "1", "--variants", "avtnet_norm",
               "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    assert rc == 2 and "ep9_end" in capsys.readouterr().err


def test_sound_change_moves_an_unsure_boundary_to_where_the_song_starts():
    from vpos.oped import sound_change_boundary

    n = 200
    rng = np.random.default_rng(3)
    logmel = rng.normal(0, 0.05, (n, 64)).astype(np.float32)
    logmel[120:] += np.linspace(-2, 2, 64, dtype=np.float32)  # the ending's song starts at 120 s
    p = np.zeros(n, np.float32)
    p[110:] = np.linspace(0.2, 0.9, n - 110)  # the model ramps up slowly from 110 s ...
    p[150:] = 0.95
    # ... and its 0.5 crossing (~139 s) is 19 s late; the sound says 120.
    assert sound_change_boundary(139.0, p, logmel, rising=True) == 120.0
    # A flat spectrum: nothing stands out, the boundary stays.
    assert sound_change_boundary(139.0, p, rng.normal(0, 0.05, (n, 64)).astype(np.float32), rising=True) == 139.0
    # A change outside the unsure zone (P already ~0 there) is not taken.
    far = rng.normal(0, 0.05, (n, 64)).astype(np.float32)
    far[60:] += np.linspace(-2, 2, 64, dtype=np.float32)
    assert sound_change_boundary(139.0, p, far, rising=True) != 60.0


def test_season_fusion_keeps_an_unrecognised_block_whole():
    """A repeated, music-only block the model barely sees (one stray second above 0.2) stays whole."""
    from vpos.season import fuse

    n = 600
    op, ed = np.full(n, 0.05, np.float32), np.full(n, 0.02, np.float32)
    op[10] = 0.3
    rep = np.zeros(n, np.int32)
    rep[0:90] = 3
    _, _, segs = fuse(op, ed, rep, float(n), None, np.zeros(n, np.float32))
    assert segs["opening"] is not None and segs["opening"][0] <= 1 and segs["opening"][1] >= 89


def test_season_fusion_trims_chance_matches_and_silence_at_block_edges():
    """The ending repeats in all 5 other episodes; the pause and the line before it match only one."""
    from vpos.season import fuse

    n = 900
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    ed[800:890] = 0.8
    ed[790:800] = np.linspace(0.12, 0.45, 10)  # the model's probability rising slowly into the song
    rep = np.zeros(n, np.int32)
    rep[790:890] = 5  # the song: every other episode has it from its very first second
    rep[784:790] = 1  # a pause and a short line: one other episode happens to match them
    silence = np.zeros(n, np.float32)
    silence[786:790] = 1.0
    _, _, segs = fuse(op, ed, rep, float(n), None, np.zeros(n, np.float32), silence)
    assert segs["ending"] is not None and abs(segs["ending"][0] - 790) <= 1, segs
    # Sharing-count trimming alone; silence alone: both keep the pause out of the song.
    rep2 = rep.copy()
    rep2[784:790] = 5
    _, _, segs2 = fuse(op, ed, rep2, float(n), None, np.zeros(n, np.float32), silence)
    assert segs2["ending"][0] >= 789, segs2


def test_season_fusion_calls_the_opening_song_at_the_end_an_ending():
    """A finale that plays the opening's song as its ending: the model says 'opening' twice."""
    from vpos.season import fuse

    n = 1400
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[60:150] = 0.9
    op[1300:1390] = 0.85
    rep = np.zeros(n, np.int32)
    rep[60:150] = 4
    rep[1300:1390] = 4
    _, _, segs = fuse(op, ed, rep, float(n), None, np.zeros(n, np.float32))
    assert segs["opening"] is not None and abs(segs["opening"][0] - 60) <= 1
    assert segs["ending"] is not None and abs(segs["ending"][0] - 1300) <= 1 and abs(segs["ending"][1] - 1390) <= 1


def test_season_fusion_takes_the_models_end_when_repetition_runs_on_past_the_song():
    """A sponsor card repeats right after the opening in every episode; the model ends the song."""
    from vpos.season import fuse

    n = 600
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[40:130] = 0.9
    op[130:134] = 0.35  # the model half-believes the sponsor card
    rep = np.zeros(n, np.int32)
    rep[40:134] = 4  # song + sponsor card (a silent card: no speech cue to trim it by)
    quiet = np.zeros(n, np.float32)
    _, _, seg_rep = fuse(op, ed, rep, float(n), None, quiet, quiet)
    assert seg_rep["opening"][1] >= 133
    op_f, _, segs = fuse(op, ed, rep, float(n), None, quiet, quiet, {"opening": (40.0, 130.0), "ending": None})
    assert abs(segs["opening"][0] - 40) < 0.5 and segs["opening"][1] == 130.0 and op_f[131] < 0.5
    # A model end far inside the block (a truncated song) is not taken.
    _, _, segs_far = fuse(op, ed, rep, float(n), None, quiet, quiet, {"opening": (40.0, 100.0)})
    assert segs_far["opening"][1] >= 133


def test_season_fusion_overrules_the_model_just_before_a_repeated_song():
    """The model believes the opening starts 3 s early (over a short cold open); repetition starts at 10 s."""
    from vpos.season import fuse

    n = 300
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[7:100] = 0.8
    rep = np.zeros(n, np.int32)
    rep[10:100] = 2
    quiet = np.zeros(n, np.float32)
    _, _, segs = fuse(op, ed, rep, float(n), None, quiet, quiet)
    assert abs(segs["opening"][0] - 10) <= 0.5, segs


def _unit_rows(rng, n, d=32):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _two_episodes_sharing_a_song(rng, picture_until: int, sound_after=None):
    """Episode 0 has a song at [100, 190), episode 1 the same song at [50, 140). The picture repeats
    only until `picture_until` (episode 0's clock); the sound repeats for the whole song, and
    `sound_after` seconds of whatever follows it are shared in sound too."""
    from vpos.season import match_season

    n = 400
    song = _unit_rows(rng, 90)
    audio = [_unit_rows(rng, n), _unit_rows(rng, n)]
    audio[0][100:190], audio[1][50:140] = song, song
    if sound_after:
        after = _unit_rows(rng, sound_after)
        audio[0][190 : 190 + sound_after], audio[1][140 : 140 + sound_after] = after, after
    pictures = [_unit_rows(rng, n), _unit_rows(rng, n)]
    shared = _unit_rows(rng, picture_until - 100)
    pictures[0][100:picture_until], pictures[1][50 : 50 + picture_until - 100] = shared, shared
    fps = [np.concatenate([a, p], 1) / np.sqrt(2) for a, p in zip(audio, pictures)]
    return match_season(fps, audio)


def test_season_music_end_follows_the_sound_not_the_picture():
    """The picture stops repeating 4 s before the song ends (an episode's own last shots); the sound
    says where the song stops, for either episode of the pair."""
    from vpos.season import music_end

    m = _two_episodes_sharing_a_song(np.random.default_rng(0), picture_until=186)
    assert m.reps[0][100:186].min() == 1 and m.reps[0][186:190].max() == 0
    assert music_end(m, 0, 100, 186) == 190
    assert music_end(m, 1, 50, 136) == 140
    # Without audio there is nothing to say.
    m.audio[0] = None
    assert music_end(m, 0, 100, 186) is None


def test_season_music_end_takes_the_true_alignment_not_a_repeated_chorus():
    """A chorus heard twice in the song also matches the partner at another offset, and that run
    ends early; the alignment that sounds the same (~1.0) decides where the song stops."""
    from vpos.season import SeasonMatch, music_end

    rng = np.random.default_rng(1)
    n = 300
    song = _unit_rows(rng, 90)
    # The chorus is sung twice: song seconds 60-80 sound almost like 20-40 (similarity ~0.95).
    song[60:80] = song[20:40] + 0.3 * _unit_rows(rng, 20)
    song[60:80] /= np.linalg.norm(song[60:80], axis=1, keepdims=True)
    a, b = _unit_rows(rng, n), _unit_rows(rng, n)
    a[100:190], b[50:140] = song, song
    chorus_run = (1, 160, 180, 70)  # episode 0's second chorus against the partner's first one
    true_run = (1, 100, 190, 50)
    m = SeasonMatch(reps=[np.zeros(n, np.int32)] * 2, runs=[[chorus_run, true_run], []], audio=[a, b])
    assert music_end(m, 0, 100, 190) == 190


def test_season_fusion_ends_a_song_where_its_sound_stops():
    """With the picture repeating until 186 only, the sound extends the ending to 190; the model's
    probability decaying for 3 s past the song does not move it further."""
    from vpos.season import fuse, music_end

    m = _two_episodes_sharing_a_song(np.random.default_rng(2), picture_until=186)
    n = 400
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    ed[100:190] = 0.9
    ed[190:194] = [0.75, 0.65, 0.55, 0.3]  # the model's slow decay past the song
    rep = m.reps[0].copy()
    rep[186:190] = 0
    quiet = np.zeros(n, np.float32)
    _, _, without = fuse(op, ed, rep, float(n), None, quiet, quiet, {"opening": None, "ending": (100.0, 193.0)})
    assert without["ending"][1] > 191  # the model's end: too late
    ed_f, _, segs = fuse(op, ed, rep, float(n), None, quiet, quiet, {"opening": None, "ending": (100.0, 193.0)},
                         lambda a, b: music_end(m, 0, a, b))
    assert segs["ending"] == (100.0, 190.0) or abs(segs["ending"][0] - 100) <= 0.5 and segs["ending"][1] == 190.0, segs
    assert ed_f[190:194].max() < 0.5


def test_season_fusion_does_not_extend_a_song_over_a_repeated_announcement():
    """A sponsor card's announcer says the same line in every episode right after the song: it
    sounds the same, but it is speech, so the song still ends where the picture stopped."""
    from vpos.season import fuse, music_end

    m = _two_episodes_sharing_a_song(np.random.default_rng(3), picture_until=190, sound_after=5)
    n = 400
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[100:190] = 0.9
    op[190:194] = [0.8, 0.7, 0.6, 0.3]
    speech = np.full(n, 0.3, np.float32)
    speech[190:195] = 0.9  # the announcer
    assert music_end(m, 0, 100, 190) == 195  # the sound alone runs on over the announcement
    _, _, segs = fuse(op, ed, m.reps[0], float(n), None, speech, np.zeros(n, np.float32),
                      {"opening": (100.0, 193.0), "ending": None}, lambda a, b: music_end(m, 0, a, b))
    assert abs(segs["opening"][0] - 100) <= 0.5 and segs["opening"][1] == 190.0, segs


def test_season_music_end_to_the_frame():
    """The song ends at 190.37 s in episode 0 (the partner has it 49.75 s earlier, a sub-second
    offset the per-second match cannot see): the full-rate frames give the end to ~0.05 s; without
    them it is the end of the last second that sounds the same."""
    from vpos.season import music_end

    rng = np.random.default_rng(4)
    m = _two_episodes_sharing_a_song(rng, picture_until=190)
    n, r = 400, 100
    song = _unit_rows(rng, 9037, 19)
    frames = [_unit_rows(rng, n * r, 19), _unit_rows(rng, n * r, 19)]
    frames[0][10000:19037] = song
    frames[1][5025:14062] = song
    m.audio[0][190] = _unit_rows(rng, 1)[0]  # second 190 holds only 0.37 s of the song
    assert music_end(m, 0, 100, 190) == 190.0
    m.frames = [f.astype(np.float16) for f in frames]
    assert abs(music_end(m, 0, 100, 190) - 190.37) <= 0.05
    # A partner whose frames stop matching 3 s before the per-second evidence (a song faded out
    # early there) does not overrule it.
    frames[1][14062 - 300 : 14062] = _unit_rows(rng, 300, 19)
    m.frames = [f.astype(np.float16) for f in frames]
    assert music_end(m, 0, 100, 190) == 190.0


def test_season_music_start_to_the_frame_and_fusion_takes_it():
    """Episode 0's song starts at 99.60 s; the picture repeats only from 102 (its first shots are the
    episode's own) and the partner has the song 49.75 s earlier. The sound gives the start to the
    frame, and the fused opening starts there; a repeated BGM cue before the song would have made
    the picture block start early, and the sound trims that too."""
    from vpos.season import fuse, match_season, music_start

    rng = np.random.default_rng(5)
    n, r = 400, 100
    song = _unit_rows(rng, 90)
    audio = [_unit_rows(rng, n), _unit_rows(rng, n)]
    audio[0][100:190], audio[1][50:140] = song, song  # second 99 holds only 0.4 s of the song
    pictures = [_unit_rows(rng, n), _unit_rows(rng, n)]
    pictures[0][102:190], pictures[1][52:140] = pictures[0][102:190], pictures[0][102:190]
    fps = [np.concatenate([a, p], 1) / np.sqrt(2) for a, p in zip(audio, pictures)]
    song_frames = _unit_rows(rng, 9040, 19)
    frames = [_unit_rows(rng, n * r, 19), _unit_rows(rng, n * r, 19)]
    frames[0][9960:19000], frames[1][4985:14025] = song_frames, song_frames
    m = match_season(fps, audio, [f.astype(np.float16) for f in frames])
    assert m.reps[0][102:190].min() == 1 and m.reps[0][95:102].max() == 0
    assert abs(music_start(m, 0, 102, 190) - 99.60) <= 0.05
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[97:190] = 0.9  # the model starts the song 2.6 s early
    quiet = np.zeros(n, np.float32)
    rep = m.reps[0]
    _, _, without = fuse(op, ed, rep, float(n), None, quiet, quiet)
    assert without["opening"][0] > 101
    _, _, segs = fuse(op, ed, rep, float(n), None, quiet, quiet, None, None, lambda a, b: music_start(m, 0, a, b))
    assert abs(segs["opening"][0] - 99.60) <= 0.05, segs
    # A BGM cue repeated (in both picture and sound) for 4 s before the song: the sound's frames
    # do not line up with the song's alignment there, so the start stays at the song's.
    rep2 = rep.copy()
    rep2[96:102] = 1
    _, _, segs2 = fuse(op, ed, rep2, float(n), None, quiet, quiet, None, None, lambda a, b: music_start(m, 0, a, b))
    assert abs(segs2["opening"][0] - 99.60) <= 0.05, segs2


def test_season_fusion_partial_second_does_not_make_a_song_start_an_announcement():
    """The song starts at 99.6 s: second 99 is mostly the talk before it, and the song's first two
    sung seconds read speech-like. Counted with that partial second they look like a 3-s spoken
    stretch and would cut the song's start; without it they do not."""
    from vpos.season import _trim_spoken_edges, fuse

    n = 300
    op, ed = np.full(n, 0.02, np.float32), np.full(n, 0.02, np.float32)
    op[100:190] = 0.9
    op[99] = 0.3  # the model half-sees the song's first notes
    rep = np.zeros(n, np.int32)
    rep[100:190] = 3
    speech = np.full(n, 0.5, np.float32)
    speech[90:100] = 0.95  # the last scene's dialogue
    speech[100:102] = 0.75  # sung, but speech-like
    speech[102:190] = 0.45
    quiet = np.zeros(n, np.float32)
    # The old test on [99, 190) takes 99-101 for talk:
    assert _trim_spoken_edges(speech, 99, 190, 20.0)[0] == 102
    _, _, segs = fuse(op, ed, rep, float(n), None, speech, quiet, None, None, lambda a, b: 99.6)
    assert abs(segs["opening"][0] - 99.6) <= 0.05, segs


def test_season_music_start_past_a_chance_second_that_sounds_alike():
    """Episode 0's song starts at 100.57 s (the partner has it 50.75 s earlier), the picture repeats
    from 97 s (the block from 99 s, where the sound is alike too). Second 99 (quiet room tone before the song in both) has alike spectra by the second,
    so the per-second walk starts the song there; frame by frame it does not match, and the frames
    move the start to the song's (neko-tabi e02/e05: 1.4-1.6 s early before). A partner that does
    match frame by frame over most of those seconds keeps the per-second start."""
    from vpos.season import match_season, music_start

    rng = np.random.default_rng(6)
    n, r = 400, 100
    song = _unit_rows(rng, 90)
    audio = [_unit_rows(rng, n), _unit_rows(rng, n)]
    audio[0][100:190], audio[1][50:140] = song, song  # second 100 holds 0.43 s of the song
    audio[1][49] = audio[0][99]  # the chance match by the second
    pictures = [_unit_rows(rng, n), _unit_rows(rng, n)]
    pictures[1][47:140] = pictures[0][97:190]
    fps = [np.concatenate([a, p], 1) / np.sqrt(2) for a, p in zip(audio, pictures)]
    song_frames = _unit_rows(rng, 8943, 19)
    frames = [_unit_rows(rng, n * r, 19), _unit_rows(rng, n * r, 19)]
    frames[0][10057:19000], frames[1][10057 - 5075 : 19000 - 5075] = song_frames, song_frames
    m = match_season(fps, audio, [f.astype(np.float16) for f in frames])
    assert m.reps[0][99:190].min() == 1 and m.reps[0][97:99].max() == 0  # the block starts with the chance second
    m.frames = None
    assert music_start(m, 0, 99, 190) == 99.0  # the per-second evidence alone
    m.frames = [f.astype(np.float16) for f in frames]
    assert abs(music_start(m, 0, 99, 190) - 100.57) <= 0.05
    # The partner's frames match episode 0's over 99.0-100.3 s too (the same sound there, a dip
    # just before the song): the per-second start stays.
    frames[1][9900 - 5075 : 10030 - 5075] = frames[0][9900:10030]
    m.frames = [f.astype(np.float16) for f in frames]
    assert abs(music_start(m, 0, 99, 190) - 99.0) <= 0.05


def test_season_music_start_is_where_the_sound_stays_the_same():
    """The cold open repeats in both episodes (the same picture, a similar but not the same sound)
    for 6 s before the song at 100 s, and one word of it (second 94) sounds alike: the song starts
    where the sound stays the same, not at that lone second (hikari-houkago's openings were 7 s
    early before)."""
    from vpos.season import match_season, music_start

    rng = np.random.default_rng(7)
    n = 400
    song = _unit_rows(rng, 90)
    audio = [_unit_rows(rng, n), _unit_rows(rng, n)]
    audio[0][100:190], audio[1][50:140] = song, song
    near = 0.85 * audio[0][95:100] + np.sqrt(1 - 0.85**2) * _unit_rows(rng, 5)  # alike, not the same
    audio[1][45:50] = near / np.linalg.norm(near, axis=1, keepdims=True)
    audio[1][44] = audio[0][94]  # the repeated word
    pictures = [_unit_rows(rng, n), _unit_rows(rng, n)]
    pictures[1][44:140] = pictures[0][94:190]
    fps = [np.concatenate([a, p], 1) / np.sqrt(2) for a, p in zip(audio, pictures)]
    m = match_season(fps, audio)
    assert m.reps[0][94:190].min() == 1 and m.reps[0][90:94].max() == 0
    assert music_start(m, 0, 94, 190) == 100.0
