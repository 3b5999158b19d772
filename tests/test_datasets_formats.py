"""The readers of the standard formats, on small files the tests write (zip, folder, TSV, tar.gz),
on malformed ones, and, when ``../shared/data`` is there, on the real SST-2 and WikiText-2 samples.
Also: the bundled entries load offline and always give the same data, and ``load`` reads a user's
own copy without the network."""

import io
import pathlib
import socket
import tarfile
import zipfile

import pytest

from minilm.data import corpus
from minilm.data.datasets import (
    DatasetFormatError,
    drop_headings,
    is_heading,
    load,
    read_imdb,
    read_ptb,
    read_sst2,
    read_wikitext,
)

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """These tests never need a network: any connection or name lookup is recorded and fails the test."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("test: no network in the format tests")

    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: refuse(address))
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
    assert attempts == [], f"a format test tried to use the network: {attempts}"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("MINILM_OFFLINE", "1")
    monkeypatch.setenv("MINILM_DATA_DIR", str(tmp_path / "cache"))


def write_zip(path: pathlib.Path, members: dict) -> pathlib.Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def write_tar(path: pathlib.Path, members: dict) -> pathlib.Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8") if isinstance(text, str) else text
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_tree(root: pathlib.Path, members: dict) -> pathlib.Path:
    for name, text in members.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return root


# -- WikiText ---------------------------------------------------------------------------------------

WIKI_VALID = " \n = Lobster = \n \n The lobster is a <unk> animal . \n \n = = Biology = = \n \n It has claws . \n \n"
WIKI_VALID_LINES = ["= Lobster =", "The lobster is a <unk> animal .", "= = Biology = =", "It has claws ."]
WIKI = {
    "wikitext-2/wiki.train.tokens": " \n = Train = \n \n Some text . \n",
    "wikitext-2/wiki.valid.tokens": WIKI_VALID,
    "wikitext-2/wiki.test.tokens": " = Test = \n Last line \n",
}


def test_wikitext_from_zip_folder_and_single_file(tmp_path):
    archive = write_zip(tmp_path / "wikitext-2-v1.zip", WIKI)
    folder = write_tree(tmp_path / "unpacked", WIKI)
    assert read_wikitext(archive, "validation") == WIKI_VALID_LINES
    assert read_wikitext(archive, "valid") == WIKI_VALID_LINES
    assert read_wikitext(folder, "validation") == WIKI_VALID_LINES  # finds wikitext-2/ inside
    assert read_wikitext(folder / "wikitext-2", "test") == ["= Test =", "Last line"]
    assert read_wikitext(folder / "wikitext-2" / "wiki.valid.tokens") == WIKI_VALID_LINES  # a file: split unused
    assert read_wikitext(archive) == ["= Train =", "Some text ."]


def test_wikitext_folder_with_split_txt_names(tmp_path):
    write_tree(tmp_path, {"valid.txt": WIKI_VALID, "test.txt": " = T = \n"})
    assert read_wikitext(tmp_path, "validation") == WIKI_VALID_LINES
    assert read_wikitext(tmp_path, "test") == ["= T ="]


def test_headings():
    assert [is_heading(line) for line in WIKI_VALID_LINES] == [True, False, True, False]
    assert is_heading(" = = = Deep = = = ") and not is_heading("a = b =") and not is_heading("= not closed")
    assert drop_headings(WIKI_VALID_LINES) == ["The lobster is a <unk> animal .", "It has claws ."]


def test_zip_without_the_member_is_a_format_error(tmp_path):
    archive = write_zip(tmp_path / "w.zip", {"wikitext-2/wiki.train.tokens": "x\n"})
    with pytest.raises(DatasetFormatError) as info:
        read_wikitext(archive, "test")
    message = str(info.value)
    assert str(archive) in message and "wiki.test.tokens" in message and "wikitext-2/wiki.train.tokens" in message


def test_truncated_zip_is_a_format_error(tmp_path):
    whole = write_zip(tmp_path / "whole.zip", WIKI).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetFormatError, match=r"cut\.zip: the archive is damaged or incomplete"):
        read_wikitext(cut, "validation")


def test_damaged_member_names_the_member_and_line(tmp_path):
    archive = tmp_path / "w.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("wikitext-2/wiki.valid.tokens", " = A = \n" + "word " * 2000 + "\n")
    data = bytearray(archive.read_bytes())
    at = data.index(b"word word") + 100
    data[at : at + 4] = b"XXXX"  # the stored text changes, its CRC-32 in the archive does not
    archive.write_bytes(bytes(data))
    with pytest.raises(
        DatasetFormatError, match=r"w\.zip\[wikitext-2/wiki\.valid\.tokens\], line 2: the archive is damaged"
    ):
        read_wikitext(archive, "validation")


def test_bad_utf8_names_file_and_line(tmp_path):
    bad = tmp_path / "wiki.test.tokens"
    bad.write_bytes(b" = T = \n fine \n caf\xe9 \n")
    with pytest.raises(DatasetFormatError, match=r"wiki\.test\.tokens, line 3: not UTF-8"):
        read_wikitext(bad)


# -- PTB --------------------------------------------------------------------------------------------

PTB_VALID = " consumers may want to move their telephones a little closer to the tv set \n <unk> <unk> N \n"


def test_ptb_from_folder_tgz_and_file(tmp_path):
    members = {
        "simple-examples/data/ptb.train.txt": " a b \n",
        "simple-examples/data/ptb.valid.txt": PTB_VALID,
        "simple-examples/data/ptb.test.txt": " c \n",
    }
    expected = ["consumers may want to move their telephones a little closer to the tv set", "<unk> <unk> N"]
    tgz = write_tar(tmp_path / "simple-examples.tgz", members)
    folder = write_tree(tmp_path / "x", members)
    assert read_ptb(tgz, "validation") == expected
    assert read_ptb(folder, "valid") == expected  # two levels down: simple-examples/data/
    assert read_ptb(folder / "simple-examples" / "data" / "ptb.valid.txt") == expected
    assert read_ptb(folder, "test") == ["c"]


# -- SST-2 ------------------------------------------------------------------------------------------

SST = {
    "SST-2/train.tsv": "sentence\tlabel\nhide new secretions from the parental units \t0\ncharming and funny \t1\n",
    "SST-2/dev.tsv": "sentence\tlabel\nit 's a charming journey . \t1\n",
    "SST-2/test.tsv": 'index\tsentence\n0\tuneasy mishmash of styles .\n1\tthis film \'s " great " .\n',
}


def test_sst2_from_zip_folder_and_tsv(tmp_path):
    archive = write_zip(tmp_path / "SST-2.zip", SST)
    folder = write_tree(tmp_path / "glue", SST)
    expected = (["hide new secretions from the parental units", "charming and funny"], [0, 1])
    for source in (archive, folder, folder / "SST-2", folder / "SST-2" / "train.tsv"):
        split = read_sst2(source, "train")
        assert (split.texts, split.labels) == expected, source
    dev = read_sst2(archive, "dev")
    assert (dev.texts, dev.labels) == (["it 's a charming journey ."], [1])
    assert read_sst2(folder, "validation").texts == dev.texts


def test_sst2_unlabelled_test_file(tmp_path):
    archive = write_zip(tmp_path / "SST-2.zip", SST)
    with pytest.raises(DatasetFormatError, match=r"SST-2/test\.tsv\], line 1: no 'label' column.*allow_unlabelled"):
        read_sst2(archive, "test")
    test = read_sst2(archive, "test", allow_unlabelled=True)
    assert test.texts == ["uneasy mishmash of styles .", 'this film \'s " great " .'] and test.labels == [-1, -1]
    with pytest.raises(DatasetFormatError):
        load("sst-2", "test", path=archive)  # load keeps the safe default


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("sentence\tlabel\ngood\t1\nno tab here\n", 3, "expected 2 tab-separated fields"),
        ("sentence\tlabel\ngood\t2\n", 2, "the label must be 0 or 1, got '2'"),
        ("sentence\tlabel\ngood\tpositive\n", 2, "the label must be 0 or 1, got 'positive'"),
        ("text\tlabel\ngood\t1\n", 1, "expected the header"),
        ("sentence\tlabel\n \t1\n", 2, "empty sentence"),
    ],
)
def test_sst2_malformed_rows_name_file_and_line(tmp_path, text, line, problem):
    tsv = tmp_path / "broken.tsv"
    tsv.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetFormatError) as info:
        read_sst2(tsv)
    assert info.value.line == line and info.value.source == str(tsv)
    assert str(info.value).startswith(f"{tsv}, line {line}: {problem}")


def test_sst2_empty_file(tmp_path):
    (tmp_path / "train.tsv").write_text("")
    with pytest.raises(DatasetFormatError, match="empty file"):
        read_sst2(tmp_path)


# -- IMDb -------------------------------------------------------------------------------------------

IMDB = {
    "aclImdb/README": "about the data\n",
    "aclImdb/train/urls_pos.txt": "http://example/1\n",
    "aclImdb/train/pos/10_7.txt": "Good fun.<br /><br />Would watch again.",
    "aclImdb/train/pos/2_9.txt": "A  classic<br/>film.",
    "aclImdb/train/neg/3_1.txt": "Dull.<BR>Too long.",
    "aclImdb/train/unsup/5_0.txt": "unlabelled review",
    "aclImdb/test/pos/0_10.txt": "Best film of the year.",
    "aclImdb/test/neg/0_2.txt": "Awful.",
}
IMDB_TRAIN = (["Dull. Too long.", "A classic film.", "Good fun. Would watch again."], [0, 1, 1])


def test_imdb_from_tar_gz_and_folder(tmp_path):
    archive = write_tar(tmp_path / "aclImdb_v1.tar.gz", IMDB)
    before = sorted(tmp_path.rglob("*"))
    split = read_imdb(archive, "train")
    assert (split.texts, split.labels) == IMDB_TRAIN
    assert sorted(tmp_path.rglob("*")) == before  # read in place, nothing extracted
    folder = write_tree(tmp_path / "unpacked", IMDB)
    for source in (folder, folder / "aclImdb"):
        split = read_imdb(source, "train")
        assert (split.texts, split.labels) == IMDB_TRAIN
    test = read_imdb(archive, "test")
    assert (test.texts, test.labels) == (["Awful.", "Best film of the year."], [0, 1])


def test_imdb_truncated_archive_and_wrong_inputs(tmp_path):
    data = write_tar(tmp_path / "whole.tar.gz", IMDB | {"aclImdb/train/pos/99_8.txt": "x" * 5000}).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"cut\.tar\.gz: the archive is damaged or incomplete"):
        read_imdb(cut, "train")
    (tmp_path / "one.txt").write_text("a review")
    with pytest.raises(DatasetFormatError, match="aclImdb folder"):
        read_imdb(tmp_path / "one.txt", "train")
    with pytest.raises(DatasetFormatError, match="no reviews found for split 'test'"):
        read_imdb(write_tree(tmp_path / "empty", {"aclImdb/train/pos/1_9.txt": "ok"}), "test")


# -- common behaviour -------------------------------------------------------------------------------


def test_missing_path_and_bad_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        read_sst2(tmp_path / "nope.zip")
    with pytest.raises(ValueError, match=r"\['train', 'test'\]"):
        read_imdb(tmp_path, "validation")
    with pytest.raises(ValueError, match=r"\['train', 'validation', 'test'\]"):
        read_wikitext(tmp_path, "training")


def test_load_reads_a_local_copy_offline(tmp_path):
    archive = write_zip(tmp_path / "mine.zip", SST)
    split = load("sst-2", "train", path=archive)
    assert split.labels == [0, 1]
    assert load("wikitext-2", "valid", path=write_zip(tmp_path / "w.zip", WIKI)) == WIKI_VALID_LINES
    assert load("imdb", "train", path=write_tar(tmp_path / "i.tgz", IMDB)).labels == IMDB_TRAIN[1]
    assert not (tmp_path / "cache").exists()  # the cache was not even looked at


def test_load_names_and_splits():
    with pytest.raises(ValueError, match=r"unknown dataset 'wiki'.*'wikitext-2'"):
        load("wiki")
    with pytest.raises(ValueError, match=r"imdb has no split 'validation'; its splits are \['train', 'test'\]"):
        load("imdb", "validation")
    with pytest.raises(ValueError, match="leave path=None"):
        load("bundled", path="x")


# -- the bundled entries ----------------------------------------------------------------------------


def test_bundled_documents_load_offline_and_deterministically():
    train, valid, test = (load("bundled", s) for s in ("train", "validation", "test"))
    assert (len(train), len(valid), len(test)) == (1600, 200, 200)
    docs = corpus.documents(n=2000, seed=0)
    assert train[0] == docs[0].text and valid[0] == docs[1600].text and test[-1] == docs[1999].text
    assert load() == train  # the default
    train.append("changed")
    assert load("bundled", "train")[-1] == docs[1599].text  # a fresh list each call


def test_bundled_reviews_load_offline():
    for split in ("train", "validation", "test"):
        got, expected = load("bundled-reviews", split), corpus.reviews(n=6000, seed=0)[split]
        assert (got.texts, got.labels) == (expected.texts, expected.labels)
    assert len(load("bundled-reviews", "dev")) == 600


# -- the real samples in ../shared/data -------------------------------------------------------------


def shared(*parts) -> pathlib.Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not there (the real-format samples are not part of the package)")
    return path


@pytest.mark.parametrize("name, rows", [("train.tsv", 60614), ("dev.tsv", 6735), ("test.tsv", 872)])
def test_real_sst2_samples(name, rows):
    split = read_sst2(shared("sst2", name))
    assert len(split.texts) == len(split.labels) == rows
    assert set(split.labels) == {0, 1}
    assert all(text and text == text.strip() and "\t" not in text for text in split.texts)


@pytest.mark.parametrize("name", ["valid.txt", "test.txt"])
def test_real_wikitext_samples(name):
    lines = read_wikitext(shared("wikitext-2", name))
    assert lines and all(line and line == line.strip() for line in lines)
    headings = [line for line in lines if is_heading(line)]
    assert any(h.startswith("= ") and not h.startswith("= =") for h in headings)  # article titles
    assert any(h.startswith("= = ") for h in headings)  # section headings
    assert any("<unk>" in line for line in lines)
    assert len(drop_headings(lines)) == len(lines) - len(headings)


def test_real_wikitext_folder_by_split_name():
    folder = shared("wikitext-2")
    assert read_wikitext(folder, "validation") == read_wikitext(folder / "valid.txt")
    assert read_wikitext(folder, "test")[0] == "= Robert <unk> ="
