"""Library throughput: episodes per hour with the local engine and with a local Ray instance, Ray's
overhead over local, and how much faster a second run is.

    python bench/library.py                      # 4 shows x 5 episodes of 30 s, 320x180 24 fps
    python bench/library.py --shows 6 --episodes 6 --seconds 40
    python bench/library.py --extractors visual,audio,text,shots   # every extractor (default: what OP/ED needs)
    python bench/library.py --no-ray             # local engine only

The library is generated once with `vpos.synth.season_episode` (each show repeats its own opening
and ending) into bench/.cache/library-<shape>/. Runs, in order, each on its own results folder:
  1. local engine, empty feature cache           -> episodes/hour, cold
  2. the same command again (same results folder) -> every result current: the resumed/incremental run,
     in this process and again as a fresh `python -m vpos library` process
  3. local engine, new results folder, warm feature cache -> re-analysis from cached features
     (what a model or option change costs when the features are kept)
  4. Ray engine (local instance), empty feature cache, run between two cold local runs (local, ray,
     local) -> episodes/hour; overhead = wall(ray) / mean(wall(local), wall(local again)) - 1;
     Ray's start-up is timed on its own and included in wall(ray).
Results are printed and written to bench/results/library-<host>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def build_library(root: Path, shows: int, episodes: int, seconds: int) -> Path:
    from vpos.synth import season_episode

    theme = max(4, seconds // 3)  # opening and ending length
    body = max(2, seconds - 2 * theme - 2)
    for s in range(shows):
        name = f"Show {chr(65 + s)}"
        for e in range(1, episodes + 1):
            p = root / name / f"[vpos] {name} - {e:02d} [180p].mp4"
            if not p.exists():
                season_episode(p, 100 + s, e, op_seconds=theme, ed_seconds=theme, body_seconds=body, cold_seconds=1,
                               preview_seconds=1, size=(320, 180), fps=24)
    return root


def hardware() -> dict:
    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpus": len(os.sched_getaffinity(0)), "memory_mb": mem, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version(), "load_average_at_start": os.getloadavg()}


def run(root: Path, out: Path, cache: Path, engine: str, extractors: tuple, workers: int = 0) -> dict:
    from vpos.library import LibraryOptions, make_engine, plan_library, run_library
    from vpos.pipeline import AnalysisOptions

    opts = LibraryOptions(out=str(out), engine=engine, workers=workers, analysis=AnalysisOptions(cache_dir=str(cache), extractors=extractors))
    t0 = time.perf_counter()
    eng = make_engine(opts, lambda m: None)
    start = time.perf_counter() - t0
    try:
        report = run_library(plan_library(root), opts, engine=eng)
    finally:
        eng.close()
    wall = time.perf_counter() - t0
    done = sum(r.status in ("analysed", "current") for r in report.rows)
    return {
        "engine": engine, "workers": report.workers, "engine_start_s": round(start, 2), "wall_s": round(wall, 2),
        "counts": report.counts(), "episodes_per_hour": round(done / wall * 3600, 1),
        "seasons_matched": report.seasons_matched, "seasons_current": report.seasons_current,
        "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
        "driver_seconds": {k: round(v, 2) for k, v in report.driver_seconds.items()},
        "load_average_after": os.getloadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shows", type=int, default=4)
    ap.add_argument("--episodes", type=int, default=5, help="episodes per show")
    ap.add_argument("--seconds", type=int, default=30, help="length of each episode")
    ap.add_argument("--extractors", default="visual,audio",
                    help="extractors per episode (default: visual,audio, what the shipped opening/ending set and season mode use)")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--workdir", default=str(HERE / ".cache"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    work = Path(args.workdir)
    root = build_library(work / f"library-{args.shows}x{args.episodes}x{args.seconds}s", args.shows, args.episodes, args.seconds)
    runs_dir = work / "library-runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    n = args.shows * args.episodes
    result = {"command": "python bench/library.py " + " ".join(sys.argv[1:]), "episodes": n, "episode_seconds": args.seconds,
              "video": "320x180 24 fps H.264 + AAC, generated (vpos.synth.season_episode)",
              "extractors": args.extractors + " + openings/endings + season mode", "hardware": hardware(), "runs": {}}
    runs = result["runs"]
    ex = tuple(args.extractors.split(","))
    print(f"library: {n} episodes of {args.seconds} s in {root}", flush=True)
    have_ray = False
    if not args.no_ray:
        try:
            import ray  # noqa: F401

            have_ray = True
        except ImportError:
            print("ray is not installed: skipped (pip install -r requirements-ray.txt)")
    # Cold runs alternate (local, ray, local) so that a change in the machine's load shows up as a
    # difference between the two local runs instead of passing for Ray's overhead.
    runs["local_cold"] = run(root, runs_dir / "local", runs_dir / "cache-local", "local", ex)
    print("local, cold:", runs["local_cold"]["wall_s"], "s", flush=True)
    if have_ray:
        runs["ray_cold"] = run(root, runs_dir / "ray", runs_dir / "cache-ray", "ray", ex)
        print("ray (local instance), cold:", runs["ray_cold"]["wall_s"], "s", flush=True)
        runs["local_cold_2"] = run(root, runs_dir / "local-2", runs_dir / "cache-local-2", "local", ex)
        print("local again, cold:", runs["local_cold_2"]["wall_s"], "s", flush=True)
    runs["local_resume"] = run(root, runs_dir / "local", runs_dir / "cache-local", "local", ex)
    print("local, second run (results current):", runs["local_resume"]["wall_s"], "s", flush=True)
    # The same second run as a user types it: a fresh process (interpreter, imports, hashing check).
    import subprocess

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vpos", "library", str(root), "--out", str(runs_dir / "local"), "--cache-dir",
                    str(runs_dir / "cache-local"), "--extractors", args.extractors, "-q"], check=True, cwd=HERE.parent)
    runs["local_resume_cli_s"] = round(time.perf_counter() - t0, 2)
    print("local, second run from the CLI (fresh process):", runs["local_resume_cli_s"], "s", flush=True)
    runs["local_warm_features"] = run(root, runs_dir / "local-warm", runs_dir / "cache-local", "local", ex)
    print("local, new results, cached features:", runs["local_warm_features"]["wall_s"], "s", flush=True)
    cold = runs["local_cold"]["wall_s"]
    summary = {
        "local_episodes_per_hour": runs["local_cold"]["episodes_per_hour"],
        "resume_speedup": round(cold / runs["local_resume"]["wall_s"], 1),
        "resume_speedup_cli": round(cold / runs["local_resume_cli_s"], 1),
        "cached_features_speedup": round(cold / runs["local_warm_features"]["wall_s"], 2),
    }
    if have_ray:
        local_mean = (cold + runs["local_cold_2"]["wall_s"]) / 2
        summary["local_episodes_per_hour_2"] = runs["local_cold_2"]["episodes_per_hour"]
        summary["ray_episodes_per_hour"] = runs["ray_cold"]["episodes_per_hour"]
        summary["ray_overhead_percent"] = round(100 * (runs["ray_cold"]["wall_s"] / local_mean - 1), 1)
        summary["ray_start_s"] = runs["ray_cold"]["engine_start_s"]
    result["summary"] = summary
    print(json.dumps(summary, indent=1))
    out = HERE / "results" / f"library-{platform.node()}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
