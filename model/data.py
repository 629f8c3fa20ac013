"""The makemore data layer: a names file in, the lecture's Xtr/Ytr/Xdev/Ydev/Xte/Yte out.

`load_names` finds the words (explicit path, $NINJAGRAD_NAMES, cache, a checksum-verified download, or
the US-Census first names shipped in the `names` package when offline) and says where they came from.
`Vocab` is the character table with '.' as start/stop token 0; `split_words` and `build_dataset` are
cells In [22]-[23] of the seed notebook: the same shuffle, the same 80/10/10 split, the same examples.
"""

from __future__ import annotations

import codecs
import hashlib
import http.client
import importlib.resources
import itertools
import os
import random
import threading
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .files import atomic_write

NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
CACHE_FILE = "names.txt"
MAX_WORD_LEN = 64
MAX_BLOCK_SIZE = MAX_WORD_LEN  # a longer context than the longest word only ever adds more '.' padding
SPLIT_NAMES = ("train", "dev", "test")  # the lecture's 80/10/10 split of the shuffled words
DOT = "."  # start/stop token, index 0, as in the lecture

_MAX_DOWNLOAD_BYTES = 16 * 1024 * 1024  # names.txt is 228 kB; anything near this is not it
_CENSUS_FILES = ("dist.male.first", "dist.female.first")


class DataError(ValueError):
    """A names file that cannot be used, with the file and line that say why."""


class DownloadError(OSError):
    """The names download failed (network, HTTP status, truncated body or checksum)."""


# ---------------------------------------------------------------------------------------------------------
# reading and checking a names file


@dataclass(frozen=True)
class NamesSource:
    """The words and where they came from; `source` is the one line a CLI shows the user."""

    words: list[str]
    source: str  # e.g. "names: 32,033 words from /data/names.txt (--data)"
    path: Path | None  # the file the words were read from; None for the embedded census names
    blank_lines: int = 0  # blank lines skipped while reading


def parse_names(data: bytes, filename: str, *, max_len: int = MAX_WORD_LEN) -> tuple[list[str], int]:
    """Split UTF-8 bytes into one word per line; return (words, number of blank lines skipped).

    Lines end in \\n or \\r\\n; spaces and tabs around a word are dropped and blank lines skipped.
    Raises DataError naming `filename` and the line for: bytes that are not UTF-8, a word containing the
    reserved '.', whitespace or control/invisible characters, a word longer than `max_len`, or no words.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0  # Notepad's UTF-8 marker
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = bom + e.start
        lineno = data.count(b"\n", 0, offset) + 1
        bad = data[offset : offset + 1].hex()
        raise DataError(
            f"{filename}, line {lineno}: not valid UTF-8 (byte 0x{bad} at byte offset {offset}); "
            "save the file as UTF-8"
        ) from e

    # split on \n only: str.splitlines() would also split on \x0b, \x1c, \x85, U+2028 ... and
    # silently turn a stray control character into a line break (and shift every line number after it)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another one
    words: list[str] = []
    blank = 0
    for lineno, line in enumerate(lines, start=1):
        word = line.removesuffix("\r").strip(" \t")
        if not word:
            blank += 1
            continue
        _check_word(word, filename, lineno, max_len)
        words.append(word)
    if not words:
        if not lines:
            raise DataError(f"{filename}, line 1: the file is empty; expected one name per line")
        raise DataError(
            f"{filename}, line {len(lines)}: no words, all {len(lines)} lines are blank; "
            "expected one name per line"
        )
    return words, blank


def _check_word(word: str, filename: str, lineno: int, max_len: int) -> None:
    where = f"{filename}, line {lineno}"
    if len(word) > max_len:
        raise DataError(
            f"{where}: word of {len(word)} characters is longer than max_len={max_len} "
            f"({word[:20]!r}...); is this a names file?"
        )
    if DOT in word:
        raise DataError(f"{where}: {word!r} contains '.', which is reserved as the start/stop token")
    for col, ch in enumerate(word, start=1):
        if ch.isspace():
            raise DataError(f"{where}: {word!r} has whitespace {ch!r} at column {col}; one name per line")
        if unicodedata.category(ch).startswith("C"):  # control, format (zero-width), unassigned, private
            raise DataError(
                f"{where}: {word!r} has control or invisible character U+{ord(ch):04X} at column {col}"
            )


def read_names(path: str | os.PathLike[str], *, max_len: int = MAX_WORD_LEN) -> NamesSource:
    """Read and check one names file (see `parse_names`); a missing file or a directory is a DataError."""
    if not os.fspath(path):  # Path("") would be the current directory
        raise DataError("the names file path is empty; give the path of a file with one name per line")
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give the path of a file with one name per line")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read names file ({e.strerror or e})") from e
    words, blank = parse_names(data, str(path), max_len=max_len)
    return NamesSource(words, _describe(words, f"from {path}", blank), path, blank)


def _describe(words: Sequence[str], origin: str, blank: int = 0) -> str:
    skipped = f", {_count(blank, 'blank line')} skipped" if blank else ""
    return f"names: {_count(len(words), 'word')} {origin}{skipped}"


def _listing(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _count(n: int, noun: str) -> str:
    """'1 word', '2 words', '32,033 words'."""
    return f"{n:,} {noun}{'s' * (n != 1)}"


# ---------------------------------------------------------------------------------------------------------
# where the words come from: path, $NINJAGRAD_NAMES, cache, download, embedded census names


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$NINJAGRAD_CACHE if set, else $XDG_CACHE_HOME/ninjagrad, else ~/.cache/ninjagrad."""
    env = os.environ if env is None else env
    if env.get("NINJAGRAD_CACHE"):
        return Path(env["NINJAGRAD_CACHE"]).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "")
    # the XDG spec says a relative $XDG_CACHE_HOME is invalid and must be ignored
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "ninjagrad"


