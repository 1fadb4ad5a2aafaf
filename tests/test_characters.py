"""Characters (issue 7): references -> who is on screen when, on a generated clip with figures the
network never saw; bad references; the shipped weights; the interval logic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vpos.characters import (CharacterReferenceError, collect_references, hold_in_shots, intervals_csv,
                             intervals_from_mask, shot_segments, smooth_in_shots)
from vpos.errors import ModelLoadError

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "characters"
SIZE = (320, 180)
FPS = 8


def _figure(ident_index: int, height: int, seed: int) -> np.ndarray:
    from vpos.characters_train import draw_figure, drawn_identity

    # seed 991: identities outside the training run's (seed 7)
    return draw_figure(drawn_identity(ident_index, 991).params, height, np.random.default_rng(seed))


def _paste(frame: np.ndarray, sprite: np.ndarray, cx: int, bottom: int) -> None:
    from vpos.characters_train import blend

    ids = np.zeros(frame.shape[:2], np.int32)
    blend(frame, ids, np.ascontiguousarray(sprite), cx - sprite.shape[1] // 2, bottom - sprite.shape[0], 1)


def _background(seed: int) -> np.ndarray:
    from vpos.corpus.material import draw_background

    return draw_background(["park", "classroom", "street"][seed % 3], 500 + seed, SIZE[0], SIZE[1])


# shots: (seconds, background seed, [(identity, height fraction, centre x fraction, flipped)])
SHOTS = [
    (3, 0, [(0, 0.8, 0.3, False)]),
    (3, 1, [(0, 0.7, 0.25, True), (1, 0.75, 0.7, False)]),
    (3, 2, [(2, 0.8, 0.5, False)]),  # identity 2 has no references: must not be named
]


@pytest.fixture(scope="module")
def character_clip(tmp_path_factory):
    import av

    d = tmp_path_factory.mktemp("chars")
    path = d / "cast.mp4"
    with av.open(str(path), "w") as c:
        st = c.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        k = 0
        for seconds, bg, cast in SHOTS:
            base = _background(bg)
            for f in range(seconds * FPS):
                frame = base.copy()
                for ident, hf, x, flip in cast:
                    sp = _figure(ident, int(hf * SIZE[1]), seed=k // 4)
                    sp = sp[:, ::-1] if flip else sp
                    _paste(frame, sp, int(x * SIZE[0]) + f, SIZE[1] + 5)
                for p in st.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    c.mux(p)
                k += 1
        for p in st.encode():
            c.mux(p)
    refs = d / "refs"
    from PIL import Image

    for name, ident in (("Akari", 0), ("Botan", 1)):
        (refs / name).mkdir(parents=True)
        crop = _figure(ident, 160, seed=100 + ident)  # a crop on transparency
        Image.fromarray(crop).save(refs / name / "crop.png")
        shot = _background(7 + ident)  # a screenshot, other background, other expression
        _paste(shot, _figure(ident, 120, seed=200 + ident), 200, SIZE[1])
        Image.fromarray(shot).save(refs / name / "screen.jpg")
    return path, refs


def test_weights_load_strictly_from_the_repository():
    from vpos.character_model import CharacterNet, load_head

    assert (WEIGHTS / "model.safetensors").exists() and (WEIGHTS / "config.json").exists()
    head = load_head(str(WEIGHTS))
    assert isinstance(head, CharacterNet)
    cfg = json.loads((WEIGHTS / "config.json").read_text())
    assert cfg["calib_a"] > 0 and 0 < cfg["calib_b"] < 1  # fitted calibration, not the defaults
    for p in (0.2, 0.7, 0.95):  # the score at which a name is reported is the calibration's inverse
        assert head.calibrate(head.similarity_at(p)) == pytest.approx(p)
    card = (WEIGHTS / "README.md").read_text()
    assert "DiceBear" in card and "accuracy" in card.lower()
    with pytest.raises(ModelLoadError):
        load_head(str(WEIGHTS.parent / "no-such-folder"))


def test_characters_found_in_a_generated_clip(character_clip, tmp_path):
    from vpos.pipeline import AnalysisOptions, analyze

    path, refs = character_clip
    opts = AnalysisOptions(extractors=("characters",), oped=False, device="cpu", characters=str(refs),
                           cache_dir=str(tmp_path / "cache"))
    r = analyze(path, opts)
    ch = r.characters
    assert ch["names"] == ["Akari", "Botan"] and ch["references"] == {"Akari": 2, "Botan": 2}
    # what each reference image gave its name, for a person to check
    regions = ch["reference_regions"]
    assert {k: len(v) for k, v in regions.items()} == {"Akari": 2, "Botan": 2}
    for reg in regions["Akari"] + regions["Botan"]:
        x0, y0, x1, y1 = reg["box"]
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and 0 < reg["share"] < 1 and 0.5 <= reg["objectness"] <= 1
        assert Path(reg["file"]).exists()
    n = len(r.per_second["t"])
    assert all(len(ch["per_second"][k]) == n for k in ch["names"])
    p = {k: np.asarray(v) for k, v in ch["per_second"].items()}
    truth = {"Akari": np.r_[np.ones(6), np.zeros(3)].astype(bool), "Botan": np.r_[np.zeros(3), np.ones(3), np.zeros(3)].astype(bool)}
    from vpos.characters import CharacterOptions

    thr = CharacterOptions().threshold
    correct = sum(int(((p[k][:9] >= thr) == truth[k]).sum()) for k in truth)
    # 16 of 18 with the pre-open-set defaults (threshold 0.5, Botan at 0.52 in its seconds); the
    # open-set defaults (threshold 0.55, min_name_cells 2) leave this tiny Botan at 0.48-0.50, so
    # its 3 seconds are now missed: 15. Botan's seconds must still stand out from the others.
    assert correct >= 15, (correct, {k: v.round(2).tolist() for k, v in p.items()})
    assert p["Botan"][3:6].mean() >= p["Botan"][[0, 1, 2, 6, 7, 8]].max() + 0.1
    # the character without references is not reported under a known name
    assert (p["Akari"][6:9] >= thr).sum() + (p["Botan"][6:9] >= thr).sum() <= 1
    assert 3.0 <= ch["screen_time"]["Akari"] <= 9.0
    csv = intervals_csv(ch)
    assert csv.splitlines()[0] == "character,start,end,duration" and "Akari," in csv


def test_bad_references_get_clear_errors(tmp_path):
    from vpos.characters import build_references

    (tmp_path / "empty").mkdir()
    with pytest.raises(CharacterReferenceError, match="no character references"):
        collect_references(tmp_path / "empty")
    bad = tmp_path / "bad" / "Akari"
    bad.mkdir(parents=True)
    (bad / "x.png").write_bytes(b"not an image at all")
    with pytest.raises(CharacterReferenceError, match="cannot be read"):
        collect_references(tmp_path / "bad")
    with pytest.raises(CharacterReferenceError, match="not a folder"):
        collect_references(tmp_path / "missing")
    from PIL import Image

    blank = tmp_path / "blank" / "Nobody"
    blank.mkdir(parents=True)
    Image.fromarray(np.full((180, 320, 3), 128, np.uint8)).save(blank / "grey.png")
    with pytest.raises(CharacterReferenceError, match="no character found"):
        build_references(tmp_path / "blank", str(WEIGHTS))
    img = _figure(3, 150, seed=1)
    with pytest.raises(CharacterReferenceError, match="near-identical"):
        build_references({"Akari": [img], "Akari2": [img.copy()]}, str(WEIGHTS))


def test_mapping_csv_references(tmp_path):
    from PIL import Image

    (tmp_path / "images").mkdir()
    for i in range(4):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / "images" / f"frame{i}.jpg")
    (tmp_path / "mapping.csv").write_text("Image_ID,Class\nframe0.jpg,0\nframe1.jpg,1\nframe2.jpg,2\nframe3.jpg,2\n")
    got = collect_references(tmp_path)
    assert sorted(got) == ["1", "2"] and len(got["2"]) == 2  # class 0 (no character) is not a name
    (tmp_path / "mapping.csv").write_text("Image_ID,Class\nmissing.jpg,1\n")
    with pytest.raises(CharacterReferenceError, match="not found"):
        collect_references(tmp_path)


def test_intervals_change_at_shot_cuts():
    mask = np.array([0, 0, 1, 1, 1, 0, 0, 1, 0, 0], bool)
    # samples at 2,3,4 s in the shot [1.6, 4.3): the run covers the shot from cut to cut
    assert intervals_from_mask(mask, 1.0, 10.0, [1.6, 4.3, 8.5]) == [[1.6, 4.3], [6.5, 7.5]]
    assert intervals_from_mask(mask, 1.0, 10.0, []) == [[1.5, 4.5], [6.5, 7.5]]
    assert shot_segments(10, [1.6, 4.3, 8.5]) == [(0, 2), (2, 5), (5, 9), (9, 10)]
    p = np.array([[0.9], [0.2], [0.9], [0.1], [0.1]])
    s = smooth_in_shots(p, [(0, 3), (3, 5)], 1.0)
    assert np.allclose(s[:3, 0], 2.0 / 3) and np.allclose(s[3:, 0], 0.1)
    # a local window inside the shot: a one-sample dropout is lifted, an exit mid-shot stays an exit,
    # and nothing leaks across the cut at sample 8
    p = np.array([[0.9], [0.9], [0.3], [0.9], [0.9], [0.1], [0.1], [0.1], [0.9], [0.9]])
    s = smooth_in_shots(p, [(0, 8), (8, 10)], 0.3, window=3)
    assert s[2, 0] > 0.4 and s[0, 0] > 0.85
    assert s[6, 0] < 0.15 and s[7, 0] < 0.15 and s[8, 0] > 0.85
    whole = smooth_in_shots(p, [(0, 8), (8, 10)], 0.3)
    assert whole[6, 0] > s[6, 0] + 0.1  # the whole-shot mean smears the character into seconds it left


def test_hysteresis_keeps_a_confirmed_character_through_its_weaker_samples_of_the_shot():
    # shot 1 (samples 0-5): confirmed at 2, weaker at 0-1 and 3, gone at 4, weaker again at 5 (a
    # run not joined to the confirmed sample); shot 2 (6-9): weaker everywhere, never confirmed
    p = np.array([0.55, 0.6, 0.8, 0.5, 0.09, 0.6, 0.6, 0.65, 0.6, 0.6])[:, None]
    seg = [(0, 6), (6, 10)]
    held = hold_in_shots(p, seg, 0.7, 0.45)[:, 0]
    assert held.tolist() == [True, True, True, True, False, False, False, False, False, False]
    # a run never crosses a cut: the same samples as one shot carry the name up to sample 3 only
    assert hold_in_shots(p, [(0, 10)], 0.7, 0.45)[:, 0].tolist()[:6] == [True] * 4 + [False] * 2
    # with anchors, only an anchored present sample starts a run; present samples stay present
    no_anchor = np.zeros_like(p, bool)
    assert np.array_equal(hold_in_shots(p, seg, 0.7, 0.45, no_anchor), p >= 0.7)
    anchored = no_anchor.copy()
    anchored[2] = True
    assert np.array_equal(hold_in_shots(p, seg, 0.7, 0.45, anchored)[:, 0], held)
    # off (0) or not below the threshold: plain thresholding
    assert np.array_equal(hold_in_shots(p, seg, 0.7, 0.0), p >= 0.7)
    assert np.array_equal(hold_in_shots(p, seg, 0.7, 0.7), p >= 0.7)
    # several names are held independently
    two = np.concatenate([p, p[::-1]], 1)
    both = hold_in_shots(two, [(0, 10)], 0.7, 0.45)
    assert both[:, 0].tolist()[:6] == [True] * 4 + [False] * 2
    assert both[:, 1].tolist() == [False] * 6 + [True] * 4


def test_eval_scores_character_intervals():
    from vpos.evaluate import score_characters

    truth = {"duration": 10.0, "characters": {"A": [[0.0, 4.0]], "B": [[5.0, 10.0]]}}
    pred = {"characters": {"names": ["A", "B"], "per_second": {"A": [0.0] * 10, "B": [0.0] * 10},
                           "intervals": {"A": [[0.0, 4.0]], "B": [[5.0, 9.0]]}, "screen_time": {"A": 4.0, "B": 4.0}}}
    r = score_characters(truth, pred)  # the intervals (the decision) are scored, not the raw probabilities
    assert r["correct"] == 19 and r["tp"] == 8 and r["fn"] == 1
    assert r["per_character"]["B"]["screen_time_truth"] == 5.0


def test_character_figures():
    from vpos.plots import characters_timeline_figure, screen_time_figure

    doc = {"video": {"duration": 10.0}, "per_second": {"t": [float(i) for i in range(10)]},
           "shots": [{"start_time": 0.0}, {"start_time": 4.0}, {"start_time": 7.5}],
           "characters": {"names": ["A", "B"], "per_second": {"A": [0.9] * 4 + [0.1] * 6, "B": [0.2] * 10},
                          "intervals": {"A": [[0.0, 4.0]], "B": []}, "screen_time": {"A": 4.0, "B": 0.0},
                          "references": {"A": 2, "B": 1}}}
    fig = characters_timeline_figure(doc)
    names = [t.name for t in fig.data]
    assert "A" in names and "B" not in names  # B is never shaded
    assert any(n.startswith("cuts (2)") for n in names)
    assert list(fig.layout.yaxis.ticktext) == ["A", "B"]
    bars = screen_time_figure(doc)
    assert list(bars.data[0].y) == ["A", "B"] and list(bars.data[0].x) == [4.0, 0.0]
    assert characters_timeline_figure({"characters": None}) is None


def test_video_frame_and_discovery_examples(character_clip):
    from vpos.characters import cluster_reference_crops, video_frame

    path, _ = character_clip
    f = video_frame(str(path), 7.5)  # third shot: background 2 with identity 2
    assert f.shape == (SIZE[1], SIZE[0], 3)
    bg = _background(2)
    top = slice(0, 40)  # the sky / wall band no figure reaches
    assert np.abs(f[top].astype(int) - bg[top].astype(int)).mean() < 12
    assert np.abs(f[top].astype(int) - _background(0)[top].astype(int)).mean() > np.abs(f[top].astype(int) - bg[top].astype(int)).mean()
    with pytest.raises(CharacterReferenceError, match="past the end"):
        video_frame(str(path), 60.0)
    rep = {"t": 1.0, "box": [0.0, 0.0, 0.5, 1.0], "examples": [{"t": 2.0, "box": [0.1, 0.1, 0.6, 0.9]}]}
    crops = cluster_reference_crops(str(path), rep, margin=0.0)
    assert [c.shape for c in crops] == [(SIZE[1], SIZE[0] // 2, 3), (int(0.9 * SIZE[1]) - int(0.1 * SIZE[1]), int(0.6 * SIZE[0]) - int(0.1 * SIZE[0]), 3)]


def test_app_turns_frames_and_clusters_into_references(character_clip, tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    import importlib.util
    import sys

    import gradio as gr

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("vpos_app_chars", root / "app.py")
    app = importlib.util.module_from_spec(spec)
    sys.modules["vpos_app_chars"] = app
    spec.loader.exec_module(app)
    monkeypatch.setattr(app, "OUTPUT_ROOT", tmp_path / "out")
    path, refs = character_clip
    rows = app.CHARACTER_ROWS
    names, files = ["Botan"] + [""] * (rows - 1), [[str(refs / "Botan" / "crop.png")]] + [None] * (rows - 1)
    got = app.add_frame_reference(str(path), 1.0, "Akari", *names, *files)  # Akari alone in the first shot
    names2, files2 = list(got[:rows]), list(got[rows:])
    assert names2[:2] == ["Botan", "Akari"] and len(files2[1]) == 1 and files2[0] == files[0]
    from PIL import Image

    assert Image.open(files2[1][0]).size == SIZE
    got = app.add_frame_reference(str(path), 2.0, "Akari", *names2, *files2)  # same name: same row
    assert len(got[rows + 1]) == 2
    with pytest.raises(gr.Error):
        app.add_frame_reference(str(path), 1.0, "", *names, *files)
    clusters = {"cluster_1": {"t": 4.0, "samples": 3, "box": [0.5, 0.1, 0.9, 1.0], "examples": [{"t": 5.0, "box": [0.5, 0.1, 0.9, 1.0]}]}}
    got = app.name_cluster(str(path), clusters, "cluster_1", "Botan", *names, *files)
    assert got[0] == "Botan" and len(got[rows]) == 3  # the row's image + 2 crops of the cluster
    with pytest.raises(gr.Error):
        app.name_cluster(str(path), {}, None, "Botan", *names, *files)


def test_reference_bank_keeps_the_largest_region_and_background_vetoes():
    from vpos.characters import largest_region, match_scores

    m = np.zeros((5, 6), bool)
    m[0, 0:3] = True  # 3 cells: a background blob the detector took for a character
    m[2:4, 3:6] = True  # 6 cells: the character
    got = largest_region(m)
    assert got.sum() == 6 and got[2:4, 3:6].all() and not got[0].any()
    assert not largest_region(np.zeros((3, 3), bool)).any()
    a, b, bg = np.eye(3, dtype=np.float32)
    cells = np.stack([a, 0.6 * a + 0.8 * bg]).astype(np.float32)[None]  # (1 frame, 2 cells, 3)
    obj = np.ones((1, 2), np.float32)
    banks = [a[None], b[None]]
    s = match_scores(obj, cells, banks, 0.5)
    assert s[0, 0] == pytest.approx(1.0) and s[0, 1] == 0.0
    cells2 = np.stack([0.6 * b + 0.8 * bg, 0.6 * a + 0.8 * bg]).astype(np.float32)[None]
    assert match_scores(obj, cells2, banks, 0.5)[0].max() == pytest.approx(0.6)  # without a background bank: named
    assert match_scores(obj, cells2, banks, 0.5, background=bg[None])[0].max() == 0.0  # closer to the background: nobody


def test_ambiguous_cells_go_to_nobody():
    from vpos.characters import match_scores

    a, b, c = np.eye(3, dtype=np.float32)
    cell = (0.62 * a + 0.6 * b + 0.5 * c)
    cell = (cell / np.linalg.norm(cell)).astype(np.float32)
    obj, cells, banks = np.ones((1, 1), np.float32), cell[None, None], [a[None], b[None]]
    assert match_scores(obj, cells, banks, 0.5)[0, 0] > 0.5  # nearest name wins by a hair
    assert match_scores(obj, cells, banks, 0.5, ambiguity_margin=0.05).max() == 0.0


def test_photo_like_training_backgrounds_are_textured_scenes():
    import cv2

    from vpos.character_model import INPUT_H, INPUT_W
    from vpos.characters_train import make_frame, photo_like_background, random_background

    a = photo_like_background(np.random.default_rng(5))
    assert a.shape == (INPUT_H, INPUT_W, 3) and a.dtype == np.uint8
    assert np.array_equal(a, photo_like_background(np.random.default_rng(5)))  # the seed fixes the scene
    assert not np.array_equal(a, photo_like_background(np.random.default_rng(6)))

    def texture(img):  # mean absolute Laplacian: fine detail, as foliage, grass, gravel and photos have
        return float(np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)).mean())

    rng = np.random.default_rng(1)
    photo = np.median([texture(photo_like_background(rng)) for _ in range(6)])
    plain = np.median([texture(random_background(np.random.default_rng(s))) for s in range(6)])
    assert photo > 2 * plain
    # a hard-negative frame still knows every character pixel
    from vpos.characters_train import SpriteSource, drawn_identity

    ids = [drawn_identity(i, 991) for i in range(3)]
    frame, idmap = make_frame(np.random.default_rng(2), ids, [0, 1, 2], SpriteSource(), n_chars=2, photo_like=True)
    assert frame.shape == (INPUT_H, INPUT_W, 3) and set(np.unique(idmap)) - {-1} <= {0, 1, 2} and (idmap >= 0).any()


def test_min_name_cells_drops_a_name_held_by_too_few_cells():
    from vpos.characters import CharacterOptions, match_scores

    a, b, c = np.eye(3, dtype=np.float32)
    # frame 0: two cells of name a; frame 1: a single stray cell near name b
    cells = np.stack([np.stack([a, 0.9 * a + 0.1 * c]), np.stack([0.8 * b + 0.6 * c, 0 * c])]).astype(np.float32)
    obj = np.array([[1, 1], [1, 0]], np.float32)
    banks = [a[None], b[None]]
    one = match_scores(obj, cells, banks, 0.5)
    assert one[0, 0] == pytest.approx(1.0) and one[1, 1] == pytest.approx(0.8)
    two = match_scores(obj, cells, banks, 0.5, min_name_cells=2)
    assert two[0, 0] == pytest.approx(1.0) and two[1].max() == 0.0  # the lone cell names nobody
    assert CharacterOptions().min_name_cells == 2  # the default chosen on the dev shows (README)


def test_spread_floor_rejects_cells_less_similar_than_the_references_are_to_each_other():
    from vpos.characters import match_scores, spread_floors

    a, b, c = np.eye(3, dtype=np.float32)
    near_a = (0.95 * a + np.sqrt(1 - 0.95 ** 2) * c).astype(np.float32)
    bank = np.stack([a, near_a])  # two reference images of name 0 that agree at 0.95
    floors = spread_floors([bank, b[None]], [np.array([0, 1]), np.array([0])], 0.5)
    assert floors[0] == pytest.approx(0.95) and floors[1] == -np.inf  # one image: no spread, no floor
    off = (0.7 * a + np.sqrt(1 - 0.49) * c).astype(np.float32)  # an unknown face nearest name 0 at ~0.90
    obj, cells = np.ones((1, 1), np.float32), off[None, None]
    assert match_scores(obj, cells, [bank, b[None]], 0.5)[0, 0] > 0.8  # without a floor: named
    assert match_scores(obj, cells, [bank, b[None]], 0.5, floors=floors)[0].max() == 0.0
    assert spread_floors([bank], [np.array([0, 1])], 0.0)[0] == -np.inf  # quantile 0: off


def test_checkpoint_with_its_own_trunk_saves_in_half_and_runs_in_place_of_the_registry_lite0(tmp_path):
    import torch

    from vpos.character_model import load_head, run_dense
    from vpos.characters_finetune import build_model, save_half

    model = build_model(str(WEIGHTS), None).eval()
    torch.manual_seed(0)
    with torch.no_grad():  # a trunk that differs from ImageNet's: its outputs must differ too
        model.backbone._blocks[12]._project_conv.weight.mul_(1.5)
    save_half(model, tmp_path / "ft", {"note": "test"})
    cfg = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert cfg["own_backbone"] is True and cfg["calib_a"] > 0
    loaded = load_head(str(tmp_path / "ft"))
    assert loaded.own_backbone
    x = np.random.default_rng(1).integers(0, 255, (2, 224, 384, 3), dtype=np.uint8)
    o1, e1 = run_dense(None, loaded, x)  # the checkpoint's own trunk: no registry backbone needed
    with torch.inference_mode():
        from vpos.characters_finetune import dense

        o2, e2 = dense(model, torch.from_numpy(x), "cpu")
    np.testing.assert_allclose(o1, torch.sigmoid(o2).numpy(), atol=0.02)  # float16 storage
    from vpos.extractors.visual import get_model

    o3, _ = run_dense(get_model("cpu"), load_head(str(WEIGHTS)), x)
    assert np.abs(o3 - o1).max() > 1e-3


def test_finetune_steps_lower_the_training_loss_on_composites(tmp_path):
    """A few end-to-end steps on the same small batch of composites (drawn identities only) must fit
    it: the loop's losses, proxies and optimiser groups are wired to the trunk and the head."""
    import torch

    from vpos.characters_finetune import build_model, finetune
    from vpos.characters_train import SpriteSource, cell_targets, drawn_identity, make_frame

    rng = np.random.default_rng(3)
    ids = [drawn_identity(i, 991) for i in range(6)]
    src = SpriteSource()
    fr, cv, idn = [], [], []
    for _ in range(4):
        f, m = make_frame(rng, ids, list(range(6)), src, n_chars=2)
        c, i = cell_targets(m)
        fr.append(f), cv.append(c), idn.append(i)
    batch = (torch.from_numpy(np.stack(fr)), torch.from_numpy(np.stack(cv).astype(np.float32)),
             torch.from_numpy(np.stack(idn)))
    logs = []

    def stream():
        while True:
            yield batch

    torch.manual_seed(0)
    model = build_model(str(WEIGHTS), None)
    finetune(model, stream(), 6, "cpu", minutes=10, backbone_lr=3e-4, head_lr=1e-3, proxy_batches=1,
             log=logs.append, log_every=0, max_steps=8)
    first, last = logs[0], logs[-1]
    assert last["identity"] < 0.7 * first["identity"], logs


