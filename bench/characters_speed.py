"""Throughput of the character network (the per-sample work of the characters stage), CPU or GPU.

    python bench/characters_speed.py [--weights DIR] [--device cuda] [--frames 4096] [--batch 128] [--json OUT]

Times the two parts of the stage on synthetic 1280x720 frames: `prepare_frames` (scaling to the
384x224 network input, CPU) and `run_dense` (trunk + head, batched; on CUDA in float16 autocast,
transfers and the copy back of every cell's output included). At the default 1 sample per second
a 24-minute episode is 1440 samples, so `samples/s` / 1440 is episodes per second.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="character checkpoint folder (default: weights/characters)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    from vpos.character_model import load_head, prepare_frames, run_dense

    head = load_head(args.weights, args.device)
    backbone = None
    if not head.own_backbone:
        from vpos.extractors.visual import get_model

        backbone = get_model(args.device)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (args.batch, 720, 1280, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    x = prepare_frames(frames)
    prep = (time.perf_counter() - t0) / len(frames)

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(3):  # warm-up (cuDNN autotuning, allocator)
        run_dense(backbone, head, x, args.device)
    sync()
    n = 0
    t0 = time.perf_counter()
    while n < args.frames:
        run_dense(backbone, head, x, args.device)
        n += len(x)
    sync()
    net = (time.perf_counter() - t0) / n
    res = {"device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu",
           "torch_threads": torch.get_num_threads(), "weights": str(args.weights or "weights/characters"),
           "own_backbone": head.own_backbone, "batch": args.batch, "frames": n,
           "prepare_ms_per_sample": round(prep * 1000, 3), "network_ms_per_sample": round(net * 1000, 3),
           "network_samples_per_s": round(1 / net, 1),
           "episodes_24min_per_s_network": round(1 / net / 1440, 3)}
    print(json.dumps(res), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