def fetch_names(
    url: str = NAMES_URL, sha256: str = NAMES_SHA256, *, timeout: float = 3.0, total_timeout: float = 6.0
) -> bytes:
    """Download `url` and return its bytes if their sha256 is `sha256`; else raise DownloadError.

    `timeout` bounds each connect/read; `total_timeout` bounds the whole attempt, name lookup included
    (the fetch runs in a daemon thread that is abandoned when time is up), so an offline machine never hangs.
    """
    result: list[bytes] = []
    failure: list[BaseException] = []
    give_up = threading.Event()

    def work() -> None:
        try:
            result.append(_fetch_blocking(url, timeout, give_up))
        except BaseException as e:  # handed to the waiting thread, which re-raises it
            failure.append(e)

    worker = threading.Thread(target=work, name="ninjagrad-download", daemon=True)
    worker.start()
    worker.join(total_timeout)
    if worker.is_alive():
        give_up.set()
        raise DownloadError(f"{url}: no complete answer within {total_timeout:g} s; gave up")
    if failure:
        raise failure[0]
    data = result[0]
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DownloadError(f"{url}: sha256 mismatch: got {digest}, expected {sha256}; nothing was cached")
    return data


def _fetch_blocking(url: str, timeout: float, give_up: threading.Event) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            chunks: list[bytes] = []
            received = 0
            while chunk := resp.read1(64 * 1024):  # read1: whatever has arrived, so give_up is seen
                if give_up.is_set():
                    return b""
                received += len(chunk)
                if received > _MAX_DOWNLOAD_BYTES:
                    raise DownloadError(f"{url}: more than {_MAX_DOWNLOAD_BYTES:,} bytes; not a names file")
                chunks.append(chunk)
            length = resp.headers.get("Content-Length")
    except DownloadError:
        raise
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"{url}: cannot connect ({e.reason})") from e
    except (OSError, http.client.HTTPException) as e:  # timeouts, resets, malformed responses
        raise DownloadError(f"{url}: connection failed ({type(e).__name__}: {e})") from e
    # http.client's read(n) returns b"" on a dropped connection instead of raising, so count the bytes
    if length is not None and length.isdigit() and int(length) != received:
        raise DownloadError(f"{url}: connection closed after {received:,} of {int(length):,} bytes")
    return b"".join(chunks)


