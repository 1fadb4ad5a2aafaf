"""Library mode: analyse every episode under a folder, season by season, once.

    plan = plan_library(ROOT)             # find the videos, group them into seasons
    report = run_library(plan, LibraryOptions(out=RESULTS))

The work is two plain functions, `run_episode` (one video -> its result document, model alone) and
`match_season` (the documents of one season + their cached features -> the season-fused documents);
an engine only schedules them: a local process pool (default) or Ray tasks (`vpos.library_ray`).
Every result flows back to one writer in the calling process.

State lives under RESULTS/.vpos-library/ and makes runs resumable and incremental:
- `base/<key>.json`: an episode's model-alone document, named by a key over the file's content hash,
  the vpos version, the extractors' names/versions/configs, the opening/ending weights and the
  analysis options. A re-run skips every episode whose key has a document; a changed file, option or
  model gets a new key and is analysed again.
- `failed/<key>.json`: why an episode could not be analysed (re-tried with `retry_failed`).
- `manifest.json`: a hash cache (size + mtime -> content hash, so unchanged files are not re-read)
  and, per season, the signature (member files and keys) its results were matched with: a season is
  matched again only when that signature changes (an episode added, removed or changed).
Every file is written to a temporary name and renamed into place, so a killed run leaves only
complete files and loses at most the episodes in flight. One run at a time per results folder.

`vpos.library` (the package attribute) is the `library()` function below; import this module's
other names with `from vpos.library import ...`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from .errors import OptionsError, VposError
from .pipeline import AnalysisOptions
from .result import atomic_write_text
from .season import VIDEO_SUFFIXES

STATE_DIR = ".vpos-library"
STATE_VERSION = 1
# Download managers' and editors' names for files still being written.
PARTIAL_SUFFIXES = {".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".!qb", ".!ut", ".aria2"}

Log = Callable[[str], None]
ProgressCallback = Callable[[str, float, float], None]


# -- the plan: discovery and grouping --------------------------------------------------------------


@dataclass
class Episode:
    path: Path  # absolute
    rel: str  # path under the library root, with '/' separators: the episode's identity
    show: str  # show name as parsed ("" when the name says nothing)
    season_number: int | None
    episode_number: int | None
    season: str | None = None  # id of the season it belongs to; None: analysed alone


@dataclass
class Season:
    id: str  # "folder|show|number", unique in the library
    name: str  # for people: "Show S01"
    folder: str
    episodes: list[Episode]


@dataclass
class LibraryPlan:
    root: Path
    seasons: list[Season]
    singles: list[Episode]  # files that fit no season of two or more episodes

    @property
    def episodes(self) -> list[Episode]:
        return [e for s in self.seasons for e in s.episodes] + self.singles

    def describe(self) -> str:
        return f"{len(self.episodes)} episodes: {len(self.seasons)} seasons, {len(self.singles)} analysed alone"


def find_library_videos(root: str | os.PathLike) -> list[Path]:
    """Video files under root, sorted; hidden files/folders and partial downloads are skipped."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise OptionsError(f"{root}: not a folder (give the library's root folder)")
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != STATE_DIR)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if p.suffix.lower() in PARTIAL_SUFFIXES or p.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            if p.is_file():
                out.append(p)
    return out


_TAGS = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|【[^】]*】")
_SXXEYY = re.compile(r"(?i)(?:^|[^a-z0-9])s(\d{1,2})[ ._-]?e(\d{1,4})(?:-?e\d{1,4})?(?![0-9])")
_NXNN = re.compile(r"(?i)(?:^|[^a-z0-9])(\d{1,2})x(\d{2,3})(?![0-9])")
_DASH_EP = re.compile(r"^(.*?)[ ._]+-[ ._]+(?:ep?\.?\s*|episode\s*|#)?(\d{1,4})(?:v\d)?(?:[ ._-]|$)", re.I)
_WORD_EP = re.compile(r"^(.*?)[ ._-]*\b(?:episode|ep|e)[ ._]*(\d{1,4})(?:v\d)?\b", re.I)
_TRAILING_EP = re.compile(r"^(.*?)[ ._-]+(\d{1,3})(?:v\d)?$", re.I)
_BARE_EP = re.compile(r"^()(?:ep?\.?\s*|episode\s*|#)?(\d{1,4})(?:v\d)?$", re.I)
_SEASON_IN_SHOW = re.compile(
    r"(?i)[ ._-]*(?:\b(?:season|series|saison|staffel)[ ._-]*(\d{1,2})\b|\b(\d{1,2})(?:st|nd|rd|th)[ ._-]+season\b|\bs(\d{1,2})\b)[ ._-]*"
)
_SEASON_FOLDER = re.compile(r"(?i)^(?:season|series|saison|staffel)[ ._-]*(\d{1,2})$|^s(\d{1,2})$")