def test_a_cluster_of_an_unreferenced_character_may_not_carry_a_name_another_cluster_matches_better():
    from vpos.characters import cluster_allowed

    rng = np.random.default_rng(0)

    def unit(v):
        return v / np.linalg.norm(v)

    a = unit(rng.normal(size=16))  # character A (has references)
    b = unit(a + 1.2 * unit(rng.normal(size=16)))  # character B, no references, A is its nearest name
    n, m = 8, 4
    obj = np.zeros((n, m), np.float32)
    obj[:, :2] = 0.9  # two adjacent character cells per sample: one region
    pos = np.tile(np.array([[0, 0], [0, 1], [5, 5], [9, 9]], np.int16), (n, 1, 1))
    emb = np.zeros((n, m, 16), np.float32)
    for k in range(n):
        src = a if k < 4 else b
        emb[k, :2] = [unit(src + 0.05 * rng.normal(size=16)) for _ in range(2)]
    bank_a = np.stack([unit(a + 0.05 * rng.normal(size=16)) for _ in range(3)])
    sim_b = float(np.median(emb[4:, :2] @ bank_a.T))
    assert 0.3 < sim_b < 0.85  # B resembles A, but less than A's own cells do
    ok = cluster_allowed(obj, emb, pos, [bank_a], 0.5, margin=0.1, distance=0.2)
    assert ok[:4, :2, 0].all() and not ok[4:, :2, 0].any()
    assert ok[:, 2:, 0].all()  # cells outside any region keep every name
    loose = cluster_allowed(obj, emb, pos, [bank_a], 0.5, margin=1.0, distance=0.2)
    assert loose.all()


