"""vpos: read the structure of a video episode (openings, endings, shots, scenes, characters, tags).

    import vpos
    result = vpos.analyze("episode.mkv", progress=lambda stage, done, total: ...)
    print(result.to_json())
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    AudioOnlyError,
    CorruptMediaError,
    EmptyFileError,
    MediaError,
    MediaLimitError,
    MediaNotFoundError,
    ModelLoadError,
    NotAVideoError,
    OptionsError,
    VposError,
)
from .media import Limits, VideoInfo, probe  # noqa: E402
from .pipeline import AnalysisOptions, analyze  # noqa: E402
from .result import Analysis, Segment, Shot  # noqa: E402
from .season import analyze_season  # noqa: E402

# `vpos.library` is the function (the API); its module stays importable as `from vpos.library import ...`.
from .library import library  # noqa: E402

__all__ = [
    "__version__",
    "analyze",
    "analyze_season",
    "library",
    "probe",
    "AnalysisOptions",
    "Analysis",
    "Limits",
    "Segment",
    "Shot",
    "VideoInfo",
    "VposError",
    "MediaError",
    "MediaNotFoundError",
    "EmptyFileError",
    "NotAVideoError",
    "AudioOnlyError",
    "CorruptMediaError",
    "MediaLimitError",
    "ModelLoadError",
    "OptionsError",
]
