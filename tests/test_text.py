"""CRAFT text detection and the text extractor, offline on CPU with frames drawn by OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vpos.extractors.base import RunContext
from vpos.extractors.text import MASK_COLS, MASK_ROWS, TextExtractor, box_area, rasterize
from vpos.media import Chunk, VideoInfo
from vpos.synth import chunk_of_samples
from vpos.models import registry

W, H = 1280, 720
FONT = cv2.FONT_HERSHEY_SIMPLEX


def make_chunk(samples: np.ndarray, sample_start: int = 0, index: int = 0) -> Chunk:
    return chunk_of_samples(samples, sample_start, index)


def run(chunks: list[np.ndarray], **options):
    ex = TextExtractor(**options)
    info = VideoInfo(path="synthetic.mp4", duration=60.0, fps=25.0, frame_count=1500, width=W, height=H)
    ex.begin(RunContext(info=info, sample_rate=1.0, device="cpu", batch_size=4))
    start = 0
    for i, s in enumerate(chunks):
        ex.update(make_chunk(s, start, i))
        start += len(s)
    return ex.finish()


def gradient(c0, c1, h=H, w=W) -> np.ndarray:
    t = np.linspace(0, 1, w)[None, :, None]
    row = (np.asarray(c0, np.float32) * (1 - t) + np.asarray(c1, np.float32) * t).astype(np.uint8)
    return np.repeat(row, h, axis=0)


def texture(seed: int, h=H, w=W) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h // 8, w // 8, 3)).astype(np.uint8)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(img, (0, 0), 4)


def shapes() -> np.ndarray:
    img = gradient((40, 90, 160), (120, 180, 230))
    img[500:] = (60, 130, 50)
    cv2.circle(img, (300, 260), 120, (240, 220, 80), -1)
    cv2.rectangle(img, (700, 250), (1000, 560), (150, 60, 40), -1)
    cv2.ellipse(img, (1050, 150), (150, 50), 0, 0, 360, (250, 250, 250), -1)
    return img


def put_lines(img: np.ndarray, lines: list[str], x: int, y: int, scale: float, thick: int, color) -> list[tuple]:
    """Draw text lines; return each line's box normalised (x0, y0, x1, y1)."""
    regions = []
    for text in lines:
        (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
        cv2.putText(img, text, (x, y), FONT, scale, color, thick, cv2.LINE_AA)
        regions.append((x / W, (y - th) / H, (x + tw) / W, (y + base) / H))
        y += int(th * 2.0)
    return regions


def text_frames() -> list[tuple[np.ndarray, list[tuple]]]:
    out = []
    img = gradient((10, 10, 40), (30, 20, 60))
    out.append((img, put_lines(img, ["EPISODE 12"], 380, 400, 3.0, 7, (255, 255, 255))))  # title card
    img = texture(1) // 3  # dim textured background, credit-size light text in 3 lines
    out.append((img, put_lines(img, ["Director  Kenji Tanaka", "Music  Yui Sato", "Animation  Studio Wit"],
                               80, 480, 1.3, 2, (250, 250, 250))))
    img = gradient((235, 235, 225), (200, 210, 230))  # dark on light
    out.append((img, put_lines(img, ["Original Story by Hajime Isayama"], 700 - 400, 150, 1.5, 3, (20, 20, 20))))
    img = shapes()  # coloured caption over a scene
    out.append((img, put_lines(img, ["To be continued"], 820, 660, 1.4, 3, (255, 230, 40))))
    return out


def no_text_frames() -> list[np.ndarray]:
    return [
        np.zeros((H, W, 3), np.uint8),
        np.full((H, W, 3), 200, np.uint8),
        gradient((0, 0, 0), (255, 255, 255)),
        texture(2),
        shapes(),
    ]


def overlap(box, region) -> float:
    """Intersection area of box and region, as a fraction of region's area."""
    ix = max(0.0, min(box[2], region[2]) - max(box[0], region[0]))
    iy = max(0.0, min(box[3], region[3]) - max(box[1], region[1]))
    return ix * iy / ((region[2] - region[0]) * (region[3] - region[1]))


@pytest.fixture(scope="module")
def cases():
    tf = text_frames()
    nt = no_text_frames()
    samples = np.stack([f for f, _ in tf] + nt)
    fs = run([samples])
    return tf, nt, fs


def test_registry_entry():
    entry = registry.get("easyocr.craft_mlt_25k")
    assert entry.task == "text-detection" and entry.source.kind == "package"
    assert registry.resolve_file(entry.source).exists()


def test_output_layout(cases):
    tf, nt, fs = cases
    m = len(tf) + len(nt)
    assert fs["mask"].shape == (m, MASK_ROWS, MASK_COLS) and fs["mask"].dtype == np.uint8
    assert fs["area"].shape == (m,) and fs["area"].dtype == np.float32
    assert fs["count"].shape == (m,) and fs["count"].dtype == np.int16
    assert fs["boxes"].ndim == 2 and fs["boxes"].shape[1] == 5 and fs["boxes"].dtype == np.float32
    assert fs.meta["model"] == "easyocr.craft_mlt_25k"
    b = fs["boxes"]
    assert np.all((b[:, 1:] >= 0) & (b[:, 1:] <= 1))
    assert np.all(b[:, 3] > b[:, 1]) and np.all(b[:, 4] > b[:, 2])
    counts = np.bincount(b[:, 0].astype(int), minlength=m)
    assert np.array_equal(counts, fs["count"])


def test_text_is_found_where_drawn(cases):
    tf, _, fs = cases
    b = fs["boxes"]
    for i, (_, regions) in enumerate(tf):
        boxes = b[b[:, 0] == i, 1:]
        assert len(boxes) >= 1, f"no text found in text frame {i}"
        for region in regions:
            covered = sum(overlap(bx, region) for bx in boxes)
            assert covered > 0.5, (i, region, boxes)
        # every box lies on drawn text (no stray boxes elsewhere in the frame)
        for bx in boxes:
            assert any(overlap(region, bx) > 0.3 for region in regions), (i, bx, regions)
        assert fs["area"][i] > 0
        # the mask is set at the cell under the centre of each drawn line
        canvas = rasterize(np.asarray(regions, np.float32), W, H)
        mask = fs["mask"][i]
        scale = min(MASK_COLS / W, MASK_ROWS / H)
        oy = (MASK_ROWS - H * scale) / 2
        for x0, y0, x1, y1 in regions:
            r = int(oy + (y0 + y1) / 2 * H * scale)
            c = int((x0 + x1) / 2 * W * scale)
            assert mask[r, c] == 1
        # and nowhere far from the drawn text
        grown = cv2.dilate(canvas, np.ones((3, 3), np.uint8))
        assert np.all(mask <= grown)


def test_no_text_where_none_drawn(cases):
    tf, nt, fs = cases
    for j in range(len(nt)):
        i = len(tf) + j
        assert fs["count"][i] == 0, f"boxes found in text-free frame {j}: {fs['boxes'][fs['boxes'][:, 0] == i]}"
        assert fs["area"][i] == 0
        assert not fs["mask"][i].any()


def test_held_frames_reuse_detection():
    frame, regions = text_frames()[1]
    rng = np.random.default_rng(0)
    held = np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)
    other = no_text_frames()[3]
    # the next credits page: same background, one more name
    page2 = frame.copy()
    added = put_lines(page2, ["Editing  Mai Ito"], 700, 150, 1.0, 2, (250, 250, 250))[0]
    fs = run([np.stack([frame, held]), np.stack([held, page2, other, other])])
    assert fs.meta["detected_samples"] == 3  # frame, page2, other
    assert list(fs["count"][:3]) == [fs["count"][0]] * 3 and fs["count"][0] >= 1
    b = fs["boxes"]
    assert np.array_equal(b[b[:, 0] == 0, 1:], b[b[:, 0] == 2, 1:])
    assert fs["count"][3] > fs["count"][0]  # the added name is a change, not a held frame
    assert sum(overlap(bx, added) for bx in b[b[:, 0] == 3, 1:]) > 0.5
    assert list(fs["count"][4:]) == [0, 0]