def download_names(
    dest: str | os.PathLike[str],
    *,
    url: str = NAMES_URL,
    sha256: str = NAMES_SHA256,
    timeout: float = 3.0,
    total_timeout: float = 6.0,
) -> Path:
    """Download `url`, verify its sha256, and write it atomically to `dest`; nothing is written on failure."""
    data = fetch_names(url, sha256, timeout=timeout, total_timeout=total_timeout)
    return atomic_write(dest, lambda f: f.write(data))


def census_names() -> list[str]:
    """The US-Census 1990 first names shipped in the `names` package, lowercased and deduplicated.

    Male then female list, each in the file's (frequency) order; 331 names are on both lists, so the
    5,494 lines give 5,163 distinct names.
    """
    try:
        package = importlib.resources.files("names")
    except ModuleNotFoundError as e:
        raise DataError("no names file and no `names` package to fall back on; pass --data PATH") from e
    words: dict[str, None] = {}  # an ordered set
    for filename in _CENSUS_FILES:
        for line in (package / filename).read_text(encoding="ascii").splitlines():
            if line.strip():
                words[line.split()[0].lower()] = None
    return list(words)


def load_names(
    path: str | os.PathLike[str] | None = None,
    *,
    notice: Callable[[str], None] | None = None,
    url: str = NAMES_URL,
    sha256: str = NAMES_SHA256,
    timeout: float = 3.0,
    total_timeout: float = 6.0,
    max_len: int = MAX_WORD_LEN,
) -> NamesSource:
    """The words to train on, from the first source that exists, and a line saying which it was.

    Order: `path` (the CLI's --data); $NINJAGRAD_NAMES; the cached copy in `cache_dir()`; a download
    of `url` verified by `sha256` and cached; offline, the census names of the `names` package.
    A named file that is missing or bad is a DataError, never a silent fallback. `notice`, if given,
    is called once with `NamesSource.source`; this function prints nothing.
    """
    found = _find_names(path, url, sha256, timeout, total_timeout, max_len)
    if notice is not None:
        notice(found.source)
    return found


def _find_names(
    path: str | os.PathLike[str] | None,
    url: str,
    sha256: str,
    timeout: float,
    total_timeout: float,
    max_len: int,
) -> NamesSource:
    if path is not None:
        return read_names(path, max_len=max_len)
    if env_path := os.environ.get("NINJAGRAD_NAMES"):
        if not Path(env_path).is_file():
            problem = "is a directory, not a names file" if Path(env_path).is_dir() else "no such file"
            raise DataError(f"$NINJAGRAD_NAMES={env_path}: {problem}; fix or unset the variable")
        found = read_names(env_path, max_len=max_len)
        return NamesSource(
            found.words, _describe(found.words, f"from $NINJAGRAD_NAMES={env_path}", found.blank_lines),
            found.path, found.blank_lines,
        )

    cached = cache_dir() / CACHE_FILE
    stale = ""
    try:
        data = cached.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as e:
        stale = f" (cached copy unreadable: {e.strerror or e})"
    else:
        if hashlib.sha256(data).hexdigest() == sha256:
            words, blank = parse_names(data, str(cached), max_len=max_len)
            return NamesSource(words, _describe(words, f"from cache {cached}", blank), cached, blank)
        stale = " (cached copy failed its checksum)"

    try:
        data = fetch_names(url, sha256, timeout=timeout, total_timeout=total_timeout)
    except DownloadError as e:
        words = census_names()
        origin = f"(US-Census first names from the `names` package; download failed: {e})"
        return NamesSource(words, _describe(words, origin), None)
    words, blank = parse_names(data, url, max_len=max_len)
    try:
        atomic_write(cached, lambda f: f.write(data))
    except OSError as e:  # a read-only cache costs a download next time, not this run
        origin = f"downloaded from {url} (sha256 verified, not cached: {e.strerror or e}){stale}"
        return NamesSource(words, _describe(words, origin, blank), None, blank)
    origin = f"downloaded from {url} (sha256 verified, cached at {cached}){stale}"
    return NamesSource(words, _describe(words, origin, blank), cached, blank)


# ---------------------------------------------------------------------------------------------------------
# vocabulary


