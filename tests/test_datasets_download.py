"""The download code, for real, against an HTTP server on 127.0.0.1 that serves files the tests write.

Cases: a good file lands in the cache and nothing else does; a corrupt file, a 404, a slow server,
a server that stalls or hangs up mid-body all fail with the right error and leave no file and no
temporary file behind; a mirror takes over when the main URL fails; MINILM_OFFLINE opens no socket;
MINILM_DATA_DIR moves the cache; a cached file is verified before use and never deleted silently.

No test reaches the internet: ``_no_internet`` makes any connection to a host other than
127.0.0.1 fail the test.
"""

import dataclasses
import hashlib
import http.server
import io
import pathlib
import socket
import threading
import zipfile

import pytest

from minilm.data import datasets
from minilm.data.datasets import cache
from minilm.data.datasets import (
    REGISTRY,
    ChecksumError,
    DatasetError,
    DownloadError,
    OfflineError,
    RemoteFile,
    cache_dir,
    download,
    fetch,
    is_offline,
)

SLOW = 0.3  # the client's timeout in the slow-server tests; the server waits far longer (until teardown)


# -- no internet ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """Any attempt to resolve or connect to a host other than 127.0.0.1 is recorded, refused, and
    fails the test at teardown (the code under test might swallow the refusal into its own error)."""
    attempts = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            attempts.append(address)
            raise OSError(f"test: connection to {address!r} blocked, tests stay off the internet")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            attempts.append(host)
            raise OSError(f"test: name lookup of {host!r} blocked, tests stay off the internet")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert attempts == [], f"a test tried to reach the internet: {attempts}"


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    """Each test has its own cache folder and starts online, and urllib talks to 127.0.0.1 directly
    even where a proxy is configured."""
    monkeypatch.setenv("MINILM_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MINILM_OFFLINE", raising=False)
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)


# -- the local server -------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the files under ``server.root``. The first path part can ask for bad behaviour:
    ``/slow/<file>`` waits before answering, ``/stall/<file>`` sends half the body and then waits,
    ``/short/<file>`` announces 100 bytes more than it sends and hangs up."""

    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        server.agents.append(self.headers.get("User-Agent"))
        mode, _, name = self.path.lstrip("/").partition("/")
        if mode not in ("slow", "stall", "short"):
            mode, name = "plain", self.path.lstrip("/")
        file = server.root / name
        if not name or not file.is_file():
            self.send_error(404, "Not Found")
            return
        body = file.read_bytes()
        if mode == "slow":
            server.release.wait(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) + (100 if mode == "short" else 0)))
        self.end_headers()
        if mode == "stall":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            server.release.wait(30)
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that gave up (timeout): expected here
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread. ``server.write(name, bytes)``
    puts a file on it; ``server.url(path)``; ``server.requests`` lists the paths asked for. Teardown
    wakes every waiting handler, stops the server and closes its socket, so no test can hang."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.root, httpd.requests, httpd.agents, httpd.release = root, [], [], threading.Event()
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}/{path.lstrip('/')}"
    httpd.write = lambda name, data: (root / name).write_bytes(data)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


# -- helpers ----------------------------------------------------------------------------------------