def test_rasterize_letterboxes_to_4_3():
    full = rasterize(np.array([[0, 0, 1, 1]], np.float32), 1280, 720)
    # a 16:9 frame fills 20.25 of the 27 rows, centred
    assert full[:3].sum() == 0 and full[24:].sum() == 0 and full[3:24].all()
    small = rasterize(np.array([[0.5, 0.5, 0.51, 0.52]], np.float32), 1280, 720)
    assert small.sum() == 1 and small[13, 18] == 1
    assert rasterize(np.zeros((0, 4), np.float32), 640, 480).shape == (MASK_ROWS, MASK_COLS)
    assert box_area(np.array([[0, 0, 0.5, 0.5]], np.float32)) == pytest.approx(0.25)
    assert box_area(np.array([[0, 0, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5]], np.float32)) == pytest.approx(0.25)


def test_robust_inputs():
    empty = run([np.zeros((0, 36, 64, 3), np.uint8)])
    assert empty["mask"].shape == (0, MASK_ROWS, MASK_COLS) and empty["boxes"].shape == (0, 5)
    tiny = cv2.resize(text_frames()[0][0], (64, 36), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(text_frames()[2][0], cv2.COLOR_RGB2GRAY)
    fs = run([np.zeros((0, 36, 64, 3), np.uint8), np.stack([tiny, tiny[::-1]])])
    assert fs["mask"].shape == (2, MASK_ROWS, MASK_COLS)
    fs = run([grey[None]])  # (M,H,W) single-channel samples
    assert fs["count"][0] >= 1


def test_recognition_is_optional():
    img = gradient((10, 10, 40), (30, 20, 60))
    put_lines(img, ["EPISODE 12"], 380, 400, 3.0, 7, (255, 255, 255))
    fs = run([img[None]], recognize=True)
    words = " ".join(fs.meta["strings"].get(0, [])).upper()
    assert "EPISODE" in words or "12" in words, fs.meta["strings"]
