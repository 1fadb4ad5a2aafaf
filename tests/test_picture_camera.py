"""Camera-picture evidence per 48x27 frame (picture statistics 17-23): a second a cut splits says which
part is camera footage and how much of the second it covers."""

from __future__ import annotations

import numpy as np
import pytest

from vpos.extractors.picture import PICTURE_DIM, camera_stats

FPS = 25


def _cel(h=216, w=384, seed=0):
    """Flat-shaded drawn picture: a few filled shapes with dark outlines on a flat sky."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), (180, 210, 240), np.uint8)
    for _ in range(5):
        c = tuple(int(x) for x in rng.integers(0, 255, 3))
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(25, 70))
        cv2.circle(img, (x, y), r, c, -1)
        cv2.circle(img, (x, y), r, (20, 20, 30), 2)
    return img


def _camera(frame: int, h=216, w=384):
    """Camera-like picture as camera footage looks at 48x27: soft shading of dull, natural colours,
    a little texture and fresh sensor noise in every frame."""
    import cv2

    rng = np.random.default_rng(100 + frame)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lum = 110 + 50 * np.sin(xx / 37) * np.cos(yy / 23) + 0.15 * xx
    base = lum[..., None] * np.array([1.0, 0.95, 0.85], np.float32)  # a warm grade, little saturation
    tex = cv2.GaussianBlur(np.random.default_rng(7).normal(0, 30, (h, w)).astype(np.float32), (0, 0), 6)
    tex *= 10 / tex.std()
    return np.clip(base + tex[..., None] + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)


def _write(path, frames):
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.options = {"crf": "18", "preset": "veryfast"}
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)


def test_camera_stats_of_a_split_second():
    camera = np.array([0.1] * 10 + [0.9] * 15, np.float32)  # 10 drawn frames, then 15 camera frames
    flat = np.array([0.45] * 10 + [0.10] * 15, np.float32)
    fine = np.array([1.5] * 10 + [4.0] * 15, np.float32)
    changes = [1.0] * 24
    changes[9] = 40.0  # the cut: frames 9 -> 10
    cam, cam_own, cam_next, flat_own, flat_next, fine_own, fine_next = camera_stats(camera, flat, fine, changes)
    assert cam == pytest.approx(15 / 25)
    assert (cam_own, cam_next) == (0.0, 1.0)
    assert flat_own == pytest.approx(0.45) and flat_next == pytest.approx(0.10)
    assert fine_own == pytest.approx(1.5 / 16) and fine_next == pytest.approx(4.0 / 16)
    whole = camera_stats(camera[10:], flat[10:], fine[10:], [1.0] * 14)  # no cut: both parts are the whole second
    assert whole[:3].tolist() == [1.0, 1.0, 1.0]
    changes[20] = 35.0  # a second cut (frames 20 -> 21): the next part is the last 4 frames
    two = camera_stats(camera, flat, fine, changes)
    assert two[1] == 0.0 and two[2] == 1.0 and two[4] == pytest.approx(0.10)


def test_camera_probability_tells_drawn_from_camera_frames():
    import cv2

    from vpos.extractors.picture import camera_features, camera_probability

    small = lambda img: cv2.resize(img, (48, 27), interpolation=cv2.INTER_CUBIC)  # noqa: E731  (like the decoder's 48x27)
    cel = np.stack([small(_cel(seed=s)) for s in range(4)])
    cam = np.stack([small(_camera(s)) for s in range(4)])
    assert (camera_probability(camera_features(cam)) > 0.5).all()
    assert (camera_probability(camera_features(cel)) < 0.5).all()


def test_picture_extractor_splits_a_second_between_drawn_and_camera_pictures(tmp_path):
    from vpos.pipeline import AnalysisOptions, extract_features
    from vpos.cache import content_hash
    from vpos.media import probe

    cel = [_cel(seed=1)] * FPS
    # second 0: 10 drawn frames then 15 camera frames; second 1: 15 camera frames then 10 drawn (another
    # drawing); second 2: drawn throughout
    frames = cel[:10] + [_camera(i) for i in range(15)]
    frames += [_camera(15 + i) for i in range(15)] + [_cel(seed=2)] * 10
    frames += [_cel(seed=2)] * FPS
    video = tmp_path / "split.mp4"
    _write(video, frames)
    opts = AnalysisOptions(cache_dir=str(tmp_path / "cache"), extractors=("picture",), oped=False)
    info = probe(video, opts.limits)
    feats = extract_features(info, content_hash(video), opts)[0]
    stats = feats["picture"].arrays["stats"]
    assert stats.shape == (3, PICTURE_DIM)
    own, nxt = stats[:, 15], stats[:, 16]
    cam, cam_own, cam_next = stats[:, 17], stats[:, 18], stats[:, 19]
    flat_own, flat_next = stats[:, 20], stats[:, 21]
    # second 0: the drawn part is its first 10 frames (the sample), the camera part the last 15
    assert own[0] == pytest.approx(10 / 25) and nxt[0] == pytest.approx(15 / 25)
    assert cam[0] == pytest.approx(15 / 25, abs=0.05)
    assert cam_own[0] < 0.1 and cam_next[0] > 0.9
    assert flat_own[0] > flat_next[0] + 0.2
    # second 1: the camera part comes first
    assert own[1] == pytest.approx(15 / 25) and nxt[1] == pytest.approx(10 / 25)
    assert cam[1] == pytest.approx(15 / 25, abs=0.05) and cam_own[1] > 0.9 and cam_next[1] < 0.1
    # second 2: drawn throughout, no cut
    assert own[2] == 1 and nxt[2] == 1 and cam[2] < 0.05