@dataclass(frozen=True)
class Vocab:
    """Characters <-> integers with '.' at index 0 (start/stop/padding): the lecture's chars, stoi, itos."""

    chars: tuple[str, ...]
    stoi: dict[str, int] = field(init=False, repr=False, compare=False)
    itos: dict[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chars = tuple(str(c) for c in self.chars)
        if not chars or chars[0] != DOT:
            raise ValueError(f"Vocab: chars must start with the start/stop token {DOT!r}, got {chars[:3]}")
        if wrong := [c for c in chars if len(c) != 1]:
            raise ValueError(f"Vocab: every entry must be one character, got {wrong}")
        if len(set(chars)) != len(chars):
            dupes = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"Vocab: repeated characters {dupes}")
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "stoi", {s: i for i, s in enumerate(chars)})
        object.__setattr__(self, "itos", dict(enumerate(chars)))

    @classmethod
    def from_words(cls, words: Iterable[str]) -> Vocab:
        """`['.'] + sorted(set(''.join(words)))`, the lecture's vocabulary."""
        symbols = set("".join(words))
        if DOT in symbols:
            raise ValueError(f"Vocab.from_words: the words contain {DOT!r}, which is reserved as token 0")
        return cls((DOT, *sorted(symbols)))

    @classmethod
    def from_list(cls, chars: Iterable[str]) -> Vocab:
        """Rebuild from `to_list()` output (a list, a NumPy string array, or the joined string)."""
        return cls(tuple(chars))

    def to_list(self) -> list[str]:
        """The characters in index order: plain data a checkpoint can store without pickle."""
        return list(self.chars)

    @property
    def size(self) -> int:
        """Number of symbols including '.'; the lecture's vocab_size."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, word: str) -> list[int]:
        """Indices of the characters of `word`; ValueError for a character outside the vocabulary."""
        try:
            return [self.stoi[ch] for ch in word]
        except KeyError as e:
            raise ValueError(f"Vocab.encode: {e.args[0]!r} in {word!r} is not in the vocabulary") from None

    def decode(self, ix: Iterable[int]) -> str:
        """The string spelled by the indices `ix` (any iterable of ints, e.g. a NumPy array)."""
        try:
            return "".join(self.itos[int(i)] for i in ix)
        except KeyError as e:
            raise ValueError(f"Vocab.decode: index {e.args[0]} is outside 0..{self.size - 1}") from None


# ---------------------------------------------------------------------------------------------------------
# splits and examples


def split_sizes(n_words: int) -> dict[str, int]:
    """Words in each split of n_words: n1 = int(0.8*n), n2 = int(0.9*n); train n1, dev n2 - n1, test n - n2."""
    n1, n2 = int(0.8 * n_words), int(0.9 * n_words)
    return {"train": n1, "dev": n2 - n1, "test": n_words - n2}


def min_words(needed: Sequence[str] = SPLIT_NAMES) -> int:
    """The fewest words whose split leaves every split in `needed` non-empty (train: 2; all three: 6)."""
    return next(n for n in itertools.count(1) if all(split_sizes(n)[s] for s in needed))


def require_words(n_words: int, needed: Sequence[str], user: str) -> None:
    """DataError unless the 80/10/10 split of n_words words leaves each split in `needed` non-empty.

    `user` names who needs them in the message (e.g. "`ninjagrad train`").
    """
    sizes = split_sizes(n_words)
    if empty := [s for s in needed if sizes[s] == 0]:
        raise DataError(
            f"{_count(n_words, 'word')} {'is' if n_words == 1 else 'are'} too few: the 80/10/10 split leaves the "
            f"{_listing(empty)} {'split' if len(empty) == 1 else 'splits'} empty, and {user} needs at least "
            f"{min_words(needed)} words (for the {_listing(needed)} {'split' if len(needed) == 1 else 'splits'})"
        )


def split_words(words: Sequence[str], seed: int = 42) -> tuple[list[str], list[str], list[str]]:
    """The lecture's split: shuffle a copy with `random.Random(seed)`, then 80% / 10% / 10%.

    `random.Random(42).shuffle` draws the same stream as `random.seed(42); random.shuffle`, without
    touching the global RNG. With `split_sizes`' n1 and n2: train = [:n1], dev = [n1:n2], test = [n2:].
    """
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    sizes = split_sizes(len(shuffled))
    n1 = sizes["train"]
    n2 = n1 + sizes["dev"]
    return shuffled[:n1], shuffled[n1:n2], shuffled[n2:]


def build_dataset(words: Sequence[str], vocab: Vocab, block_size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Examples (X, Y) exactly as the lecture's loop: X[k] is the last `block_size` indices, Y[k] the next.

    Each word w gives len(w)+1 examples, contexts starting as '.'*block_size and the last target '.'.
    X is (N, block_size) int64, Y is (N,) int64. Vectorized: one windowed view over all padded words.
    block_size runs from 1 to MAX_BLOCK_SIZE (64, the longest word allowed), else ValueError.
    """
    if not 1 <= block_size <= MAX_BLOCK_SIZE:
        raise ValueError(f"build_dataset: block_size must be from 1 to {MAX_BLOCK_SIZE} (a longer context than "
                         f"the longest word only adds '.' padding), got {block_size}")
    if not words:
        return np.zeros((0, block_size), dtype=np.int64), np.zeros((0,), dtype=np.int64)
    # every word padded to '.'*block_size + w + '.' and all laid end to end; a window of block_size+1
    # starting inside a word's first len(w)+1 positions is one (context, target) example
    padded = "".join(DOT * block_size + w + DOT for w in words)
    codes = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
    tokens = _lookup(codes, vocab, words)  # (T,)
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))  # (W,)
    segment = lengths + block_size + 1  # (W,)
    starts = np.repeat(np.cumsum(segment) - segment, segment)  # (T,) first position of each token's word
    keep = np.arange(tokens.size) - starts < np.repeat(lengths + 1, segment)  # (T,)
    windows = np.lib.stride_tricks.sliding_window_view(tokens, block_size + 1)  # (T-block_size, block_size+1)
    windows = windows[keep[: windows.shape[0]]]  # (N, block_size+1)
    return np.ascontiguousarray(windows[:, :block_size]), np.ascontiguousarray(windows[:, block_size])


