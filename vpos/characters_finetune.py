"""Fine-tune the whole character network (Lite0 trunk + head) end to end on a GPU.

    python -m vpos.characters_finetune --out DIR --dicebear-png PNG_DIR --init weights/characters \\
        --device cuda --minutes 3 [--backbone-lr 1e-4] [--workers 14]

`vpos.characters_train` trains the head over FROZEN ImageNet Lite0 features (a few thousand
frames, CPU). The identity embedding is then limited by what ImageNet features separate: two
cartoon characters with the same colours sit close together. Here the trunk is trained too, with
composite frames made on the fly by data-loader workers (the same identities, split and composites
as `vpos.characters_train`: DiceBear avatars, drawn figures, corpus-generator / random / photo-like
backgrounds; no frame or character of the corpus), so every step sees new frames. The trunk's
BatchNorm statistics stay the ImageNet ones (frozen): composites are not the frames it will see.
Frames are also degraded on the GPU (down- and up-scaling, noise) as decoded video is.

The result is a checkpoint with `own_backbone=True` (the trunk travels inside it, stored in
float16); `vpos.character_model.run_dense` then uses it instead of the registry's Lite0. Held-out
synthetic identities (never trained on) are scored before and after, so a run states whether it
helped there; whether it helps on episodes is measured by `bench/characters_headcache.py`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from .characters_train import (
    SpriteSource,
    cell_targets,
    character_losses,
    dicebear_identities,
    drawn_identity,
    make_frame,
    presence_matrix,
)


def identity_split(png_dir: str, drawn: int, seed: int):
    """Identities and the same train / held-out split as `vpos.characters_train.main`."""
    identities = dicebear_identities(png_dir) + [drawn_identity(i, seed) for i in range(drawn)]
    order = np.random.default_rng(seed).permutation(len(identities))
    n_val = int(0.12 * len(identities))
    return identities, order[n_val:], order[:n_val]


def _composite_stream_class():
    import torch

    class CompositeStream(torch.utils.data.IterableDataset):
        """Endless composite frames (frame uint8 (224, 384, 3), cell cover (14, 24), cell class
        (14, 24), -1 = none); each worker draws from its own seeded generator."""

        def __init__(self, identities, pool, n_classes_lut, seed: int, photo_like: float):
            self.identities, self.pool, self.lut = identities, pool, n_classes_lut
            self.seed, self.photo_like = seed, photo_like

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            rng = np.random.default_rng([self.seed, info.id if info else 0])
            src = SpriteSource()
            while True:
                f, m = make_frame(rng, self.identities, self.pool, src, photo_like=bool(rng.random() < self.photo_like))
                c, i = cell_targets(m)
                i = np.where(i >= 0, self.lut[np.maximum(i, 0)], -1)
                yield torch.from_numpy(f), torch.from_numpy(c.astype(np.float32)), torch.from_numpy(i.astype(np.int64))

    return CompositeStream


def degrade(x, gen):
    """(B, 3, H, W) float 0..255 on the GPU -> the same frames as a decoder might hand them over:
    softened by a random down/up-scale and with a little noise (per batch, cheap)."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    s = float(torch.empty(()).uniform_(0.45, 1.0, generator=gen))
    if s < 0.95:
        small = F.interpolate(x, size=(max(8, int(h * s)), max(8, int(w * s))), mode="bilinear", antialias=True,
                              align_corners=False)
        x = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    sigma = float(torch.empty(()).uniform_(0.0, 5.0, generator=gen))
    return (x + sigma * torch.randn(x.shape, device=x.device, dtype=x.dtype)).clamp(0, 255)