def test_a_region_is_named_by_all_its_cells_not_by_one_look_alike_cell():
    from vpos.characters import CharacterOptions, match_regions, match_scores, name_similarities

    a, b, c, d = np.eye(4, dtype=np.float32)
    # one sample, four character cells in a row (one region): an unknown character whose face cell
    # is drawn like name a's, the rest (hair, clothes) like nobody's
    face = (0.95 * a + 0.31 * c).astype(np.float32)
    rest = (0.3 * a + 0.95 * d).astype(np.float32)
    cells = np.stack([face, rest, rest, rest])[None]
    obj = np.ones((1, 4), np.float32)
    pos = np.array([[[0, 0], [0, 1], [0, 2], [0, 3]]])
    banks = [a[None], b[None]]
    assert match_scores(obj, cells, banks, 0.5)[0, 0] == pytest.approx(0.95)  # by cells: named a
    region = match_regions(obj, cells, pos, banks, 0.5)
    assert region[0, 0] == pytest.approx((0.95 + 3 * 0.3) / 4) and region[0, 1] == 0.0  # by the region: weak
    # the region goes to ONE name: hair like a, clothes like b -> only the better one scores
    two = np.stack([a, a, 0.9 * b + 0.1 * a, 0.1 * a])[None].astype(np.float32)
    r2 = match_regions(obj, two, pos, banks, 0.5)
    assert r2[0, 0] > 0 and r2[0, 1] == 0.0
    # separate regions (not 4-connected) are named separately
    apart = np.array([[[0, 0], [0, 1], [2, 5], [2, 6]]])
    r3 = match_regions(obj, np.stack([a, a, b, b])[None], apart, banks, 0.5)
    assert r3[0, 0] == pytest.approx(1.0) and r3[0, 1] == pytest.approx(1.0)
    # a region needs min_name_cells cells and a lead over the second name
    assert match_regions(obj[:, :1], cells[:, :1], pos[:, :1], banks, 0.5, min_name_cells=2).max() == 0.0
    tie = np.stack([(a + b) / np.sqrt(2)] * 4)[None].astype(np.float32)
    assert match_regions(obj, tie, pos, banks, 0.5, ambiguity_margin=0.05).max() == 0.0
    # the detector's one entry point: regions by default, cells when asked or without positions
    opts = CharacterOptions()
    assert opts.match_by == "region"
    assert name_similarities(obj, cells, banks, 0.5, CharacterOptions(min_name_cells=1), pos)[0, 0] == pytest.approx(region[0, 0])
    assert name_similarities(obj, cells, banks, 0.5, CharacterOptions(min_name_cells=1))[0, 0] == pytest.approx(0.95)
    assert name_similarities(obj, cells, banks, 0.5, CharacterOptions(match_by="cell", min_name_cells=1), pos)[0, 0] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="match_by"):
        CharacterOptions(match_by="frame")


