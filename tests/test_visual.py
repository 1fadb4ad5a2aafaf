"""EfficientNet-Lite0 and the visual extractor, offline on CPU with numpy-made frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vpos.extractors.base import RunContext
from vpos.extractors.visual import VisualExtractor, imagenet_labels, prepare
from vpos.media import Chunk, VideoInfo
from vpos.synth import chunk_of_samples
from vpos.models import registry
from vpos.models.efficientnet_lite import EfficientNetLite, input_size, preprocess


def make_chunk(samples: np.ndarray, sample_start: int = 0, index: int = 0) -> Chunk:
    return chunk_of_samples(samples, sample_start, index)


def make_ctx(w: int = 640, h: int = 360, batch_size: int = 16) -> RunContext:
    info = VideoInfo(path="synthetic.mp4", duration=60.0, fps=25.0, frame_count=1500, width=w, height=h)
    return RunContext(info=info, sample_rate=1.0, device="cpu", batch_size=batch_size)


def run(samples_per_chunk: list[np.ndarray], batch_size: int = 16):
    ex = VisualExtractor()
    ex.begin(make_ctx(batch_size=batch_size))
    start = 0
    for i, s in enumerate(samples_per_chunk):
        ex.update(make_chunk(s, start, i))
        start += len(s)
    return ex.finish()


def scene(seed: int, h: int = 360, w: int = 640) -> np.ndarray:
    """A cartoon-like frame: a coloured gradient sky, ground and a few filled shapes."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img[:] = (top * (1 - t) + bottom * t).astype(np.uint8)
    img[int(h * rng.uniform(0.5, 0.8)) :] = rng.integers(0, 256, 3)
    for _ in range(6):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(3, max(4, h // 3))), color, -1)
        else:
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.rectangle(img, (x, y), (x + int(rng.integers(4, max(5, w // 2))), y + int(rng.integers(4, max(5, h // 2)))), color, -1)
    return img


@pytest.fixture(scope="module")
def model():
    return registry.load("efficientnet_lite0.imagenet", "cpu")


def test_registry_entry_and_strict_load(model):
    entry = registry.get("efficientnet_lite0.imagenet")
    assert entry.task == "image-embedding"
    assert entry.source.kind == "package"
    assert entry.preprocessing["mean"] == [127.0] * 3 and entry.preprocessing["std"] == [128.0] * 3
    path = registry.resolve_file(entry.source)
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 296
    fresh = EfficientNetLite()
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(model.state_dict()) == set(state)
    assert not model.training


def test_forward_shapes(model):
    x = torch.zeros(2, 3, 128, 224)
    with torch.inference_mode():
        assert model.forward_features(x).shape == (2, 1280)
        assert model(x).shape == (2, 1000)
    assert input_size(1280, 720) == (224, 128)
    assert input_size(640, 480) == (224, 160)
    assert input_size(64, 36) == (224, 128)


def test_real_photos_are_classified(model):
    # Photos shipped with scikit-image (an easyocr dependency): a cup of coffee and a cat.
    skdata = pytest.importorskip("skimage.data")
    labels = imagenet_labels()
    cases = {"coffee": {"espresso", "cup", "coffee mug"}, "chelsea": {"Egyptian cat", "tabby", "tiger cat"}}
    for name, expected in cases.items():
        img = getattr(skdata, name)()
        x = torch.from_numpy(prepare(img[None]))
        with torch.inference_mode():
            p = model(preprocess(x)).softmax(-1)[0]
        top = labels[int(p.argmax())]
        assert top in expected, (name, top, float(p.max()))
        assert float(p.max()) > 0.3


def test_extractor_outputs_and_determinism():
    frames = np.stack([scene(i) for i in range(5)])
    a = run([frames])
    b = run([frames])
    assert a.meta["model"] == "efficientnet_lite0.imagenet"
    assert a["embedding"].shape == (5, 1280) and a["embedding"].dtype == np.float16
    assert a["top5_index"].shape == (5, 5) and a["top5_index"].dtype == np.int16
    assert a["top5_prob"].shape == (5, 5) and a["top5_prob"].dtype == np.float16
    assert np.array_equal(a["embedding"], b["embedding"])
    assert np.array_equal(a["top5_index"], b["top5_index"])
    assert np.all(np.isfinite(a["embedding"].astype(np.float32)))
    p = a["top5_prob"].astype(np.float32)
    assert np.all(np.diff(p, axis=1) <= 1e-3) and np.all(p.sum(1) <= 1.01)
    labels = imagenet_labels()
    assert len(labels) == 1000 and len(set(labels)) >= 999
    assert all(0 <= i < 1000 for i in a["top5_index"].ravel())
    assert all(isinstance(labels[i], str) and labels[i] for i in a["top5_index"].ravel())


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    u, v = u.astype(np.float32), v.astype(np.float32)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))


def test_near_identical_frames_are_closer_than_different_scenes():
    import cv2

    a = scene(10)
    # The same shot a moment later: a slight pan, a brightness change and a little softening.
    a2 = np.roll(a, 3, axis=1)
    a2 = cv2.GaussianBlur(np.clip(a2.astype(np.int16) + 6, 0, 255).astype(np.uint8), (0, 0), 0.8)
    b, c = scene(11), scene(12)
    fs = run([np.stack([a, a2, b, c])])
    e = fs["embedding"]
    same = _cos(e[0], e[1])
    diff = max(_cos(e[0], e[2]), _cos(e[0], e[3]), _cos(e[2], e[3]))
    assert same > 0.9
    assert 1 - same < 0.5 * (1 - diff), (same, diff)


def test_chunking_and_batch_remainder_do_not_change_results():
    frames = np.stack([scene(20 + i) for i in range(7)])
    whole = run([frames], batch_size=16)
    split = run([frames[:2], frames[2:3], frames[3:7]], batch_size=3)  # batches of 3, 3 and 1
    assert split["embedding"].shape == (7, 1280)
    np.testing.assert_allclose(
        whole["embedding"].astype(np.float32), split["embedding"].astype(np.float32), atol=2e-2, rtol=2e-2
    )
    assert np.mean(whole["top5_index"][:, 0] == split["top5_index"][:, 0]) >= 0.9


def test_robust_inputs():
    # Empty chunks, a video with no samples at all, tiny frames and grey frames.
    empty = run([np.zeros((0, 36, 64, 3), np.uint8)])
    assert empty["embedding"].shape == (0, 1280) and empty["top5_index"].shape == (0, 5)
    none = VisualExtractor()
    none.begin(make_ctx())
    fs = none.finish()
    assert fs["embedding"].shape == (0, 1280)

    tiny = np.stack([scene(30, 36, 64), scene(31, 36, 64)])
    grey = np.stack([scene(32)[..., 0]] * 2)  # (M,H,W) single channel
    greyish = np.repeat(scene(33)[..., :1], 3, axis=-1)[None]
    fs = run([np.zeros((0, 36, 64, 3), np.uint8), tiny, np.zeros((0, 36, 64, 3), np.uint8), tiny[:1]])
    assert fs["embedding"].shape == (3, 1280)
    assert np.array_equal(fs["embedding"][0], fs["embedding"][2])
    fs = run([grey, greyish])  # (M,H,W) single-channel samples, then grey RGB
    assert fs["embedding"].shape == (3, 1280)
    np.testing.assert_allclose(fs["embedding"][0].astype(np.float32), fs["embedding"][1].astype(np.float32))
    assert np.all(np.isfinite(fs["embedding"].astype(np.float32)))