def _clean_show(text: str) -> str:
    text = re.sub(r"[._]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" -_")
    return text


def _season_from_show(show: str) -> tuple[str, int | None]:
    m = _SEASON_IN_SHOW.search(show)
    if not m:
        return show, None
    n = int(next(g for g in m.groups() if g))
    return _clean_show(show[: m.start()] + " " + show[m.end():]), n


def parse_episode_name(stem: str) -> tuple[str, int | None, int] | None:
    """(show, season number or None, episode number) from a file name without suffix, or None
    when the name follows no episode pattern. Handles `Show - S01E03`, `Show.S01E03.1080p`,
    `Show 1x03`, `[Group] Show - 03 [1080p]`, `Show 2nd Season - 05`, `Show Episode 5`, `Show_05`."""
    text = _TAGS.sub(" ", stem)
    m = _SXXEYY.search(text) or _NXNN.search(text)
    if m:
        show = _clean_show(text[: m.start() + (1 if m.start() > 0 else 0)])
        show, _ = _season_from_show(show)
        return show, int(m.group(1)), int(m.group(2))
    text = _clean_show(text)
    for pattern in (_DASH_EP, _WORD_EP, _TRAILING_EP, _BARE_EP):
        m = pattern.match(text)
        if m:
            show, season = _season_from_show(_clean_show(m.group(1)))
            return show, season, int(m.group(2))
    return None


def _folder_season(folder: Path) -> int | None:
    m = _SEASON_FOLDER.match(folder.name.strip())
    return int(next(g for g in m.groups() if g)) if m else None


def group_seasons(root: str | os.PathLike, videos: list[Path]) -> LibraryPlan:
    """Seasons are files in one folder that parse to the same show and season number (a folder
    named 'Season 2' or 'S02' gives the number and, with its parent, the show). Files whose name
    follows no pattern are grouped by folder only inside a season folder; otherwise, like a season
    of one, they are analysed alone."""
    root = Path(root).expanduser().resolve()
    groups: dict[tuple[str, str, int], list[Episode]] = {}
    singles: list[Episode] = []
    for p in videos:
        p = Path(p).resolve()
        rel = p.relative_to(root).as_posix() if p.is_relative_to(root) else p.as_posix()
        folder = p.parent
        folder_rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else folder.as_posix()
        folder_season = _folder_season(folder)
        folder_show = _clean_show(_TAGS.sub(" ", (folder.parent if folder_season is not None else folder).name))
        parsed = parse_episode_name(p.stem)
        if parsed is None:
            ep = Episode(p, rel, "", folder_season, None)
            if folder_season is None:
                singles.append(ep)
                continue
            show, season = folder_show, folder_season
        else:
            show, season, number = parsed
            ep = Episode(p, rel, show, season, number)
            if not show:
                show = folder_show
            if season is None:
                season = folder_season if folder_season is not None else 1
            ep.season_number = season
        groups.setdefault((folder_rel, show.casefold(), season), []).append(ep)
        if not ep.show:
            ep.show = show
    seasons = []
    for (folder_rel, _, number), eps in groups.items():
        if len(eps) < 2:
            singles.extend(eps)
            continue
        eps.sort(key=lambda e: (e.episode_number is None, e.episode_number or 0, e.rel))
        show = eps[0].show or folder_rel
        sid = f"{folder_rel}|{show.casefold()}|{number}"
        for e in eps:
            e.season = sid
        seasons.append(Season(sid, f"{show} S{number:02d}", folder_rel, eps))
    seasons.sort(key=lambda s: (s.folder, s.name))
    singles.sort(key=lambda e: e.rel)
    return LibraryPlan(root, seasons, singles)


def plan_library(root: str | os.PathLike) -> LibraryPlan:
    videos = find_library_videos(root)
    if not videos:
        raise OptionsError(f"no video files under {root} ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return group_seasons(root, videos)


# -- the work: one episode, one season (plain functions; every engine runs these) ----------------


@dataclass
class EpisodeJob:
    path: str
    rel: str
    key: str
    options: AnalysisOptions
    threads: int = 0  # torch threads in the worker; 0: leave as is


@dataclass
class EpisodeOutcome:
    rel: str
    key: str
    ok: bool
    doc: dict | None
    reason: str = ""
    seconds: float = 0.0
    worker: str = ""


@dataclass
class SeasonJob:
    season: str
    docs: dict[str, dict]  # rel -> model-alone document, in episode order
    paths: dict[str, str]  # rel -> video path (for the features: cache, else one decode)
    options: AnalysisOptions
    threads: int = 0


@dataclass
class SeasonOutcome:
    season: str
    ok: bool
    docs: dict[str, dict]
    reason: str = ""
    seconds: float = 0.0
    feature_seconds: float = 0.0


def _set_threads(n: int) -> None:
    if n > 0:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def _worker_name() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def run_episode(job: EpisodeJob) -> EpisodeOutcome:
    """Analyse one episode; any failure becomes an outcome with its reason, never an exception."""
    from .pipeline import analyze

    t0 = time.perf_counter()
    try:
        _set_threads(job.threads)
        result = analyze(job.path, job.options)
        doc = result.to_dict()
        return EpisodeOutcome(job.rel, job.key, True, doc, seconds=time.perf_counter() - t0, worker=_worker_name())
    except VposError as e:
        reason = str(e)
    except MemoryError:
        reason = "out of memory"
    except Exception as e:  # noqa: BLE001 - one bad file must not stop a library run
        reason = f"unexpected {e.__class__.__name__}: {str(e)[:300]}"
    return EpisodeOutcome(job.rel, job.key, False, None, reason=reason, seconds=time.perf_counter() - t0, worker=_worker_name())


def season_features(doc: dict, path: str, options: AnalysisOptions) -> dict:
    """The features season matching needs (visual embeddings, audio log-mel) of one analysed
    episode: from the feature cache, or, where the cache lacks them, one decode pass."""
    from .media import probe
    from .pipeline import extract_features

    names = tuple(n for n in ("visual", "audio") if n in options.extractors)
    info = probe(path, options.limits)
    sub = replace(options, extractors=names)
    features, _, _, _ = extract_features(info, doc["cache"]["video_hash"], sub)
    return features


def _segment(d: dict | None):
    from .result import Segment

    if d is None:
        return None
    try:
        return Segment(**d)
    except TypeError:  # a document from a newer vpos with more fields: keep them
        return SimpleNamespace(**d)


def _segment_dict(s) -> dict:
    return asdict(s) if hasattr(s, "__dataclass_fields__") else dict(vars(s))


def fuse_season_docs(docs: list[dict], features: list[dict]) -> list[dict]:
    """Season mode (vpos.season) applied to saved documents: only the opening/ending fields,
    their per-second probabilities and `repetition` change; every other field is kept as is."""
    from .result import _clean_list
    from .season import apply_season, match_episodes

    views = []
    for d in docs:
        views.append(
            SimpleNamespace(
                per_second={k: list(v) for k, v in d["per_second"].items()},
                shots=[SimpleNamespace(start_time=s["start_time"]) for s in d["shots"]] if d.get("shots") else None,
                video=SimpleNamespace(duration=float(d["video"]["duration"])),
                opening=_segment(d.get("opening")),
                ending=_segment(d.get("ending")),
                segments=[_segment(s) for s in d["segments"]] if d.get("segments") is not None else None,
                warnings=list(d.get("warnings") or []),
            )
        )
    match = match_episodes(features, [len(v.per_second.get("t", [])) for v in views])
    apply_season(views, match.reps, match)
    out = []
    for d, v in zip(docs, views):
        d = dict(d)
        d["per_second"] = {k: _clean_list(x) for k, x in v.per_second.items()}
        d["opening"] = _segment_dict(v.opening) if v.opening else None
        d["ending"] = _segment_dict(v.ending) if v.ending else None
        d["segments"] = [_segment_dict(s) for s in v.segments] if v.segments is not None else None
        d["warnings"] = v.warnings
        out.append(json.loads(json.dumps(d, default=float)))  # numpy scalars -> plain JSON values
    return out


def match_season(job: SeasonJob) -> SeasonOutcome:
    """Season mode over one season's analysed episodes (features from the cache)."""
    t0 = time.perf_counter()
    try:
        _set_threads(job.threads)
        rels = list(job.docs)
        feats = [season_features(job.docs[r], job.paths[r], job.options) for r in rels]
        t_feat = time.perf_counter() - t0
        fused = fuse_season_docs([job.docs[r] for r in rels], feats)
        return SeasonOutcome(job.season, True, dict(zip(rels, fused)), seconds=time.perf_counter() - t0, feature_seconds=t_feat)
    except VposError as e:
        reason = str(e)
    except Exception as e:  # noqa: BLE001
        reason = f"unexpected {e.__class__.__name__}: {str(e)[:300]}"
    return SeasonOutcome(job.season, False, {}, reason=reason, seconds=time.perf_counter() - t0)


# -- keys and state ------------------------------------------------------------------------------


def _digest(obj: Any) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def weights_version(options: AnalysisOptions) -> str:
    """A digest of the opening/ending checkpoint files (or why there are none)."""
    if not options.oped:
        return "off"
    from .oped import _resolve_source

    try:
        root = _resolve_source(options.oped_weights)
    except VposError as e:
        return f"unavailable: {e}"[:200]
    h = hashlib.blake2b(digest_size=16)
    for p in sorted(q for q in Path(root).rglob("*") if q.is_file() and not q.name.startswith(".")):
        h.update(p.relative_to(root).as_posix().encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def analysis_fingerprint(options: AnalysisOptions) -> dict:
    """Everything besides the file's bytes that decides an episode's result."""
    from . import __version__
    from .pipeline import build_extractor
    from .result import SCHEMA_VERSION

    opts = options.to_dict()
    for k in ("cache_dir", "use_cache", "device", "batch_size"):
        opts.pop(k, None)  # where and how fast, not what
    return {
        "vpos": __version__,
        "schema": SCHEMA_VERSION,
        "options": opts,
        "extractors": [build_extractor(n, options).cache_key_parts() for n in options.extractors],
        "oped_weights": weights_version(options),
    }


def episode_key(content_hash: str, fingerprint: dict) -> str:
    return _digest({"content": content_hash, "analysis": fingerprint})


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class LibraryState:
    """RESULTS/.vpos-library: base documents, failures, the hash cache and season signatures."""

    def __init__(self, out: Path):
        self.dir = out / STATE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        m = _read_json(self.dir / "manifest.json") or {}
        if m.get("version") != STATE_VERSION:
            m = {}
        self.hashes: dict[str, dict] = m.get("hashes", {})
        self.seasons: dict[str, dict] = m.get("seasons", {})
        self.singles: dict[str, str] = m.get("singles", {})  # rel -> key its result was written from
        self._dirty = False
        self._saved = 0.0

    def content_hash(self, path: Path) -> str:
        """Content hash, re-read only when the file's size or modification time changed."""
        from .cache import content_hash

        st = path.stat()
        rec = self.hashes.get(str(path))
        if rec and rec["size"] == st.st_size and rec["mtime_ns"] == st.st_mtime_ns:
            return rec["hash"]
        h = content_hash(path)
        self.hashes[str(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "hash": h}
        self._dirty = True
        return h

    def base_path(self, key: str) -> Path:
        return self.dir / "base" / f"{key}.json"

    def failed_path(self, key: str) -> Path:
        return self.dir / "failed" / f"{key}.json"

    def base(self, key: str) -> dict | None:
        return _read_json(self.base_path(key))

    def failure(self, key: str) -> dict | None:
        return _read_json(self.failed_path(key))

    def save(self, force: bool = False) -> None:
        # The base/failed files are the truth; the manifest only saves re-hashing and re-matching,
        # so it is written at most every few seconds.
        if not (self._dirty or force) or (not force and time.monotonic() - self._saved < 3.0):
            return
        doc = {"version": STATE_VERSION, "hashes": self.hashes, "seasons": self.seasons, "singles": self.singles}
        atomic_write_text(self.dir / "manifest.json", json.dumps(doc, indent=0))
        self._dirty = False
        self._saved = time.monotonic()


# -- options, report -----------------------------------------------------------------------------


@dataclass
class LibraryOptions:
    out: str
    engine: str = "local"  # "local" (process pool) | "ray"
    address: str | None = None  # ray: "auto" or an address; None starts a local Ray instance
    workers: int = 0  # local: processes; 0 = CPUs // threads_per_worker. ray (local instance): CPUs to use, 0 = all
    threads_per_worker: int = 2  # torch threads per episode task
    num_gpus: float = 1.0  # ray: GPUs per episode task, requested only when the cluster has GPUs
    write_beside: bool = False  # exports beside each video instead of beside each result
    retry_failed: bool = False  # analyse again files that failed in an earlier run
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)

    def validate(self) -> None:
        if self.engine not in ("local", "ray"):
            raise OptionsError(f"engine must be 'local' or 'ray', got '{self.engine}'")
        if self.workers < 0 or self.threads_per_worker < 1:
            raise OptionsError("workers must be >= 0 and threads per worker >= 1")
        if self.num_gpus < 0:
            raise OptionsError("num_gpus must be >= 0")
        self.analysis.validate()


@dataclass
class EpisodeRow:
    file: str
    season: str
    status: str  # analysed | current | failed
    season_mode: str  # matched | alone | pending (its season's matching failed: model-alone result) | none (failed)
    opening_start: float | None = None
    opening_end: float | None = None
    opening_confidence: float | None = None
    ending_start: float | None = None
    ending_end: float | None = None
    ending_confidence: float | None = None
    seconds: float = 0.0  # analysis time in this run (0 when the result was current)
    reason: str = ""
    result: str = ""


@dataclass
class LibraryReport:
    rows: list[EpisodeRow]
    wall_seconds: float
    engine: str
    workers: int
    stage_seconds: dict[str, float]  # summed over the episodes analysed in this run
    driver_seconds: dict[str, float]  # discovery, hashing, writing, season matching
    seasons_matched: int
    seasons_current: int
    summary_csv: str = ""
    summary_json: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    @property
    def analysed(self) -> int:
        return sum(r.status == "analysed" for r in self.rows)

    @property
    def episodes_per_hour(self) -> float:
        """Episodes completed (analysed or current) per hour of wall time of this run."""
        done = sum(r.status in ("analysed", "current") for r in self.rows)
        return done / self.wall_seconds * 3600 if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "engine": self.engine,
            "workers": self.workers,
            "wall_seconds": round(self.wall_seconds, 3),
            "counts": self.counts(),
            "episodes_per_hour": round(self.episodes_per_hour, 1),
            "seasons_matched": self.seasons_matched,
            "seasons_current": self.seasons_current,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "driver_seconds": {k: round(v, 3) for k, v in self.driver_seconds.items()},
            "episodes": [asdict(r) for r in self.rows],
        }

    def text(self) -> str:
        c = self.counts()
        lines = [
            f"{len(self.rows)} episodes in {self.wall_seconds:.1f} s ({self.engine}, {self.workers} worker(s)): "
            + ", ".join(f"{n} {k}" for k, n in sorted(c.items())),
            f"seasons: {self.seasons_matched} matched, {self.seasons_current} current",
            f"episodes per hour: {self.episodes_per_hour:.0f}"
            + (f" ({self.analysed / self.wall_seconds * 3600:.0f} analysed per hour)" if self.analysed and self.wall_seconds > 0 else ""),
        ]
        busy = {k: v for k, v in self.stage_seconds.items() if k not in ("total", "extract_total") and v > 0}
        if busy:
            total = sum(busy.values())
            lines.append("where the episode time went: " + ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f}%)" for k, v in sorted(busy.items(), key=lambda kv: -kv[1])))
        if self.driver_seconds:
            lines.append("around it: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.driver_seconds.items()))
        for r in self.rows:
            if r.status == "failed":
                lines.append(f"failed: {r.file}: {r.reason}")
        return "\n".join(lines)


SUMMARY_FIELDS = [f.name for f in EpisodeRow.__dataclass_fields__.values()]


def _row_from_doc(row: EpisodeRow, doc: dict) -> None:
    for label in ("opening", "ending"):
        s = doc.get(label)
        if s:
            setattr(row, f"{label}_start", round(float(s["start"]), 3))
            setattr(row, f"{label}_end", round(float(s["end"]), 3))
            setattr(row, f"{label}_confidence", round(float(s["confidence"]), 4))


# -- the writer and the scheduling loop ----------------------------------------------------------


class ResultWriter:
    """The one place results land, whatever engine computed them."""

    def __init__(self, plan: LibraryPlan, out: Path, state: LibraryState, write_beside: bool):
        self.plan, self.out, self.state, self.write_beside = plan, out, state, write_beside
        self.seconds = 0.0

    def result_path(self, ep: Episode) -> Path:
        rel = Path(ep.rel)
        return self.out / rel.parent / f"{rel.stem}.json"

    def export_stem(self, ep: Episode) -> Path:
        return ep.path.with_suffix("") if self.write_beside else self.result_path(ep).with_suffix("")

    def write_base(self, key: str, doc: dict) -> None:
        t = time.perf_counter()
        atomic_write_text(self.state.base_path(key), json.dumps(doc, ensure_ascii=False))
        try:
            self.state.failed_path(key).unlink()
        except OSError:
            pass
        self.seconds += time.perf_counter() - t

    def write_failure(self, key: str, rel: str, reason: str) -> None:
        atomic_write_text(self.state.failed_path(key), json.dumps({"file": rel, "reason": reason}))

    def write_result(self, ep: Episode, doc: dict) -> Path:
        """The episode's result JSON (the `vpos analyze` document) and its player exports."""
        from .exports import EXPORTS

        t = time.perf_counter()
        doc = dict(doc, video=dict(doc["video"], path=str(ep.path)))  # identical files share a base document
        path = self.result_path(ep)
        atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))
        stem = self.export_stem(ep)
        for suffix, fn in EXPORTS.items():
            atomic_write_text(stem.parent / f"{stem.name}.{suffix}", fn(doc))
        self.seconds += time.perf_counter() - t
        return path

    def write_summary(self, report: LibraryReport) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS)
        w.writeheader()
        for r in report.rows:
            w.writerow({k: ("" if v is None else v) for k, v in asdict(r).items()})
        report.summary_csv = str(self.out / "library-summary.csv")
        report.summary_json = str(self.out / "library-summary.json")
        atomic_write_text(Path(report.summary_csv), buf.getvalue())
        atomic_write_text(Path(report.summary_json), json.dumps(report.to_dict(), indent=1))