def test_bench_reference_frames_are_picked_away_from_entrances_and_cuts():
    # the bench's references (bench/characters_eval.py) once took the middle of a second that was
    # mostly one character's: a second [4, 5) with Yui until 4.5045 and Aya from there gave the
    # frame at 4.5045 -- Aya -- as a reference of Yui
    import importlib.util

    spec = importlib.util.spec_from_file_location("characters_eval", Path(__file__).resolve().parent.parent / "bench" / "characters_eval.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    truth = {"duration": 12.0, "fps": 24.0, "characters": {"Yui": [[0.0, 4.5045], [9.0, 12.0]], "Aya": [[4.5045, 9.0]]},
             "transitions": [{"frame": 108, "type": "cut", "length": 0}, {"frame": 216, "type": "dissolve", "length": 12}]}
    yui = bench.solo_frames(truth, "Yui", 5)
    assert yui and all(0.25 <= t <= 4.5045 - 0.25 or 9.5 + 0.25 <= t <= 12.0 - 0.25 for t in yui)
    aya = bench.solo_frames(truth, "Aya", 5)
    assert aya and all(4.5045 + 0.25 <= t <= 9.0 - 0.25 for t in aya)
    assert bench.solo_frames(truth, "Ken", 5) == []


def test_a_shot_between_two_samples_takes_the_samples_around_it():
    from vpos.characters import CharacterOptions

    cuts = [1.2, 3.3, 3.7, 6.2]  # the shot [3.3, 3.7) holds no sample (samples at whole seconds)
    both = np.array([0, 0, 1, 1, 1, 1, 0, 0], bool)
    assert intervals_from_mask(both, 1.0, 8.0, cuts, "none") == [[1.2, 3.3], [3.7, 5.5]]
    assert intervals_from_mask(both, 1.0, 8.0, cuts) == [[1.2, 5.5]]  # "both" is the default
    one = np.array([0, 0, 1, 1, 0, 0, 0, 0], bool)  # present before the short shot, absent after it
    assert intervals_from_mask(one, 1.0, 8.0, cuts) == [[1.2, 3.3]]
    assert intervals_from_mask(one, 1.0, 8.0, cuts, "nearest") == [[1.2, 3.5]]  # up to half-way
    after = np.array([0, 0, 0, 0, 1, 1, 0, 0], bool)
    assert intervals_from_mask(after, 1.0, 8.0, cuts, "nearest") == [[3.5, 5.5]]
    with pytest.raises(ValueError, match="unsampled"):
        intervals_from_mask(both, 1.0, 8.0, cuts, "all")
    with pytest.raises(ValueError, match="unsampled_shots"):
        CharacterOptions(unsampled_shots="all")


