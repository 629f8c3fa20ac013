"""Tests for model/data.py: the real names.txt, bad input, download/cache/offline fallback, Vocab, splits.

Oracles: the seed notebook's own loop and global-RNG shuffle (cells In [20]-[23]), literal hand-made
cases, and the published sha256 of names.txt. Nothing here reaches the internet: every download goes to
a server of the test's own on 127.0.0.1, and name lookups of any other host fail the test.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import model.data as data_module
from model.data import (
    MAX_BLOCK_SIZE,
    NAMES_SHA256,
    SPLIT_NAMES,
    DataError,
    DownloadError,
    Vocab,
    build_dataset,
    build_splits,
    cache_dir,
    census_names,
    download_names,
    fetch_names,
    load_names,
    min_words,
    parse_names,
    read_names,
    require_words,
    split_sizes,
    split_words,
)

REPO = Path(__file__).resolve().parents[1]
# read before any fixture clears the variable: it says where the real dataset is
NAMES_ENV = os.environ.get("NINJAGRAD_NAMES")
SMALL = b"emma\nolivia\nava\nisabella\nsophia\n"
SMALL_SHA = hashlib.sha256(SMALL).hexdigest()
FAST = {"timeout": 0.5, "total_timeout": 1.0}  # seconds; every "gives up quickly" test allows 3 s


# ---------------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def names_path() -> Path:
    """The real names.txt: $NINJAGRAD_NAMES, else ../shared/data/names.txt; missing fails under CI=true."""
    path = Path(NAMES_ENV) if NAMES_ENV else REPO / ".." / "shared" / "data" / "names.txt"
    if not path.is_file():
        reason = f"dataset not found at {path}; set NINJAGRAD_NAMES to makemore's names.txt"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Cache and home under tmp_path, no proxies, no $NINJAGRAD_NAMES, and no host but loopback."""
    monkeypatch.delenv("NINJAGRAD_NAMES", raising=False)
    monkeypatch.setenv("NINJAGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    outside: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in ("127.0.0.1", "localhost", "::1"):
            outside.append(str(host))
            raise OSError(f"test tried to reach {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield outside
    assert not outside, f"a test tried to reach {outside}"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    mode = "ok"  # ok | drop (half the body, then close) | 404 | trickle (one byte every 0.1 s)
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.mode == "404":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        try:
            if self.mode == "drop":
                self.wfile.write(self.body[: len(self.body) // 2])
                self.close_connection = True
            elif self.mode == "trickle":
                for i in range(len(self.body)):
                    self.wfile.write(self.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(self.body)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@dataclass
class Server:
    url: str
    hits: list[str]
    stop: Callable[[], None]


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start an HTTP server on 127.0.0.1 (ephemeral port) serving `body` in the given mode."""
    running: list[http.server.ThreadingHTTPServer] = []

    def start(body: bytes = SMALL, mode: str = "ok") -> Server:
        hits: list[str] = []
        handler = type("Handler", (_Handler,), {"body": body, "mode": mode, "hits": hits})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # fast shutdown
        running.append(server)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            running.remove(server)

        return Server(f"http://127.0.0.1:{server.server_port}/names.txt", hits, stop)

    yield start
    for server in list(running):
        server.shutdown()
        server.server_close()


@pytest.fixture
def refused_url() -> str:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/names.txt"


def seed_build_dataset(
    words: list[str], stoi: dict[str, int], block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's In [23] loop, verbatim but for NumPy in place of torch."""
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return np.array(X, dtype=np.int64).reshape(-1, block_size), np.array(Y, dtype=np.int64)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ---------------------------------------------------------------------------------------------------------
# the real dataset


def test_real_file_words_vocab_and_checksum(names_path: Path) -> None:
    data = names_path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == NAMES_SHA256
    found = read_names(names_path)
    assert len(found.words) == 32_033
    assert found.words[:3] == ["emma", "olivia", "ava"]
    assert found.words == data.decode().splitlines()  # what the seed's file.read().splitlines() gives
    assert found.blank_lines == 0
    vocab = Vocab.from_words(found.words)
    assert vocab.size == 27
    assert "".join(vocab.chars) == ".abcdefghijklmnopqrstuvwxyz"


def test_real_splits_match_the_seed_notebook(names_path: Path) -> None:
    words = read_names(names_path).words
    splits = build_splits(words, block_size=3)
    assert splits.Xtr.shape == (182_625, 3) and splits.Ytr.shape == (182_625,)
    assert splits.Xdev.shape == (22_655, 3) and splits.Ydev.shape == (22_655,)
    assert splits.Xte.shape == (22_866, 3) and splits.Yte.shape == (22_866,)
    for a in (splits.Xtr, splits.Ytr, splits.Xdev, splits.Ydev, splits.Xte, splits.Yte):
        assert a.dtype == np.int64

    # the seed, cells In [22]-[23], with its global-RNG shuffle; the global state is put back afterwards
    chars = ["."] + sorted(set("".join(words)))
    stoi = {s: i for i, s in enumerate(chars)}
    seed_words = list(words)
    state = random.getstate()
    try:
        random.seed(42)
        random.shuffle(seed_words)
    finally:
        random.setstate(state)
    n1, n2 = int(0.8 * len(seed_words)), int(0.9 * len(seed_words))
    for part, X, Y in [
        (seed_words[:n1], splits.Xtr, splits.Ytr),
        (seed_words[n1:n2], splits.Xdev, splits.Ydev),
        (seed_words[n2:], splits.Xte, splits.Yte),
    ]:
        Xs, Ys = seed_build_dataset(part, stoi, 3)
        np.testing.assert_array_equal(X, Xs)  # exact: integers
        np.testing.assert_array_equal(Y, Ys)


def test_real_splits_are_fast(names_path: Path) -> None:
    words = read_names(names_path).words
    best = float("inf")
    for _ in range(3):  # best of three, so a busy machine does not fail the test
        start = time.perf_counter()
        build_splits(words, block_size=3)
        best = min(best, time.perf_counter() - start)
    assert best < 0.5, f"build_splits on 228k examples took {best:.3f} s (budget 0.5 s)"


def test_real_file_through_env_var(names_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINJAGRAD_NAMES", str(names_path))
    lines: list[str] = []
    found = load_names(notice=lines.append)
    assert len(found.words) == 32_033
    assert found.path == names_path
    assert lines == [found.source] and "$NINJAGRAD_NAMES" in found.source and "32,033" in found.source


# ---------------------------------------------------------------------------------------------------------
# reading: good and bad input


def test_crlf_blank_lines_bom_and_surrounding_spaces(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes(b"\xef\xbb\xbfemma\r\n\r\n  olivia \t\r\n   \nava")  # no final newline
    found = read_names(path)
    assert found.words == ["emma", "olivia", "ava"]
    assert found.blank_lines == 2
    assert "2 blank lines skipped" in found.source


def test_unicode_names_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("zoë\nbjörk\nli\n", encoding="utf-8")
    words = read_names(path).words
    assert words == ["zoë", "björk", "li"]
    assert Vocab.from_words(words).chars == (".", "b", "i", "j", "k", "l", "o", "r", "z", "ë", "ö")


BAD_INPUT = [
    # id, file bytes, line the error must name, a fragment of the reason
    ("empty", b"", 1, "empty"),
    ("only-blank-lines", b"\n   \r\n\t\n", 3, "blank"),
    ("reserved-dot", b"anna\nemma\nj.r\n", 3, "reserved"),
    ("not-utf8", b"anna\nb\xffob\n", 2, "byte offset 6"),
    ("latin-1", "anna\nemma\nzoë\n".encode("latin-1"), 3, "UTF-8"),
    ("too-long", b"anna\n" + b"a" * 65 + b"\n", 2, "max_len=64"),
    ("space-inside", b"anna\nmary ann\n", 2, "whitespace"),
    ("tab-inside", b"mary\tann\n", 1, "whitespace"),
    ("nbsp-inside", "anna\nmary\u00a0ann\n".encode(), 2, "whitespace"),
    ("vertical-tab", b"anna\nbo\x0bb\n", 2, "whitespace"),
    ("nul", b"anna\nbo\x00b\n", 2, "U+0000"),
    ("escape", b"\x1b[31manna\n", 1, "U+001B"),
    ("lone-cr", b"anna\nbo\rb\r\n", 2, "whitespace '\\r'"),
    ("zero-width-space", "anna\nbo\u200bb\n".encode(), 2, "U+200B"),
]


@pytest.mark.parametrize(
    ("content", "line", "reason"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input_names_file_and_line(tmp_path: Path, content: bytes, line: int, reason: str) -> None:
    path = tmp_path / "my-names.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_names(path)
    message = str(info.value)
    assert str(path) in message
    assert re.search(rf"\bline {line}\b", message), message
    assert reason in message


def test_bad_explicit_path_is_an_error_not_a_fallback(tmp_path: Path, serve: Callable[..., Server]) -> None:
    server = serve(SMALL)
    path = tmp_path / "my-names.txt"
    path.write_bytes(b"anna\nj.r\n")
    lines: list[str] = []
    with pytest.raises(DataError, match=r"my-names\.txt, line 2"):
        load_names(path, notice=lines.append, url=server.url, sha256=SMALL_SHA)
    assert lines == [] and server.hits == []


def test_max_len_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes(b"abcdef\n")
    assert read_names(path, max_len=6).words == ["abcdef"]
    with pytest.raises(DataError, match=r"names\.txt, line 1: word of 6 characters .* max_len=5"):
        read_names(path, max_len=5)


def test_parse_names_counts_blank_lines() -> None:
    assert parse_names(b"a\n\nb\n\n\n", "x.txt") == (["a", "b"], 3)


# ---------------------------------------------------------------------------------------------------------
# where the words come from


def test_cache_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir({"NINJAGRAD_CACHE": "/c", "XDG_CACHE_HOME": "/x"}) == Path("/c")
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/ninjagrad")
    assert cache_dir({"XDG_CACHE_HOME": "relative"}) == tmp_path / "home" / ".cache" / "ninjagrad"
    assert cache_dir({"NINJAGRAD_CACHE": ""}) == tmp_path / "home" / ".cache" / "ninjagrad"
    assert cache_dir() == tmp_path / "cache"  # the autouse fixture's $NINJAGRAD_CACHE


def test_missing_explicit_path_is_an_error(tmp_path: Path, cache: Path, refused_url: str) -> None:
    cache.mkdir()
    (cache / "names.txt").write_bytes(SMALL)  # a valid cache must not be used instead
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataError, match=re.escape(str(missing))):
        load_names(missing, url=refused_url, sha256=SMALL_SHA)


def test_missing_env_file_is_an_error(
    tmp_path: Path, cache: Path, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir()
    (cache / "names.txt").write_bytes(SMALL)
    monkeypatch.setenv("NINJAGRAD_NAMES", str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match=r"\$NINJAGRAD_NAMES=.*nope\.txt"):
        load_names(url=refused_url, sha256=SMALL_SHA)


def test_env_directory_is_called_a_directory(
    tmp_path: Path, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NINJAGRAD_NAMES", str(tmp_path))
    with pytest.raises(DataError, match=r"\$NINJAGRAD_NAMES=.*: is a directory, not a names file; fix or unset"):
        load_names(url=refused_url, sha256=SMALL_SHA)


def test_directory_or_empty_path_is_called_what_it_is(tmp_path: Path, refused_url: str) -> None:
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path))}: is a directory; give the path of a file"):
        load_names(tmp_path, url=refused_url, sha256=SMALL_SHA)
    with pytest.raises(DataError, match=r"^the names file path is empty"):  # not ".: cannot read names file"
        load_names("", url=refused_url, sha256=SMALL_SHA)


def test_explicit_path_beats_env_beats_cache(
    tmp_path: Path, cache: Path, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    given_file, env_file = tmp_path / "given.txt", tmp_path / "env.txt"
    given_file.write_bytes(b"given\n")
    env_file.write_bytes(b"env\n")
    cache.mkdir()
    (cache / "names.txt").write_bytes(SMALL)
    monkeypatch.setenv("NINJAGRAD_NAMES", str(env_file))
    kwargs = {"url": refused_url, "sha256": SMALL_SHA}
    assert load_names(given_file, **kwargs).words == ["given"]
    assert load_names(**kwargs).words == ["env"]
    monkeypatch.delenv("NINJAGRAD_NAMES")
    found = load_names(**kwargs)
    assert found.words == SMALL.decode().split()
    assert found.path == cache / "names.txt" and "from cache" in found.source


def test_download_caches_then_second_call_uses_cache(cache: Path, serve: Callable[..., Server]) -> None:
    server = serve(SMALL)
    lines: list[str] = []
    found = load_names(notice=lines.append, url=server.url, sha256=SMALL_SHA, **FAST)
    assert found.words == SMALL.decode().split()
    assert "downloaded" in found.source and "sha256 verified" in found.source
    assert lines == [found.source]
    assert (cache / "names.txt").read_bytes() == SMALL
    assert files_in(cache) == ["names.txt"]  # no temp file left beside it
    assert server.hits == ["/names.txt"]

    server.stop()
    again = load_names(url=server.url, sha256=SMALL_SHA, **FAST)
    assert again.words == found.words and "from cache" in again.source
    assert server.hits == ["/names.txt"]


def test_corrupt_cache_is_downloaded_again(cache: Path, serve: Callable[..., Server]) -> None:
    cache.mkdir()
    (cache / "names.txt").write_bytes(b"half a fi")
    server = serve(SMALL)
    found = load_names(url=server.url, sha256=SMALL_SHA, **FAST)
    assert "downloaded" in found.source and "failed its checksum" in found.source
    assert (cache / "names.txt").read_bytes() == SMALL


def test_download_names_writes_dest(tmp_path: Path, serve: Callable[..., Server]) -> None:
    server = serve(SMALL)
    dest = tmp_path / "sub" / "names.txt"
    assert download_names(dest, url=server.url, sha256=SMALL_SHA, **FAST) == dest
    assert dest.read_bytes() == SMALL
    assert files_in(dest.parent) == ["names.txt"]


def test_checksum_mismatch_caches_nothing(tmp_path: Path, cache: Path, serve: Callable[..., Server]) -> None:
    server = serve(SMALL + b"mallory\n")
    dest = tmp_path / "dl" / "names.txt"
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_names(dest, url=server.url, sha256=SMALL_SHA, **FAST)
    assert files_in(dest.parent) == []

    lines: list[str] = []
    found = load_names(notice=lines.append, url=server.url, sha256=SMALL_SHA, **FAST)
    assert "sha256 mismatch" in found.source and "`names` package" in found.source
    assert found.path is None
    assert files_in(cache) == []


def test_dropped_connection_is_a_clear_error(
    tmp_path: Path, cache: Path, serve: Callable[..., Server]
) -> None:
    body = SMALL * 100
    server = serve(body, mode="drop")
    dest = tmp_path / "dl" / "names.txt"
    closed = rf"connection closed after {len(body) // 2:,} of {len(body):,} bytes"
    with pytest.raises(DownloadError, match=closed):
        download_names(dest, url=server.url, sha256=hashlib.sha256(body).hexdigest(), **FAST)
    assert files_in(dest.parent) == []
    found = load_names(url=server.url, sha256=hashlib.sha256(body).hexdigest(), **FAST)
    assert "connection closed" in found.source
    assert files_in(cache) == []


def test_http_error_status(serve: Callable[..., Server]) -> None:
    server = serve(mode="404")
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_names(server.url, SMALL_SHA, **FAST)


def test_oversized_download_is_refused(serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_module, "_MAX_DOWNLOAD_BYTES", len(SMALL) - 1)
    server = serve(SMALL)
    with pytest.raises(DownloadError, match="not a names file"):
        fetch_names(server.url, SMALL_SHA, **FAST)


def test_refused_connection_gives_up_at_once(refused_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(DownloadError, match="cannot connect"):
        fetch_names(refused_url, SMALL_SHA, **FAST)
    assert time.monotonic() - start < 3.0


def test_silent_server_times_out_quickly() -> None:
    # listening but never accepting: the kernel completes the handshake, then no byte ever comes back
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/names.txt"
        start = time.monotonic()
        with pytest.raises(DownloadError):
            fetch_names(url, SMALL_SHA, timeout=0.5, total_timeout=1.0)
        elapsed = time.monotonic() - start
    assert elapsed < 3.0, f"took {elapsed:.2f} s"


def test_slow_trickle_is_cut_by_the_total_timeout(serve: Callable[..., Server]) -> None:
    server = serve(SMALL * 10, mode="trickle")  # 35 s at one byte per 0.1 s, each read well within timeout
    start = time.monotonic()
    with pytest.raises(DownloadError, match="gave up"):
        fetch_names(server.url, SMALL_SHA, timeout=1.0, total_timeout=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 3.0, f"took {elapsed:.2f} s"


def test_hanging_name_lookup_is_cut_by_the_total_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # a resolver that never answers is not covered by socket timeouts; only the total timeout ends it
    release = threading.Event()

    def hang(url: str, timeout: float) -> None:
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    start = time.monotonic()
    try:
        with pytest.raises(DownloadError, match="within 0.5 s"):
            fetch_names("http://127.0.0.1:9/names.txt", SMALL_SHA, timeout=0.5, total_timeout=0.5)
        elapsed = time.monotonic() - start
    finally:
        release.set()
    assert elapsed < 2.0, f"took {elapsed:.2f} s"


def test_offline_falls_back_to_census_names(
    cache: Path, refused_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    start = time.monotonic()
    found = load_names(notice=lines.append, url=refused_url, **FAST)
    assert time.monotonic() - start < 3.0
    assert lines == [found.source]
    assert found.source.startswith("names: 5,163 words (US-Census first names from the `names` package")
    assert "download failed" in found.source and "\n" not in found.source
    assert found.path is None
    assert len(found.words) == 5_163 and len(set(found.words)) == 5_163
    assert found.words[:3] == ["james", "john", "robert"]
    assert Vocab.from_words(found.words).size == 27
    assert files_in(cache) == []
    assert capsys.readouterr() == ("", "")  # the library prints nothing


def test_census_names_are_the_deduplicated_package_lists() -> None:
    import names

    package_dir = Path(names.__file__).parent
    raw = [
        line.split()[0].lower()
        for filename in ("dist.male.first", "dist.female.first")
        for line in (package_dir / filename).read_text().splitlines()
    ]
    assert len(raw) == 5_494  # the count: lines, with 331 names on both lists
    assert census_names() == list(dict.fromkeys(raw))
    assert len(census_names()) == 5_163


# ---------------------------------------------------------------------------------------------------------
# Vocab


def test_vocab_from_words_literal() -> None:
    vocab = Vocab.from_words(["emma", "ava"])
    assert vocab.chars == (".", "a", "e", "m", "v")
    assert vocab.size == len(vocab) == 5
    assert vocab.stoi == {".": 0, "a": 1, "e": 2, "m": 3, "v": 4}
    assert vocab.itos == {0: ".", 1: "a", 2: "e", 3: "m", 4: "v"}
    assert vocab.encode("emma") == [2, 3, 3, 1]
    assert vocab.decode([2, 3, 3, 1, 0]) == "emma."
    assert vocab.decode(np.array([4, 1], dtype=np.int64)) == "va"


def test_vocab_roundtrips_as_plain_data() -> None:
    vocab = Vocab.from_words(["zoë", "li"])
    stored = json.loads(json.dumps(vocab.to_list()))
    assert Vocab.from_list(stored) == vocab
    assert Vocab.from_list("".join(vocab.to_list())) == vocab
    assert Vocab.from_list(np.array(vocab.to_list())) == vocab
    assert Vocab.from_list(stored).stoi == vocab.stoi


@pytest.mark.parametrize(
    ("chars", "reason"),
    [
        (["a", "."], "start with"),
        ([], "start with"),
        ([".", "a", "a"], "repeated"),
        ([".", "ab"], "one character"),
    ],
)
def test_vocab_rejects_bad_tables(chars: list[str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Vocab.from_list(chars)


def test_vocab_errors_name_the_culprit() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Vocab.from_words(["j.r"])
    vocab = Vocab.from_words(["ab"])
    with pytest.raises(ValueError, match=r"'z' in 'abz'"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match="index 9"):
        vocab.decode([1, 9])


# ---------------------------------------------------------------------------------------------------------
# splits and examples


def test_split_words_is_the_seed_shuffle_without_global_state() -> None:
    words = [f"w{i}" for i in range(100)]
    state = random.getstate()
    train, dev, test = split_words(words, seed=42)
    assert random.getstate() == state  # the global RNG was not used
    expected = list(words)
    try:
        random.seed(42)
        random.shuffle(expected)
    finally:
        random.setstate(state)
    assert train + dev + test == expected
    assert (len(train), len(dev), len(test)) == (80, 10, 10)
    assert words == [f"w{i}" for i in range(100)]  # input not shuffled in place


@pytest.mark.parametrize(("n", "sizes"), [(10, (8, 1, 1)), (7, (5, 1, 1)), (3, (2, 0, 1)), (0, (0, 0, 0))])
def test_split_sizes_use_int_truncation(n: int, sizes: tuple[int, int, int]) -> None:
    assert tuple(len(part) for part in split_words([f"w{i}" for i in range(n)])) == sizes


def test_build_dataset_literal() -> None:
    vocab = Vocab.from_list(".ab")
    X, Y = build_dataset(["ab"], vocab, block_size=3)
    np.testing.assert_array_equal(X, [[0, 0, 0], [0, 0, 1], [0, 1, 2]])
    np.testing.assert_array_equal(Y, [1, 2, 0])
    X, Y = build_dataset(["ab", "b"], vocab, block_size=1)
    np.testing.assert_array_equal(X, [[0], [1], [2], [0], [2]])
    np.testing.assert_array_equal(Y, [1, 2, 0, 2, 0])


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abzéö", min_size=1, max_size=8), max_size=12),
    block_size=st.integers(1, 5),
)
def test_build_dataset_matches_the_seed_loop(words: list[str], block_size: int) -> None:
    vocab = Vocab.from_list(".abzéö")
    X, Y = build_dataset(words, vocab, block_size)
    Xs, Ys = seed_build_dataset(words, vocab.stoi, block_size)
    assert X.dtype == Y.dtype == np.int64
    assert X.shape == (sum(len(w) + 1 for w in words), block_size)
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(Y, Ys)


def test_build_dataset_errors() -> None:
    vocab = Vocab.from_list(".ab")
    with pytest.raises(ValueError, match=r"'c' in 'abc'"):
        build_dataset(["ab", "abc"], vocab)
    with pytest.raises(ValueError, match="block_size"):
        build_dataset(["ab"], vocab, block_size=0)
    # a context longer than the longest word allowed only adds padding (and 10**20 overflowed deep in NumPy)
    for block_size in (MAX_BLOCK_SIZE + 1, 10**20):
        with pytest.raises(ValueError, match=rf"block_size must be from 1 to {MAX_BLOCK_SIZE} .*got {block_size}"):
            build_dataset(["ab"], vocab, block_size=block_size)
    assert build_dataset(["ab"], vocab, block_size=MAX_BLOCK_SIZE)[0].shape == (3, MAX_BLOCK_SIZE)


def test_build_splits_uses_a_given_vocab() -> None:
    vocab = Vocab.from_list(".abcdefghijklmnopqrstuvwxyz")
    splits = build_splits(["ab", "ba", "aa", "bb", "ab", "ab", "ba", "ba", "aa", "bb"], vocab=vocab)
    assert splits.vocab is vocab and splits.block_size == 3
    assert splits.Xtr.shape == (24, 3) and splits.Xdev.shape == (3, 3) and splits.Xte.shape == (3, 3)
    assert splits.Ytr.max() <= 2


@pytest.mark.parametrize("n", range(0, 13))
def test_split_sizes_are_what_split_words_makes(n: int) -> None:
    parts = split_words([f"w{i}" for i in range(n)])
    assert split_sizes(n) == {name: len(part) for name, part in zip(SPLIT_NAMES, parts)}


def test_min_words_is_the_first_count_that_fills_the_splits() -> None:
    # literal: 1 word all goes to test; 5 words split 4/0/1; 6 words 4/1/1
    assert split_sizes(1) == {"train": 0, "dev": 0, "test": 1}
    assert split_sizes(5) == {"train": 4, "dev": 0, "test": 1}
    assert split_sizes(6) == {"train": 4, "dev": 1, "test": 1}
    assert min_words(("train",)) == 2 and min_words() == min_words(SPLIT_NAMES) == 6
    require_words(2, ("train",), "check")
    require_words(6, SPLIT_NAMES, "train")


@pytest.mark.parametrize(
    "n, needed, message",
    [(1, ("train",), r"^1 word is too few: the 80/10/10 split leaves the train split empty, and `x` needs at "
                     r"least 2 words \(for the train split\)$"),
     (5, SPLIT_NAMES, r"^5 words are too few: .* leaves the dev split empty, and `x` needs at least 6 words "
                      r"\(for the train, dev and test splits\)$"),
     (1, SPLIT_NAMES, r"^1 word is too few: .* leaves the train and dev splits empty")],
)
def test_require_words_names_the_count_and_the_minimum(n: int, needed: tuple[str, ...], message: str) -> None:
    with pytest.raises(DataError, match=message):
        require_words(n, needed, "`x`")