class EngineCrash(Exception):
    """The engine lost a task's worker (a crash, out of memory, a node gone)."""


def _noop(*a) -> None:
    pass


def make_engine(options: LibraryOptions, log: Log):
    if options.engine == "ray":
        from .library_ray import RayEngine

        return RayEngine(options, log)
    return LocalEngine(options, log)


def local_workers(options: LibraryOptions) -> int:
    if options.workers:
        return options.workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, cpus // options.threads_per_worker)


def _init_local_worker(threads: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _set_threads(threads)


class LocalEngine:
    """A process pool sized to the machine: workers x threads_per_worker torch threads <= CPUs."""

    name = "local"

    def __init__(self, options: LibraryOptions, log: Log = _noop):
        self.workers = local_workers(options)
        self.threads = options.threads_per_worker
        self.capacity = self.workers + 1  # in flight at once: a crashed pool loses few
        self._pool = None

    def _get_pool(self):
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn: torch and the decoder threads do not survive fork()
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_init_local_worker, initargs=(self.threads,))
        return self._pool

    def submit(self, fn, job, gpu: bool = False):
        return self._get_pool().submit(fn, job)

    def wait(self, handles, timeout: float):
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return handle.result()
        except BrokenProcessPool as e:
            self._pool = None  # the next submit starts a fresh pool
            raise EngineCrash(f"the worker process died ({e.__class__.__name__}: a crash or out of memory)") from None

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


