"""Characters: who is on screen when, and for how long, from a few reference images per name.

References (1-5 images per name, each showing that character alone -- a screenshot with any
background and framing, or a crop) come as

* a folder ``DIR/<name>/*.png|jpg|jpeg|webp`` (CLI ``--characters DIR``),
* a folder with the source system's ``mapping.csv`` (``Image_ID,Class``; the images next to it or
  in ``images/`` / ``frames/``; rows of class ``0``/``none`` are frames without a character), or
* a Python mapping ``name -> [path or RGB array, ...]``.

Every reference image goes through the same network as the video samples
(`vpos/character_model.py`): its character cells (16x16 cells whose objectness reaches the
model's threshold), and those of its mirror image, form the name's bank of cell embeddings.  A
video sample's character cells are each given to the closest name; a name's score in the sample is
the best similarity among its cells, turned into a probability by the calibration fitted on
held-out training identities.  A character without references is matched to nobody when its cells
are far from every bank (open set).  Probabilities are then smoothed inside each shot (a character
does not flicker within one shot; shot cuts are where presence may change), thresholded at 0.5,
and runs of seconds become intervals whose ends snap to the shot cuts inside those seconds.

Bad references raise `CharacterReferenceError` with what to fix: an unreadable image, an image in
which no character is found, two names whose references are near-identical.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .errors import VposError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_REFERENCES = 5  # per name; more are accepted but only the first 5 are used (issue 7's protocol)
MAX_BACKGROUND_CELLS = 4000
NONE_CLASSES = {"0", "none", "neither", "nobody", ""}


class CharacterReferenceError(VposError):
    """Reference images for characters are missing, unreadable or ambiguous."""


@dataclass
class CharacterOptions:
    # Smoothing inside shots: each sample's probability is pulled (by `shot_weight`) towards the mean of
    # the `shot_window` samples around it in its shot (0: the whole shot's mean, the default before
    # version 4). Characters walk in and out mid-shot: with the whole-shot mean, half of the fourth
    # version's misses on the dev shows were seconds whose own probability was above the threshold
    # (bench/results/characters-v4-dev-smoothing*.json: 0.5 / whole shot acc 0.939, F1 0.916,
    # screen-time error 13.7%; 0.3 / 3 samples 0.949, 0.931, 10.7%; wrong-name 4.9% / 5.0%).
    shot_weight: float = 0.3
    shot_window: int = 3
    threshold: float = 0.7  # smoothed probability at which a character counts as present (see the notes below)
    # Hysteresis inside shots (0: off): a sample whose smoothed probability is at least `hold_threshold`
    # also counts when it is joined, through such samples and without a cut, to a sample of the same
    # shot at `threshold`. A character confirmed in a shot keeps its name while it turns away or
    # shrinks, where its regions still go to it (every open-set rule passed) but match its
    # references less well; a region that goes to nobody breaks the run (probability ~0.09).
    # Off: it trades one per-character target for the other, as growing the references does. Seed
    # 15151 (diagnosed unseen-art set; README, twelfth session), defaults -> 0.5: accuracy 0.990 ->
    # 0.992, screen-time error 2.30% -> 1.93% (max 14.7 -> 11.9; pairs within 5% 92% -> 94%), but
    # wrong-name 0.95% -> 1.36% (worst character 9.1% -> 10.4%; pairs within 2% 89% -> 81%): a
    # character without references named once as another keeps that name for the rest of its shot.
    hold_threshold: float = 0.0
    # Runs start only at samples whose region reached `certain_score` (with `hold_threshold`). Seed
    # 15151: no screen time gained (2.30% -> 2.28%) and wrong names still spread (pairs within 2%
    # 89% -> 83%): characters without references are also named "certainly" as look-alikes.
    hold_certain: bool = False
    # "region": each character region (4-connected character cells) goes to one name by the mean
    # similarity of its cells (`match_regions`); "cell": every cell on its own, a name scores its
    # best cell (`match_scores`, the matching before region matching became the default). An
    # unknown character drawn in the show's style has cells (face, skin) as close to a known name as
    # that name's own, so one cell was enough to name it. Dev shows, v4 network recalibrated on dev
    # with region matching (references picked away from cuts; bench/results/characters-v4-dev-region.json,
    # run with the later steps unsampled_shots and expand_probability off):
    # cell / region at threshold 0.7: acc 0.961 / 0.961, F1 0.949 / 0.948, wrong-name 20.6% / 0.4%;
    # region at 0.65 / 0.75: wrong-name 2.1% / 0.3%, acc 0.959 / 0.959 (0.7 chosen on dev: best
    # acc + F1 with wrong-name <= 2%). With the second version's network region matching was worse (README).
    match_by: str = "region"
    # references grown from the video itself (region matching only; 0: off): a second matching pass
    # in which each name's bank also holds its regions of the `expand_samples` samples where its raw
    # probability is highest and at least `expand_probability`. Chosen on dev (0.8 / 30 from
    # 0.75-0.95 / 5-30; bench/results/characters-v4-dev-expand.json): acc 0.962 -> 0.963, F1 0.950 ->
    # 0.952, screen-time error 7.9% -> 7.2%, wrong-name 0.6% -> 0.7%.
    expand_probability: float = 0.8
    expand_samples: int = 30
    unsampled_shots: str = "both"  # a shot holding no sample has the character if the samples on both sides do (`intervals_from_mask`)
    color_weight: float = 0.5  # share of the cell's colour histogram (vs the learned embedding) in matching
    duplicate_similarity: float = 0.97  # two names whose reference cells match each other this well are an error
    min_cells: int = 1  # character cells a reference image needs
    multiscale: bool = False  # add close-up and distant views of every reference (measured: no gain on the dev shows)
    # The references' backgrounds (cells of reference screenshots outside the character, never of
    # crops) veto a region that matches them at least as well as its name (`background_margin`).
    # Empty shots of places the references show (a courtyard, a road under the credits) were the
    # largest class of false alarms on art no model had seen (renpy-demo's Eileen and Lucy). Chosen
    # on the dev shows (README, "Art no model has seen"): 13 small dev episodes acc 0.979 -> 0.981,
    # false-alarm seconds 13 -> 9, no more misses; kaze-nikki e01-e06 (full pipeline) acc 0.9915 ->
    # 0.9932, precision 0.986 -> 0.992, screen-time error 1.61% -> 1.39% (max 10.3% -> 5.4%). The
    # margin hardly matters (dev: 0.05-0.1 one false-alarm second fewer; -0.1 to 0.02 the same).
    # Off before: with the second head and cell matching it gave no gain.
    background_bank: bool = True
    background_margin: float = 0.0  # a region is a character's only when that much closer to it than to the background
    # A region whose cells are on average this similar to the references' backgrounds goes to
    # nobody, however well a name matches it (0: off): the name's bank may still hold a few
    # background cells the detector took for the character, and those match the same place exactly.
    # 0.8 lost small characters in front of such places on dev (misses 24 -> 44); 0.85 and 0.9 none.
    background_ceiling: float = 0.85
    # One character is not in two places at once: a region that stood beside a name's region in the
    # same sample and would also have gone to that name is someone else who resembles it, and its
    # cells then veto the name wherever a region matches them at least as well (`impostor_banks`).
    # A character without references drawn like a known one (the same face, other colours) was
    # reported under the known name in 9-23% of its seconds in one show of a fresh unseen-art set
    # (seed 12121, tsuki-houkago); with this rule 0-1.4% (margin 0), no second lost there, on dev or
    # on the fresh held-out set (README, ninth session). Parts of one character split in two (a desk
    # across the body) share columns and are not taken for someone else. With no margin the rule
    # also vetoed a character's own weak regions on 23-minute episodes (seed 10101: accuracy 0.989
    # -> 0.984, screen-time error 1.5% -> 2.8%); a 0.05 margin keeps them (0.989, 1.6%, wrong-name
    # 1.6% -> 0.6%) and tsuki-houkago's wrong-name at 1.7% (16% without the rule).
    impostors: bool = True
    impostor_margin: float = 0.05  # a region goes to nobody when that much closer to the impostors than to the name
    # Characters who touch in the frame are one 4-connected region, and its mean similarity then
    # matches neither (`side_by_side`): with `split_cells` > 0 a region is cut where the columns
    # change the name they look like, into parts of at least that many cells (0: off). With the
    # extractor's REGION_FLOOR on, touching characters were the largest cause of misses on an
    # unseen-art set (seed 13131, diagnosed: screen-time error 2.24% -> 1.54%, max 19.3% -> 7.6%,
    # accuracy 0.988 -> 0.991, wrong-name unchanged 1.27%); the small sets do not change. Off with
    # the floor (README, tenth session: the fresh set's wrong-name rate passed 2%).
    split_cells: int = 0
    # `clean_banks`: a name's bank loses the cells closer to the references' backgrounds than to
    # the name's other reference images (a busy background the detector took for part of the
    # character: a lecture hall behind Lucy). Lowers the wrong-name rate (dev 0.59% -> 0.44%,
    # kaze-nikki 1.47% -> 1.08%) but loses small characters in front of the places the references
    # show (a second unseen-art set: recall 0.980 -> 0.976; both held-out sets' screen-time error
    # rises), so it is off.
    clean_banks: bool = False
    # cells nearly as close to a second name go to nobody (a ratio test between the best and second
    # name). Dev shows (bench/characters_headcache.py): with the first head 0.05 gave acc 0.894 -> 0.906,
    # F1 0.867 -> 0.876, wrong-name 26.7% -> 24.2%; with the hard-negative head 0 / 0.05 / 0.08 gave acc
    # 0.909 / 0.915 / 0.921, F1 0.886 / 0.891 / 0.896, wrong-name 28.7% / 28.1% / 25.6%. On by default
    # since the third version, chosen on the dev shows only
    # Open-set rules (chosen on the dev shows only, bench/characters_headcache.py): margin 0.12 +
    # min_name_cells 2 + threshold 0.55 moved dev acc 0.921 -> 0.927, F1 0.896 -> 0.900, wrong-name
    # rate 25.6% -> 18.1%; fresh held-out set (seed 6061) acc 0.902 -> 0.907, F1 0.876 -> 0.872,
    # wrong-name 44.1% -> 31.3%
    # Fourth version (trunk fine-tuned end to end, weights/characters v4, recalibrated on dev):
    # threshold 0.55 / 0.7 / 0.75 gave dev acc 0.950 / 0.939 / 0.938, wrong-name 25.0% / 4.9% / 3.2%;
    # 0.7 is the default because 0.75 sits on the edge of a cliff in recall (old held-out set acc
    # 0.947 at 0.7, 0.915 at 0.75) -- a choice made after seeing both held-out sets (README).
    ambiguity_margin: float = 0.12
    # A region that matches its best name at least this well is that name, however close a second
    # name comes (0: off). Look-alikes who both have references (one drawing in other colours)
    # match each other's banks closely: the margin alone dropped whole shots (seed 12121,
    # tsuki-houkago e02: a region of Takumi at 0.944, Yuuma 0.839, screen time -22%;
    # `bench/characters_diagnose.py --regions`). The margin still guards what it was for, regions that match two
    # names only vaguely. With the v4 network the dev sets do not react to the margin at all
    # (0.04-0.12 identical), and the diagnosed unseen-art sets gave, defaults -> 0.9 (accuracy /
    # screen-time error / wrong-name): seed 12121 0.987 -> 0.989 / 3.15% -> 2.35% (max 22.0 ->
    # 7.6) / 1.00% -> 1.00%; 13131 0.986 -> 0.987 / 3.00% -> 2.64% / 1.16% -> 1.16%; 14141 the
    # same. A margin of 0.08 instead gained a little more screen time but raised 14141's wrong-name
    # rate (1.15% -> 1.39%: a character without references named as a 3-reference one) (README,
    # eleventh session).
    certain_score: float = 0.9
    # a name counts in a sample only when at least this many of its character cells go to it (an
    # unknown character's stray cells near a known name are rejected; see README, open-set rejection)
    min_name_cells: int = 2
    # per-name open-set floor from the name's own reference spread: a cell goes to name X only if it
    # is at least as similar to X's bank as this quantile of X's references are to X's OTHER
    # reference images (cross-image nearest cell), minus `spread_slack`. 0: off. Names with one
    # reference image have no spread and no floor.
    spread_quantile: float = 0.0
    spread_slack: float = 0.0
    # Episode clusters as identities (open-set rule, 0: off): the video's character regions are
    # clustered by embedding (as discovery does); a cluster may carry name X only if it matches X's
    # references within `cluster_margin` of the cluster that matches X best. A character without
    # references forms its own cluster, which resembles X less than X's own cluster does. Measured
    # (bench/results/characters-v4-*cluster-veto.json): margin 0.1 helped on dev (wrong-name 5.0% ->
    # 3.2%, accuracy 0.949 -> 0.951) but not on the held-out sets (fresh set: wrong-name 11.3% ->
    # 10.9%, accuracy 0.958 -> 0.934: a character whose references show other poses splits into
    # clusters, and the weaker one loses its name), so it stays off.
    cluster_margin: float = 0.0
    cluster_distance: float = 0.45  # average-linkage cosine distance that closes a cluster (discovery's)
    reference_region: str = "largest"  # "largest": only one character region of each reference goes into the bank
    # Which region and which of its cells (0: off). A busy background (a lecture hall's seats and
    # windows) makes the detector fire around the character with middling objectness: in a reference
    # taken there the largest region was the hall itself, or the character and the hall joined, and
    # the name was then reported over the empty hall in every episode. The region with most cells at
    # `reference_confident` is the character; only its cells at `reference_core` go into the bank,
    # the rest of the image into the background bank (`background_ceiling` below). See README,
    # "Busy backgrounds" (ninth session) for the figures on every set.
    reference_confident: float = 0.95
    reference_core: float = 0.9
    skip_empty_references: bool = False  # drop (not refuse) reference images without a character, if the name keeps one

    def __post_init__(self):
        if self.match_by not in ("region", "cell"):
            raise ValueError(f"match_by must be 'region' or 'cell', not {self.match_by!r}")
        if self.unsampled_shots not in ("both", "nearest", "none"):
            raise ValueError(f"unsampled_shots must be 'both', 'nearest' or 'none', not {self.unsampled_shots!r}")


@dataclass
class ReferenceRegion:
    """What one reference image gave its name: the character region vpos took (the cells whose
    embeddings form the name's bank), so a person can see a reference that went wrong."""
    file: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the cells that went into the bank, as fractions of the image
    share: float  # the share of the frame's cells in the region that held them (before its confident core was taken)
    objectness: float  # that region's mean character objectness (a clear character is above 0.9)

    def to_dict(self) -> dict:
        return {"file": self.file, "box": [round(v, 4) for v in self.box], "share": round(self.share, 4),
                "objectness": round(self.objectness, 4)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ReferenceRegion":
        return cls(file=str(d["file"]), box=tuple(d["box"]), share=float(d["share"]), objectness=float(d["objectness"]))


@dataclass
class References:
    names: list[str]
    banks: dict[str, np.ndarray]  # name -> (K, D) cell embeddings (references and their mirrors)
    counts: dict[str, int]  # name -> reference images used
    hists: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (K, bins) colour histograms of those cells
    files: dict[str, list[str]] = field(default_factory=dict)
    # cells of the references outside the character (the show's backgrounds): a video cell closer
    # to these than to every name is background, whatever the detector says
    background: np.ndarray | None = None  # (B, D) embeddings
    background_hists: np.ndarray | None = None  # (B, bins)
    background_owner: np.ndarray | None = None  # (B,) the name whose reference image each background cell comes from
    bank_images: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (K,) source reference image per bank row (-1: unknown)
    regions: dict[str, list[ReferenceRegion]] = field(default_factory=dict)  # name -> the region each reference image gave

    def without(self, name: str) -> "References":
        """These references as if `name` had been given none: its bank and the backgrounds of its
        reference images leave (how the wrong-name rate treats a character without references)."""
        keep = [k for k in self.names if k != name]
        background, hists, owner = self.background, self.background_hists, self.background_owner
        if background is not None and owner is not None:
            sel = owner != name
            background, owner = background[sel], owner[sel]
            hists = hists[sel] if hists is not None else None
            if not len(background):
                background = hists = owner = None
        return References(names=keep, banks={k: self.banks[k] for k in keep}, counts={k: self.counts[k] for k in keep},
                          hists={k: self.hists[k] for k in keep if k in self.hists},
                          files={k: self.files[k] for k in keep if k in self.files}, background=background,
                          background_hists=hists, background_owner=owner,
                          bank_images={k: self.bank_images[k] for k in keep if k in self.bank_images},
                          regions={k: self.regions[k] for k in keep if k in self.regions})


# --- reading references -------------------------------------------------------------------------


def _connected_cells(cells: dict) -> list[list]:
    """4-connected groups of grid cells: `cells` maps (row, col) -> a value; returns the values of
    each group, in the order the cells were given (one region of a frame = one group)."""
    seen, groups = set(), []
    for start in cells:
        if start in seen:
            continue
        stack, comp = [start], []
        seen.add(start)
        while stack:
            r, c = stack.pop()
            comp.append(cells[(r, c)])
            for nb in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if nb in cells and nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        groups.append(comp)
    return groups

def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected group of True cells of a (h, w) mask. A reference shows one
    character: its other "character" cells are background the detector took for one (grass, a
    poster), and in the bank they would match the same background in every episode."""
    cells = {(int(r), int(c)): (int(r), int(c)) for r, c in np.argwhere(mask)}
    out = np.zeros_like(mask, bool)
    groups = _connected_cells(cells)
    if groups:
        for r, c in max(groups, key=len):
            out[r, c] = True
    return out


def reference_region(obj: np.ndarray, threshold: float, confident: float = 0.0, core: float = 0.0,
                     with_region: bool = False):
    """The character cells of one reference image, (h, w) objectness -> (h, w) mask: its largest
    4-connected region of cells at `threshold`, or with `confident` > 0 the region holding most cells
    at that objectness; with `core` > 0 only that region's cells at `core` (when >= 3 are).
    `with_region`: return (those cells, the whole region before the core was taken)."""
    mask = obj >= threshold
    if confident <= 0:
        region = largest_region(mask)
    else:
        cells = {(int(r), int(c)): (int(r), int(c)) for r, c in np.argwhere(mask)}
        groups = _connected_cells(cells)
        region = np.zeros_like(mask, bool)
        if groups:
            best = max(groups, key=lambda g: (sum(obj[r, c] >= confident for r, c in g), len(g)))
            for r, c in best:
                region[r, c] = True
    out = region
    if core > 0 and (region & (obj >= core)).sum() >= 3:
        out = region & (obj >= core)
    return (out, region) if with_region else out


def _read_image(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "P"):
                rgba = im.convert("RGBA")
                bg = Image.new("RGBA", rgba.size, (128, 128, 128, 255))  # transparent crops on grey
                return np.asarray(Image.alpha_composite(bg, rgba).convert("RGB"))
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise CharacterReferenceError(f"reference image {path} does not exist") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CharacterReferenceError(f"reference image {path} cannot be read as an image ({e.__class__.__name__}); "
                                      f"give PNG or JPEG screenshots or crops") from None


def _find_image(root: Path, image_id: str) -> Path | None:
    for d in (root, root / "images", root / "frames", root / "train"):
        p = d / image_id
        if p.is_file():
            return p
        for ext in IMAGE_EXTS:
            q = d / (image_id + ext)
            if q.is_file():
                return q
    return None


def collect_references(source) -> dict[str, list[tuple[str, np.ndarray]]]:
    """name -> [(label, RGB uint8 image), ...] from a folder, a mapping.csv folder or file, or a
    mapping name -> images (paths or arrays)."""
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    if isinstance(source, (str, os.PathLike)):
        root = Path(source).expanduser()
        if root.is_file() and root.name.lower().endswith(".csv"):
            csv_path, root = root, root.parent
        else:
            csv_path = root / "mapping.csv"
        if not root.is_dir():
            raise CharacterReferenceError(f"character references: {source} is not a folder (expected DIR/<name>/*.png)")
        if csv_path.is_file():
            with open(csv_path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
            if not rows or not {"Image_ID", "Class"} <= set(rows[0]):
                raise CharacterReferenceError(f"{csv_path} must have the columns Image_ID,Class")
            for r in rows:
                cls = str(r["Class"]).strip()
                if cls.lower() in NONE_CLASSES:
                    continue
                p = _find_image(root, str(r["Image_ID"]).strip())
                if p is None:
                    raise CharacterReferenceError(f"{csv_path}: image '{r['Image_ID']}' not found next to it or in images/")
                out.setdefault(cls, []).append((str(p), _read_image(str(p))))
        else:
            for d in sorted(p for p in root.iterdir() if p.is_dir()):
                files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTS)
                if not files:
                    continue
                out[d.name] = [(str(f), _read_image(str(f))) for f in files]
        if not out:
            raise CharacterReferenceError(f"no character references in {root}: expected {root}/<name>/*.png|jpg "
                                          f"(one folder per character) or a mapping.csv with Image_ID,Class")
        return out
    if isinstance(source, Mapping):
        for name, items in source.items():
            if isinstance(items, (str, os.PathLike, np.ndarray)):
                items = [items]
            lst = []
            for k, it in enumerate(items):
                if isinstance(it, np.ndarray):
                    a = it
                    if a.ndim == 2:
                        a = np.repeat(a[..., None], 3, -1)
                    if a.ndim != 3 or a.shape[-1] not in (3, 4) or min(a.shape[:2]) < 8:
                        raise CharacterReferenceError(f"reference {k + 1} of '{name}' is not an RGB image array (shape {a.shape})")
                    lst.append((f"{name}[{k + 1}]", np.ascontiguousarray(a[..., :3]).astype(np.uint8)))
                else:
                    lst.append((str(it), _read_image(str(it))))
            if lst:
                out[str(name)] = lst
        if not out:
            raise CharacterReferenceError("the character reference mapping holds no images")
        return out
    raise CharacterReferenceError(f"character references must be a folder or a mapping name -> images, got {type(source).__name__}")


def reference_canvas(img: np.ndarray) -> np.ndarray:
    """A reference as a network input: screenshots (wider than 1.3:1) are scaled like video
    samples; crops are placed, 90% of the height, on a canvas of their own border colour."""
    import cv2

    from .character_model import INPUT_H, INPUT_W, prepare_frames

    h, w = img.shape[:2]
    if is_screenshot(img):
        return prepare_frames(img[None])[0]
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).reshape(-1, 3)
    canvas = np.empty((INPUT_H, INPUT_W, 3), np.uint8)
    canvas[:] = np.median(border, 0).astype(np.uint8)
    x0, y0, nw, nh = crop_placement(h, w)
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR)
    canvas[y0:y0 + nh, x0:x0 + nw] = small
    return canvas


def crop_placement(h: int, w: int) -> tuple[int, int, int, int]:
    """Where `reference_canvas` puts an h x w crop: (x0, y0, width, height) on the network canvas."""
    from .character_model import INPUT_H, INPUT_W

    s = min(0.9 * INPUT_H / h, 0.9 * INPUT_W / w)
    nw, nh = max(1, int(w * s)), max(1, int(h * s))
    return (INPUT_W - nw) // 2, (INPUT_H - nh) // 2, nw, nh


def is_screenshot(img: np.ndarray) -> bool:
    """A reference wider than 1.3:1 is a screenshot (scaled like a video sample, its surroundings
    are the show's backgrounds); a narrower one is a crop, placed on a canvas of its border colour
    (`reference_canvas`), whose surroundings are that colour and nothing of the show."""
    return img.shape[1] / img.shape[0] >= 1.3


def reference_bank(obj: np.ndarray, emb: np.ndarray, threshold: float) -> np.ndarray:
    """Character cells of reference images: obj (M, h, w), emb (M, h, w, D) -> (K, D) embeddings of
    every cell whose objectness reaches `threshold` (the 3 most character-like cells of an image
    where none does)."""
    out = []
    for o, e in zip(obj, emb):
        sel = o >= threshold
        if not sel.any():
            flat = np.argsort(o.ravel())[::-1][:3]
            sel = np.zeros(o.size, bool)
            sel[flat] = True
            sel = sel.reshape(o.shape)
        out.append(e[sel])
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, emb.shape[-1]), np.float32)


def build_references(source, weights=None, device: str = "cpu", options: CharacterOptions | None = None) -> References:
    """Reference images -> per-name banks of character-cell embeddings, with the checks of bad
    references (unreadable, no character found, near-identical names)."""
    from .character_model import load_head, run_dense
    from .extractors.visual import get_model

    options = options or CharacterOptions()
    imgs = collect_references(source)
    head = load_head(weights, device)
    backbone = get_model(device)
    from .extractors.characters import cell_histograms

    banks, counts, files, hist_bank, bank_ids, regions = {}, {}, {}, {}, {}, {}
    bg_cells, bg_hists, bg_owner = [], [], []
    for name, items in imgs.items():
        items = items[:MAX_REFERENCES]
        x = np.stack([reference_canvas(a) for _, a in items])
        x = np.concatenate([x, x[:, :, ::-1]])  # mirrored references: characters face both ways
        obj, emb = run_dense(backbone, head, x, device)
        cells, hists, image_ids = [], [], []
        if options.skip_empty_references and len(items) > 1:
            found = (obj[:len(items)] >= head.obj_threshold).reshape(len(items), -1).sum(1) >= options.min_cells
            if found.any() and not found.all():
                keep = np.flatnonzero(found)
                items = [items[k] for k in keep]
                x = np.concatenate([x[keep], x[len(found) + keep]])
                obj = np.concatenate([obj[keep], obj[len(found) + keep]])
                emb = np.concatenate([emb[keep], emb[len(found) + keep]])
        m = len(items)
        for k, (label, _) in enumerate(items):
            for j in (k, m + k):
                sel = found = obj[j] >= head.obj_threshold
                if options.reference_region == "largest":
                    sel, found = reference_region(obj[j], head.obj_threshold, options.reference_confident,
                                                  options.reference_core, with_region=True)
                cells.append(emb[j][sel])
                image_ids.append(np.full(int(sel.sum()), k, np.int32))  # a mirror shares its image's id
                if j == k:  # the box of what went into the bank; how large and clear the region was that held it
                    regions.setdefault(name, []).append(ReferenceRegion(
                        file=str(label), box=region_box(sel, items[k][1]), share=float(found.mean()),
                        objectness=float(obj[j][found].mean()) if found.any() else 0.0))
                rc = np.argwhere(sel).astype(np.int16)
                hists.append(cell_histograms(x[j:j + 1], rc[None])[0])
                if j == k and options.background_bank and is_screenshot(items[k][1]):
                    # every cell not of the character region, away from its edge (edge cells mix both)
                    grown = sel.copy()
                    grown[1:] |= sel[:-1]
                    grown[:-1] |= sel[1:]
                    grown[:, 1:] |= sel[:, :-1]
                    grown[:, :-1] |= sel[:, 1:]
                    bc = np.argwhere(~grown).astype(np.int16)
                    bg_cells.append(emb[j][~grown])
                    bg_hists.append(cell_histograms(x[j:j + 1], bc[None])[0])
                    bg_owner.append(np.full(len(bc), name))
            if (obj[k] >= head.obj_threshold).sum() < options.min_cells:
                raise CharacterReferenceError(
                    f"no character found in reference {label} of '{name}' (best objectness {obj[k].max():.2f}): "
                    f"give a screenshot or crop in which '{name}' is clearly visible")
        if options.multiscale:  # the same references seen closer and farther, as shots frame them
            zx = np.stack([v for j in range(len(items)) for v in rescaled_views(x[j], obj[j] >= head.obj_threshold)])
            zo, ze = run_dense(backbone, head, zx, device)
            for j in range(len(zx)):
                sel = zo[j] >= head.obj_threshold
                cells.append(ze[j][sel])
                image_ids.append(np.full(int(sel.sum()), -1, np.int32))
                hists.append(cell_histograms(zx[j:j + 1], np.argwhere(sel).astype(np.int16)[None])[0])
        banks[name] = np.concatenate(cells).astype(np.float32)
        hist_bank[name] = np.concatenate(hists)
        bank_ids[name] = np.concatenate(image_ids)
        counts[name] = len(items)
        files[name] = [lbl for lbl, _ in items]
    names = sorted(banks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            s = bank_overlap(cell_descriptors(banks[a], hist_bank[a], options.color_weight),
                             cell_descriptors(banks[b], hist_bank[b], options.color_weight))
            if s >= options.duplicate_similarity:
                raise CharacterReferenceError(
                    f"the references of '{a}' and '{b}' are near-identical (similarity {s:.3f}): the same "
                    f"character under two names, or the same images in both folders")
    background = background_hists = background_owner = None
    if bg_cells and sum(len(b) for b in bg_cells):
        background, background_hists = np.concatenate(bg_cells).astype(np.float32), np.concatenate(bg_hists)
        background_owner = np.concatenate(bg_owner)
        if len(background) > MAX_BACKGROUND_CELLS:  # a fixed subsample keeps matching cheap
            keep = np.random.default_rng(0).choice(len(background), MAX_BACKGROUND_CELLS, replace=False)
            background, background_hists, background_owner = background[keep], background_hists[keep], background_owner[keep]
    if options.clean_banks and background is not None:
        bgd = cell_descriptors(background, background_hists, options.color_weight)
        for name in names:
            keep = background_like_cells(cell_descriptors(banks[name], hist_bank[name], options.color_weight),
                                         bank_ids[name], bgd)
            if keep is not None:
                banks[name], hist_bank[name], bank_ids[name] = banks[name][keep], hist_bank[name][keep], bank_ids[name][keep]
    return References(names=names, banks=banks, counts=counts, files=files, hists=hist_bank,
                      background=background, background_hists=background_hists, background_owner=background_owner,
                      bank_images=bank_ids, regions=regions)


# A reference region this weakly detected and this large is probably the character plus the
# background around it (a lecture hall's seats and windows taken for part of Lucy): the background
# then counts as the character wherever it appears. Set from the references of every corpus set
# (README, "Busy backgrounds; the region each reference gave": 1% of 339 regions are below 0.85,
# `bench/characters_reference_regions.py`).
WEAK_REGION_OBJECTNESS = 0.85
WEAK_REGION_SHARE = 0.2


def is_weak_region(region: ReferenceRegion) -> bool:
    return region.objectness < WEAK_REGION_OBJECTNESS and region.share >= WEAK_REGION_SHARE


def reference_notes(regions: Mapping[str, list[ReferenceRegion]]) -> list[str]:
    """Warnings about references whose character region looks wrong (name -> the regions its
    reference images gave, `References.regions`): a region reaching over much of the frame with weak
    objectness holds background."""
    notes = []
    for name, regs in regions.items():
        for i, r in enumerate(regs):
            if is_weak_region(r):
                notes.append(f"reference {i + 1} of '{name}' ({Path(r.file).name}): the character region covers "
                             f"{r.share:.0%} of the frame and is weakly detected (objectness {r.objectness:.2f}), so part "
                             f"of its background probably counts as '{name}'; a crop around the character is safer")
    return notes


def reference_preview(image: np.ndarray, region: ReferenceRegion) -> np.ndarray:
    """A reference image with the box of the character region vpos took from it drawn in: green,
    or orange when the region looks wrong (`reference_notes`)."""
    import cv2

    out = np.ascontiguousarray(image[..., :3]).copy()
    h, w = out.shape[:2]
    x0, y0, x1, y1 = region.box
    p0 = (int(round(x0 * (w - 1))), int(round(y0 * (h - 1))))
    p1 = (int(round(x1 * (w - 1))), int(round(y1 * (h - 1))))
    cv2.rectangle(out, p0, p1, (255, 140, 0) if is_weak_region(region) else (0, 220, 90), max(2, int(round(min(h, w) / 120))))
    return out


def region_box(mask: np.ndarray, image: np.ndarray) -> tuple[float, float, float, float]:
    """The bounding box of a reference's character cells (a (h, w) grid mask over its network
    canvas) as fractions (x0, y0, x1, y1) of the reference image itself: a screenshot fills the
    canvas, a crop sits in its middle (`reference_canvas`)."""
    from .character_model import INPUT_H, INPUT_W, STRIDE

    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    x0, x1 = cols.min() * STRIDE, (cols.max() + 1) * STRIDE
    y0, y1 = rows.min() * STRIDE, (rows.max() + 1) * STRIDE
    ox, oy, nw, nh = (0, 0, INPUT_W, INPUT_H) if is_screenshot(image) else crop_placement(*image.shape[:2])
    clip = lambda v: float(min(1.0, max(0.0, v)))  # noqa: E731
    return (clip((x0 - ox) / nw), clip((y0 - oy) / nh), clip((x1 - ox) / nw), clip((y1 - oy) / nh))


def background_like_cells(desc: np.ndarray, image_ids: np.ndarray, background: np.ndarray) -> np.ndarray | None:
    """Which cells of a name's bank to keep: those at least as similar to the name's OTHER reference
    images as to the references' backgrounds. A character recurs in its references; a busy
    background the detector took for part of the character (a lecture hall's seats and windows)
    recurs in the backgrounds instead. None (keep all) with one image or when nearly all would go."""
    ids = np.unique(image_ids[image_ids >= 0])
    if len(ids) < 2 or not len(background):
        return None
    bg = (desc @ background.T).max(1)
    same = np.full(len(desc), -1.0, np.float32)
    for i in ids:
        mine, other = image_ids == i, (image_ids != i) & (image_ids >= 0)
        if other.any() and mine.any():
            same[mine] = (desc[mine] @ desc[other].T).max(1)
    keep = (same >= bg) | (image_ids < 0)
    return keep if keep.sum() >= max(3, 0.1 * len(desc)) else None


def cell_descriptors(emb: np.ndarray, hist: np.ndarray | None, color_weight: float) -> np.ndarray:
    """Unit cell descriptors whose dot product is (1 - w) x embedding cosine + w x colour
    similarity (Hellinger/Bhattacharyya coefficient of the cells' colour histograms)."""
    emb = emb.astype(np.float32)
    if hist is None or color_weight <= 0:
        return emb
    h = np.sqrt(hist.astype(np.float32))
    h = h / (np.linalg.norm(h, axis=-1, keepdims=True) + 1e-8)
    return np.concatenate([emb * np.sqrt(1 - color_weight), h * np.sqrt(color_weight)], -1)


def rescaled_views(canvas: np.ndarray, cells: np.ndarray) -> list[np.ndarray]:
    """A reference canvas seen closer (the top 55% of the character's box filling the frame
    height, like a close-up) and farther (the whole canvas at half size on its border colour)."""
    import cv2

    from .character_model import INPUT_H, INPUT_W, STRIDE

    H, W = canvas.shape[:2]
    rows, cols = np.nonzero(cells)
    if len(rows) == 0:
        return []
    y0, y1 = rows.min() * STRIDE, (rows.max() + 1) * STRIDE
    x0, x1 = cols.min() * STRIDE, (cols.max() + 1) * STRIDE
    ch = max(STRIDE, int((y1 - y0) * 0.55))
    cw = int(ch * W / H)
    cx = (x0 + x1) // 2
    a, b = max(0, cx - cw // 2), min(W, cx - cw // 2 + cw)
    close = cv2.resize(canvas[y0:y0 + ch, a:b], (INPUT_W, INPUT_H), interpolation=cv2.INTER_LINEAR)
    border = np.concatenate([canvas[0], canvas[-1], canvas[:, 0], canvas[:, -1]]).reshape(-1, 3)
    far = np.empty_like(canvas)
    far[:] = np.median(border, 0).astype(np.uint8)
    small = cv2.resize(canvas, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    far[H - H // 2:, W // 4:W // 4 + W // 2] = small  # standing on the bottom edge, as figures do
    return [close, far]


def bank_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """How well two banks explain each other: the mean, over the cells of each, of the best
    similarity in the other (the smaller of the two directions). 1.0 for the same images."""
    if not len(a) or not len(b):
        return 0.0
    s = a @ b.T
    return float(min(s.max(1).mean(), s.max(0).mean()))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-8)


# --- matching ---------------------------------------------------------------------------------

def spread_floors(banks: list, bank_images: list, quantile: float, slack: float = 0.0) -> np.ndarray:
    """Per name, the similarity a video cell needs to go to it: the `quantile` of how similar each of
    the name's reference cells is to its nearest cell in the name's OTHER reference images, minus
    `slack`. A character's own references agree with each other this well; an unknown character's
    cells that only resemble the name less than that are rejected. -inf where a name has fewer than
    two reference images (no spread to measure) or `quantile` is 0."""
    out = np.full(len(banks), -np.inf, np.float32)
    if quantile <= 0:
        return out
    for k, (b, ids) in enumerate(zip(banks, bank_images)):
        if ids is None or len(ids) != len(b):
            continue
        known = ids >= 0
        if len(np.unique(ids[known])) < 2:
            continue
        bb, ii = b[known].astype(np.float32), ids[known]
        sim = bb @ bb.T
        sim[ii[:, None] == ii[None, :]] = -np.inf
        out[k] = float(np.quantile(sim.max(1), quantile)) - slack
    return out


def match_scores(obj: np.ndarray, emb: np.ndarray, banks: list, threshold: float,
                 background: np.ndarray | None = None, background_margin: float = 0.0,
                 ambiguity_margin: float = 0.0, min_name_cells: int = 1,
                 floors: np.ndarray | None = None, allowed: np.ndarray | None = None) -> np.ndarray:
    """Per frame and name, the best similarity of a character cell that is closer to this name's
    references than to any other name's. obj (N, ...cells), emb (N, ...cells, D) -> (N, len(banks));
    0 where no cell goes to the name. With a `background` bank (cells of the references'
    backgrounds), a cell whose best name is not `background_margin` more similar than the
    background is background and goes to nobody. A cell whose best name beats the second best by
    less than `ambiguity_margin` goes to nobody either. A name with fewer than `min_name_cells`
    cells in the sample scores 0 there; with `floors` (per name, `spread_floors`) a cell less
    similar to its name than the name's floor goes to nobody; with `allowed` (N, cells, names) a
    cell whose best name is not allowed to it goes to nobody."""
    n = len(obj)
    out = np.zeros((n, len(banks)), np.float32)
    if not banks or n == 0:
        return out
    for f in range(n):
        sel = obj[f] >= threshold
        if not sel.any():
            continue
        cells = emb[f][sel].astype(np.float32)  # (c, D)
        sims = np.stack([(cells @ b.T).max(1) if len(b) else np.zeros(len(cells), np.float32) for b in banks], 1)
        best = sims.argmax(1)
        fg = np.ones(len(cells), bool)
        if background is not None and len(background):
            fg = sims.max(1) > (cells @ background.T).max(1) + background_margin
        if ambiguity_margin > 0 and len(banks) > 1:
            top2 = np.sort(sims, 1)[:, -2:]
            fg &= top2[:, 1] - top2[:, 0] >= ambiguity_margin
        if allowed is not None:
            fg &= allowed[f][sel][np.arange(len(cells)), best]
        for k in range(len(banks)):
            mine = (best == k) & fg
            if floors is not None:
                mine &= sims[:, k] >= floors[k]
            if mine.sum() >= max(1, min_name_cells):
                out[f, k] = max(0.0, float(sims[mine, k].max()))
    return out


def side_by_side(cols: np.ndarray, sims: np.ndarray, min_cells: int) -> list[np.ndarray]:
    """The parts of one character region that stand side by side and look like different names:
    cols (c,) the cells' grid columns, sims (c, names) their similarities. Each column is led by the
    name its cells match best on average; runs of columns led by one name are the parts, a run of
    fewer than `min_cells` cells joins its larger neighbour. Returns cell indices per part, or the
    whole region as one part when fewer than two parts remain or two parts would go to one name.
    Characters who touch in the frame form one 4-connected region, whose mean similarity then
    matches neither of them."""
    whole = [np.arange(len(cols))]
    uniq = np.unique(cols)
    if len(uniq) < 2 or sims.shape[1] < 2:
        return whole
    lead = [int(sims[cols == c].mean(0).argmax()) for c in uniq]
    runs = []  # [first column index, last column index, name]
    for i, k in enumerate(lead):
        if runs and runs[-1][2] == k:
            runs[-1][1] = i
        else:
            runs.append([i, i, k])
    count = lambda r: int(np.isin(cols, uniq[r[0]:r[1] + 1]).sum())  # noqa: E731
    while len(runs) > 1:
        j = min(range(len(runs)), key=lambda i: count(runs[i]))
        if count(runs[j]) >= min_cells:
            break
        nbs = [i for i in (j - 1, j + 1) if 0 <= i < len(runs)]
        t = max(nbs, key=lambda i: count(runs[i]))
        a, b = min(j, t), max(j, t)
        runs[a:b + 1] = [[runs[a][0], runs[b][1], runs[t][2]]]
        merged = []  # neighbours led by one name are one part
        for r in runs:
            if merged and merged[-1][2] == r[2]:
                merged[-1][1] = r[1]
            else:
                merged.append(r)
        runs = merged
    if len(runs) < 2:
        return whole
    parts = [np.flatnonzero(np.isin(cols, uniq[r[0]:r[1] + 1])) for r in runs]
    names = [int(sims[p].mean(0).argmax()) for p in parts]
    return parts if len(set(names)) == len(names) else whole


def named_regions(obj: np.ndarray, desc: np.ndarray, pos: np.ndarray, banks: list, threshold: float,
                  background: np.ndarray | None = None, background_margin: float = 0.0,
                  ambiguity_margin: float = 0.0, min_name_cells: int = 1,
                  floors: np.ndarray | None = None, allowed: np.ndarray | None = None,
                  background_ceiling: float = 0.0, impostors: list | None = None,
                  candidates: list | None = None, impostor_margin: float = 0.0,
                  split_cells: int = 0, certain_score: float = 0.0) -> dict:
    """Character regions (4-connected character cells) named: {(sample, name index): (score, cell
    indices)} for the best region each name gets in each sample. A region's similarity to a name is
    the mean over its cells of the best similarity in the name's bank and it goes to its most
    similar name, if it has at least `min_name_cells` cells, leads the second name by
    `ambiguity_margin` (or reaches `certain_score`, when that is > 0), reaches the name's floor, beats the background bank (its mean best
    similarity over the region) by `background_margin`, and the majority of its cells are `allowed`
    the name. `split_cells` (0: off): a region is first cut into the parts that stand side by side
    and look like different names (`side_by_side`, parts of at least that many cells)."""
    out: dict = {}
    if not banks:
        return out
    for f in range(len(obj)):
        sel = np.flatnonzero(obj[f] >= threshold)
        if len(sel) == 0:
            continue
        cells = desc[f][sel].astype(np.float32)
        sims = np.stack([(cells @ b.T).max(1) if len(b) else np.zeros(len(cells), np.float32) for b in banks], 1)
        bg = (cells @ background.T).max(1) if background is not None and len(background) else None
        where = {(int(pos[f, i, 0]), int(pos[f, i, 1])): j for j, i in enumerate(sel)}
        comps = [np.asarray(c) for c in _connected_cells(where)]
        if split_cells > 0:
            comps = [c[part] for c in comps for part in side_by_side(pos[f, sel[c], 1], sims[c], split_cells)]
        for comp in comps:
            if len(comp) < max(1, min_name_cells):
                continue
            score = sims[comp].mean(0)
            k = int(score.argmax())
            if len(banks) > 1 and score[k] - np.sort(score)[-2] < ambiguity_margin and not (0 < certain_score <= score[k]):
                continue
            if bg is not None:
                b = float(bg[comp].mean())
                if score[k] <= b + background_margin or (background_ceiling > 0 and b >= background_ceiling):
                    continue
            if floors is not None and score[k] < floors[k]:
                continue
            if allowed is not None and allowed[f][sel[comp], k].mean() < 0.5:
                continue
            if impostors is not None and impostors[k] is not None and len(impostors[k]):
                # as close to another character that stood beside this name as to the name: that one
                if float((cells[comp] @ impostors[k].T).max(1).mean()) >= score[k] + impostor_margin:
                    continue
            if candidates is not None:
                candidates.append((f, k, float(score[k]), sel[comp]))
            if (f, k) not in out or score[k] > out[(f, k)][0]:
                out[(f, k)] = (float(score[k]), sel[comp])
    return out


def match_regions(obj: np.ndarray, desc: np.ndarray, pos: np.ndarray, banks: list, threshold: float,
                  background: np.ndarray | None = None, background_margin: float = 0.0,
                  ambiguity_margin: float = 0.0, min_name_cells: int = 1,
                  floors: np.ndarray | None = None, allowed: np.ndarray | None = None) -> np.ndarray:
    """Like `match_scores`, but whole character regions go to one name (`named_regions`), and a
    name's score in a sample is its best region's. One cell of an unknown character that happens
    to look like a name (a face drawn in the show's style, the same skin) no longer names it: the
    rest of the region must agree."""
    return region_scores(named_regions(obj, desc, pos, banks, threshold, background, background_margin,
                                       ambiguity_margin, min_name_cells, floors, allowed), len(obj), len(banks))


def impostor_banks(candidates: list, regions: dict, desc: np.ndarray, pos: np.ndarray, names: int,
                   min_score: float, min_cells: int = 4, gap: int = 1) -> list:
    """Per name, the cells of other characters that resemble it: in a sample where two regions both
    go to one name, the weaker is someone else (one character is not in two places at once) when it
    stands beside the other (no column in common; `gap`: columns between them, at least) and would
    have been named on its own (`min_score`). A character without references that looks like a
    known one (the same drawing, other colours) shows up beside it sooner or later; then its regions
    elsewhere go to nobody instead of the known name."""
    out: list = [[] for _ in range(names)]
    for f, k, score, cells in candidates:
        best = regions.get((f, k))
        if best is None or np.array_equal(best[1], cells) or score >= best[0] or score < min_score or len(cells) < min_cells:
            continue
        a, b = pos[f, cells, 1].astype(int), pos[f, best[1], 1].astype(int)
        # beside it, not above or below: one character split in two (a desk across the body, a
        # weakly detected neck) keeps its parts in the same columns
        if a.min() - b.max() >= gap or b.min() - a.max() >= gap:
            out[k].append(desc[f][cells].astype(np.float32))
    return [np.concatenate(x) if x else None for x in out]


def region_scores(regions: dict, n: int, names: int) -> np.ndarray:
    """(n, names) each name's best region score per sample, from `named_regions`."""
    out = np.zeros((n, names), np.float32)
    for (f, k), (score, _) in regions.items():
        out[f, k] = max(0.0, score)
    return out


def expand_banks(banks: list, raw: np.ndarray, regions: dict, desc: np.ndarray, min_probability: float,
                 max_samples: int) -> list:
    """Each name's bank plus the cells of its most confident regions in this video: up to
    `max_samples` samples where the name's raw probability is at least `min_probability`, best
    first. A character seen in a few references (one pose, one expression) is then also matched by
    how it looks in this episode -- the other poses it takes between the confident samples."""
    out = []
    for k, bank in enumerate(banks):
        order = [f for f in np.argsort(-raw[:, k], kind="stable") if raw[f, k] >= min_probability and (f, k) in regions]
        extra = [desc[f][regions[(f, k)][1]].astype(np.float32) for f in order[:max_samples]]
        out.append(np.concatenate([bank.astype(np.float32)] + extra) if extra else bank)
    return out


def name_similarities(cell_obj: np.ndarray, desc: np.ndarray, banks: list, threshold: float, options: "CharacterOptions",
                      cell_pos: np.ndarray | None = None, background: np.ndarray | None = None,
                      floors: np.ndarray | None = None, allowed: np.ndarray | None = None,
                      with_regions: bool = False, impostors: list | None = None, candidates: list | None = None):
    """(N, names) similarity of each sample to each name, by regions (`named_regions`) when
    `options.match_by` is "region" and cell positions are known, else by cells (`match_scores`).
    The one place the detector and its calibration get their similarities from. `with_regions`:
    return (similarities, the named regions or None) -- the detector grows references from them."""
    obj = cell_obj.astype(np.float32)
    args = (background, options.background_margin, options.ambiguity_margin, options.min_name_cells, floors, allowed)
    if options.match_by == "region" and cell_pos is not None:
        regions = named_regions(obj, desc, cell_pos, banks, threshold, *args, background_ceiling=options.background_ceiling,
                                impostors=impostors, candidates=candidates, impostor_margin=options.impostor_margin,
                                split_cells=options.split_cells, certain_score=options.certain_score)
        sims = region_scores(regions, len(obj), len(banks))
    else:
        regions, sims = None, match_scores(obj, desc, banks, threshold, *args)
    return (sims, regions) if with_regions else sims


def cluster_allowed(cell_obj: np.ndarray, cell_emb: np.ndarray, cell_pos: np.ndarray, banks: list, threshold: float,
                    margin: float, distance: float = 0.45, max_regions: int = 4000) -> np.ndarray:
    """(N, cells, names) bool: may this cell carry this name? The character regions of every sample
    (`region_cells`) are clustered by embedding (average linkage, cosine distance <= `distance`,
    as discovery); a cluster's similarity to a name is the median over its regions of the best
    similarity of the region's mean embedding to the name's bank. A cluster may carry name X only if
    that similarity is within `margin` of the best cluster's for X. Cells outside any region (or
    beyond `max_regions`, the largest kept) keep every name."""
    from scipy.cluster.hierarchy import fcluster, linkage

    n, m = cell_obj.shape[:2]
    allowed = np.ones((n, m, len(banks)), bool)
    regions = []  # (sample, embedding, cell indices)
    for k in range(n):
        for comp, e in region_cells(cell_obj[k].astype(np.float32), cell_pos[k], cell_emb[k], threshold):
            regions.append((k, e, comp))
    if len(regions) < 2 or not banks:
        return allowed
    if len(regions) > max_regions:
        keep = sorted(np.argsort([-len(r[2]) for r in regions])[:max_regions])
        regions = [regions[i] for i in keep]
    E = np.stack([r[1] for r in regions])
    labels = fcluster(linkage(E, method="average", metric="cosine"), t=distance, criterion="distance")
    S = np.stack([(E @ b.T).max(1) if len(b) else np.zeros(len(E), np.float32) for b in banks], 1)  # (regions, names)
    labs = np.unique(labels)
    C = np.stack([np.median(S[labels == lab], 0) for lab in labs])  # (clusters, names)
    ok = C >= C.max(0, keepdims=True) - margin
    row = {lab: j for j, lab in enumerate(labs)}
    for (k, _, comp), lab in zip(regions, labels):
        allowed[k, comp] = ok[row[lab]]
    return allowed


def shot_segments(n: int, cut_times: Sequence[float], sample_rate: float = 1.0) -> list[tuple[int, int]]:
    """Sample index ranges [a, b) of the shots (sample k is taken at k / sample_rate)."""
    step = 1.0 / sample_rate
    bounds = sorted({int(np.ceil(t / step - 1e-9)) for t in cut_times if 0 < t / step < n})
    edges = [0] + bounds + [n]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def smooth_in_shots(p: np.ndarray, segments: list[tuple[int, int]], weight: float, window: int = 0) -> np.ndarray:
    """(N, C) probabilities -> each sample pulled towards the mean of its shot (`window` 0) or of
    the `window` samples around it inside its shot (never across a cut)."""
    if weight <= 0 or len(p) == 0:
        return p.copy()
    out = p.copy()
    for a, b in segments:
        seg = p[a:b]
        if window and window > 0:
            h = window // 2
            c = np.concatenate([np.zeros((1, seg.shape[1]), seg.dtype), np.cumsum(seg, 0)])
            lo = np.clip(np.arange(len(seg)) - h, 0, len(seg))
            hi = np.clip(np.arange(len(seg)) + h + 1, 0, len(seg))
            ref = (c[hi] - c[lo]) / (hi - lo)[:, None]
        else:
            ref = seg.mean(0, keepdims=True)
        out[a:b] = (1 - weight) * seg + weight * ref
    return out


def hold_in_shots(p: np.ndarray, segments: list[tuple[int, int]], threshold: float, hold: float,
                  anchor: np.ndarray | None = None) -> np.ndarray:
    """(N, C) probabilities -> (N, C) presence with hysteresis: a sample is present at `threshold`,
    or at `hold` (<= threshold) when a run of samples at `hold` joins it to a present sample of the
    same shot -- one that is also an `anchor` ((N, C) bool), when given. `hold` <= 0 or >= threshold:
    plain `p >= threshold`."""
    on = p >= threshold
    if hold <= 0 or hold >= threshold or len(p) == 0:
        return on
    low = p >= hold
    seed = on if anchor is None else on & anchor
    out = on.copy()
    for a, b in segments:
        for c in range(p.shape[1]):
            if not seed[a:b, c].any():
                continue
            k = a
            while k < b:  # runs of `low` samples inside the shot
                if not low[k, c]:
                    k += 1
                    continue
                e = k
                while e < b and low[e, c]:
                    e += 1
                if seed[k:e, c].any():
                    out[k:e, c] = True
                k = e
    return out


def intervals_from_mask(mask: np.ndarray, sample_rate: float, duration: float, cut_times: Sequence[float] = (),
                        unsampled: str = "both", shot_samples: Sequence[tuple[float, bool]] = ()) -> list[list[float]]:
    """Present samples -> [[start, end], ...] seconds. Sample k (taken at k / sample_rate) stands for
    the time up to half a step either side of it, clipped to its shot: the first sample of a shot
    covers the shot from its cut, the last one up to the next cut, so presence changes at cuts.
    A shot shorter than the step can fall between two samples and hold none (montages, quick
    reaction shots). `unsampled`: "both" -- the character counts in it when it is present in the
    samples on both sides; "nearest" -- each moment of it takes the nearer sample's answer; "none" --
    never (before). With "none" a perfect per-sample detector under-counted screen time by 4.5% on
    the dev shows; "nearest" (0.8%) moved the dev wrong-name rate from 0.4% to 3.1% (a quick cut to an unknown
    character between two shots of a known one took the known name); "both sides" keeps it at 0.6%
    (README, bench/results/characters-v4-dev-unsampled.json; the perfect-detector figures:
    bench/characters_screen_time_floor.py). `shot_samples`: (time, present) of extra samples taken
    in shots the grid misses (the characters extractor's shot samples); a shot holding one is
    decided by it (present when any of its shot samples is), and the `unsampled` rule is left for
    shots still without any sample."""
    step = 1.0 / sample_rate
    n = len(mask)
    cuts = sorted(float(c) for c in cut_times if 0 < c < duration)
    edges = np.asarray([0.0] + cuts + [float(duration)])
    windows = []
    for k in np.flatnonzero(mask):
        t = k * step
        j = int(np.searchsorted(edges, t, side="right")) - 1  # the shot holding sample k
        j = min(max(j, 0), len(edges) - 2)
        a, b = edges[j], edges[j + 1]
        lo = a if (k == 0 or (k - 1) * step < a) else max(a, t - step / 2)
        hi = b if (k == n - 1 or (k + 1) * step >= b) else min(b, t + step / 2)
        if hi > lo:
            windows.append((lo, hi))
    if unsampled not in ("both", "nearest", "none"):
        raise ValueError(f"unsampled must be 'both', 'nearest' or 'none', not {unsampled!r}")
    if (unsampled != "none" or len(shot_samples)) and n:
        for a, b in zip(edges[:-1], edges[1:]):
            before = int(np.ceil(a / step - 1e-9)) - 1  # the last sample before the shot
            after = before + 1
            if after < n and after * step < b - 1e-9:
                continue  # the shot holds a sample
            inside = [p for t, p in shot_samples if a - 1e-9 <= t < b - 1e-9]
            if inside:
                if any(inside):
                    windows.append((a, b))
                continue
            if unsampled == "none":
                continue
            p_before = 0 <= before < n and bool(mask[before])
            p_after = after < n and bool(mask[after])
            if unsampled == "both":
                if p_before and p_after:
                    windows.append((a, b))
                continue
            if p_before and min(b, (before + 0.5) * step) > a:
                windows.append((a, min(b, (before + 0.5) * step)))
            if p_after and b > max(a, (after - 0.5) * step):
                windows.append((max(a, (after - 0.5) * step), b))
    out: list[list[float]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1] + 1e-6:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [[round(float(a), 3), round(float(b), 3)] for a, b in out]


@dataclass
class CharacterResult:
    names: list[str]
    prob: np.ndarray  # (N, C) smoothed probabilities
    raw_prob: np.ndarray  # (N, C) before smoothing
    intervals: dict[str, list[list[float]]]
    screen_time: dict[str, float]
    references: dict[str, int]
    # samples taken in shots the 1/s grid misses: their times and (E, C) probabilities
    shot_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shot_prob: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    reference_regions: dict[str, list[ReferenceRegion]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {
            "names": list(self.names),
            "per_second": {n: [round(float(v), 4) for v in self.prob[:, i]] for i, n in enumerate(self.names)},
            "intervals": self.intervals,
            "screen_time": self.screen_time,
            "references": self.references,
        }
        if self.reference_regions:
            out["reference_regions"] = {k: [r.to_dict() for r in v] for k, v in self.reference_regions.items()}
        return out


def detect_characters(cell_obj: np.ndarray, cell_emb: np.ndarray, refs: References, duration: float,
                      cut_times: Sequence[float] = (), sample_rate: float = 1.0, weights=None,
                      options: CharacterOptions | None = None, device: str = "cpu",
                      cell_hist: np.ndarray | None = None, cell_pos: np.ndarray | None = None,
                      shot_samples: dict | None = None) -> CharacterResult:
    """Cells of every sample (from the characters extractor) + references -> per-sample
    probabilities, intervals and screen time per name. `shot_samples`: the extractor's samples of
    shots the grid misses, {"times", "cell_obj", "cell_emb", "cell_hist", "cell_pos"}: matched with
    the grid samples (one pass, so they can also grow the references), not smoothed (each is alone
    in its shot), and used by `intervals_from_mask` for their shots."""
    from .character_model import load_head

    options = options or CharacterOptions()
    head = load_head(weights, device)
    n_grid = len(cell_obj)
    shot_t = np.zeros(0)
    if shot_samples is not None and len(shot_samples.get("times", ())):
        shot_t = np.asarray(shot_samples["times"], np.float64)
        cell_obj = np.concatenate([cell_obj, shot_samples["cell_obj"]])
        cell_emb = np.concatenate([cell_emb, shot_samples["cell_emb"]])
        cell_hist = np.concatenate([cell_hist, shot_samples["cell_hist"]]) if cell_hist is not None else None
        cell_pos = np.concatenate([cell_pos, shot_samples["cell_pos"]]) if cell_pos is not None else None
    n = len(cell_obj)
    names = refs.names
    w = options.color_weight if (cell_hist is not None and refs.hists) else 0.0
    desc = cell_descriptors(cell_emb, cell_hist, w)
    banks = [cell_descriptors(refs.banks[k], refs.hists.get(k) if w else None, w) for k in names]
    background = None
    if options.background_bank and refs.background is not None:
        background = cell_descriptors(refs.background, refs.background_hists if w else None, w)
    floors = spread_floors(banks, [refs.bank_images.get(k) for k in names], options.spread_quantile, options.spread_slack)
    allowed = None
    if options.cluster_margin > 0 and cell_pos is not None and n:
        # embeddings only (no colour): clusters are identities, as in discovery
        allowed = cluster_allowed(cell_obj, cell_emb, cell_pos, [refs.banks[k] for k in names], head.obj_threshold,
                                  options.cluster_margin, options.cluster_distance)
    cands = [] if options.impostors and cell_pos is not None else None
    sims, regions = name_similarities(cell_obj, desc, banks, head.obj_threshold, options, cell_pos, background, floors,
                                      allowed, with_regions=True, candidates=cands)
    imps = None
    if cands and regions is not None:
        # the region score at which a name is reported: the impostors that would have been named
        imps = impostor_banks(cands, regions, desc, cell_pos, len(names), head.similarity_at(options.threshold))
        if any(x is not None for x in imps):  # match again before the references grow from this video
            sims, regions = name_similarities(cell_obj, desc, banks, head.obj_threshold, options, cell_pos, background,
                                              floors, allowed, with_regions=True, impostors=imps)
    raw = head.calibrate(sims) if n else np.zeros((0, len(names)))
    if options.expand_probability > 0 and regions is not None and n:
        # a second pass with each name's confident regions of this video added to its references
        banks = expand_banks(banks, raw, regions, desc, options.expand_probability, options.expand_samples)
        sims = name_similarities(cell_obj, desc, banks, head.obj_threshold, options, cell_pos, background, floors, allowed,
                                 impostors=imps)
        raw = head.calibrate(sims)
    raw, shot_prob = raw[:n_grid], raw[n_grid:]
    seg = shot_segments(n_grid, cut_times, sample_rate)
    prob = smooth_in_shots(raw, seg, options.shot_weight, options.shot_window)
    # the runs start only from samples whose region reached `certain_score`: a name given by a
    # marginal match (the way a character without references gets another's name) is not spread
    anchor = raw >= head.calibrate(options.certain_score) if options.hold_certain and options.certain_score > 0 else None
    present = hold_in_shots(prob, seg, options.threshold, options.hold_threshold, anchor)
    intervals, st = {}, {}
    for i, name in enumerate(names):
        extra = [(float(t), bool(p >= options.threshold)) for t, p in zip(shot_t, shot_prob[:, i])]
        iv = intervals_from_mask(present[:, i], sample_rate, duration, cut_times, options.unsampled_shots, extra)
        intervals[name] = iv
        st[name] = round(float(sum(e - s for s, e in iv)), 3)
    return CharacterResult(names=names, prob=prob, raw_prob=raw, intervals=intervals, screen_time=st,
                           references=dict(refs.counts), shot_times=shot_t, shot_prob=shot_prob,
                           reference_regions=dict(refs.regions))


def intervals_csv(characters: dict) -> str:
    """The intervals of a result's `characters` block as CSV: character,start,end,duration."""
    lines = ["character,start,end,duration"]
    for name in characters.get("names", []):
        for s, e in characters.get("intervals", {}).get(name, []):
            q = '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n') else name
            lines.append(f"{q},{s:.3f},{e:.3f},{e - s:.3f}")
    return "\n".join(lines) + "\n"


# --- discovery without references ----------------------------------------------------------------

def cell_components(obj: np.ndarray, pos: np.ndarray, emb: np.ndarray, threshold: float, min_cells: int = 2):
    """The character regions of one sample: 4-connected groups of character cells on the grid ->
    [(unit mean embedding, (row0, col0, row1, col1) in cells, size)]."""
    out = []
    for comp, e in region_cells(obj, pos, emb, threshold, min_cells):
        rows, cols = pos[comp, 0], pos[comp, 1]
        out.append((e, (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1), len(comp)))
    return out


def region_cells(obj: np.ndarray, pos: np.ndarray, emb: np.ndarray, threshold: float, min_cells: int = 1):
    """The 4-connected groups of character cells of one sample -> [(cell indices, unit
    objectness-weighted mean embedding)]."""
    sel = np.flatnonzero(obj >= threshold)
    if len(sel) == 0:
        return []
    cells = {(int(pos[i, 0]), int(pos[i, 1])): i for i in sel}
    out = []
    for comp in _connected_cells(cells):
        if len(comp) >= min_cells:
            w = obj[comp].astype(np.float32)[:, None]
            out.append((comp, _unit((emb[comp].astype(np.float32) * w).sum(0))))
    return out


@dataclass
class Discovery:
    result: CharacterResult  # names cluster_1.. with per-sample presence, intervals, screen time
    representatives: dict[str, dict]  # name -> {"t": sample time, "box": [x0, y0, x1, y1] as frame fractions, "samples": n}


def discover_characters(cell_obj: np.ndarray, cell_emb: np.ndarray, cell_pos: np.ndarray, duration: float,
                        cut_times: Sequence[float] = (), sample_rate: float = 1.0, weights=None,
                        distance: float = 0.45, min_samples: int = 3, max_clusters: int = 12,
                        options: CharacterOptions | None = None, device: str = "cpu",
                        shot_samples: dict | None = None) -> Discovery:
    """Recurring characters of a video without references: character regions of every sample,
    clustered by identity embedding (average linkage, cosine distance <= `distance`); clusters seen
    in >= `min_samples` samples become characters ``cluster_1``.. (most seen first), each with one
    representative region (the member closest to the cluster's centre) for a person to name.
    `shot_samples` (as `detect_characters` takes them) decide the shots the grid misses."""
    from scipy.cluster.hierarchy import fcluster, linkage

    from .character_model import GRID_H, GRID_W, load_head

    options = options or CharacterOptions()
    head = load_head(weights, device)
    regions = []  # (sample, embedding, box, size)
    for k in range(len(cell_obj)):
        for e, box, size in cell_components(cell_obj[k].astype(np.float32), cell_pos[k], cell_emb[k], head.obj_threshold):
            regions.append((k, e, box, size))
    n = len(cell_obj)
    empty = CharacterResult(names=[], prob=np.zeros((n, 0)), raw_prob=np.zeros((n, 0)), intervals={}, screen_time={}, references={})
    if len(regions) < min_samples:
        return Discovery(result=empty, representatives={})
    E = np.stack([r[1] for r in regions])
    if len(E) > 4000:  # keep the clustering quadratic cost bounded on long videos: the largest regions
        keep = np.argsort([-r[3] for r in regions])[:4000]
        regions = [regions[i] for i in sorted(keep)]
        E = E[sorted(keep)]
    labels = fcluster(linkage(E, method="average", metric="cosine"), t=distance, criterion="distance")
    clusters = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        samples = {regions[i][0] for i in idx}
        if len(samples) >= min_samples:
            clusters.append((len(samples), idx))
    clusters.sort(key=lambda c: -c[0])
    clusters = clusters[:max_clusters]
    names = [f"cluster_{i + 1}" for i in range(len(clusters))]
    banks = {}
    reps = {}
    for name, (count, idx) in zip(names, clusters):
        banks[name] = E[idx]
        centre = _unit(E[idx].mean(0))
        best = idx[int(np.argmax(E[idx] @ centre))]
        def box_of(i):
            _, _, (r0, c0, r1, c1), _ = regions[i]
            return [round(c0 / GRID_W, 4), round(r0 / GRID_H, 4), round(c1 / GRID_W, 4), round(r1 / GRID_H, 4)]

        k = regions[best][0]
        # other members, closest to the centre first, one per sample: more references once named
        examples, seen = [], {k}
        for i in idx[np.argsort(-(E[idx] @ centre))]:
            if regions[i][0] not in seen and len(examples) < MAX_REFERENCES - 1:
                seen.add(regions[i][0])
                examples.append({"t": round(regions[i][0] / sample_rate, 3), "box": box_of(i)})
        reps[name] = {"t": round(k / sample_rate, 3), "samples": int(count), "box": box_of(best), "examples": examples}
    refs = References(names=names, banks=banks, counts={k: 0 for k in names})
    res = detect_characters(cell_obj, cell_emb, refs, duration, cut_times, sample_rate, weights, options, device,
                            shot_samples=shot_samples)
    return Discovery(result=res, representatives=reps)


def video_frame(video: str, t: float) -> np.ndarray:
    """The frame shown at time `t` (s) of a video, RGB; a `CharacterReferenceError` past its end."""
    import av

    try:
        with av.open(str(video)) as c:
            st = c.streams.video[0]
            c.seek(int(max(0.0, float(t) - 1.0) * 1e6), backward=True, any_frame=False)
            last = None
            for fr in c.decode(st):
                if fr.time is not None and fr.time >= float(t) - 1e-3:
                    return fr.to_ndarray(format="rgb24")
                last = fr
            if last is not None and float(t) - (last.time or 0.0) < 1.0:  # t within the last frame's second
                return last.to_ndarray(format="rgb24")
    except av.error.FFmpegError as e:
        raise CharacterReferenceError(f"cannot read a frame of {video} ({e.__class__.__name__})") from None
    raise CharacterReferenceError(f"no frame at {float(t):.2f} s in {video}: the time is past the end of the video")


def _crop(img: np.ndarray, box, margin: float) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    x0, y0 = max(0, int((x0 - margin) * w)), max(0, int((y0 - margin) * h))
    x1, y1 = min(w, int((x1 + margin) * w)), min(h, int((y1 + margin) * h))
    return img[y0:y1, x0:x1].copy()


def representative_crops(video: str, representatives: dict[str, dict], margin: float = 0.05) -> dict[str, np.ndarray]:
    """The representative region of each discovered cluster, cut from the video (RGB)."""
    out = {}
    for name, rep in representatives.items():
        try:
            out[name] = _crop(video_frame(video, float(rep["t"])), rep["box"], margin)
        except CharacterReferenceError:
            continue
    return out


def cluster_reference_crops(video: str, rep: dict, margin: float = 0.05, k: int = MAX_REFERENCES) -> list[np.ndarray]:
    """Up to k crops of one discovered cluster (its representative first, then other members in
    other samples) to use as that character's references once a person names it."""
    items = [rep] + [e for e in rep.get("examples", []) if abs(float(e["t"]) - float(rep["t"])) > 1e-6]
    out = []
    for it in items[:k]:
        try:
            out.append(_crop(video_frame(video, float(it["t"])), it["box"], margin))
        except CharacterReferenceError:
            continue
    return out