def _lookup(codes: np.ndarray, vocab: Vocab, words: Sequence[str]) -> np.ndarray:
    # code points -> vocabulary indices through a sorted table (the vocabulary is not sorted: '.' is first)
    table = np.array([ord(c) for c in vocab.chars], dtype=np.uint32)
    order = np.argsort(table)
    pos = np.searchsorted(table[order], codes).clip(max=table.size - 1)
    found = table[order][pos] == codes
    if not found.all():
        bad = chr(int(codes[np.argmin(found)]))
        word = next(w for w in words if bad in w)
        raise ValueError(f"build_dataset: {bad!r} in {word!r} is not in the {vocab.size}-symbol vocabulary")
    return order[pos].astype(np.int64)


@dataclass(frozen=True)
class Splits:
    """The lecture's six arrays, with the vocabulary and context length that made them."""

    vocab: Vocab
    block_size: int
    Xtr: np.ndarray  # (n_train, block_size) int64
    Ytr: np.ndarray  # (n_train,) int64
    Xdev: np.ndarray  # (n_dev, block_size) int64
    Ydev: np.ndarray  # (n_dev,) int64
    Xte: np.ndarray  # (n_test, block_size) int64
    Yte: np.ndarray  # (n_test,) int64


def build_splits(
    words: Sequence[str], block_size: int = 3, *, seed: int = 42, vocab: Vocab | None = None
) -> Splits:
    """`split_words` then `build_dataset` on each part; the vocabulary comes from all words unless given.

    On names.txt with block_size=3: Xtr (182625, 3), Xdev (22655, 3), Xte (22866, 3).
    """
    vocab = Vocab.from_words(words) if vocab is None else vocab
    train, dev, test = split_words(words, seed)
    Xtr, Ytr = build_dataset(train, vocab, block_size)
    Xdev, Ydev = build_dataset(dev, vocab, block_size)
    Xte, Yte = build_dataset(test, vocab, block_size)
    return Splits(vocab, block_size, Xtr, Ytr, Xdev, Ydev, Xte, Yte)