def test_confident_regions_of_the_video_extend_a_names_references():
    from vpos.characters import CharacterOptions, References, detect_characters, expand_banks

    a, c, d, _ = np.eye(4, dtype=np.float32)
    # the reference shows one pose (a); sample 0 is that pose with a bit of another part (c) in one
    # cell; sample 1 shows the character turned (c, c and d): no reference cell looks like it
    cells = np.zeros((3, 8, 4), np.float32)
    cells[0] = np.stack([a] * 7 + [c])
    cells[1, :3] = np.stack([c, c, d])
    obj = np.zeros((3, 8), np.float32)
    obj[0] = 1.0
    obj[1, :3] = 1.0
    pos = np.zeros((3, 8, 2), np.int64)
    pos[:, :, 1] = np.arange(8)
    refs = References(names=["X"], banks={"X": a[None]}, counts={"X": 1})
    grown = detect_characters(obj, cells, refs, 3.0, options=CharacterOptions(), cell_pos=pos)
    alone = detect_characters(obj, cells, refs, 3.0, options=CharacterOptions(expand_probability=0), cell_pos=pos)
    assert alone.raw_prob[0, 0] > 0.8 and grown.raw_prob[0, 0] >= alone.raw_prob[0, 0]
    assert alone.raw_prob[1, 0] < 0.2 < 0.6 < grown.raw_prob[1, 0]  # the turned pose is matched once grown
    assert grown.raw_prob[2, 0] == alone.raw_prob[2, 0]  # nothing on screen stays nothing
    # expand_banks: only regions at or above the probability, best first, at most max_samples
    regions = {(0, 0): (0.9, np.array([0, 1])), (1, 0): (0.8, np.array([0])), (2, 0): (0.5, np.array([1]))}
    raw = np.array([[0.9], [0.85], [0.4]])
    desc = np.stack([np.stack([a, c]), np.stack([d, d]), np.stack([c, c])])
    out = expand_banks([a[None]], raw, regions, desc, 0.8, 5)[0]
    assert out.shape == (4, 4) and np.allclose(out[1:], [a, c, d])
    assert expand_banks([a[None]], raw, regions, desc, 0.8, 1)[0].shape == (3, 4)


