"""Exceptions raised by embedkit.

Every error a user can cause derives from :class:`EmbedkitError`, and each message names the
problem and the fix.  The concrete classes also derive from the built-in exception a Python
caller would expect (``ValueError``, ``FileNotFoundError``), so ``except ValueError`` works.
The CLI turns any of them into a one-line message and a non-zero exit, without a traceback.
"""


class EmbedkitError(Exception):
    """Base class of every error embedkit raises on bad input."""


class ParameterError(EmbedkitError, ValueError):
    """A parameter is out of range or of the wrong kind."""


class CorpusError(EmbedkitError, ValueError):
    """The corpus cannot be read, or nothing usable is left in it."""


class FormatError(EmbedkitError, ValueError):
    """A file is malformed: truncated, wrong dimension, non-numeric values, ..."""


class MissingFileError(EmbedkitError, FileNotFoundError):
    """An input file or directory does not exist."""


class WriteError(EmbedkitError, OSError):
    """A file could not be written (disk full, permission denied, ...)."""


class UnknownWordError(EmbedkitError, KeyError):
    """A word is not in the vocabulary.  The message lists the closest spellings."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class UnknownAttributeError(EmbedkitError, KeyError):
    """A per-word attribute that the vectors do not have (embedkit keeps one: ``count``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TrainingInterrupted(EmbedkitError):
    """Training stopped by Ctrl-C; a checkpoint (and possibly vectors) were written.

    Attributes
    ----------
    checkpoint : str or None
        The checkpoint path to pass to ``resume=`` / ``--resume``.
    result : object or None
        What the trainer could build from the weights so far (e.g. a training result with
        ``.vectors``); set by the trainer before re-raising.
    """

    def __init__(self, message: str, checkpoint: str | None = None, result=None):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.result = result


class TrainingDiverged(ParameterError):
    """The loss became NaN or infinite: the learning rate is too high."""


class DownloadError(CorpusError):
    """A corpus could not be downloaded: network, server, disk or archive problem."""


class ChecksumError(DownloadError):
    """A downloaded or unpacked file does not match its published size or checksum."""
