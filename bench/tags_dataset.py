"""Build the tagger's per-episode training files from a rendered corpus and its cached features.

  python bench/tags_dataset.py --corpus /tmp/bench_corpus --cache /tmp/tags_cache --out /tmp/tags_data

For each episode: cached visual/audio/text features (nothing is extracted; an episode without
cached text gets zeros + has_text=0), the MiniLM embedding of its title, and per-second targets
of the default vocabulary from its truth JSON (vpos.tags.labels_from_truth).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.tagger import tag_inputs  # noqa: E402
from vpos.tags import DEFAULT_VOCABULARY, labels_from_truth, sentence_embedding  # noqa: E402
from vpos.train_tags import Episode, video_features  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--cache", default="/tmp/tags_cache")
    ap.add_argument("--out", default="/tmp/tags_data")
    ap.add_argument("--shows", nargs="*", default=None)
    a = ap.parse_args()
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
        feats, n = video_features(video, a.cache)
        if "visual" not in feats or "audio" not in feats:
            print(f"{truth['id']}: visual/audio not cached, skipped", flush=True)
            continue
        title = truth["show_title"][-1] if truth.get("show_title") else ""
        title = f"{title} episode {truth['episode']}"
        sent = sentence_embedding([title])[0]
        ep = Episode(truth["id"], truth["show"], tag_inputs(feats, n, sent), labels_from_truth(truth, n), title)
        ep.save(dest)
        print(f"{truth['id']}: {n} s, text={'text' in feats}, positives={ep.targets.sum(0).astype(int).tolist()}", flush=True)


if __name__ == "__main__":
    main()
