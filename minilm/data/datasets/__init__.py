"""Real datasets (WikiText-2, SST-2, IMDb, PTB) beside the bundled corpus, through one registry.

::

    from minilm.data import datasets

    lines = datasets.load()                              # bundled documents, train split: offline
    reviews = datasets.load("bundled-reviews", "test")   # Split(texts, labels): offline
    wiki = datasets.load("wikitext-2", "validation")     # downloaded once to ~/.cache/minilm, verified
    sst = datasets.load("sst-2", "train", path="~/Downloads/SST-2.zip")   # your own copy, no network
    print(datasets.REGISTRY["imdb"].citation)            # what to cite; .licence says the terms

    datasets.fetch("ptb", "ptb.train.txt")               # just the verified file's path

Where things go and which switches there are:

- the cache is ``~/.cache/minilm/<dataset>/<file>``; ``MINILM_DATA_DIR=/some/folder`` moves it;
- ``MINILM_OFFLINE=1`` never touches the network: a file that is not cached yet is an
  ``OfflineError`` that says which file to download from where, and the exact path to put it at.

Every download is written to a temporary file, checked against the sha256 in the registry after
the last byte has arrived, and only then renamed into the cache (see ``download``). A file already
in the cache is checked again before use. Errors all derive from ``DatasetError``.

Modules: ``registry`` (the entries), ``cache`` (cache folder, download, verify, fetch), ``archives``
(finding a file in a folder, zip or tar), ``formats`` (the readers), ``loading`` (``load``, the front
door), ``errors``. (No module shares its name with a function, so ``import
minilm.data.datasets.cache`` and ``monkeypatch.setattr("minilm.data.datasets.cache.…")`` reach the module.)
"""

from minilm.data.datasets.cache import (
    cache_dir,
    cached_path,
    download,
    fetch,
    fetch_all,
    file_hashes,
    is_offline,
    verify_file,
)
from minilm.data.datasets.errors import ChecksumError, DatasetError, DatasetFormatError, DownloadError, OfflineError
from minilm.data.datasets.formats import (
    drop_headings,
    is_heading,
    read_imdb,
    read_ptb,
    read_sst2,
    read_wikitext,
)
from minilm.data.datasets.loading import bundled_documents, load
from minilm.data.datasets.registry import REGISTRY, DatasetInfo, RemoteFile, get_info

__all__ = [
    "REGISTRY",
    "ChecksumError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetInfo",
    "DownloadError",
    "OfflineError",
    "RemoteFile",
    "bundled_documents",
    "cache_dir",
    "cached_path",
    "download",
    "drop_headings",
    "fetch",
    "fetch_all",
    "file_hashes",
    "get_info",
    "is_heading",
    "is_offline",
    "load",
    "read_imdb",
    "read_ptb",
    "read_sst2",
    "read_wikitext",
    "verify_file",
]
