"""Finding a split's file inside whatever the user has: a folder, a zip, a tar archive or the file itself.

Datasets come packed in different ways (WikiText-2 and SST-2 as zip files, IMDb as a ``.tar.gz``,
PTB as plain text files), and a user may have unpacked them, renamed the folder, or kept only one
file. The readers in ``formats.py`` do not care: they ask this module for "the file called
``wiki.valid.tokens`` (or ``valid.txt``) somewhere in this path" and get its bytes, together with a
name for error messages (``wikitext-2-v1.zip[wikitext-2/wiki.valid.tokens]``).

Archives are read in place, never extracted to disk. Lines are decoded one at a time, so a byte
that is not UTF-8, or an archive that ends too early (a truncated download), is reported with the
file and the line number.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import tarfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence

from minilm.data.datasets.errors import DatasetFormatError

__all__ = ["DAMAGED", "archive_kind", "iter_lines", "open_named_file"]

#: What a damaged or truncated archive raises somewhere in the standard library while being read.
DAMAGED = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error)

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def archive_kind(path: pathlib.Path) -> str:
    """``"folder"``, ``"zip"``, ``"tar"`` or ``"file"``: by the name first, then by the first bytes
    (``PK\\x03\\x04`` starts a zip, ``\\x1f\\x8b`` a gzip stream). A missing path is a ``FileNotFoundError``."""
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "tar"
    return "file"


def _damaged(source, e: BaseException, line: int | None = None) -> DatasetFormatError:
    return DatasetFormatError(
        source, f"the archive is damaged or incomplete ({type(e).__name__}: {e}); a truncated download?", line
    )


def _pick(names: Sequence[str], basenames: Sequence[str]) -> str | None:
    """The member whose last path part is the first of ``basenames`` found; among several, the least deep."""
    for wanted in basenames:
        matches = [n for n in names if n.rstrip("/").rsplit("/", 1)[-1] == wanted and not n.endswith("/")]
        if matches:
            return min(matches, key=lambda n: (n.count("/"), n))
    return None


def _missing(source, basenames: Sequence[str], what: str, present: Sequence[str]) -> DatasetFormatError:
    shown = ", ".join(list(present)[:12]) + (", ..." if len(present) > 12 else "")
    return DatasetFormatError(source, f"no {' or '.join(basenames)} ({what}) in it; it holds: {shown or 'nothing'}")


def _in_folder(folder: pathlib.Path, basenames: Sequence[str], what: str) -> pathlib.Path:
    """The file in ``folder`` or up to two folder levels below it (``wikitext-2/``, ``simple-examples/data/``)."""
    for wanted in basenames:
        for pattern in (wanted, f"*/{wanted}", f"*/*/{wanted}"):
            found = sorted(p for p in folder.glob(pattern) if p.is_file())
            if found:
                return found[0]
    present = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    raise _missing(folder, basenames, what, present)


def _from_tar(path: pathlib.Path, basenames: Sequence[str], what: str) -> tuple[str, bytes]:
    """Read one member of a tar archive, streaming (``r|*``: no seeking, any compression)."""
    seen = []
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                seen.append(member.name)
                if member.isfile() and _pick([member.name], basenames):
                    return member.name, tar.extractfile(member).read()
    except (*DAMAGED, OSError) as e:
        raise _damaged(path, e) from None
    raise _missing(path, basenames, what, seen)


@contextlib.contextmanager
def open_named_file(path, basenames: Sequence[str], what: str) -> Iterator[tuple[str, io.BufferedIOBase]]:
    """Open, for reading bytes, the file called one of ``basenames`` (in order of preference) in
    ``path``: a folder (searched two levels deep), a zip or a tar archive. A plain file is taken as it
    is. Yields ``(name for messages, binary file)``. ``what`` says what is looked for, for the error
    when nothing matches (a ``DatasetFormatError`` listing what is there)."""
    path = pathlib.Path(path)
    kind = archive_kind(path)
    if kind == "folder":
        found = _in_folder(path, basenames, what)
        with open(found, "rb") as f:
            yield str(found), f
    elif kind == "zip":
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise _damaged(path, e) from None
        with archive:
            names = archive.namelist()
            member = _pick(names, basenames)
            if member is None:
                raise _missing(path, basenames, what, names)
            try:
                f = archive.open(member)
            except DAMAGED as e:
                raise _damaged(f"{path}[{member}]", e) from None
            with f:
                yield f"{path}[{member}]", f
    elif kind == "tar":
        member, data = _from_tar(path, basenames, what)
        yield f"{path}[{member}]", io.BytesIO(data)
    else:
        with open(path, "rb") as f:
            yield str(path), f


def iter_lines(f, source: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of binary file ``f``, decoded as UTF-8, the line end
    (``\\n`` or ``\\r\\n``) removed. A line that is not UTF-8, or an archive that breaks off while
    being read, is a ``DatasetFormatError`` naming ``source`` and the line."""
    lineno = 0
    try:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                problem = f"not UTF-8 text ({e.reason} at byte {e.start} of the line)"
                raise DatasetFormatError(source, problem, lineno) from None
            yield lineno, text.rstrip("\r\n")
    except DAMAGED as e:
        raise _damaged(source, e, lineno + 1) from None