def build_model(init: str | None, trunk_weights: str | None):
    """CharacterNet with its own trunk: the head from `init` (a `vpos.characters_train` checkpoint
    folder: config.json + model.safetensors, read directly so that any huggingface_hub version will
    do), the trunk from `trunk_weights` (safetensors) or the registry's ImageNet Lite0."""
    from safetensors.torch import load_file

    from .character_model import CharacterNet

    kw, head_sd = {}, None
    if init:
        kw = json.loads((Path(init) / "config.json").read_text())
        kw.pop("own_backbone", None)
        head_sd = load_file(str(Path(init) / "model.safetensors"))
    model = CharacterNet(own_backbone=True, **kw)
    if head_sd is not None:
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in head_sd.items()}, strict=False)
        if unexpected or not all(k.startswith("backbone.") for k in missing):
            raise ValueError(f"{init} is not a head checkpoint: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if trunk_weights:
        model.backbone.load_state_dict(load_file(trunk_weights), strict=True)
    else:
        from .extractors.visual import get_model

        src = get_model("cpu").state_dict()
        model.backbone.load_state_dict({k: v for k, v in src.items() if k in model.backbone.state_dict()}, strict=True)
    return model


def dense(model, frames_u8, device):
    """uint8 (B, 224, 384, 3) on the device -> objectness logits (B, 14, 24), unit embeddings (B, D, 14, 24)."""
    return forward(model, (frames_u8.permute(0, 3, 1, 2).float() - 127.0) / 128.0, device)


def forward(model, x, device):
    """Normalised input (B, 3, 224, 384) -> objectness logits and unit embeddings, through the
    model's own trunk (bfloat16 autocast and channels-last on CUDA)."""
    import torch

    from .character_model import backbone_features

    cuda = str(device).startswith("cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
        feats = backbone_features(model.backbone, x.contiguous(memory_format=torch.channels_last) if cuda else x)
        obj, emb = model(feats)
    return obj.float(), torch.nn.functional.normalize(emb.float(), dim=1)


def heldout_scores(model, identities, val_pool, device, n_frames: int, seed: int) -> dict:
    """Never-trained identities: cell objectness AP and per-frame presence from 2 single-character
    reference frames each (the matching of `vpos.characters`), with the best accuracy over
    thresholds on the similarity (calibration-free, so two networks compare fairly)."""
    import torch
    from sklearn.metrics import average_precision_score

    from .characters import match_scores, reference_bank

    rng = np.random.default_rng(seed)
    src = SpriteSource()
    frames, covers, idents = [], [], []
    for _ in range(n_frames):
        f, m = make_frame(rng, identities, val_pool, src)
        c, i = cell_targets(m)
        frames.append(f), covers.append(c), idents.append(i)
    refs = {int(k): [make_frame(rng, identities, [k], src, n_chars=1)[0] for _ in range(2)] for k in val_pool}

    def outputs(fr):
        o, e = [], []
        with torch.inference_mode():
            for s in range(0, len(fr), 64):
                ob, em = dense(model, torch.from_numpy(np.stack(fr[s:s + 64])).to(device), device)
                o.append(torch.sigmoid(ob).cpu().numpy()), e.append(em.permute(0, 2, 3, 1).cpu().numpy())
        return np.concatenate(o), np.concatenate(e)

    model.eval()
    obj, emb = outputs(frames)
    cover, ident = np.stack(covers), np.stack(idents)
    mask = (cover >= 0.3) | (cover < 0.05)
    ap = float(average_precision_score((cover >= 0.3)[mask], obj[mask]))
    names = [int(k) for k in val_pool]
    banks = [reference_bank(*outputs(refs[k]), model.obj_threshold) for k in names]
    sims = match_scores(obj, emb, banks, model.obj_threshold)
    present = presence_matrix(ident, names)
    best = (0.0, 0.0, 0.0)
    for t in np.linspace(0.2, 0.95, 76):
        pred = sims >= t
        tp, fp, fn = int((pred & present).sum()), int((pred & ~present).sum()), int((~pred & present).sum())
        acc = float((pred == present).mean())
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if f1 > best[2]:
            best = (float(t), acc, f1)
    return {"frames": n_frames, "identities": len(names), "cell_objectness_ap": round(ap, 4),
            "best_threshold": round(best[0], 3), "presence_accuracy": round(best[1], 4), "presence_f1": round(best[2], 4)}


def _quiet_worker(_):
    """Data-loader workers: one thread each (cv2 and torch would otherwise each start one per core)."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def class_means(model, batches, n_classes, device):
    """Unit mean embedding per training identity over a few batches: the starting proxies."""
    import torch
    import torch.nn.functional as F

    sums = torch.zeros(n_classes, model.embed_dim, device=device)
    model.eval()
    with torch.inference_mode():
        for f, _, i in batches:
            _, e = dense(model, f.to(device), device)
            i = i.to(device)
            sums.index_add_(0, i[i >= 0], e.permute(0, 2, 3, 1)[i >= 0])
    empty = sums.norm(dim=1) == 0
    sums[empty] = torch.randn(int(empty.sum()), model.embed_dim, device=device)
    return F.normalize(sums, dim=1)


def finetune(model, batches, n_classes, device, minutes: float, backbone_lr: float, head_lr: float, log=print,
             proxy_batches: int = 40, log_every: float = 20.0, max_steps: int = 0) -> dict:
    """Train for `minutes` of wall clock (or `max_steps` steps, whichever ends first) over `batches`
    (an iterator of (frames, cover, class)).
    Every `log_every` seconds `log` gets {seconds, step, frames, lr_factor, objectness, identity}
    (the mean losses since the last record)."""
    import torch

    model.to(device)
    if str(device).startswith("cuda"):
        model.backbone.to(memory_format=torch.channels_last)
    it = batches
    warm = [next(it) for _ in range(proxy_batches)]
    proxies = torch.nn.Parameter(class_means(model, warm, n_classes, device))
    opt = torch.optim.AdamW([
        {"params": model.backbone.parameters(), "lr": backbone_lr, "base": backbone_lr},
        {"params": [p for n, p in model.named_parameters() if not n.startswith("backbone.")], "lr": head_lr, "base": head_lr},
        {"params": [proxies], "lr": head_lr * 5, "base": head_lr * 5},
    ], weight_decay=1e-4)
    gen = torch.Generator().manual_seed(0)
    scale, margin = 20.0, 0.25
    budget = minutes * 60.0
    t0 = last = time.time()
    step = frames = 0
    lo_sum = le_sum = 0.0
    n_sum = 0
    while True:
        frac = (time.time() - t0) / budget
        if max_steps:
            frac = max(frac, step / max_steps)
        if frac >= 1.0:
            break
        # the schedule follows the budget: warm-up over its first 5%, then cosine to 0
        f = frac / 0.05 if frac < 0.05 else 0.5 * (1 + math.cos(math.pi * (frac - 0.05) / 0.95))
        for g in opt.param_groups:
            g["lr"] = g["base"] * f
        model.train()
        for m in model.backbone.modules():  # the trunk keeps its ImageNet statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        fr, c, i = next(it)
        fr, c, i = fr.to(device, non_blocking=True), c.to(device, non_blocking=True), i.to(device, non_blocking=True)
        x = fr.permute(0, 3, 1, 2).float()
        if torch.rand((), generator=gen) < 0.6:
            x = degrade(x, gen)
        obj, emb = forward(model, (x - 127.0) / 128.0, device)
        lo, le = character_losses(obj, emb, c, i, proxies, scale, margin)
        loss = lo + le
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + [proxies], 5.0)
        opt.step()
        step += 1
        frames += len(fr)
        lo_sum += float(lo.detach()) * len(fr)
        le_sum += float(le.detach()) * len(fr)
        n_sum += len(fr)
        if time.time() - last >= log_every:
            last = time.time()
            log({"seconds": round(last - t0, 1), "step": step, "frames": frames, "lr_factor": round(f, 3),
                 "objectness": lo_sum / n_sum, "identity": le_sum / n_sum})
            lo_sum = le_sum = 0.0
            n_sum = 0
    model.eval()
    return {"steps": step, "frames": frames, "seconds": round(time.time() - t0, 1)}


def _print_record(r: dict) -> None:
    print(f"{r['seconds']:.0f}s step {r['step']} frames {r['frames']} ({r['frames'] / max(1e-9, r['seconds']):.0f}/s) "
          f"lr x{r['lr_factor']:.2f}: objectness {r['objectness']:.4f} identity {r['identity']:.4f}", flush=True)


def save_half(model, out: Path, info: dict) -> None:
    """The checkpoint in `PyTorchModelHubMixin`'s layout (config.json of the constructor arguments +
    model.safetensors), its tensors in float16 (half the size; loading casts them back)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    cfg = {"in_dim": model.reduce[0].in_channels, "hidden": model.reduce[0].out_channels, "embed_dim": model.embed_dim,
           "calib_a": model.calib_a, "calib_b": model.calib_b, "obj_threshold": model.obj_threshold, "own_backbone": True}
    save_file({k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
    (out / "training.json").write_text(json.dumps(info, indent=1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dicebear-png", required=True, help="rendered DiceBear PNGs (vpos.characters_train renders them)")
    ap.add_argument("--init", default=None, help="head checkpoint to start from (default: a fresh head)")
    ap.add_argument("--trunk-weights", default=None, help="Lite0 trunk safetensors (default: the registry's ImageNet Lite0)")
    ap.add_argument("--drawn", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--minutes", type=float, default=3.0, help="training wall-clock budget")
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--workers", type=int, default=14)
    ap.add_argument("--backbone-lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=5e-4)
    ap.add_argument("--photo-like", type=float, default=0.3, help="share of frames over photo-like scenes")
    ap.add_argument("--heldout-frames", type=int, default=300)
    ap.add_argument("--proxy-batches", type=int, default=40, help="batches whose class means start the identity proxies")
    ap.add_argument("--skip-before", action="store_true", help="do not score the starting network")
    args = ap.parse_args(argv)
    import torch

    if not Path(args.dicebear_png).is_dir():
        ap.error(f"--dicebear-png {args.dicebear_png}: no such folder (render it with python -m vpos.characters_train)")
    if args.init and not (Path(args.init) / "model.safetensors").is_file():
        ap.error(f"--init {args.init}: no model.safetensors there (a vpos.characters_train checkpoint folder)")
    if args.trunk_weights and not Path(args.trunk_weights).is_file():
        ap.error(f"--trunk-weights {args.trunk_weights}: no such file")
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device here (use --device cpu for a slow run)")
    if args.minutes <= 0 or args.batch < 1 or args.workers < 0:
        ap.error("--minutes must be > 0, --batch >= 1, --workers >= 0")
    identities, train_pool, val_pool = identity_split(args.dicebear_png, args.drawn, args.seed)
    lut = np.full(len(identities), -1, np.int64)
    lut[train_pool] = np.arange(len(train_pool))
    print(f"{len(identities)} identities, {len(train_pool)} trained, {len(val_pool)} held out", flush=True)
    model = build_model(args.init, args.trunk_weights).to(args.device)
    info = {"init": args.init, "identities": len(identities), "train_identities": len(train_pool),
            "heldout_identities": len(val_pool), "seed": args.seed, "minutes": args.minutes, "batch": args.batch,
            "backbone_lr": args.backbone_lr, "head_lr": args.head_lr, "photo_like": args.photo_like,
            "device": torch.cuda.get_device_name(0) if str(args.device).startswith("cuda") else "cpu"}
    Stream = _composite_stream_class()
    loader = torch.utils.data.DataLoader(Stream(identities, train_pool, lut, args.seed + 1000, args.photo_like),
                                         batch_size=args.batch, num_workers=args.workers, pin_memory=True,
                                         persistent_workers=args.workers > 0, prefetch_factor=4 if args.workers else None,
                                         worker_init_fn=_quiet_worker)
    # Workers fork here, BEFORE the main process scores anything: forking after sklearn / cv2 / torch
    # have started their thread pools can deadlock a worker (seen on a 16-core GPU machine).
    stream = iter(loader)
    if args.heldout_frames and not args.skip_before:
        info["heldout_before"] = heldout_scores(model, identities, val_pool, args.device, args.heldout_frames, args.seed + 1)
        print("held out, before:", json.dumps(info["heldout_before"]), flush=True)
    info["train"] = finetune(model, stream, len(train_pool), args.device, args.minutes, args.backbone_lr, args.head_lr,
                             log=_print_record, proxy_batches=args.proxy_batches)
    if args.heldout_frames:
        info["heldout_after"] = heldout_scores(model, identities, val_pool, args.device, args.heldout_frames, args.seed + 1)
        print("held out, after:", json.dumps(info["heldout_after"]), flush=True)
    save_half(model, Path(args.out), info)
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