def test_a_shot_sample_decides_the_shot_the_grid_misses():
    cuts = [1.2, 3.3, 3.7, 6.2]  # the shot [3.3, 3.7) holds no grid sample
    one = np.array([0, 0, 1, 1, 0, 0, 0, 0], bool)  # present before the short shot only
    # its own sample (taken by the decoder inside it) says present / absent; "both" alone says absent
    assert intervals_from_mask(one, 1.0, 8.0, cuts, shot_samples=[(3.38, True)]) == [[1.2, 3.7]]
    both = np.array([0, 0, 1, 1, 1, 1, 0, 0], bool)
    assert intervals_from_mask(both, 1.0, 8.0, cuts, shot_samples=[(3.38, False)]) == [[1.2, 3.3], [3.7, 5.5]]
    # a shot sample inside a shot that holds grid samples changes nothing; with "none" it still counts
    assert intervals_from_mask(one, 1.0, 8.0, cuts, shot_samples=[(2.5, True)]) == [[1.2, 3.3]]
    assert intervals_from_mask(one, 1.0, 8.0, cuts, "none", [(3.38, True)]) == [[1.2, 3.7]]


def test_the_extractor_keeps_shot_samples_apart_from_the_grid(character_clip):
    import dataclasses

    from vpos.characters import video_frame
    from vpos.extractors.base import RunContext
    from vpos.extractors.characters import CharacterExtractor
    from vpos.media import probe
    from vpos.synth import chunk_of_samples

    path, _ = character_clip
    a, b = video_frame(str(path), 1.0), video_frame(str(path), 4.0)  # Akari alone; Akari and Botan
    ex = CharacterExtractor()
    ex.begin(RunContext(info=probe(str(path)), sample_rate=1.0, batch_size=2))
    chunk = dataclasses.replace(chunk_of_samples(np.stack([a, a])), shot_samples=np.stack([b]),
                                shot_sample_times=np.array([1.4]))
    ex.update(chunk)
    ex.update(chunk_of_samples(np.stack([b]), sample_start=2, index=1))
    fs = ex.finish()
    assert fs["cell_obj"].shape[0] == 3 and fs["shot_cell_obj"].shape[0] == 1 and fs["shot_times"].tolist() == [1.4]
    assert fs["shot_cell_emb"].shape[1:] == fs["cell_emb"].shape[1:]
    # the shot sample is the same picture as grid sample 2: the same cells, whichever batch it ran in
    np.testing.assert_allclose(fs["shot_cell_obj"][0].astype(np.float32), fs["cell_obj"][2].astype(np.float32), atol=2e-2)
    assert not np.allclose(fs["shot_cell_obj"][0].astype(np.float32), fs["cell_obj"][0].astype(np.float32), atol=2e-2)


def test_shared_cells_keep_a_small_character_next_to_a_close_up():
    from vpos.extractors.characters import sparse_cells

    obj = np.zeros((1, 14, 24), np.float32)
    obj[0, 0:10, 0:6] = 0.95  # a close-up: 60 cells, all more character-like than...
    obj[0, 4:7, 15:17] = 0.7  # ...a small character: 6 cells
    emb = np.zeros((1, 14, 24, 4), np.float32)
    o, _, p = sparse_cells(obj, emb, k=48)
    assert not (p[0, :, 1] >= 15).any()  # the top 48 are all the close-up's
    o, _, p = sparse_cells(obj, emb, k=48, share=0.5)
    assert (p[0, :, 1] >= 15).sum() == 6 and (o[0] > 0).sum() == 48


def test_region_floor_keeps_every_character_some_cells():
    from vpos.extractors.characters import sparse_cells

    obj = np.zeros((1, 14, 24), np.float32)
    obj[0, 0:10, 0:6] = 0.95  # a close-up: 60 cells, all more character-like than...
    obj[0, 4:7, 15:17] = 0.7  # ...a small character: 6 cells
    obj[0, 2:12, 19:23] = 0.8  # ...and a third one: 40 cells
    emb = np.zeros((1, 14, 24, 4), np.float32)
    o, _, p = sparse_cells(obj, emb, k=48, region_floor=12, k_max=96)
    assert o.shape == (1, 96)
    cols = p[0, o[0] > 0, 1]
    assert (cols < 6).sum() == 48  # the frame's most character-like cells come first, as before
    assert ((cols >= 15) & (cols < 17)).sum() == 6  # all of the small one (it has fewer than 12)
    assert (cols >= 19).sum() == 12  # the third one's 12 best
    o, _, p = sparse_cells(obj, emb, k=48, region_floor=12, k_max=56)
    assert (o[0] > 0).sum() == 56  # never more than k_max


