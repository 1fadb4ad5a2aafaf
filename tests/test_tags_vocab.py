"""The completed default vocabulary: picture statistics (footage vs drawn, held/panned stills),
the `still` truth of the corpus builder, character tags from the characters stage, descriptor
inputs of the tagger."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vpos.corpus.shows import Shot, SpriteUse
from vpos.corpus.truth import still_frames
from vpos.extractors.picture import PICTURE_DIM, spatial_stats, temporal_stats
from vpos.tagger import AUDIO_DIM, DESCRIPTOR_DIM, EMBED_DIM, MASK_SIZE, SENTENCE_DIM, TEXT_DIM, TaggerNet, tag_inputs
from vpos.tags import add_character_tags, load_tagger, summarize


def _cel(h=216, w=384, seed=0):
    """Flat-shaded picture: a few filled shapes with dark outlines."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), (180, 210, 240), np.uint8)
    for _ in range(6):
        c = tuple(int(x) for x in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.circle(img, (x, y), int(rng.integers(15, 60)), c, -1)
        cv2.circle(img, (x, y), int(rng.integers(15, 60)), (20, 20, 30), 2)
    return img


def _photo(h=216, w=384, seed=0):
    """Camera-like picture: smooth shading, texture and sensor noise."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([90 + 60 * np.sin(xx / 37 + c) * np.cos(yy / 23 - c) + 0.2 * xx for c in (0, 1, 2)], -1)
    tex = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(base + tex + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def test_spatial_stats_tell_camera_footage_from_cel_shading():
    cel = np.stack([spatial_stats(_cel(seed=s)) for s in range(3)])
    photo = np.stack([spatial_stats(_photo(seed=s)) for s in range(3)])
    assert cel.shape == (3, 8) and np.isfinite(cel).all()
    assert (photo[:, 0] > cel[:, 0] + 0.15).all()  # noise / texture
    assert (cel[:, 1] > photo[:, 1] + 0.3).all()  # flat fills
    assert (photo[:, 4] > cel[:, 4] + 0.2).all()  # colour count
    assert (cel[:, 5] > photo[:, 5] + 0.3).all()  # a small palette covers the picture


def test_temporal_stats_held_panned_and_animated():
    import cv2

    big = cv2.resize(_photo(seed=3), (96, 54), interpolation=cv2.INTER_AREA)
    held = np.stack([big[:27, :48]] * 12)
    pan = np.stack([big[10:37, 2 * k : 2 * k + 48] for k in range(12)])  # 2 px a frame to the side
    rng = np.random.default_rng(0)
    moving = np.stack([np.clip(big[:27, :48].astype(int) + rng.integers(-60, 60, (27, 48, 3)), 0, 255).astype(np.uint8) for _ in range(12)])
    h, p, m = temporal_stats(held), temporal_stats(pan), temporal_stats(moving)
    assert h[1] == 1.0 and h[0] == 0.0  # every pair identical
    assert p[1] == 0.0 and p[3] > 0.3  # it moves, by a global shift of about 2 px
    assert p[2] < 0.6 * p[0]  # the shift explains most of the change
    assert m[4] < 0.3 and m[2] > 0.5  # no shift explains noise


def test_picture_extractor_in_one_decode(clips, cache_dir):
    from vpos.pipeline import AnalysisOptions, analyze

    path, _ = clips["demo"]
    r = analyze(path, AnalysisOptions(cache_dir=cache_dir, extractors=("visual", "picture"), oped=False, scenes=False))
    stats = r.features["picture"]["stats"]
    n = len(r.per_second["t"])
    assert stats.shape == (n, PICTURE_DIM) and np.isfinite(stats).all()
    assert stats[:, 1].max() > 0  # the synthetic clip has flat areas
    inp = tag_inputs(r.features, n)
    assert inp.descriptors.shape == (n, DESCRIPTOR_DIM) and (inp.descriptors[:, PICTURE_DIM] == 1).all()


def test_still_truth_from_the_plan():
    bg = ("loc", "park")
    shots = [
        Shot("scene", 10, bg, pan=(0.2, 0.5, 0.8, 0.5)),  # empty background panned: still
        Shot("footage", 10, ("footage", 1)),  # real footage: never still
        Shot("scene", 10, bg, sprites=[SpriteUse("Aoi", 0.5, 1.0, 0.8)]),  # Aoi speaks in frames 22-25
        Shot("scene", 10, bg, pan=(0.2, 0.5, 0.8, 0.5), sprites=[SpriteUse("Ren", 0.5, 1.0, 0.8)]),  # layers move apart
        Shot("title", 10, ("color", (0, 0, 0), (9, 9, 9)), effect="bokeh"),  # animated overlay
    ]
    f = 0
    for sh in shots:
        sh.start, sh.segment = f, "part_a"
        f += sh.n
    still = still_frames(shots, [[2.2, 2.6, "Aoi"], [0.0, 1.0, "Ren"]], 10.0, 50)
    assert still[:10].all() and not still[10:20].any()
    assert still[20:22].all() and not still[22:26].any() and still[26:30].all()
    assert not still[30:].any()
    shots[2].segment = "ending"  # mouths do not move in the ending: held
    assert still_frames(shots, [[2.2, 2.6, "Aoi"]], 10.0, 50)[20:30].all()


def test_character_tags_per_second_scene_and_video():
    block = summarize(["speech"], [0.5], np.full((10, 1), 0.9, np.float32))
    chars = {"names": ["Aoi", "Ren"], "intervals": {"Aoi": [[0.0, 4.5]], "Ren": [[8.2, 8.4]]}}
    add_character_tags(block, chars, 10, 1.0, [{"index": 0, "start_time": 0, "end_time": 5}, {"index": 1, "start_time": 5, "end_time": 10}])
    assert block["vocabulary"] == ["speech", "character:Aoi", "character:Ren"]
    assert block["per_second"]["character:Aoi"][:6] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    assert block["per_second"]["character:Ren"][8] == pytest.approx(0.2, abs=1e-3)
    assert {"label": "character:Aoi", "score": 0.5} in block["video"]  # 5 of 10 seconds at >= 0.5
    assert not any(d["label"] == "character:Ren" for d in block["video"])  # a glimpse is not a tag
    assert block["scenes"][0]["labels"][0]["label"] in ("speech", "character:Aoi")
    assert not any(d["label"] == "character:Aoi" for d in block["scenes"][1]["labels"])
    assert add_character_tags(block, None, 10) is block


def test_descriptors_change_the_output_and_old_configs_still_build(tmp_path):
    torch.manual_seed(0)
    m = TaggerNet(labels=["a", "b"], window=5, hidden=8, proj=16, descriptors=True).eval()
    b, t = 1, 7
    x = (torch.randn(b, t, EMBED_DIM), torch.randn(b, t, AUDIO_DIM), torch.randn(b, t, TEXT_DIM), torch.randn(b, SENTENCE_DIM))
    d = torch.rand(b, t, DESCRIPTOR_DIM)
    assert not torch.allclose(m(*x, d), m(*x, torch.zeros_like(d)))
    old = TaggerNet(labels=["a", "b"], window=5, hidden=8, proj=16)  # a checkpoint from before descriptors
    assert not any(k.startswith(("in_d", "lstm_d")) for k in old.state_dict())
    assert old(*x, d).shape == (b, t, 2)
    old.save_pretrained(tmp_path / "old")
    assert load_tagger(tmp_path / "old").descriptors is False


def test_text_summaries_in_descriptors():
    from vpos.extractors.base import FeatureSet

    n = 4
    mask = np.zeros((n, 27, 36), np.float32)
    mask[1:, 10:14, 5:30] = 1
    feats = {"text": FeatureSet({"mask": mask, "area": np.array([0, 0.05, 0.05, 0.05]), "count": np.array([0, 2, 2, 2])})}
    inp = tag_inputs(feats, n)
    dsc = inp.descriptors
    assert dsc[0, PICTURE_DIM + 1] == 0 and (dsc[1:, PICTURE_DIM + 1] == 1).all()
    assert 0.5 < dsc[1, PICTURE_DIM + 2] < 1.0
    assert (dsc[:, PICTURE_DIM] == 0).all()  # no picture features: flag off
    assert inp.text.shape == (n, TEXT_DIM) and MASK_SIZE == 27 * 36


from test_characters import character_clip  # noqa: E402,F401  (the generated clip with two referenced characters)


def test_analyze_adds_character_tags(character_clip, tmp_path):
    from vpos.pipeline import AnalysisOptions, analyze

    path, refs = character_clip
    r = analyze(path, AnalysisOptions(extractors=("visual", "characters"), oped=False, scenes=False, device="cpu",
                                      characters=str(refs), cache_dir=str(tmp_path / "cache")))
    tags, ch = r.tags, r.characters
    assert tags["vocabulary"][-2:] == ["character:Akari", "character:Botan"]
    n = len(r.per_second["t"])
    akari = np.asarray(tags["per_second"]["character:Akari"])
    assert len(akari) == n
    # the tag follows the characters stage's intervals
    on = np.zeros(n, bool)
    for a, b in ch["intervals"]["Akari"]:
        on[int(np.floor(a)) : int(np.ceil(b))] = True
    assert ((akari > 0) == on).all()
    assert any(d["label"] == "character:Akari" for d in tags["video"])


def test_whole_second_frame_stats_and_cut_shares():
    import cv2

    from vpos.extractors.picture import cut_shares, frame_stats

    small = lambda img: cv2.resize(img, (48, 27), interpolation=cv2.INTER_CUBIC)  # noqa: E731  (like the decoder's 48x27)
    cel = np.stack([small(_cel(seed=s)) for s in range(4)])
    photo = np.stack([small(_photo(seed=s)) for s in range(4)])
    fc, fp = frame_stats(cel), frame_stats(photo)
    assert fc[0] > fp[0] + 0.3  # flat fills survive the scaling, camera pictures have none
    assert 0 < fc[1] <= 1 and 0 < fp[1] <= 1  # texture left at 48x27 (outlines count too)
    # a second of 24 frames: steady change 1-2 grey levels a frame, a cut after frame 5 and one after frame 17
    d = [1.0, 1.5] * 11 + [1.2]
    assert cut_shares(d).tolist() == [1.0, 1.0]  # no cut: both samples show the whole second
    d[5], d[17] = 40.0, 35.0
    own, nxt = cut_shares(d)
    assert own == pytest.approx(6 / 24) and nxt == pytest.approx(6 / 24)  # 12 frames in between, unsampled
    fast_pan = [20.0 + (i % 3) for i in range(23)]  # large but steady change: no cut
    assert cut_shares(fast_pan).tolist() == [1.0, 1.0]


def test_text_layout_big_centred_title_vs_small_side_credit():
    from vpos.tagger import text_layout

    boxes = np.array([[0, 0.25, 0.40, 0.75, 0.55],   # sample 0: a big centred title
                      [2, 0.05, 0.80, 0.30, 0.84],   # sample 2: a small credit at the lower left
                      [2, 0.05, 0.86, 0.25, 0.90]], np.float32)
    lay = text_layout(boxes, 3)
    assert lay[0, 0] == pytest.approx(0.75) and lay[0, 1] == pytest.approx(1.0)
    assert lay[1].tolist() == [0.0, 0.0]  # no text
    assert lay[2, 0] == pytest.approx(0.2) and lay[2, 1] < 0.4


def test_checkpoints_from_before_the_new_descriptors_still_load_and_run(tmp_path):
    from vpos.extractors.base import FeatureSet
    from vpos.tagger import LEGACY_PICTURE_DIM, LEGACY_TEXT_SUMMARIES, predict_per_second

    torch.manual_seed(0)
    old = TaggerNet(labels=["a"], window=5, hidden=8, proj=16, descriptors=True)  # config.json without the new keys
    assert old.picture_dim == LEGACY_PICTURE_DIM and old.text_summaries == LEGACY_TEXT_SUMMARIES and not old.align_visual
    old.save_pretrained(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    for key in ("picture_dim", "text_summaries", "align_visual"):
        cfg.pop(key, None)
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    loaded = load_tagger(tmp_path / "old")
    assert loaded.picture_dim == LEGACY_PICTURE_DIM
    n = 6
    stats = np.random.default_rng(0).random((n, PICTURE_DIM)).astype(np.float32)
    inp = tag_inputs({"picture": FeatureSet({"stats": stats})}, n)
    p = predict_per_second(loaded, inp)
    changed = stats.copy()
    changed[:, LEGACY_PICTURE_DIM:] = 0  # statistics the old checkpoint never read
    assert np.allclose(p, predict_per_second(loaded, tag_inputs({"picture": FeatureSet({"stats": changed})}, n)))
    new = TaggerNet(labels=["a"], window=5, hidden=8, proj=16, descriptors=True, picture_dim=PICTURE_DIM, text_summaries=5, align_visual=True).eval()
    assert not np.allclose(predict_per_second(new, inp), predict_per_second(new, tag_inputs({"picture": FeatureSet({"stats": changed})}, n)))


def test_aligned_visual_follows_the_cut_inside_the_second():
    from vpos.tagger import OWN_SHARE

    t = 4
    visual = torch.arange(t, dtype=torch.float32)[None, :, None].expand(1, t, 3).clone()  # sample k's embedding = k
    d = torch.zeros(1, t, DESCRIPTOR_DIM)
    d[..., PICTURE_DIM] = 1  # picture features present
    d[..., OWN_SHARE : OWN_SHARE + 2] = 1  # no cut
    d[0, 1, OWN_SHARE : OWN_SHARE + 2] = torch.tensor([0.25, 0.75])  # second 1: a cut a quarter in
    d[0, 2, OWN_SHARE : OWN_SHARE + 2] = torch.tensor([0.25, 0.25])  # second 2: a half-second shot in the middle
    al = TaggerNet.aligned_visual(visual, d)[0, :, 0]
    assert al.tolist() == pytest.approx([0.0, 0.25 * 1 + 0.75 * 2, 2.5, 3.0])
    d[..., PICTURE_DIM] = 0  # no picture features: the samples as they are
    assert torch.equal(TaggerNet.aligned_visual(visual, d), visual)
    with pytest.raises(ValueError):
        TaggerNet(labels=["a"], align_visual=True)  # needs the descriptors
