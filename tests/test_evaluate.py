"""The evaluator scores truth against itself perfectly and known perturbations by known amounts."""
import copy
import json

import pytest

from vpos import evaluate as E
from vpos.corpus.truth import per_second, truth_to_result

FPS = 25


def make_truth(op=(10.0, 40.0), ed=(150.0, 170.0), duration=180.0, shot_len=50, scene_shots=3):
    n = int(duration * FPS)
    starts = list(range(0, n, shot_len))
    shots = [{"start_frame": s, "end_frame": min(n, s + shot_len)} for s in starts]
    scenes = []
    for i in range(0, len(shots), scene_shots):
        grp = shots[i:i + scene_shots]
        scenes.append({"start_frame": grp[0]["start_frame"], "end_frame": grp[-1]["end_frame"],
                       "location": ["park", "classroom", "street"][(i // scene_shots) % 3],
                       "shots": list(range(i, i + len(grp)))})
    chars = {"Aoi": [[0.0, 30.0], [60.0, 90.0]], "Ren": [[45.0, 120.0]], "Mei": [[100.5, 101.2]]}
    segs = []
    if op:
        segs.append({"label": "opening", "start": op[0], "end": op[1]})
    if ed:
        segs.append({"label": "ending", "start": ed[0], "end": ed[1]})
    t = {
        "id": "x", "show": "s", "episode": 1, "path": "s/x.mp4", "duration": duration, "fps": float(FPS),
        "fps_fraction": f"{FPS}/1", "frame_count": n, "width": 854, "height": 480,
        "segments": segs,
        "opening": {"start": op[0], "end": op[1]} if op else None,
        "ending": {"start": ed[0], "end": ed[1]} if ed else None,
        "cuts": starts[1:], "shots": shots, "scenes": scenes, "characters": chars,
        "screen_time": {k: sum(b - a for a, b in v) for k, v in chars.items()},
        "tags": ["park", "classroom", "Aoi", "speech"],
        "per_second": {
            "opening": per_second([op] if op else [], duration),
            "ending": per_second([ed] if ed else [], duration),
            "speech": [i % 3 == 0 for i in range(int(duration))],
            "music": [10 <= i < 40 for i in range(int(duration))],
            "silence": [False] * int(duration),
        },
    }
    t["per_second"] = {k: [int(x) for x in v] for k, v in t["per_second"].items()}
    return t


def summary(truth, pred):
    return E.aggregate({"x": E.evaluate_pair(truth, pred)})


def test_truth_against_itself_is_perfect():
    t = make_truth()
    s = summary(t, truth_to_result(t))
    assert s["op_boundaries"]["start_metric"] == 0 and s["op_boundaries"]["end_metric"] == 0
    assert s["ed_boundaries"]["start_metric"] == 0 and s["ed_boundaries"]["end_metric"] == 0
    assert s["op_boundaries"]["missed"] == 0 and s["op_boundaries"]["false"] == 0
    for k in ("op_per_second", "ed_per_second", "shots", "scenes", "characters"):
        assert s[k]["f1"] == pytest.approx(1.0), k
    assert s["scenes"]["miou"] == pytest.approx(1.0)
    assert s["characters"]["accuracy"] == pytest.approx(1.0)
    assert s["characters"]["screen_time_mae"] == pytest.approx(0.0)
    assert s["tags"]["hit1"] == 1 and s["tags"]["hit2"] == 1 and s["tags"]["gap20"] == pytest.approx(1.0)
    for k, v in s["tags"]["per_second"].items():
        assert v["f1"] == pytest.approx(1.0), k


def test_op_end_shift_by_3s_gives_2s():
    t = make_truth()
    p = truth_to_result(t)
    p["opening"]["end"] += 3.0
    del p["per_second"]["op_prob"]
    s = summary(t, p)
    assert s["op_boundaries"]["end_metric"] == pytest.approx(2.0)
    assert s["op_boundaries"]["start_metric"] == 0
    # per-second F1 from the interval: 3 extra positive seconds over 30 true ones
    ps = s["op_per_second"]
    assert ps["fp"] == 3 and ps["fn"] == 0
    assert ps["f1"] == pytest.approx(2 * 30 / (2 * 30 + 3))
    # within the 1 s tolerance costs nothing
    p["opening"]["end"] = t["opening"]["end"] - 0.9
    assert summary(t, p)["op_boundaries"]["end_metric"] == 0


def test_missed_false_and_missing_segments():
    t = make_truth()
    p = truth_to_result(t)
    p["opening"] = None
    p["segments"] = [s for s in p["segments"] if s["label"] != "opening"]
    del p["per_second"]
    s = summary(t, p)
    assert s["op_boundaries"]["missed"] == 1 and s["op_boundaries"]["start_metric"] is None
    t2 = make_truth(op=None)
    p2 = truth_to_result(make_truth())
    s2 = summary(t2, p2)
    assert s2["op_boundaries"]["false"] == 1
    # a prediction without any OP information is "missing", not zero
    p3 = truth_to_result(t)
    for k in ("opening", "segments", "per_second"):
        p3.pop(k)
    s3 = summary(t, p3)
    assert s3["op_boundaries"]["status"] == "missing"
    assert s3["op_per_second"]["status"] == "missing"


def test_partial_result_reports_missing():
    t = make_truth()
    p = {"video": {"duration": 180.0}, "opening": {"start": 10.0, "end": 40.0}}
    s = summary(t, p)
    for k in ("shots", "scenes", "characters", "tags"):
        assert s[k]["status"] == "missing"
    assert s["op_boundaries"]["start_metric"] == 0
    rep = {"episodes_scored": 1, "episodes_truth": 1, "summary": s, "episodes_without_prediction": []}
    table = E.format_table(rep)
    assert "missing" in table and "OP start" in table


def test_shot_tolerance_and_one_to_one():
    t = make_truth()
    p = truth_to_result(t)
    p["shots"][3]["start_frame"] += 2  # within +-2 frames
    assert summary(t, p)["shots"]["f1"] == pytest.approx(1.0)
    p["shots"][3]["start_frame"] += 1  # now 3 frames off: one FP and one FN
    r = summary(t, p)["shots"]
    assert (r["tp"], r["fp"], r["fn"]) == (len(t["cuts"]) - 1, 1, 1)
    # two predicted cuts near one truth cut: only one matches
    p = truth_to_result(t)
    p["shots"].insert(4, {"start_frame": t["shots"][4]["start_frame"] + 1, "end_frame": 0})
    r = summary(t, p)["shots"]
    assert r["fp"] == 1 and r["fn"] == 0
    assert E.match_one_to_one([10, 20], [9, 11, 19], 2) == 2


def test_scene_merge_and_shift():
    t = make_truth()
    p = truth_to_result(t)
    # merge scenes 0 and 1
    a, b = p["scenes"][0], p["scenes"][1]
    merged = dict(a, end_frame=b["end_frame"])
    p["scenes"] = [merged] + p["scenes"][2:]
    r = summary(t, p)["scenes"]
    assert r["fn"] == 1 and r["fp"] == 0
    n0 = t["scenes"][0]["end_frame"] - t["scenes"][0]["start_frame"]
    n1 = t["scenes"][1]["end_frame"] - t["scenes"][1]["start_frame"]
    k = len(t["scenes"])
    t2p = (n0 / (n0 + n1) + n1 / (n0 + n1) + (k - 2)) / k
    p2t = (max(n0, n1) / (n0 + n1) + (k - 2)) / (k - 1)
    assert r["miou"] == pytest.approx(0.5 * (t2p + p2t))
    # a boundary one shot late still counts (+-1 shot), two shots late does not
    p = truth_to_result(t)
    sl = t["shots"][1]["start_frame"]
    p["scenes"][0]["end_frame"] += sl
    p["scenes"][1]["start_frame"] += sl
    assert summary(t, p)["scenes"]["f1"] == pytest.approx(1.0)
    p["scenes"][0]["end_frame"] += sl
    p["scenes"][1]["start_frame"] += sl
    r = summary(t, p)["scenes"]
    assert r["fn"] == 1 and r["fp"] == 1


def test_characters_by_name_and_by_assignment():
    t = make_truth()
    p = truth_to_result(t)
    # rename: an unsupervised result calls them char_0.. -> optimal assignment, still perfect
    ren = {n: f"char_{i}" for i, n in enumerate(sorted(t["characters"]))}
    pc = p["characters"]
    p["characters"] = {"names": [ren[n] for n in pc["names"]],
                       "per_second": {ren[k]: v for k, v in pc["per_second"].items()},
                       "screen_time": {ren[k]: v for k, v in pc["screen_time"].items()}}
    r = summary(t, p)["characters"]
    assert r["accuracy"] == pytest.approx(1.0)
    assert r["screen_time_mae"] == pytest.approx(0.0)
    # drop one character entirely: its seconds are misses; screen-time error = its screen time
    p = truth_to_result(t)
    del p["characters"]["per_second"]["Ren"]
    del p["characters"]["screen_time"]["Ren"]
    del p["characters"]["intervals"]["Ren"]
    r = summary(t, p)["characters"]
    n = 180
    assert r["accuracy"] == pytest.approx((3 * n - 75) / (3 * n))
    assert r["screen_time_mae"] == pytest.approx(75.0 / 3)
    assert r["screen_time_pct_max"] == pytest.approx(100.0)  # the missing one, all of its time
    assert r["screen_time_within_5pct"] == pytest.approx(2 / 3)


def test_a_character_without_references_is_scored_by_the_wrong_name_target():
    t = make_truth()
    n = 180
    p = truth_to_result(t)
    pc = p["characters"]
    # found from references of the others only: Ren was never asked for, so he is no miss ...
    pc["references"] = {k: 3 for k in pc["names"] if k != "Ren"}
    for key in ("per_second", "screen_time", "intervals"):
        del pc[key]["Ren"]
    pc["names"].remove("Ren")
    ren = t["characters"]["Ren"]
    r = summary(t, p)["characters"]
    assert r["accuracy"] == pytest.approx(1.0) and r["screen_time_within_5pct"] == pytest.approx(1.0)
    assert r["unreferenced_pairs"] == 1 and r["unreferenced_wrong_name_rate"] == pytest.approx(0.0)
    # ... but his seconds reported under a name that is not on screen then are wrong names
    other = next(k for k in pc["names"])
    a, b = ren[0]
    pc["intervals"][other] = sorted(pc["intervals"][other] + [[a, a + 10.0]])
    pc.pop("screen_time")
    r = summary(t, p)["characters"]
    busy = E.intervals_per_second(t["characters"][other], n, float(t["duration"]))
    wrong = int((~busy[int(a):int(a) + 10]).sum())
    assert wrong > 0
    assert r["unreferenced_wrong_name_rate"] == pytest.approx(wrong / (E.intervals_per_second(ren, n, float(t["duration"])).sum()))
    assert "Without references: wrong name" in E.format_table({"summary": {"characters": r}, "episodes_scored": 1})
    # without a references map (discovery, or a result that does not say) every truth character is scored
    del pc["references"]
    assert "unreferenced_pairs" not in summary(t, p)["characters"]


def test_tags_hit_at_k_and_gap():
    t = make_truth()
    p = truth_to_result(t)
    p["tags"]["video"] = [{"label": "beach", "score": 0.9}, {"label": "park", "score": 0.8},
                          {"label": "Aoi", "score": 0.1}]
    r = summary(t, p)["tags"]
    assert r["hit1"] == 0 and r["hit2"] == 1
    # GAP: hits at rank 2 and 3 over 4 truth tags: (1/2 + 2/3) / 4
    assert r["gap20"] == pytest.approx((0.5 + 2 / 3) / 4)


def test_evaluate_dir_and_cli(tmp_path):
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "pred"
    (truth_dir / "s").mkdir(parents=True)
    pred_dir.mkdir()
    for i in range(3):
        t = make_truth(op=(5.0 + i, 35.0 + i))
        t["id"] = f"ep{i}"
        (truth_dir / "s" / f"ep{i}.truth.json").write_text(json.dumps(t))
        p = truth_to_result(t)
        if i == 0:
            p["opening"]["start"] += 3.0  # error 2.0 on one of three
            p["per_second"].pop("op_prob")
        if i < 2:
            (pred_dir / f"ep{i}.vpos.json").write_text(json.dumps(p))
    rep = E.evaluate_dir(truth_dir, pred_dir)
    assert rep["episodes_scored"] == 2 and rep["episodes_without_prediction"] == ["ep2"]
    assert rep["summary"]["op_boundaries"]["start_metric"] == pytest.approx(1.0)
    out = tmp_path / "r.json"
    assert E.main(["--truth", str(truth_dir), "--pred", str(pred_dir), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["summary"]["shots"]["f1"] == pytest.approx(1.0)


def test_competition_label_files(tmp_path):
    (tmp_path / "t.txt").write_text("a_start 90.0\nb_start 12.5\nc_start 3\n")
    (tmp_path / "p.txt").write_text("a_start 93.0\nb_start 12.0\n")
    r = E.score_competition_labels(tmp_path / "t.txt", tmp_path / "p.txt")
    assert r["metric"] == pytest.approx(1.0) and r["missing"] == ["c_start"]


def test_per_second_rule():
    # second i is positive when [i, i+1) overlaps the segment by >= 0.5 s
    assert per_second([[1.5, 3.4]], 5.0) == [0, 1, 1, 0, 0]
    m = E.interval_per_second(1.5, 3.4, 5)
    assert list(m.astype(int)) == [0, 1, 1, 0, 0]


def test_screen_time_only_prediction():
    t = make_truth()
    p = {"characters": {"names": ["Aoi", "Ren", "Mei"], "screen_time": {"Aoi": 60.0, "Ren": 70.0, "Mei": 0.7}}}
    r = summary(t, p)["characters"]
    assert r["accuracy"] is None  # presence not given: not scored as zero
    assert r["screen_time_mae"] == pytest.approx(5.0 / 3)
    assert "Character presence acc" in E.format_table({"summary": summary(t, p), "episodes_scored": 1,
                                                       "episodes_truth": 1, "episodes_without_prediction": []})