def test_side_by_side_parts_of_one_region():
    from vpos.characters import named_regions, side_by_side

    cols = np.repeat(np.arange(12, 18), 4)  # one region over 6 columns, 4 cells each
    sims = np.zeros((len(cols), 3), np.float32)
    left = cols <= 14
    sims[left, 0], sims[left, 1] = 0.9, 0.5  # name 0 on the left...
    sims[~left, 1], sims[~left, 0] = 0.8, 0.55  # ...name 1 on the right
    parts = side_by_side(cols, sims, 4)
    assert [sorted(set(cols[q])) for q in parts] == [[12, 13, 14], [15, 16, 17]]
    # a stray column led by another name is too small to stand alone and joins its neighbour
    stray = sims.copy()
    stray[cols == 13] = [0.5, 0.5, 0.9]
    assert [sorted(set(cols[q])) for q in side_by_side(cols[:8], stray[:8], 5)] == [[12, 13]]
    # one name on both sides: one character, not two
    same = sims.copy()
    same[:, 0] = 0.95
    assert len(side_by_side(cols, same, 4)) == 1
    # the whole region's mean names nobody well; cut in two, both names are found
    a, b = np.eye(3, dtype=np.float32)[0], np.eye(3, dtype=np.float32)[1]
    desc = np.stack([a if c <= 14 else b for c in cols])[None]
    pos = np.stack([np.tile(np.arange(4), 6) + 2, cols], 1)[None]
    obj = np.ones((1, len(cols)), np.float32)
    banks = [a[None], b[None], np.eye(3, dtype=np.float32)[2][None]]
    assert set(named_regions(obj, desc, pos, banks, 0.5, ambiguity_margin=0.6)) == set()
    assert set(named_regions(obj, desc, pos, banks, 0.5, ambiguity_margin=0.6, split_cells=4)) == {(0, 0), (0, 1)}


def test_certain_region_keeps_its_name_beside_a_look_alike():
    from vpos.characters import named_regions

    def unit(sa, sb):  # a descriptor whose cosine with bank A is sa and with bank B is sb
        return np.array([sa, sb, np.sqrt(max(0.0, 1 - sa * sa - sb * sb))], np.float32)

    banks = [np.array([[1, 0, 0]], np.float32), np.array([[0, 1, 0]], np.float32)]
    pos = np.array([[[5, 5], [6, 5], [5, 9], [6, 9]]])  # two regions of two cells: columns 5 and 9
    obj = np.ones((1, 4), np.float32)
    # left: A at 0.95 with B 0.65 behind, inside this test's margin of 0.7 (the look-alike);
    # right: nobody well, A and B alike (0.6 / 0.55)
    left, right = unit(0.95, 0.3), unit(0.6, 0.55)
    desc = np.stack([left, left, right, right])[None]
    assert set(named_regions(obj, desc, pos, banks, 0.5, ambiguity_margin=0.7)) == set()
    got = named_regions(obj, desc, pos, banks, 0.5, ambiguity_margin=0.7, certain_score=0.9)
    assert set(got) == {(0, 0)} and sorted(got[(0, 0)][1]) == [0, 1]  # the certain one, not the vague one


def test_background_bank_comes_from_screenshots_only(character_clip, tmp_path):
    import shutil

    from vpos.characters import CharacterOptions, build_references

    _, refs = character_clip
    opts = CharacterOptions(background_bank=True)
    both = build_references(str(refs), str(WEIGHTS), "cpu", opts)
    assert both.background is not None and len(both.background) > 0
    assert both.background.shape[1] == both.banks["Akari"].shape[1]
    crops = tmp_path / "crops"
    for name in ("Akari", "Botan"):
        (crops / name).mkdir(parents=True)
        shutil.copy(refs / name / "crop.png", crops / name / "crop.png")
    # a crop's surroundings are its border colour, nothing of the show: no background bank
    assert build_references(str(crops), str(WEIGHTS), "cpu", opts).background is None
    assert build_references(str(refs), str(WEIGHTS), "cpu", CharacterOptions(background_bank=False)).background is None


def test_bank_cells_that_recur_in_backgrounds_not_in_other_references_are_dropped():
    from vpos.characters import background_like_cells

    rng = np.random.default_rng(0)

    def unit(v):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    face, seat = unit(rng.normal(size=(2, 16)))
    jitter = lambda v, k: unit(v + 0.05 * rng.normal(size=(k, 16)))  # noqa: E731
    # image 0: the character; image 1: the character and, taken for it, a lecture hall's seats
    desc = np.concatenate([jitter(face, 5), jitter(face, 5), jitter(seat, 4)])
    ids = np.array([0] * 5 + [1] * 9)
    background = jitter(seat, 6)  # the seats recur in the references' backgrounds
    keep = background_like_cells(desc, ids, background)
    assert keep[:10].all() and not keep[10:].any()
    assert background_like_cells(desc, np.zeros(14, int), background) is None  # one image: nothing to compare
    assert background_like_cells(desc, ids, background[:0]) is None
    # a bank that would lose nearly everything is left alone
    assert background_like_cells(jitter(seat, 6), np.array([0, 0, 0, 1, 1, 1]), background) is None


def test_a_character_without_references_loses_its_backgrounds_too():
    from vpos.characters import References

    emb = np.eye(4, dtype=np.float32)
    refs = References(names=["A", "B"], banks={"A": emb[:1], "B": emb[1:2]}, counts={"A": 1, "B": 2},
                      hists={"A": np.ones((1, 3)), "B": np.ones((1, 3))}, background=emb[2:4],
                      background_hists=np.ones((2, 3)), background_owner=np.array(["A", "B"]),
                      bank_images={"A": np.zeros(1, np.int32), "B": np.zeros(1, np.int32)})
    sub = refs.without("A")
    assert sub.names == ["B"] and list(sub.banks) == ["B"] and sub.counts == {"B": 2}
    # only B's reference backgrounds stay: A's images were never given
    assert len(sub.background) == 1 and np.allclose(sub.background[0], emb[3]) and sub.background_owner.tolist() == ["B"]
    assert refs.without("B").without("A").background is None


