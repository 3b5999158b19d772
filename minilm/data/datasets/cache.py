"""Download, verify, cache: how a dataset file gets onto the disk, and why it can be trusted there.

The cache is one folder, ``~/.cache/minilm`` (or ``$MINILM_DATA_DIR``), with one subfolder per
dataset: ``~/.cache/minilm/wikitext-2/wikitext-2-v1.zip``. Three rules keep it trustworthy:

1. **Write to a temporary file, then rename.** The bytes stream into ``.wikitext-2-v1.zip.<random>.<pid>.part``
   beside the destination, and only a complete, verified file is renamed onto the real name with
   ``os.replace``. A rename within one folder is atomic: another program (or this one, after a crash,
   a timeout or Ctrl-C) sees either no file or the whole file, never half of one. On any failure the
   temporary file is removed, so nothing half-written is ever left in the cache.
2. **Verify after downloading.** The sha256 is computed while the bytes stream in and compared with
   the registry's once the download has finished. Only the finished bytes can be checked: a
   connection that drops early, a proxy that answers with an HTML error page, a mirror with an old
   version, all look fine until the end. A file that does not match is thrown away, never renamed
   into the cache.
3. **Verify what is already there.** A file found in the cache is hashed again before it is used.
   If it does not match, it is *not* deleted: it might be a user's own copy, put there by hand.
   The error says which file and what to do.

``MINILM_OFFLINE=1`` turns the network off: nothing is downloaded (no socket is even opened), and a
missing file is an ``OfflineError`` that says where to get it and where to put it.

The HTTP client is ``urllib.request`` from the standard library. ``timeout`` bounds the connection
and every single read (a server that stops sending for ``timeout`` seconds fails); it is not a limit
on the whole download, which may take minutes for a large file on a slow line.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence

from minilm.data.datasets.errors import ChecksumError, DatasetError, DownloadError, OfflineError
from minilm.data.datasets.registry import RemoteFile, get_info

__all__ = [
    "USER_AGENT",
    "cache_dir",
    "cached_path",
    "download",
    "fetch",
    "fetch_all",
    "file_hashes",
    "is_offline",
    "manual_download_advice",
    "verify_file",
]

#: Some hosts refuse urllib's default ``Python-urllib/3.x`` User-Agent, so minilm names itself.
USER_AGENT = "minilm-datasets/0.1 (educational deep-learning library; dataset download)"

_CHUNK = 1 << 16
_TRUE = ("1", "true", "yes", "on")


# -- where the cache is ---------------------------------------------------------------------------


def cache_dir() -> pathlib.Path:
    """The cache folder: ``$MINILM_DATA_DIR`` if set (``~`` expanded), else ``~/.cache/minilm``.
    Created if it does not exist yet."""
    value = os.environ.get("MINILM_DATA_DIR", "").strip()
    folder = pathlib.Path(value).expanduser() if value else pathlib.Path.home() / ".cache" / "minilm"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        source = f"MINILM_DATA_DIR={value!r}" if value else "the default cache folder"
        raise DatasetError(f"cannot use {source} as the data cache: {folder} cannot be created ({e})") from None
    return folder


def cached_path(name: str, filename: str | None = None) -> pathlib.Path:
    """Where file ``filename`` of registry entry ``name`` lives in the cache (whether it is there or not)."""
    remote = get_info(name).file(filename)
    return cache_dir() / name / remote.filename


def is_offline() -> bool:
    """True when ``MINILM_OFFLINE`` is ``1``, ``true``, ``yes`` or ``on`` (any case): never use the network."""
    return os.environ.get("MINILM_OFFLINE", "").strip().lower() in _TRUE


# -- hashes -----------------------------------------------------------------------------------------


def _hashers(algorithms) -> dict:
    """Fresh hash objects. md5 is only a fingerprint here, not security, hence ``usedforsecurity=False``
    (without it, FIPS-mode Pythons refuse md5)."""
    return {a: hashlib.new(a, usedforsecurity=False) if a == "md5" else hashlib.new(a) for a in algorithms}


def file_hashes(path, algorithms=("sha256",)) -> dict[str, str]:
    """The hex digests of a file, read in chunks (a large archive never sits in memory at once)."""
    hashers = _hashers(algorithms)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def _mismatch(expected: dict[str, str], got: dict[str, str], size: int | None, nbytes: int) -> str | None:
    """What differs between the expected and the actual file (``None``: nothing)."""
    problems = []
    if size is not None and nbytes != size:
        problems.append(f"size mismatch: expected {size} bytes, got {nbytes}")
    for algorithm, want in expected.items():
        if got[algorithm] != want.lower():
            problems.append(f"{algorithm} mismatch: expected {want}, got {got[algorithm]}")
    return "; ".join(problems) or None


def _expected_hashes(sha256: str | None, md5: str | None) -> dict[str, str]:
    expected = {a: v for a, v in (("sha256", sha256), ("md5", md5)) if v is not None}
    if not expected:
        raise ValueError(
            "download: give sha256 (or, only where no sha256 is published, md5): unverified bytes are refused"
        )
    return expected


def verify_file(path, sha256: str | None = None, size: int | None = None, md5: str | None = None) -> None:
    """Check a file on disk against the expected hash(es) and size; a ``ChecksumError`` names the
    file and both values when they differ."""
    expected = _expected_hashes(sha256, md5)
    problem = _mismatch(expected, file_hashes(path, tuple(expected)), size, os.path.getsize(path))
    if problem:
        raise ChecksumError(f"{path}: {problem}")


# -- the advice every error ends with ---------------------------------------------------------------


def manual_download_advice(urls: Sequence[str], dest, sha256: str | None = None, md5: str | None = None) -> str:
    """How to get the file by hand: from where, which hash to expect, and the exact path to put it at."""
    dest = pathlib.Path(dest)
    lines = ["To get it by hand:", f"  1. download {urls[0]}"]
    lines += [f"     (or the mirror {u})" for u in urls[1:]]
    if sha256:
        lines.append(f"  2. check that its sha256 is {sha256}")
        lines.append(f"     (`sha256sum {dest.name}`; on macOS `shasum -a 256 {dest.name}`)")
    else:
        lines.append(f"  2. check that its md5 is {md5} (`md5sum {dest.name}`; on macOS `md5 {dest.name}`)")
    lines.append(f"  3. put it at {dest}")
    return "\n".join(lines)


# -- one attempt: one URL into a temporary file -----------------------------------------------------


class _Failed(Exception):
    """One URL did not deliver; the message says why (collected into the final ``DownloadError``)."""


def _open(url: str, timeout: float):
    """Open ``url`` and check the status; ``_Failed`` with a readable reason otherwise."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:  # a status >= 400 (redirects were already followed)
        e.close()
        raise _Failed(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise _Failed(f"timed out after {timeout:g} s while connecting") from None
        raise _Failed(f"could not connect ({e.reason})") from None
    except TimeoutError:
        raise _Failed(f"timed out after {timeout:g} s waiting for the server to answer") from None
    except (http.client.HTTPException, OSError) as e:
        raise _Failed(f"connection failed ({type(e).__name__}: {e})") from None
    status = getattr(response, "status", None)
    if status != 200:
        response.close()
        raise _Failed(f"HTTP {status}: expected 200 OK")
    return response


def _stream(response, out, algorithms, size: int | None, timeout: float) -> tuple[dict[str, str], int]:
    """Copy the body into ``out`` chunk by chunk, hashing as it goes. Returns (digests, bytes).
    ``read1`` hands over whatever has arrived (up to a chunk) instead of waiting for a full chunk, so
    a stalled transfer is reported with the number of bytes that did arrive."""
    hashers = _hashers(algorithms)
    declared = response.headers.get("Content-Length")
    nbytes = 0
    try:
        while chunk := response.read1(_CHUNK):
            nbytes += len(chunk)
            if size is not None and nbytes > size:  # no point in reading on: it can only be wrong
                raise ChecksumError(f"size mismatch: expected {size} bytes, the server sent more")
            for h in hashers.values():
                h.update(chunk)
            out.write(chunk)
    except TimeoutError:
        raise _Failed(f"timed out after {timeout:g} s without data, {nbytes} bytes in") from None
    except (http.client.HTTPException, ConnectionError) as e:
        raise _Failed(f"connection broken after {nbytes} bytes ({type(e).__name__}: {e})") from None
    if declared is not None and declared.isdigit() and nbytes != int(declared):
        raise _Failed(f"connection closed after {nbytes} of the {declared} bytes announced")
    return {a: h.hexdigest() for a, h in hashers.items()}, nbytes


def _attempt(url: str, dest: pathlib.Path, expected: dict[str, str], size: int | None, timeout: float) -> None:
    """Download ``url`` into a temporary file beside ``dest``, verify it, rename it onto ``dest``.
    On any failure (an exception, Ctrl-C included) the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".{os.getpid()}.part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            digests, nbytes = _stream(response, out, tuple(expected), size, timeout)
        problem = _mismatch(expected, digests, size, nbytes)  # only now, with every byte in
        if problem:
            raise ChecksumError(problem)
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); a cached dataset is an ordinary readable file
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise


def download(
    urls,
    dest,
    sha256: str | None,
    size: int | None = None,
    timeout: float = 30.0,
    md5: str | None = None,
    hint: str = "",
) -> pathlib.Path:
    """Download a file to ``dest``, trying ``urls`` in order, and return ``dest``.

    Each URL is streamed into a temporary file in ``dest``'s folder while its sha256 (and md5, if
    given) is computed; after the last byte the hashes and the size (if given) are compared with the
    expected ones, and only a match is renamed onto ``dest``. Anything else removes the temporary
    file and moves on to the next URL. ``sha256`` may be ``None`` only with an ``md5``.

    Errors: ``OfflineError`` when ``MINILM_OFFLINE`` is set (no socket is opened); ``ChecksumError``
    when some URL delivered bytes that do not match (the data is not what the registry expects);
    ``DownloadError`` when no URL delivered at all. The message lists every URL with its failure
    (HTTP status, timeout, mismatch with expected and actual values) and how to get the file by hand.
    ``hint`` is added to the end of the messages.
    """
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    if not urls:
        raise ValueError("download: no URL given")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"download: {url!r} is not an http(s) URL")
    dest = pathlib.Path(dest)
    expected = _expected_hashes(sha256, md5)
    advice = manual_download_advice(urls, dest, sha256, md5) + (f"\n{hint}" if hint else "")
    if is_offline():
        raise OfflineError(f"MINILM_OFFLINE is set, so {dest.name} is not downloaded.\n{advice}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures, mismatch = [], False
    for url in urls:
        try:
            _attempt(url, dest, expected, size, timeout)
            return dest
        except ChecksumError as e:
            mismatch = True
            failures.append(f"  - {url}: {e}")
        except _Failed as e:
            failures.append(f"  - {url}: {e}")
        except OSError as e:  # a local problem: disk full, no permission to write in the folder
            failures.append(f"  - {url}: {type(e).__name__}: {e}")
    error = ChecksumError if mismatch else DownloadError
    raise error(f"could not download {dest.name}:\n" + "\n".join(failures) + f"\n{advice}")


# -- the registry's files ---------------------------------------------------------------------------


def _check_cached(path: pathlib.Path, remote: RemoteFile, name: str) -> None:
    """A cached file must match the registry before it is used. A mismatch is an error, and the file is
    kept: it may be the user's own copy (another version, say), and deleting it would lose it."""
    try:
        verify_file(path, remote.sha256, remote.size, remote.md5)
    except ChecksumError as e:
        raise ChecksumError(
            f"{e}\nThis file is in minilm's cache but is not the {name} file the registry expects, so it is not "
            "used. minilm does not delete it for you: it may be your own copy, put there by hand. If you do not "
            f"need it, delete it and run again to download the right one:\n  rm {path}\n"
            f"To read your copy anyway, load it by path: minilm.data.datasets.load({name!r}, path={str(path)!r})"
        ) from None


