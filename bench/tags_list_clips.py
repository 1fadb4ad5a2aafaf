"""A labelled list on the source's format (`file<TAB>title<TAB>label1,label2`) from corpus scenes.

  python bench/tags_list_clips.py --corpus /tmp/bench_corpus --show mori-tabi --out /tmp/tags_clips

Every story scene (cold open, parts A/B, C part) of at least --min-seconds becomes a clip (ffmpeg,
re-encoded at 360p so the cut is frame-exact) labelled with its location and the characters on
screen for at least --char-share of it (corpus truth). Episodes e01-e04 go to train.tsv, e05-e06 to
test.tsv: the test clips come from episodes training never saw. Labels are show-specific (a
show's locations and cast), which is what a user trains with `python -m vpos tags train`; then

  python -m vpos tags train OUT/train.tsv --out OUT/tagger --cache-dir OUT/cache --extractors visual,audio,picture
  python -m vpos tags eval OUT/test.tsv --tagger OUT/tagger --cache-dir OUT/cache --extractors visual,audio,picture
"""
import argparse
import json
import subprocess
from pathlib import Path


def scene_labels(truth: dict, scene: dict, char_share: float) -> list[str]:
    fps = float(truth["fps"])
    a, b = scene["start_frame"] / fps, scene["end_frame"] / fps
    labels = [scene["location"]]
    for name, ivs in sorted(truth.get("characters", {}).items()):
        on = sum(max(0.0, min(b, e) - max(a, s)) for s, e in ivs)
        if on >= char_share * (b - a):
            labels.append(name)
    return labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/bench_corpus")
    ap.add_argument("--show", default="mori-tabi")
    ap.add_argument("--out", default="/tmp/tags_clips")
    ap.add_argument("--min-seconds", type=float, default=10.0)
    ap.add_argument("--char-share", type=float, default=0.25)
    ap.add_argument("--test-episodes", nargs="*", type=int, default=[5, 6])
    a = ap.parse_args()
    out = Path(a.out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    lines = {"train": [], "test": []}
    for tp in sorted((Path(a.corpus) / a.show).glob("*.truth.json")):
        truth = json.loads(tp.read_text())
        fps = float(truth["fps"])
        video = Path(a.corpus) / truth["path"]
        part = "test" if truth["episode"] in a.test_episodes else "train"
        for i, sc in enumerate(truth["scenes"]):
            dur = (sc["end_frame"] - sc["start_frame"]) / fps
            if sc.get("segment") not in ("cold_open", "part_a", "part_b", "c_part") or dur < a.min_seconds:
                continue
            clip = out / "clips" / f"{truth['id']}-s{i:03d}.mp4"
            if not clip.exists():
                cmd = ["ffmpeg", "-v", "error", "-y", "-ss", f"{sc['start_frame'] / fps:.3f}", "-i", str(video), "-t", f"{dur:.3f}",
                       "-vf", "scale=-2:360", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-c:a", "aac", "-b:a", "96k",
                       str(clip)]
                subprocess.run(cmd, check=True)
            labels = scene_labels(truth, sc, a.char_share)
            lines[part].append(f"clips/{clip.name}\t{truth['show_title'][-1]} episode {truth['episode']} scene {i}\t{','.join(labels)}")
        print(f"{truth['id']}: {sum(len(v) for v in lines.values())} clips so far", flush=True)
    for part, ls in lines.items():
        (out / f"{part}.tsv").write_text("\n".join(ls) + "\n")
        print(f"{out / f'{part}.tsv'}: {len(ls)} clips")


if __name__ == "__main__":
    main()
