"""Scene descriptors of the colour extractor (border, layout), boundary features, the OSG start prior
and the small learned boundary model (train, save, load)."""

from __future__ import annotations

import numpy as np
import pytest

from vpos.errors import ModelLoadError, OptionsError
from vpos.extractors.base import FeatureSet
from vpos.extractors.colour import border_histograms, border_mask, colour_histograms, layout_grid
from vpos.result import Shot
from vpos.scenes import (
    BOUNDARY_FEATURE_NAMES,
    SceneOptions,
    boundary_features,
    feature_distances,
    osg_penalized,
    segment_scenes,
    shot_descriptors,
    shot_distances,
)


def framed(centre, border, n=1):
    """27x48 frames: one colour in the border region, another inside it (a person in front of a set)."""
    f = np.zeros((n, 27, 48, 3), np.uint8)
    m = border_mask(27, 48)
    f[:, m] = border
    f[:, ~m] = centre
    return f


def test_border_histogram_ignores_the_centre():
    a = framed((250, 10, 10), (10, 10, 250))
    b = framed((10, 250, 10), (10, 10, 250))  # other "person", same "set"
    assert np.allclose(border_histograms(a), border_histograms(b))
    assert not np.allclose(colour_histograms(a), colour_histograms(b))
    assert border_histograms(a).sum() == pytest.approx(1.0)
    assert 0.4 < border_mask(27, 48).mean() < 0.7


def test_layout_grid_cells():
    f = np.zeros((1, 27, 48, 3), np.uint8)
    f[:, :, 24:] = 255  # left half black, right half white
    g = layout_grid(f).reshape(3, 4, 3)
    assert g.dtype == np.uint8 and (g[:, :2] == 0).all() and (g[:, 2:] == 255).all()


def places_features(sets, per_shot=20):
    """Colour features for shots whose border shows set k and whose centre varies every shot."""
    rng = np.random.default_rng(0)
    frames = []
    for k in sets:
        border = ((k * 97) % 256, (k * 53) % 256, (k * 151) % 256)
        centre = tuple(int(x) for x in rng.integers(0, 256, 3))
        frames.append(framed(centre, border, per_shot))
    frames = np.concatenate(frames)
    fs = FeatureSet(arrays={"hist": colour_histograms(frames).astype(np.float16),
                            "border_hist": border_histograms(frames).astype(np.float16),
                            "grid": layout_grid(frames), "frame_times": np.arange(len(frames)) / 20.0})
    shots = [Shot(i, i * per_shot, (i + 1) * per_shot - 1, float(i), float(i + 1)) for i in range(len(sets))]
    return {"colour": fs}, shots


def test_border_distance_groups_shots_of_one_set():
    sets = [1, 1, 1, 2, 2, 3, 3, 3]
    features, shots = places_features(sets)
    desc = shot_descriptors(features, shots, 1.0)
    assert desc.border.shape == (8, 3, 64) and desc.grid.shape == (8, 3, 36)
    d = shot_distances(desc, SceneOptions(visual_weight=0, colour_weight=0, border_weight=1.0))
    same = [d[i, j] for i in range(8) for j in range(8) if i != j and sets[i] == sets[j]]
    other = [d[i, j] for i in range(8) for j in range(8) if sets[i] != sets[j]]
    assert max(same) < min(other)
    res = segment_scenes(features, shots, 1.0, SceneOptions(visual_weight=0, colour_weight=0.2, border_weight=1.0, montage_min_shots=0))
    assert [s.shots[0] for s in res.scenes] == [0, 3, 5]
    # colour alone (the centre changes every shot) does not find the sets
    res_c = segment_scenes(features, shots, 1.0, SceneOptions(visual_weight=0, colour_weight=1.0, border_weight=0, montage_min_shots=0))
    assert [s.shots[0] for s in res_c.scenes] != [0, 3, 5]


def test_boundary_features_rows():
    sets = [1, 1, 2, 2, 2, 3]
    features, shots = places_features(sets)
    desc = shot_descriptors(features, shots, 1.0)
    mats = feature_distances(desc)
    assert set(mats) == {"colour", "border", "grid"}
    mix = shot_distances(desc, SceneOptions(), mats)
    x = boundary_features(features, shots, 1.0, desc, mats, mix)
    assert x.shape == (6, len(BOUNDARY_FEATURE_NAMES)) and np.isfinite(x).all() and not x[0].any()
    col = BOUNDARY_FEATURE_NAMES.index("border_adjacent")
    assert min(x[2, col], x[5, col]) > max(x[1, col], x[3, col], x[4, col])


def test_osg_start_bonus_moves_boundaries():
    rng = np.random.default_rng(3)
    d = np.full((6, 6), 0.3) + rng.uniform(0, 0.02, (6, 6))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    assert osg_penalized(d, 0.6) == [0]  # nothing stands out: one group
    bonus = np.zeros(6)
    bonus[4] = 1.0  # a confident boundary prior at shot 4
    assert osg_penalized(d, 0.6, start_bonus=bonus) == [0, 4]


def test_learned_model_trains_saves_and_loads(tmp_path):
    from vpos.scene_model import load_boundary_model, train_boundary_model

    rng = np.random.default_rng(0)
    names = ["a", "b", "c"]
    y = rng.integers(0, 2, 400)
    x = rng.normal(0, 1, (400, 3)).astype(np.float32)
    x[:, 1] += 3 * y  # only feature b tells
    model = train_boundary_model(x, y, names, hidden=0, epochs=300)
    acc = ((model.logits(x) > 0) == (y > 0)).mean()
    assert acc > 0.9
    model.save_pretrained(str(tmp_path / "m"))
    loaded = load_boundary_model(tmp_path / "m", names)
    assert np.allclose(loaded.logits(x[:5]), model.logits(x[:5]), atol=1e-5)
    with pytest.raises(ModelLoadError):
        load_boundary_model(tmp_path / "m2", names)  # no such folder
    with pytest.raises(ModelLoadError):
        load_boundary_model(tmp_path / "m", ["a", "b"])  # other features
    with pytest.raises(ValueError):
        train_boundary_model(x, np.zeros(400), names)  # one class only


def test_shipped_boundary_model_matches_the_features():
    from vpos.scene_model import load_boundary_model

    model = load_boundary_model(None, BOUNDARY_FEATURE_NAMES)  # weights/scenes, trained by bench/scenes_train.py
    sets = [1, 1, 2, 2, 2, 3]
    features, shots = places_features(sets)
    learned = segment_scenes(features, shots, 1.0, SceneOptions(montage_min_shots=0))
    contrast = segment_scenes(features, shots, 1.0, SceneOptions(montage_min_shots=0, boundary_prob="contrast"))
    assert [s.shots for s in learned.scenes] == [s.shots for s in contrast.scenes]  # prior_weight 0: same grouping
    assert learned.boundary_prob[0] == 1.0 and learned.boundary_prob.shape == (6,)
    assert not np.allclose(learned.boundary_prob, contrast.boundary_prob)
    assert len(model.feature_names) == len(BOUNDARY_FEATURE_NAMES)


def test_scene_method_options():
    with pytest.raises(OptionsError):
        SceneOptions(boundary_prob="magic").validate()
    with pytest.raises(OptionsError):
        SceneOptions(prior_weight=-1).validate()
    with pytest.raises(OptionsError):
        SceneOptions(key_frames=0).validate()
