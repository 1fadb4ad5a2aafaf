"""The explicit global-motion fit (vpos/global_motion.py) on synthetic camera moves with a known
answer, and how the motion model and its training augmentation use it."""

import numpy as np
import pytest
import torch

from vpos.global_motion import FEATURE_NAMES, N_FEATURES, pair_motion, window_motion

H, W = 54, 96
IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _texture(seed: int = 0):
    """A smooth random picture defined everywhere: a sum of sinusoids (exact under any warp)."""
    rng = np.random.default_rng(seed)
    k = rng.uniform(0.05, 0.35, size=(24, 2)) * rng.choice([-1, 1], size=(24, 2))
    ph = rng.uniform(0, 2 * np.pi, 24)
    amp = rng.uniform(0.5, 1.0, 24)

    def picture(x, y):
        return sum(a * np.sin(kx * x + ky * y + p) for (kx, ky), p, a in zip(k, ph, amp))

    return picture


def _view(picture, cx: float, cy: float, size: float = 1.0) -> np.ndarray:
    """The frame a camera sees centred at (cx, cy) of the picture, `size` times the frame
    (size < 1: closer in, the picture looks larger), as uint8 grey."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    v = picture(cx + (xs - (W - 1) / 2) * size, cy + (ys - (H - 1) / 2) * size)
    return np.clip(128 + 14 * v, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pic():
    return _texture(0)


def test_pan_and_tilt_give_the_picture_motion(pic):
    a = _view(pic, 0, 0)
    # the camera moves 1 px right: the picture moves 1 px left, 8 frames a second: -8/54 fh/s
    right = pair_motion(a[None], _view(pic, 1.0, 0)[None])[0]
    assert right[IDX["dx"]] == pytest.approx(-8 / H, abs=0.02)
    assert abs(right[IDX["dy"]]) < 0.02 and abs(right[IDX["zoom"]]) < 0.02
    down = pair_motion(a[None], _view(pic, 0, 2.0)[None])[0]  # camera down 2 px: picture up
    assert down[IDX["dy"]] == pytest.approx(-16 / H, abs=0.03)
    assert abs(down[IDX["dx"]]) < 0.02
    fast = pair_motion(a[None], _view(pic, -5.0, 0)[None])[0]  # 5 px a frame: beyond one pyramid pixel
    assert fast[IDX["dx"]] == pytest.approx(40 / H, rel=0.1)
    still = pair_motion(a[None], a[None])[0]
    assert np.abs(still[[IDX[n] for n in ("dx", "dy", "zoom", "rotation")]]).max() < 1e-3
    assert still[IDX["change"]] < 1e-3


def test_zoom_sign(pic):
    a = _view(pic, 0, 0)
    zin = pair_motion(a[None], _view(pic, 0, 0, 0.97)[None])[0]  # closer: the picture grows
    zout = pair_motion(a[None], _view(pic, 0, 0, 1.03)[None])[0]
    expect = np.log(1 / 0.97) * 8 * W / (2 * H)  # the truth's unit: speed at the frame's edge
    assert zin[IDX["zoom"]] == pytest.approx(expect, rel=0.15)
    assert zout[IDX["zoom"]] == pytest.approx(-np.log(1.03) * 8 * W / (2 * H), rel=0.15)
    assert abs(zin[IDX["dx"]]) < 0.03 and abs(zin[IDX["dy"]]) < 0.03
    assert zin[IDX["ring_zoom"]] > 0 > zout[IDX["ring_zoom"]]
    # a zoom about a point off the centre: scale plus a translation, the sign still right
    off = pair_motion(a[None], _view(pic, 3.0, -1.0, 0.95)[None])[0]
    assert off[IDX["zoom"]] > 0.2 and off[IDX["dx"]] < 0


def test_batch_and_windows_match_single_pairs(pic):
    frames = np.stack([_view(pic, 0.7 * t, 0.2 * t, 1.0 - 0.01 * t) for t in range(9)])
    g = window_motion(frames[None])
    assert g.shape == (1, 8, N_FEATURES)
    single = pair_motion(frames[3:4], frames[4:5])[0]
    assert np.allclose(g[0, 3], single, atol=1e-4)
    assert (g[0, :, IDX["dx"]] < 0).all() and (g[0, :, IDX["zoom"]] > 0).all()
    assert window_motion(np.zeros((0, 9, H, W), np.uint8)).shape == (0, 8, N_FEATURES)


def test_shake_flips_sign_and_a_cut_leaves_a_residual(pic):
    rng = np.random.default_rng(1)
    jitter = 1.5 * (-1.0) ** np.arange(9) * rng.uniform(0.5, 1.0, 9)  # the camera jumps back and forth
    frames = np.stack([_view(pic, j, 0) for j in jitter])
    dx = window_motion(frames[None])[0, :, IDX["dx"]]
    assert (np.sign(dx[1:]) != np.sign(dx[:-1])).sum() >= 6
    other = _texture(5)
    cut = pair_motion(_view(pic, 0, 0)[None], _view(other, 0, 0)[None])[0]
    pan = pair_motion(_view(pic, 0, 0)[None], _view(pic, 1.0, 0)[None])[0]
    assert cut[IDX["residual"]] > 0.7 and pan[IDX["residual"]] < 0.5
    assert np.abs(cut[:4]).max() <= 3.0  # bounded even where the fit has nothing to hold on to


def test_augmentation_transforms_match_recomputed_features(pic):
    from vpos.train_motion import _H_FLIP, _REVERSE, _V_FLIP

    frames = np.stack([_view(pic, 0.8 * t, -0.4 * t, 1.0 - 0.008 * t) for t in range(9)])[None]
    g = window_motion(frames)
    speeds = [IDX[n] for n in ("dx", "dy", "zoom", "ring_dx", "ring_dy", "ring_zoom")]
    for moved, expect in ((frames[:, :, :, ::-1], g * _H_FLIP), (frames[:, :, ::-1], g * _V_FLIP),
                          (frames[:, ::-1], g[:, ::-1] * _REVERSE)):
        got = window_motion(np.ascontiguousarray(moved))
        assert np.allclose(got[..., speeds], expect[..., speeds], atol=0.03)


def test_model_reads_the_global_motion():
    from vpos.motion import MotionNet, window_inputs

    torch.manual_seed(0)
    frames = np.random.default_rng(0).integers(0, 255, (2, 9, H, W), dtype=np.uint8)
    x = window_inputs(frames)
    g = torch.from_numpy(window_motion(frames))
    for shift in (True, False):
        m = MotionNet(shift=shift, motion_features=N_FEATURES).eval()
        cam, tr = m(x, g)
        assert cam.shape == (2, 7) and tr.shape == (2, 4)
        assert not torch.allclose(m(x, g * 0 + 1.0)[0], cam)  # the features change the answer
        perm = torch.tensor([3, 1, 7, 0, 2, 6, 5, 4])
        assert torch.allclose(m(x[:, perm], g[:, perm])[0], cam, atol=1e-5) is (not shift)
        with pytest.raises(ValueError):
            m(x)


def test_shipped_model_on_synthetic_camera_moves(pic):
    """The shipped weights on moves of a picture unlike anything the corpus draws (a sum of
    sinusoids): still, pan and tilt are called, and a zoom's DIRECTION is right (the CNN-only
    model called both zooms pan/tilt here, with ~0 for either zoom class)."""
    from vpos.corpus.truth import CAMERA_LABELS
    from vpos.motion import DEFAULT_MOTION_WEIGHTS, load_motion_model, predict_windows

    m = load_motion_model(str(DEFAULT_MOTION_WEIGHTS))
    moves = {"static": [(0, 0, 1.0)] * 9, "pan": [(3.0 * t, 0, 1.0) for t in range(9)],
             "tilt": [(0, 2.0 * t, 1.0) for t in range(9)], "zoom_in": [(0, 0, 0.97 ** t) for t in range(9)],
             "zoom_out": [(0, 0, 1.03 ** t) for t in range(9)]}
    windows = np.stack([np.stack([_view(pic, *p) for p in path]) for path in moves.values()])
    cam, _ = predict_windows(m, windows)
    got = dict(zip(moves, cam))
    for name in ("static", "pan", "tilt"):
        assert CAMERA_LABELS[int(got[name].argmax())] == name
    zi, zo = CAMERA_LABELS.index("zoom_in"), CAMERA_LABELS.index("zoom_out")
    assert got["zoom_in"][zi] > 0.2 and got["zoom_in"][zi] > 5 * got["zoom_in"][zo]
    assert got["zoom_out"][zo] > 0.05 and got["zoom_out"][zo] > 5 * got["zoom_out"][zi]