def test_reference_region_box_preview_and_notes():
    from vpos.character_model import GRID_H, GRID_W
    from vpos.characters import ReferenceRegion, References, reference_notes, reference_preview, reference_region, region_box

    mask = np.zeros((GRID_H, GRID_W), bool)
    mask[2:10, 6:12] = True
    # a screenshot fills the network canvas: the box is the cells' share of it
    shot = np.zeros((360, 640, 3), np.uint8)
    x0, y0, x1, y1 = region_box(mask, shot)
    assert (x0, x1) == pytest.approx((6 / GRID_W, 12 / GRID_W)) and (y0, y1) == pytest.approx((2 / GRID_H, 10 / GRID_H))
    # a crop sits in the middle of the canvas, 90% of its height: its box is in the crop's own frame
    crop = np.zeros((400, 200, 3), np.uint8)
    full = np.ones((GRID_H, GRID_W), bool)
    assert region_box(full, crop) == (0.0, 0.0, 1.0, 1.0)
    assert region_box(np.zeros_like(mask), shot) == (0.0, 0.0, 0.0, 0.0)
    # which region a reference gives: the largest, or the one with most confident cells, or its core
    obj = np.zeros((GRID_H, GRID_W), np.float32)
    obj[0:6, 0:10] = 0.7  # a wide, weakly detected background region
    obj[8:13, 15:18] = 0.99  # the character
    assert reference_region(obj, 0.5)[0, 0] and not reference_region(obj, 0.5)[9, 16]
    assert reference_region(obj, 0.5, confident=0.95)[9, 16] and not reference_region(obj, 0.5, confident=0.95)[0, 0]
    obj[5, 10:15] = 0.7  # a bridge joins them: the core keeps only the confident cells
    obj[5:8, 15] = 0.7
    joined = reference_region(obj, 0.5, confident=0.95, core=0.9)
    assert joined.sum() == 15 and joined[8:13, 15:18].all()
    kept, region = reference_region(obj, 0.5, confident=0.95, core=0.9, with_region=True)
    assert (kept == joined).all() and region.sum() == 15 + 60 + 5 + 3 and region[0, 0]
    weak = ReferenceRegion(file="/refs/Lucy/hall.png", box=(0.0, 0.1, 1.0, 1.0), share=0.6, objectness=0.78)
    good = ReferenceRegion(file="/refs/Lucy/close.png", box=(0.3, 0.1, 0.6, 1.0), share=0.3, objectness=0.95)
    refs = References(names=["Lucy"], banks={}, counts={"Lucy": 2}, regions={"Lucy": [good, weak]})
    notes = reference_notes(refs.regions)
    assert len(notes) == 1 and "reference 2 of 'Lucy' (hall.png)" in notes[0] and "60%" in notes[0]
    img = np.zeros((100, 200, 3), np.uint8)
    drawn = reference_preview(img, weak)
    assert drawn.shape == img.shape and drawn.any() and not img.any()
    assert drawn[50, 0].tolist() == [255, 140, 0]  # orange: the region looks wrong
    assert reference_preview(img, good)[50, 60].tolist() == [0, 220, 90]
    assert good.to_dict() == {"file": "/refs/Lucy/close.png", "box": [0.3, 0.1, 0.6, 1.0], "share": 0.3, "objectness": 0.95}
    assert ReferenceRegion.from_dict(good.to_dict()) == good  # how the app reads them back from the result


def test_a_region_that_looks_like_the_references_backgrounds_goes_to_nobody():
    from vpos.characters import named_regions

    a, seat, other = np.eye(3, dtype=np.float32)
    # a name's bank that holds a background cell the detector took for the character (seats)
    banks = [np.stack([a, seat])]
    background = ((0.9 * seat + 0.44 * other) / np.linalg.norm(0.9 * seat + 0.44 * other))[None].astype(np.float32)
    obj = np.ones((1, 2), np.float32)
    pos = np.array([[[0, 0], [0, 1]]])
    seats = np.stack([seat, seat])[None]
    assert (0, 0) in named_regions(obj, seats, pos, banks, 0.5, background)  # the name matches better than the background
    assert named_regions(obj, seats, pos, banks, 0.5, background, background_ceiling=0.85) == {}
    assert (0, 0) in named_regions(obj, np.stack([a, a])[None], pos, banks, 0.5, background, background_ceiling=0.85)


def test_a_look_alike_that_stood_beside_a_name_is_not_given_that_name_elsewhere():
    from vpos.characters import impostor_banks, named_regions

    def unit(v):
        return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)

    yuuma, takumi, other = np.eye(3, dtype=np.float32)
    lookalike = unit(0.6 * yuuma + 0.8 * takumi)  # the same drawing, other colours: 0.6 like Yuuma
    banks = [yuuma[None]]  # only Yuuma has references
    # sample 0: Yuuma (cols 0-1) and, apart, the look-alike (cols 5-6); sample 1: the look-alike alone
    cells = np.stack([np.stack([yuuma, yuuma, lookalike, lookalike]), np.stack([lookalike, lookalike, other, other])])
    obj = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], np.float32)
    pos = np.array([[[0, 0], [0, 1], [0, 5], [0, 6]], [[0, 0], [0, 1], [9, 9], [9, 9]]])
    cands = []
    regions = named_regions(obj, cells, pos, banks, 0.5, candidates=cands)
    assert regions[(0, 0)][0] == pytest.approx(1.0) and regions[(1, 0)][0] == pytest.approx(0.6)  # named Yuuma alone
    imps = impostor_banks(cands, regions, cells, pos, 1, min_score=0.5, min_cells=2)
    assert imps[0] is not None and len(imps[0]) == 2
    again = named_regions(obj, cells, pos, banks, 0.5, impostors=imps)
    assert (0, 0) in again and (1, 0) not in again  # Yuuma stays Yuuma; the look-alike alone goes to nobody
    # with a margin the impostors must be that much closer than the name
    assert (1, 0) in named_regions(obj, cells, pos, banks, 0.5, impostors=imps, impostor_margin=0.5)
    # a second region below the first (the same character split by a desk) is no impostor
    near = pos.copy()
    near[0, 2:] = [[4, 1], [4, 2]]
    assert impostor_banks(cands, regions, cells, near, 1, min_score=0.5, min_cells=2)[0] is None
    # nor one too weak to have been named on its own
    assert impostor_banks(cands, regions, cells, pos, 1, min_score=0.7, min_cells=2)[0] is None
