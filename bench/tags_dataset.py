"""Build the tagger's per-episode training files from a rendered corpus and its cached features.

  python bench/tags_dataset.py --corpus /tmp/bench_corpus --cache /tmp/tags_cache --out /tmp/tags_data

For each episode: cached visual/audio/text/picture features (nothing is extracted unless
--extract; an episode without cached text gets zeros + has_text=0), the MiniLM embedding of its
title, and per-second targets of the default vocabulary from its truth JSON
(vpos.tags.labels_from_truth). Truth documents written before the builder recorded
`per_second.still` get it from the episode's plan, regenerated from --plan PRESET:SEED (the
corpus's preset and seed; the plan's shots are checked against the truth's, frame for frame).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.corpus.relabel import without_camera_moves  # noqa: E402
from vpos.tagger import tag_inputs  # noqa: E402
from vpos.tags import DEFAULT_VOCABULARY, labels_from_truth, sentence_embedding  # noqa: E402
from vpos.train_tags import Episode, video_features  # noqa: E402


class PlanSource:
    """Episode plans of a corpus preset/seed, to add `still` to older truth documents."""

    def __init__(self, spec: str, corpus=None):
        self.preset, seed = spec.split(":")
        self.seed = int(seed)
        self.n_shows = self.n_episodes = None
        index = Path(corpus) / "corpus.json" if corpus else None
        if index and index.exists():  # the builder's own record wins over --plan
            doc = json.loads(index.read_text())
            self.preset, self.seed, self.n_shows = doc["preset"], int(doc["seed"]), len(doc["shows"])
            self.n_episodes = max(s["episodes"] for s in doc["shows"])
        self._shows = None

    def still_per_second(self, truth: dict) -> list:
        from vpos.corpus.shows import make_corpus_plan, plan_episode
        from vpos.corpus.truth import mask_per_second, still_frames

        if self._shows is None:
            from vpos.corpus.material import MaterialLibrary

            lib = MaterialLibrary.open("auto", log=lambda *x, **k: None)
            shows = make_corpus_plan(self.preset, self.seed, lib, n_shows=self.n_shows, n_episodes=self.n_episodes)[0]
            self._shows = {s.slug: s for s in shows}
        if "motion" in truth:
            plan = plan_episode(self._shows[truth["show"]], int(truth["episode"]), self.seed)
        else:
            # Rendered before the builder drew camera moves (shakes, zooms and wipes on held story
            # shots, vpos/corpus/shows.py add_camera_moves; its truth has no "motion"): today's plan
            # would add moves its video does not have, and a zoom under a sprite is not still.
            with _without_camera_moves():
                plan = plan_episode(self._shows[truth["show"]], int(truth["episode"]), self.seed)
        mine = [(s.start, s.start + s.n, s.kind) for s in plan.shots]
        theirs = [(s["start_frame"], s["end_frame"], s["kind"]) for s in truth["shots"]]
        if mine != theirs:
            raise SystemExit(f"{truth['id']}: the {self.preset}:{self.seed} plan does not match the truth's shots (wrong --plan?)")
        planned = sorted(sh.trans_in for sh in plan.shots[1:] if sh.trans_in != "cut")
        rendered = sorted(t["type"] for t in truth.get("transitions", []) if t["type"] in ("dissolve", "wipe"))
        if sorted(x for x in planned if x in ("dissolve", "wipe")) != rendered:
            raise SystemExit(f"{truth['id']}: the plan's dissolves/wipes differ from the truth's (a plan from another builder version?)")
        mask = still_frames(plan.shots, truth["speech"], truth["fps"], plan.n)
        return mask_per_second(mask, float(truth["fps"]), float(truth["duration"]))[: len(truth["per_second"]["speech"])]


_without_camera_moves = without_camera_moves  # plans of truth without "motion" (vpos/corpus/relabel.py)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--cache", default="/tmp/tags_cache")
    ap.add_argument("--out", default="/tmp/tags_data")
    ap.add_argument("--shows", nargs="*", default=None)
    ap.add_argument("--plan", default="benchmark:0", help="PRESET:SEED the corpus was built with (for per_second.still)")
    ap.add_argument("--require", default="visual,audio", help="skip episodes without these cached features")
    ap.add_argument("--extract", action="store_true", help="extract features that are not cached (text: ~2 min per 24-min episode)")
    a = ap.parse_args()
    plans = PlanSource(a.plan, a.corpus)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for truth_path in sorted(Path(a.corpus).glob("*/*.truth.json")):
        truth = json.loads(truth_path.read_text())
        if a.shows and truth["show"] not in a.shows:
            continue
        dest = out / f"{truth['id']}.npz"
        if dest.exists():
            continue
        video = Path(a.corpus) / truth["path"]
        feats, n = video_features(video, a.cache, extractors=("visual", "audio", "text", "picture"), extract_missing=a.extract)
        missing = [x for x in a.require.split(",") if x and x not in feats]
        if missing:
            print(f"{truth['id']}: {', '.join(missing)} not cached, skipped", flush=True)
            continue
        title = truth["show_title"][-1] if truth.get("show_title") else ""
        title = f"{title} episode {truth['episode']}"
        sent = sentence_embedding([title])[0]
        if "still" not in truth.get("per_second", {}):
            truth["per_second"]["still"] = plans.still_per_second(truth)
        ep = Episode(truth["id"], truth["show"], tag_inputs(feats, n, sent), labels_from_truth(truth, n), title)
        ep.save(dest)
        print(f"{truth['id']}: {n} s, text={'text' in feats}, picture={'picture' in feats}, positives={ep.targets.sum(0).astype(int).tolist()}", flush=True)


if __name__ == "__main__":
    main()
