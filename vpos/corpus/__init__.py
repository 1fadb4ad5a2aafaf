"""Episode corpus with exact ground truth (GitHub issue 3).

Renders episodes of fictional anime shows from open material fetched by package name
(:mod:`vpos.corpus.material`; procedural material when none is cached), following real episode
structure (:mod:`vpos.corpus.shows`), encodes them with PyAV (:mod:`vpos.corpus.render`) and
writes per-episode ground truth (:mod:`vpos.corpus.truth`).  :mod:`vpos.corpus.competition`
exports the Mango TV competition format; :mod:`vpos.evaluate` scores vpos results.

Command line (registered in ``python -m vpos`` by :mod:`vpos.corpus.cli`)::

    python -m vpos corpus fetch                       # apt-get download / pip download into the cache
    python -m vpos corpus build --out corpus --preset small          # 4 episodes, < 1 min
    python -m vpos corpus build --out corpus --preset benchmark --jobs 2
    python -m vpos corpus export --corpus corpus --out corpus/competition
    python -m vpos eval --truth corpus --pred results [--split test]

Layout: ``DIR/<show>/<id>.mp4|webm|mkv``, ``DIR/<show>/<id>.truth.json``, ``DIR/corpus.json``
(seed, preset, material, shows, episodes) and ``DIR/split.json`` (train/val/test show names).
"""

__all__ = ["build_corpus"]


def build_corpus(*args, **kwargs):
    """See :func:`vpos.corpus.cli.build_corpus`."""
    from .cli import build_corpus as _b

    return _b(*args, **kwargs)
