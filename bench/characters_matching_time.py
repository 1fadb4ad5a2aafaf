"""Wall time of the character matching (references + `detect_characters`) on one cached episode,
under several `CharacterOptions`, side by side in one run (default: the references' background bank
off and on).

    python bench/characters_matching_time.py --corpus /tmp/bench_corpus --show sora-kyousoukyoku [--episode 1] \
        [--options '{"background_bank": false}' '{}']

The extraction (decode + network) is cached by `bench/characters_eval.py`'s `features_of` and is
not timed here (`bench/extraction.py` times it); this is the part `CharacterOptions` changes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import characters_eval as B  # noqa: E402
from vpos.characters import CharacterOptions, detect_characters  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--show", required=True)
    ap.add_argument("--episode", type=int, default=1, help="1-based episode of the show to time")
    ap.add_argument("--options", nargs="*", default=['{"background_bank": false}', "{}"],
                    help="CharacterOptions overrides as JSON, one timed run each")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    truths = sorted(Path(args.corpus, args.show).glob("*.truth.json"))
    if len(truths) < 2 or not 1 <= args.episode <= len(truths):
        print(f"{args.show}: needs >= 2 episodes and --episode in 1..{len(truths)}", file=sys.stderr)
        return 2
    tp = truths[args.episode - 1]
    truth = json.loads(tp.read_text())
    cf, cuts, n, _ = B.features_of(B.video_of(tp), None)
    runs = []
    for extra in map(json.loads, args.options):
        opts = CharacterOptions(**{"skip_empty_references": True, **extra})
        t0 = time.perf_counter()
        refs, _ = B.episode_references(truths, tp, 5, None, opts)
        t1 = time.perf_counter()
        detect_characters(cf["cell_obj"][:n], cf["cell_emb"][:n], refs, float(truth["duration"]), cuts, 1.0, None, opts,
                          cell_hist=cf["cell_hist"][:n], cell_pos=cf["cell_pos"][:n], shot_samples=B.shot_samples(cf))
        t2 = time.perf_counter()
        runs.append({"options": extra, "background_bank": opts.background_bank, "references_s": round(t1 - t0, 2), "matching_s": round(t2 - t1, 2),
                     "background_cells": 0 if refs.background is None else int(len(refs.background))})
    out = {"command": " ".join(["python", "bench/characters_matching_time.py", *(argv if argv is not None else sys.argv[1:])]),
           "episode": tp.name[: -len(".truth.json")], "episode_seconds": truth["duration"], "samples": int(n),
           "machine": f"{platform.processor() or platform.machine()}, torch threads 2", "runs": runs}
    print(json.dumps(out, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