DATA = b"line one\nline two <unk>\n" * 500  # 12 kB


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: pathlib.Path) -> list[str]:
    """Every file under ``folder`` (temporary ones included), as relative paths."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def register(monkeypatch, name, urls, sha, size=None, md5=None, filename="toy.txt"):
    """Point registry entry ``name`` (an existing one, to keep its reader and splits) at the local server."""
    info = REGISTRY[name]
    remote = RemoteFile(filename=filename, urls=tuple(urls), sha256=sha, size=size, md5=md5)
    monkeypatch.setitem(REGISTRY, name, dataclasses.replace(info, files=(remote,)))
    return remote


# -- a good download --------------------------------------------------------------------------------


def test_good_file_lands_in_the_cache_and_nothing_else(server, monkeypatch, tmp_path):
    server.write("toy.txt", DATA)
    register(monkeypatch, "wikitext-2", [server.url("toy.txt")], sha256(DATA), size=len(DATA))
    path = fetch("wikitext-2", quiet=True)
    assert path == tmp_path / "cache" / "wikitext-2" / "toy.txt"
    assert path.read_bytes() == DATA
    assert path.stat().st_mode & 0o777 == 0o644  # readable, not the private mode of a temporary file
    assert leftovers(tmp_path / "cache") == ["wikitext-2/toy.txt"]  # no .part file left
    assert server.requests == ["/toy.txt"]


def test_download_names_itself_and_returns_dest(server, tmp_path):
    server.write("a.bin", DATA)
    dest = tmp_path / "out" / "a.bin"
    assert download(server.url("a.bin"), dest, sha256(DATA)) == dest
    assert dest.read_bytes() == DATA
    assert server.agents == [cache.USER_AGENT]  # not urllib's default, which some hosts refuse


def test_md5_only_file_is_verified_with_md5(server, tmp_path):
    server.write("a.bin", DATA)
    good = hashlib.md5(DATA).hexdigest()
    assert download(server.url("a.bin"), tmp_path / "dl" / "ok.bin", None, md5=good).read_bytes() == DATA
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        download(server.url("a.bin"), tmp_path / "dl" / "bad.bin", None, md5="0" * 32)
    assert leftovers(tmp_path / "dl") == ["ok.bin"]


def test_unverified_download_is_refused(tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        download("http://127.0.0.1:9/x", tmp_path / "x", None)


# -- failures leave nothing behind ------------------------------------------------------------------


def test_corrupt_file_is_a_checksum_error_and_leaves_nothing(server, monkeypatch, tmp_path):
    server.write("toy.txt", DATA[:-1] + b"X")  # one byte differs
    register(monkeypatch, "wikitext-2", [server.url("toy.txt")], sha256(DATA))
    with pytest.raises(ChecksumError) as info:
        fetch("wikitext-2", quiet=True)
    message = str(info.value)
    assert sha256(DATA) in message and sha256(DATA[:-1] + b"X") in message  # expected and got
    assert "put it at " + str(tmp_path / "cache" / "wikitext-2" / "toy.txt") in message
    assert leftovers(tmp_path / "cache") == []


def test_404_is_a_download_error_with_manual_advice(server, monkeypatch, tmp_path):
    url = server.url("nothing-here.txt")
    register(monkeypatch, "ptb", [url], sha256(DATA))
    with pytest.raises(DownloadError) as info:
        fetch("ptb", quiet=True)
    assert not isinstance(info.value, ChecksumError)
    message = str(info.value)
    assert f"{url}: HTTP 404" in message
    assert f"download {url}" in message and sha256(DATA) in message
    assert "put it at " + str(tmp_path / "cache" / "ptb" / "toy.txt") in message
    assert leftovers(tmp_path / "cache") == []


def test_slow_server_times_out_and_leaves_nothing(server, tmp_path):
    server.write("a.bin", DATA)
    dest = tmp_path / "dl" / "a.bin"
    with pytest.raises(DownloadError, match=rf"timed out after {SLOW:g} s"):
        download(server.url("slow/a.bin"), dest, sha256(DATA), timeout=SLOW)
    assert leftovers(tmp_path / "dl") == []
    assert server.requests == ["/slow/a.bin"]


def test_server_stalling_mid_body_times_out_and_removes_the_partial_file(server, tmp_path):
    server.write("a.bin", DATA)
    dest = tmp_path / "dl" / "a.bin"
    with pytest.raises(DownloadError) as info:
        download(server.url("stall/a.bin"), dest, sha256(DATA), timeout=SLOW)
    assert f"timed out after {SLOW:g} s without data, {len(DATA) // 2} bytes in" in str(info.value)
    assert leftovers(tmp_path / "dl") == []


def test_connection_closed_early_is_reported(server, tmp_path):
    server.write("a.bin", DATA)
    with pytest.raises(DownloadError, match=rf"closed after {len(DATA)} of the {len(DATA) + 100} bytes"):
        download(server.url("short/a.bin"), tmp_path / "dl" / "a.bin", sha256(DATA))
    assert leftovers(tmp_path / "dl") == []


def test_size_mismatch_is_a_checksum_error(server, tmp_path):
    server.write("a.bin", DATA)
    with pytest.raises(ChecksumError, match=rf"size mismatch: expected {len(DATA) + 5} bytes, got {len(DATA)}"):
        download(server.url("a.bin"), tmp_path / "dl" / "a.bin", sha256(DATA), size=len(DATA) + 5)
    with pytest.raises(ChecksumError, match="server sent more"):
        download(server.url("a.bin"), tmp_path / "dl" / "a.bin", sha256(DATA), size=10)
    assert leftovers(tmp_path / "dl") == []


def test_mirror_is_tried_after_the_main_url_fails(server, monkeypatch, tmp_path):
    server.write("toy.txt", DATA)
    register(monkeypatch, "ptb", [server.url("gone/toy.txt"), server.url("toy.txt")], sha256(DATA), size=len(DATA))
    path = fetch("ptb", quiet=True)
    assert path.read_bytes() == DATA
    assert server.requests == ["/gone/toy.txt", "/toy.txt"]
    assert leftovers(tmp_path / "cache") == ["ptb/toy.txt"]


def test_every_url_is_listed_when_all_fail(server, tmp_path):
    server.write("bad.bin", b"not the data")
    urls = [server.url("missing.bin"), server.url("bad.bin")]
    with pytest.raises(ChecksumError) as info:  # one URL delivered wrong bytes: that is the news
        download(urls, tmp_path / "dl" / "a.bin", sha256(DATA))
    message = str(info.value)
    assert f"{urls[0]}: HTTP 404" in message and f"{urls[1]}: sha256 mismatch" in message
    assert leftovers(tmp_path / "dl") == []


# -- offline, cache location, files already cached --------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_offline_opens_no_socket(server, monkeypatch, tmp_path, value):
    server.write("toy.txt", DATA)
    url = server.url("toy.txt")
    register(monkeypatch, "sst-2", [url], sha256(DATA))
    monkeypatch.setenv("MINILM_OFFLINE", value)
    opened = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: opened.append(address))
    with pytest.raises(OfflineError) as info:
        fetch("sst-2")
    message = str(info.value)
    assert "MINILM_OFFLINE" in message and f"download {url}" in message
    assert "put it at " + str(tmp_path / "cache" / "sst-2" / "toy.txt") in message
    assert opened == [] and server.requests == []
    assert leftovers(tmp_path / "cache") == []
    with pytest.raises(OfflineError):
        datasets.load("sst-2", "train")


def test_is_offline_reads_the_variable(monkeypatch):
    for value, expected in [("1", True), ("on", True), ("0", False), ("", False), ("no", False)]:
        monkeypatch.setenv("MINILM_OFFLINE", value)
        assert is_offline() is expected, value
    monkeypatch.delenv("MINILM_OFFLINE")
    assert is_offline() is False


def test_minilm_data_dir_moves_the_cache(server, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere" / "data"
    monkeypatch.setenv("MINILM_DATA_DIR", str(other))
    assert cache_dir() == other and other.is_dir()  # created on demand
    server.write("toy.txt", DATA)
    register(monkeypatch, "imdb", [server.url("toy.txt")], sha256(DATA))
    assert fetch("imdb", quiet=True) == other / "imdb" / "toy.txt"


def test_default_cache_is_under_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("MINILM_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "minilm"
    assert cache_dir().is_dir()


def test_a_valid_cached_file_is_used_without_a_request(server, monkeypatch, tmp_path):
    register(monkeypatch, "wikitext-2", [server.url("toy.txt")], sha256(DATA), size=len(DATA))
    cached = tmp_path / "cache" / "wikitext-2" / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(DATA)
    assert fetch("wikitext-2") == cached
    monkeypatch.setenv("MINILM_OFFLINE", "1")
    assert fetch("wikitext-2") == cached  # offline is fine when the file is there
    assert server.requests == []


def test_a_cached_file_with_the_wrong_hash_is_kept_and_reported(server, monkeypatch, tmp_path):
    server.write("toy.txt", DATA)
    register(monkeypatch, "wikitext-2", [server.url("toy.txt")], sha256(DATA))
    cached = tmp_path / "cache" / "wikitext-2" / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"my own version")
    with pytest.raises(ChecksumError) as info:
        fetch("wikitext-2")
    message = str(info.value)
    assert str(cached) in message and "delete" in message and "your own copy" in message
    assert cached.read_bytes() == b"my own version"  # still there, untouched
    assert server.requests == []


# -- the registry and the front door ---------------------------------------------------------------


def test_registry_entries_are_complete():
    for name in ("wikitext-2", "sst-2", "imdb", "ptb"):
        info = REGISTRY[name]
        assert info.name == name and info.licence and info.citation and info.homepage.startswith("http")
        assert info.kind in ("text", "classification") and not info.bundled
        for f in info.files:
            assert len(f.sha256) == 64 and f.size > 0 and all(u.startswith("http") for u in f.urls)
        for split in info.splits:
            assert info.file_for(split) in info.files
    assert [f.filename for f in REGISTRY["ptb"].files] == ["ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"]
    assert REGISTRY["ptb"].file_for("valid").filename == "ptb.valid.txt"
    assert REGISTRY["bundled"].bundled and REGISTRY["bundled-reviews"].kind == "classification"


def test_remote_file_rejects_bad_entries():
    with pytest.raises(ValueError, match="64 lowercase hex"):
        RemoteFile("a.zip", ("https://x/a.zip",), sha256="abc")
    with pytest.raises(ValueError, match="give sha256"):
        RemoteFile("a.zip", ("https://x/a.zip",), sha256=None)
    with pytest.raises(ValueError, match="non-empty tuple"):
        RemoteFile("a.zip", "https://x/a.zip", sha256="0" * 64)


def test_fetch_names_the_files_when_an_entry_has_several():
    with pytest.raises(ValueError, match="ptb.train.txt"):
        fetch("ptb")
    with pytest.raises(ValueError, match="bundled"):
        fetch("bundled")


def test_load_fetches_then_reads(server, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("SST-2/train.tsv", "sentence\tlabel\na fine film \t1\ndull \t0\n")
        z.writestr("SST-2/dev.tsv", "sentence\tlabel\nsuperb\t1\n")
    archive = buffer.getvalue()
    server.write("SST-2.zip", archive)
    register(monkeypatch, "sst-2", [server.url("SST-2.zip")], sha256(archive), filename="SST-2.zip")
    train = datasets.load("sst-2", "train")
    assert (train.texts, train.labels) == (["a fine film", "dull"], [1, 0])
    dev = datasets.load("sst-2", "dev")
    assert (dev.texts, dev.labels) == (["superb"], [1])
    assert server.requests == ["/SST-2.zip"]  # downloaded once, then read from the cache


def test_errors_share_one_base_class():
    for error in (DownloadError, OfflineError, ChecksumError, datasets.DatasetFormatError):
        assert issubclass(error, DatasetError) and issubclass(error, RuntimeError)
