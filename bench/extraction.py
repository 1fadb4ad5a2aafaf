"""Extraction speed and memory: real-time factor of each stage and of the whole extraction.

    python bench/extraction.py                       # 5-min and 24-min 720p 25 fps clips
    python bench/extraction.py --minutes 5 --device cuda
    python bench/extraction.py --video episode.mkv   # any file of yours
    python bench/extraction.py --minutes 5 --compare-gate   # TransNetV2 gate on vs off

Clips are rendered once with `vpos.synth` (anime-like pacing: held shots, pans, zooms, captions,
music/speech/silence) into bench/.cache/. Each analysis runs in its own subprocess with the feature
cache off, so its peak memory (max RSS) is its own. Real-time factor = video seconds / wall seconds.
Results are printed and written to bench/results/extraction-<host>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def render_bench_clip(path: Path, minutes: float, size=(1280, 720), fps=25, seed=7) -> Path:
    import numpy as np

    from vpos.synth import AudioSpec, ShotSpec, render_clip

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * fps)
    shots, used, i = [], 0, 0
    while used < total:
        # Anime pacing: most shots 2-6 s, some held stills, a few fast montage stretches.
        n = int(min(total - used, rng.choice([rng.integers(fps // 2, fps * 2), rng.integers(2 * fps, 6 * fps)], p=[0.25, 0.75])))
        motion = rng.choice(["static", "pan", "zoom"], p=[0.55, 0.3, 0.15])
        text = "STAFF  vpos studio" if rng.random() < 0.1 else None
        shots.append(ShotSpec(frames=n, seed=seed * 1000 + i, motion=str(motion), text=text, fade_in=8 if rng.random() < 0.05 else 0))
        used += n
        i += 1
    audio, t = [], 0.0
    while t < minutes * 60:
        kind = str(rng.choice(["speech", "music", "silence"], p=[0.55, 0.35, 0.10]))
        d = float(min(minutes * 60 - t, rng.uniform(5, 40)))
        audio.append(AudioSpec(kind, d))
        t += d
    tmp = path.with_suffix(".tmp" + path.suffix)
    render_clip(tmp, shots, audio, fps=fps, size=size, seed=seed)
    os.replace(tmp, path)
    return path


def run_one(video: str, device: str, gate: bool, extractors: str) -> dict:
    """Analyse in a fresh subprocess; returns timings, real-time factor and peak memory."""
    code = f"""
import json, resource, time, sys
import vpos
from vpos.pipeline import AnalysisOptions
t = time.perf_counter()
r = vpos.analyze({video!r}, AnalysisOptions(device={device!r}, use_cache=False, shot_gate={gate!r}, extractors=tuple({extractors!r}.split(','))))
wall = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sh = r.features.get('shots')
print(json.dumps({{'duration': r.video.duration, 'frames': r.video.frame_count, 'wall': wall, 'timings': r.timings,
  'peak_rss_mb': peak, 'shots': len(r.shots), 'cuts': r.cut_frames,
  'windows_run_share': float(sh['evaluated'].mean()) if sh is not None and len(sh['evaluated']) else None}}))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(HERE.parent))
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["rtf"] = out["duration"] / out["wall"]
    out["stage_rtf"] = {k: (out["duration"] / v if v > 0 else None) for k, v in out["timings"].items()}
    return out


def hardware(device: str) -> dict:
    info = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, action="append", help="render and time a clip this long (repeatable; default 5 and 24)")
    ap.add_argument("--video", action="append", help="time this file instead (repeatable)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--device", default="auto")
    from vpos.pipeline import ALL_EXTRACTORS

    ap.add_argument("--extractors", default=",".join(ALL_EXTRACTORS), help="default: the default profile's extractors")
    ap.add_argument("--compare-gate", action="store_true", help="also time TransNetV2 without the change gate")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args(argv)

    videos = list(args.video or [])
    if not videos:
        w, h = (int(x) for x in args.size.split("x"))
        cache = HERE / ".cache"
        cache.mkdir(exist_ok=True)
        for m in args.minutes or [5, 24]:
            p = cache / f"bench-{m:g}min-{w}x{h}-{args.fps}fps.mp4"
            t = time.perf_counter()
            render_bench_clip(p, m, (w, h), args.fps)
            print(f"clip {p.name}: ready ({time.perf_counter() - t:.0f} s)", flush=True)
            videos.append(str(p))

    report = {"hardware": hardware(args.device), "device": args.device, "runs": []}
    for v in videos:
        variants = [True, False] if args.compare_gate else [True]
        for gate in variants:
            r = run_one(v, args.device, gate, args.extractors)
            r.update(video=Path(v).name, gate=gate)
            cuts = r.pop("cuts")
            r["n_cuts"] = len(cuts)
            report["runs"].append(r)
            stages = ", ".join(
                f"{k} {s:.2f}s" for k, s in r["timings"].items() if k not in ("total",)
            )
            print(
                f"{r['video']}: {r['duration']:.0f} s video, gate={'on' if gate else 'off'}: wall {r['wall']:.1f} s -> "
                f"{r['rtf']:.2f}x real time, peak RSS {r['peak_rss_mb']:.0f} MB, {r['shots']} shots, "
                f"TransNetV2 windows run {r['windows_run_share'] if r['windows_run_share'] is None else round(100 * r['windows_run_share'])}%\n  {stages}",
                flush=True,
            )
            r["_cuts"] = cuts
        if args.compare_gate:
            a, b = report["runs"][-2], report["runs"][-1]
            same = a["_cuts"] == b["_cuts"]
            print(f"  gate on vs off: identical cuts: {same} ({a['n_cuts']} vs {b['n_cuts']})")
    for r in report["runs"]:
        r.pop("_cuts", None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"extraction-{platform.node()}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    (out / name).write_text(json.dumps(report, indent=1))
    print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