def fetch(name: str, filename: str | None = None, timeout: float = 30.0, quiet: bool = False) -> pathlib.Path:
    """The verified local copy of a registry file, downloaded into the cache if it is not there yet.

    ``name`` is a registry entry (``"wikitext-2"``, ``"sst-2"``, ``"imdb"``, ``"ptb"``); ``filename``
    picks one of its files (needed only for entries with several, like ``"ptb"``). A file already in
    the cache is hashed and used only if it matches. ``quiet=False`` prints one line to stderr
    before a download starts.
    """
    info = get_info(name)
    if info.bundled:
        raise ValueError(f"{name!r} is bundled (generated by minilm.data.corpus): nothing to fetch, use load({name!r})")
    remote = info.file(filename)
    dest = cache_dir() / name / remote.filename
    if dest.exists():
        _check_cached(dest, remote, name)
        return dest
    hint = f"Or keep the file anywhere and read it with minilm.data.datasets.load({name!r}, split, path=...)."
    if not quiet and not is_offline():
        size = f" ({remote.size / 1e6:.1f} MB)" if remote.size else ""
        print(f"minilm: downloading {name}: {remote.filename}{size} to {dest}", file=sys.stderr)
    return download(remote.urls, dest, remote.sha256, size=remote.size, timeout=timeout, md5=remote.md5, hint=hint)


def fetch_all(name: str, timeout: float = 30.0, quiet: bool = False) -> list[pathlib.Path]:
    """``fetch`` every file of registry entry ``name``; their paths, in registry order."""
    return [fetch(name, f.filename, timeout=timeout, quiet=quiet) for f in get_info(name).files]
