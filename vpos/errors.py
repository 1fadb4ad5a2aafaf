"""Exceptions vpos raises on purpose.

Every error a person can cause with their input is a `VposError` whose message says what is wrong
and what to do, so the CLI and the app can show it without a traceback.
"""

from __future__ import annotations


class VposError(Exception):
    """Base class of all errors vpos raises for bad input or configuration."""


class MediaError(VposError):
    """The input file cannot be analysed as a video."""


class MediaNotFoundError(MediaError):
    pass


class EmptyFileError(MediaError):
    pass


class NotAVideoError(MediaError):
    """The file is not a media container ffmpeg understands (a text file, an image, ...)."""


class AudioOnlyError(MediaError):
    """The file holds audio streams but no video stream."""


class CorruptMediaError(MediaError):
    """The file looks like a video container but is truncated or damaged beyond decoding."""


class MediaLimitError(MediaError):
    """The video exceeds a configured limit (resolution, duration)."""


class ModelLoadError(VposError):
    """Weights are missing, do not match the architecture, or cannot be fetched."""


class OptionsError(VposError):
    """An option has a value vpos cannot work with."""
