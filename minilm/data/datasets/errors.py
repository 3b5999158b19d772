"""The errors of the dataset code, one family so that ``except DatasetError`` catches them all.

Each message says what went wrong, with the offending value (the URL, the file, the line, the
expected and the actual hash), and what to do about it::

    DatasetError(RuntimeError)
    ├── DownloadError      every URL failed (HTTP status, timeout, refused connection ...)
    ├── OfflineError       MINILM_OFFLINE is set and the file is not in the cache
    ├── ChecksumError      the bytes are not the expected ones (sha256/md5 or size differ)
    └── DatasetFormatError a file is not in the format its reader expects (file and line named)
"""

from __future__ import annotations

__all__ = ["ChecksumError", "DatasetError", "DatasetFormatError", "DownloadError", "OfflineError"]


class DatasetError(RuntimeError):
    """Base class of every error raised by ``minilm.data.datasets``."""


class DownloadError(DatasetError):
    """No URL delivered the file. The message lists, per URL, what went wrong, and how to get the
    file by hand."""


class OfflineError(DatasetError):
    """``MINILM_OFFLINE`` is set, so nothing is downloaded, and the file is not in the cache yet."""


class ChecksumError(DatasetError):
    """A file's bytes are not the ones the registry expects: its hash or its size differ."""


class DatasetFormatError(DatasetError):
    """A file does not follow the format its reader expects.

    ``source`` names the file (for a member of an archive: ``archive.zip[member]``) and ``line`` is
    the 1-based line number, or ``None`` when the problem is not on one line (a missing member, a
    truncated archive).
    """

    def __init__(self, source: str, problem: str, line: int | None = None):
        self.source = str(source)
        self.line = line
        self.problem = problem
        where = self.source if line is None else f"{self.source}, line {line}"
        super().__init__(f"{where}: {problem}")