def run_library(plan: LibraryPlan, options: LibraryOptions, progress: ProgressCallback | None = None,
                log: Log | None = None, engine=None) -> LibraryReport:
    """Analyse every episode of the plan that has no current result, match every season whose
    members changed, write results, exports and the summary; returns the report."""
    options.validate()
    progress = progress or _noop
    log = log or _noop
    t_start = time.perf_counter()
    own_engine = engine is None  # an engine the caller passes stays open for its next run
    engine = engine or make_engine(options, log)  # first: a missing Ray or an unreachable cluster fails fast
    try:
        return _run(plan, options, progress, log, engine, t_start)
    except BaseException:
        engine.close(cancel=True)
        raise
    finally:
        if own_engine:
            engine.close()


def _run(plan: LibraryPlan, options: LibraryOptions, progress: ProgressCallback, log: Log, engine, t_start: float) -> LibraryReport:
    out = Path(options.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    state = LibraryState(out)
    writer = ResultWriter(plan, out, state, options.write_beside)
    aopts = options.analysis
    if aopts.use_cache and not aopts.cache_dir:
        # Resolve the default here so every worker (and every node) is told the same folder.
        from .cache import default_cache_dir

        aopts = replace(aopts, cache_dir=str(default_cache_dir()))
    driver: dict[str, float] = {}

    t = time.perf_counter()
    fp = analysis_fingerprint(aopts)
    episodes = plan.episodes
    by_rel = {e.rel: e for e in episodes}
    keys: dict[str, str] = {}
    rows: dict[str, EpisodeRow] = {}
    season_name = {s.id: s.name for s in plan.seasons}
    base_docs: dict[str, dict] = {}
    todo: list[EpisodeJob] = []
    for ep in episodes:
        row = EpisodeRow(ep.rel, season_name.get(ep.season, ""), "", "alone" if ep.season is None else "pending")
        rows[ep.rel] = row
        try:
            key = episode_key(state.content_hash(ep.path), fp)
        except OSError as e:
            row.status, row.reason = "failed", f"cannot read the file: {e.strerror or e}"
            continue
        keys[ep.rel] = key
        doc = state.base(key)
        if doc is not None:
            row.status = "current"
            base_docs[ep.rel] = doc
            continue
        failure = state.failure(key)
        if failure is not None and not options.retry_failed:
            row.status, row.reason = "failed", failure.get("reason", "failed in an earlier run")
            continue
        todo.append(EpisodeJob(str(ep.path), ep.rel, key, aopts, options.threads_per_worker))
    driver["hash_and_plan"] = time.perf_counter() - t
    state.save(force=True)

    # A season is matched once all its members are settled, if its signature changed.
    waiting: dict[str, set[str]] = {s.id: {e.rel for e in s.episodes if rows[e.rel].status == ""} for s in plan.seasons}
    members = {s.id: s.episodes for s in plan.seasons}
    stage_seconds: dict[str, float] = {}
    counters = {"matched": 0, "current": 0}

    def season_signature(sid: str) -> str:
        return _digest(sorted((e.rel, keys[e.rel]) for e in members[sid] if e.rel in base_docs))

    def finish_single(ep: Episode) -> None:
        doc = base_docs[ep.rel]
        row = rows[ep.rel]
        row.result = str(writer.result_path(ep))
        _row_from_doc(row, doc)
        if state.singles.get(ep.rel) == keys[ep.rel] and writer.result_path(ep).exists():
            return
        writer.write_result(ep, doc)
        state.singles[ep.rel] = keys[ep.rel]
        state._dirty = True

    def season_job(sid: str) -> SeasonJob | None:
        """The season's matching job, or None when its results are current (or it has < 2 episodes)."""
        ready = [e for e in members[sid] if e.rel in base_docs]
        sig = season_signature(sid)
        rec = state.seasons.get(sid)
        if len(ready) < 2:
            for e in ready:
                doc = dict(base_docs[e.rel])
                note = "season mode needs two or more episodes; this result uses the model alone"
                doc["warnings"] = list(doc.get("warnings") or []) + [note]
                base_docs[e.rel] = doc
                finish_single(e)
                rows[e.rel].season_mode = "alone"
            return None
        if rec and rec.get("signature") == sig and all(writer.result_path(e).exists() for e in ready):
            counters["current"] += 1
            for e in ready:
                row = rows[e.rel]
                row.season_mode, row.result = "matched", str(writer.result_path(e))
                _row_from_doc(row, _read_json(writer.result_path(e)) or base_docs[e.rel])
            return None
        return SeasonJob(sid, {e.rel: base_docs[e.rel] for e in ready}, {e.rel: str(e.path) for e in ready}, aopts, options.threads_per_worker)

    total = len(episodes)
    settled = sum(1 for r in rows.values() if r.status)
    progress("episodes", settled, total)
    log(f"{plan.describe()}; {len(todo)} to analyse, {settled - sum(r.status == 'failed' for r in rows.values())} current")

    in_flight: dict[Any, tuple[str, Any]] = {}
    queue: list[Any] = list(todo)  # EpisodeJob or SeasonJob; seasons jump the queue
    crashes: dict[str, int] = {}
    for ep in plan.singles:
        if ep.rel in base_docs:
            finish_single(ep)
    for s in plan.seasons:
        if not waiting[s.id]:
            job = season_job(s.id)
            if job:
                queue.insert(0, job)

    def on_episode(outcome: EpisodeOutcome) -> None:
        row = rows[outcome.rel]
        ep = by_rel[outcome.rel]
        row.seconds = round(outcome.seconds, 3)
        if outcome.ok:
            writer.write_base(outcome.key, outcome.doc)
            base_docs[outcome.rel] = outcome.doc
            row.status = "analysed"
            for k, v in (outcome.doc.get("timings") or {}).items():
                stage_seconds[k] = stage_seconds.get(k, 0.0) + float(v)
            if ep.season is None:
                finish_single(ep)
            tm = outcome.doc.get("timings") or {}
            log(f"{outcome.rel}: analysed in {outcome.seconds:.1f} s on {outcome.worker} ("
                + ", ".join(f"{k} {v:.1f}" for k, v in tm.items() if k not in ("total", "extract_total")) + ")")
        else:
            writer.write_failure(outcome.key, outcome.rel, outcome.reason)
            row.status, row.reason = "failed", outcome.reason
            log(f"{outcome.rel}: failed: {outcome.reason}")
        if ep.season is not None:
            waiting[ep.season].discard(ep.rel)
            if not waiting[ep.season]:
                job = season_job(ep.season)
                if job:
                    queue.insert(0, job)

    def on_season(outcome: SeasonOutcome) -> None:
        driver["season_matching"] = driver.get("season_matching", 0.0) + outcome.seconds
        if not outcome.ok:
            # The episodes keep their model-alone results; the next run tries the matching again.
            log(f"season {season_name[outcome.season]}: matching failed: {outcome.reason}")
            for e in members[outcome.season]:
                if e.rel in base_docs:
                    rows[e.rel].reason = f"season matching failed: {outcome.reason}"
                    rows[e.rel].result = str(writer.write_result(e, base_docs[e.rel]))
                    _row_from_doc(rows[e.rel], base_docs[e.rel])
            return
        for rel, doc in outcome.docs.items():
            ep = by_rel[rel]
            rows[rel].result = str(writer.write_result(ep, doc))
            rows[rel].season_mode = "matched"
            _row_from_doc(rows[rel], doc)
        state.seasons[outcome.season] = {"signature": season_signature(outcome.season), "members": sorted(outcome.docs)}
        state._dirty = True
        counters["matched"] += 1
        log(f"season {season_name[outcome.season]}: matched {len(outcome.docs)} episodes in {outcome.seconds:.1f} s")

    try:
        while queue or in_flight:
            while queue and len(in_flight) < engine.capacity:
                job = queue.pop(0)
                if isinstance(job, SeasonJob):
                    in_flight[engine.submit(match_season, job)] = ("season", job)
                else:
                    in_flight[engine.submit(run_episode, job, gpu=True)] = ("episode", job)
            for h in engine.wait(list(in_flight), timeout=1.0):
                kind, job = in_flight.pop(h)
                try:
                    value = engine.result(h)
                except EngineCrash as e:
                    name = job.rel if kind == "episode" else job.season
                    crashes[name] = crashes.get(name, 0) + 1
                    if crashes[name] < 2:
                        log(f"{name}: {e}; trying again")
                        queue.insert(0, job)
                        continue
                    value = (EpisodeOutcome(job.rel, job.key, False, None, reason=str(e)) if kind == "episode"
                             else SeasonOutcome(job.season, False, {}, reason=str(e)))
                if kind == "episode":
                    on_episode(value)
                    progress("episodes", sum(1 for r in rows.values() if r.status), total)
                else:
                    on_season(value)
                state.save()
    finally:
        state.save(force=True)
    driver["write"] = writer.seconds
    for r in rows.values():
        if r.status == "failed":
            r.season_mode = "none"
    report = LibraryReport(
        rows=[rows[e.rel] for e in episodes],
        wall_seconds=time.perf_counter() - t_start,
        engine=engine.name,
        workers=getattr(engine, "workers", 0),
        stage_seconds=stage_seconds,
        driver_seconds=driver,
        seasons_matched=counters["matched"],
        seasons_current=counters["current"],
    )
    writer.write_summary(report)
    return report


def library(root: str | os.PathLike, out: str | os.PathLike, engine: str = "local", address: str | None = None,
            workers: int = 0, num_gpus: float = 1.0, write_beside: bool = False, retry_failed: bool = False,
            options: AnalysisOptions | None = None, progress: ProgressCallback | None = None,
            log: Log | None = None) -> LibraryReport:
    """Analyse a whole library: find the videos under `root`, group them into seasons, analyse
    each episode once (resumable), run season mode per season and write one result JSON per
    episode, player exports and a summary (CSV + JSON) under `out`."""
    plan = plan_library(root)
    opts = LibraryOptions(out=str(out), engine=engine, address=address, workers=workers, num_gpus=num_gpus,
                          write_beside=write_beside, retry_failed=retry_failed, analysis=options or AnalysisOptions())
    return run_library(plan, opts, progress=progress, log=log)
