"""Tests for fa_lessons.datasets: IDX reader, MNIST subset/full/download, teacher tasks.

Tests that need the full MNIST set read it from ../shared/data/mnist and are
skipped (with a message) when it is absent. The download tests run a local
http.server on 127.0.0.1 and need no internet.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import importlib.util
import io
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

from fa_lessons import datasets
from fa_lessons.datasets import (
    DownloadError,
    TeacherTask,
    linear_teacher,
    load_mnist,
    mnist_data_dir,
    nonlinear_teacher,
    read_idx,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mnist"
NAMES = list(datasets.MNIST_FILES.values())
HAVE_SHARED = all((SHARED / (n + ".gz")).is_file() for n in NAMES)
needs_shared = pytest.mark.skipif(
    not HAVE_SHARED, reason=f"full MNIST not found at {SHARED} (development copy); skipping tests that need it"
)

# Label counts of the full set, from ../shared/data/mnist/README.md.
FULL_TRAIN_COUNTS = np.array([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
FULL_TEST_COUNTS = np.array([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
# Indices hash printed by scripts/make_subset.py and recorded in fa_lessons/data/README.md.
SUBSET_INDICES_SHA256 = "22a43b6ce5d27ed5afc3fbc637511b82e2286a706d824cef5e81107ea8825125"


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #

_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """An independent IDX writer (struct-based header, big-endian data)."""
    code = _CODES[arr.dtype.kind + str(arr.dtype.itemsize)]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.fixture(scope="module")
def full_raw():
    """The full set as uint8 arrays (images (n, 28, 28)), read once per module."""
    if not HAVE_SHARED:
        pytest.skip(f"full MNIST not found at {SHARED}")
    return datasets._load_full_raw(SHARED, download=False)


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No FA_LESSONS_DATA, a private XDG cache and no proxies (the download tests talk to 127.0.0.1)."""
    monkeypatch.delenv("FA_LESSONS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# --------------------------------------------------------------------------- #
# IDX reader
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5)])
def test_read_idx_round_trip_plain_and_gzip(tmp_path, dtype, shape):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 100).astype(np.dtype(dtype).newbyteorder("="))
    raw = idx_bytes(arr)
    plain, gz = tmp_path / "a.idx", tmp_path / "a.idx.gz"
    plain.write_bytes(raw)
    gz.write_bytes(gzip.compress(raw))
    for source in (plain, str(plain), gz, str(gz), io.BytesIO(raw), io.BytesIO(gzip.compress(raw))):
        out = read_idx(source)
        assert out.shape == shape
        assert out.dtype == arr.dtype and out.dtype.isnative
        np.testing.assert_array_equal(out, arr)
        assert out.flags.writeable


def test_read_idx_detects_gzip_by_magic_not_name(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(arr)
    (tmp_path / "plain.gz").write_bytes(raw)  # misleading names
    (tmp_path / "compressed.idx").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed.idx"), arr)


def test_read_idx_known_bytes():
    raw = bytes([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 1]) + bytes([0x01, 0x02, 0xFF, 0xFE])
    np.testing.assert_array_equal(read_idx(io.BytesIO(raw)), np.array([[0x0102], [-2]], dtype=np.int16))


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda b: b"\x00\x01" + b[2:], ["bad magic"]),  # first two bytes not zero
        (lambda b: b[:2] + b"\x07" + b[3:], ["bad magic"]),  # unknown type code
        (lambda b: b[:-1], ["truncated"]),
        (lambda b: b + b"\x00", ["trailing bytes"]),
        (lambda b: b[:6], ["dimensions"]),  # header cut inside the sizes
        (lambda b: b[:3], ["too short"]),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, mutate, words):
    raw = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(mutate(raw))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg and "corrupt or truncated" in msg and "Delete it" in msg
    for word in words:
        assert word in msg


def test_read_idx_rejects_truncated_gzip(tmp_path):
    raw = gzip.compress(idx_bytes(np.arange(5000, dtype=np.int32)))
    path = tmp_path / "cut.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated.*gzip"):
        read_idx(path)


def test_read_idx_bad_argument_type():
    with pytest.raises(TypeError, match="path_or_fileobj"):
        read_idx(123)
    with pytest.raises(TypeError, match="binary mode"):
        read_idx(io.StringIO("abc"))


@needs_shared
def test_read_idx_real_mnist_labels():
    labels = read_idx(SHARED / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), FULL_TEST_COUNTS)


# --------------------------------------------------------------------------- #
# Embedded subset
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subset_shapes_dtypes_range(dtype):
    X_train, y_train, X_test, y_test = load_mnist(dtype=dtype)
    assert X_train.shape == (10000, 784) and X_test.shape == (2000, 784)
    assert y_train.shape == (10000,) and y_test.shape == (2000,)
    for X in (X_train, X_test):
        assert X.dtype == dtype and X.flags.c_contiguous and X.flags.writeable
        assert X.min() == 0.0 and X.max() == 1.0
    for y in (y_train, y_test):
        assert y.dtype == np.int64 and y.min() == 0 and y.max() == 9


def test_subset_pixels_are_uint8_over_255():
    raw = datasets._load_subset_raw()
    X32, y32, _, _ = load_mnist(dtype=np.float32)
    X64, y64, _, _ = load_mnist(dtype=np.float64)
    np.testing.assert_array_equal(X64, raw["x_train"].reshape(10000, 784) / 255.0)
    np.testing.assert_allclose(X32, X64, rtol=1e-7, atol=0)
    np.testing.assert_array_equal(y32, raw["y_train"])
    np.testing.assert_array_equal(y32, y64)


@pytest.mark.parametrize("split, n, full_counts", [(0, 10000, FULL_TRAIN_COUNTS), (1, 2000, FULL_TEST_COUNTS)])
def test_subset_is_stratified_like_the_full_set(split, n, full_counts):
    y = load_mnist()[1 + 2 * split]
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == n
    expected = n * full_counts / full_counts.sum()
    assert np.all(np.abs(counts - expected) < 1.0), (counts, expected)


def test_subset_is_deterministic_and_not_shared_between_calls():
    a = load_mnist()
    a[0][0, 0] = 123.0  # modifying one result must not leak into the next call
    b = load_mnist()
    c = load_mnist()
    assert b[0][0, 0] != 123.0
    for u, v in zip(b, c):
        np.testing.assert_array_equal(u, v)
    raw = datasets._load_subset_raw()
    idx = np.concatenate([raw["train_indices"], raw["test_indices"]]).astype("<u4")
    assert hashlib.sha256(idx.tobytes()).hexdigest() == SUBSET_INDICES_SHA256


def test_subset_file_size_about_2mb():
    size = len(datasets._subset_resource().read_bytes())
    assert 1_000_000 < size < 3_000_000


@needs_shared
def test_subset_images_are_the_full_set_images(full_raw):
    train_images, train_labels, test_images, test_labels = full_raw
    raw = datasets._load_subset_raw()
    tr, te = raw["train_indices"], raw["test_indices"]
    assert len(np.unique(tr)) == 10000 and len(np.unique(te)) == 2000
    np.testing.assert_array_equal(raw["x_train"], train_images[tr])
    np.testing.assert_array_equal(raw["y_train"], train_labels[tr])
    np.testing.assert_array_equal(raw["x_test"], test_images[te])
    np.testing.assert_array_equal(raw["y_test"], test_labels[te])


@needs_shared
def test_subset_selection_is_reproduced_by_the_script(full_raw):
    spec = importlib.util.spec_from_file_location("make_subset", ROOT / "scripts" / "make_subset.py")
    make_subset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_subset)
    tr, te = make_subset.select(full_raw[1], full_raw[3])
    raw = datasets._load_subset_raw()
    np.testing.assert_array_equal(tr, raw["train_indices"])
    np.testing.assert_array_equal(te, raw["test_indices"])


def test_subset_corrupted_copy_is_rejected(tmp_path, monkeypatch):
    data = bytearray(datasets._subset_resource().read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "mnist_subset.npz"
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(datasets, "_subset_resource", lambda: bad)
    with pytest.raises(ValueError, match="embedded MNIST subset .* is corrupt.*SHA-256.*Reinstall"):
        load_mnist()


def test_subset_missing_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_subset_resource", lambda: tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="embedded MNIST subset .* missing.*Reinstall"):
        load_mnist()


def test_subset_rejects_data_dir(tmp_path):
    with pytest.raises(ValueError, match="data_dir is only used with which='full'"):
        load_mnist("subset", data_dir=tmp_path)


def test_subset_prints_nothing(capsys):
    load_mnist()
    out, err = capsys.readouterr()
    assert out == "" and err == ""


# --------------------------------------------------------------------------- #
# Full set from a folder
# --------------------------------------------------------------------------- #


@needs_shared
def test_full_from_data_dir(full_raw, no_env, capsys):
    X_train, y_train, X_test, y_test = load_mnist("full", data_dir=SHARED, download=False)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and X_train.flags.c_contiguous
    assert y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), FULL_TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), FULL_TEST_COUNTS)
    np.testing.assert_array_equal(X_test, full_raw[2].reshape(10000, 784).astype(np.float32) / np.float32(255))
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0
    out, err = capsys.readouterr()
    assert out == "" and err == ""


@needs_shared
def test_full_from_environment_variable(full_raw, no_env, monkeypatch):
    monkeypatch.setenv("FA_LESSONS_DATA", str(SHARED))
    assert mnist_data_dir() == SHARED
    X_train, y_train, X_test, y_test = load_mnist("full", download=False, dtype=np.float64)
    assert X_train.dtype == np.float64
    np.testing.assert_array_equal(y_train, full_raw[1])
    np.testing.assert_array_equal(X_train, full_raw[0].reshape(60000, 784) / 255.0)


@needs_shared
def test_full_from_uncompressed_and_mixed_files(full_raw, no_env, tmp_path):
    for i, name in enumerate(NAMES):
        src = (SHARED / (name + ".gz")).read_bytes()
        if i % 2 == 0:  # train-images and t10k-images uncompressed, labels left as .gz
            (tmp_path / name).write_bytes(gzip.decompress(src))
        else:
            (tmp_path / (name + ".gz")).write_bytes(src)
    X_train, y_train, X_test, y_test = load_mnist("full", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(y_test, full_raw[3])
    np.testing.assert_array_equal(X_test, full_raw[2].reshape(10000, 784).astype(np.float32) / np.float32(255))
    assert X_train.shape == (60000, 784)


def test_full_missing_files_without_download(no_env, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("full", data_dir=tmp_path, download=False)
    msg = str(info.value)
    assert str(tmp_path) in msg and "download=True" in msg and "FA_LESSONS_DATA" in msg
    for name in NAMES:
        assert name in msg
    assert list(tmp_path.iterdir()) == []


@needs_shared
@pytest.mark.parametrize("kind", ["truncated_gz", "truncated_plain", "one_byte_changed"])
def test_full_corrupt_local_file_is_rejected(no_env, tmp_path, kind):
    for name in NAMES:
        shutil.copy(SHARED / (name + ".gz"), tmp_path / (name + ".gz"))
    name = "t10k-labels-idx1-ubyte"
    gz = tmp_path / (name + ".gz")
    data = gz.read_bytes()
    if kind == "truncated_gz":
        gz.write_bytes(data[: len(data) // 2])
        bad = gz
    else:
        plain = gzip.decompress(data)
        gz.unlink()
        bad = tmp_path / name
        if kind == "truncated_plain":
            bad.write_bytes(plain[:-100])
        else:
            changed = bytearray(plain)
            changed[5000] = (changed[5000] + 1) % 10
            bad.write_bytes(bytes(changed))
    # mirrors=() so that an attempt to re-download would fail differently (DownloadError).
    with pytest.raises(ValueError) as info:
        load_mnist("full", data_dir=tmp_path, download=True, mirrors=())
    msg = str(info.value)
    assert str(bad) in msg and "corrupt or truncated" in msg and "Delete it" in msg
    assert bad.exists()  # a local file is never deleted behind the user's back


def test_mnist_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("FA_LESSONS_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert mnist_data_dir() == tmp_path / "home" / ".cache" / "fa_lessons" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert mnist_data_dir() == tmp_path / "home" / ".cache" / "fa_lessons" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_data_dir() == tmp_path / "xdg" / "fa_lessons" / "mnist"
    monkeypatch.setenv("FA_LESSONS_DATA", str(tmp_path / "env"))
    assert mnist_data_dir() == tmp_path / "env"
    assert mnist_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert mnist_data_dir(str(tmp_path)) == tmp_path
    assert not (tmp_path / "xdg").exists()  # resolving a folder creates nothing


# --------------------------------------------------------------------------- #
# Download path, against a local HTTP server (no internet)
# --------------------------------------------------------------------------- #


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep stderr clean
        pass


@pytest.fixture
def mirror_server(tmp_path_factory):
    """Serve three mirrors: /missing/ (404), /corrupt/ (bad files), /good/ (the real .gz files)."""
    if not HAVE_SHARED:
        pytest.skip(f"full MNIST not found at {SHARED}")
    root = tmp_path_factory.mktemp("www")
    (root / "missing").mkdir()
    (root / "corrupt").mkdir()
    (root / "good").mkdir()
    for name in NAMES:
        gz = (SHARED / (name + ".gz")).read_bytes()
        shutil.copy(SHARED / (name + ".gz"), root / "good" / (name + ".gz"))
        if "labels" in name:  # valid gzip, wrong content: caught by the hash
            content = bytearray(gzip.decompress(gz))
            content[100] = (content[100] + 1) % 10
            (root / "corrupt" / (name + ".gz")).write_bytes(gzip.compress(bytes(content), compresslevel=1))
        else:  # truncated gzip: caught by the decompressor
            (root / "corrupt" / (name + ".gz")).write_bytes(gz[: len(gz) // 3])
    handler = functools.partial(_RecordingHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server, base, root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@needs_shared
def test_download_tries_mirrors_verifies_and_caches(mirror_server, no_env, tmp_path, monkeypatch, full_raw, capsys):
    server, base, root = mirror_server
    # Default folder: $XDG_CACHE_HOME/fa_lessons/mnist; mirrors from the module-level MIRRORS.
    monkeypatch.setattr(datasets, "MIRRORS", (f"{base}/missing/", f"{base}/corrupt", f"{base}/good/"))
    cache = tmp_path / "xdg" / "fa_lessons" / "mnist"
    assert not cache.exists()

    X_train, y_train, X_test, y_test = load_mnist("full")
    out, err = capsys.readouterr()
    assert out == "" and err == ""

    expected_requests = [f"/{m}/{n}.gz" for n in NAMES for m in ("missing", "corrupt", "good")]
    assert server.requests == expected_requests
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in NAMES)  # no temp files left
    for name in NAMES:
        assert (cache / (name + ".gz")).read_bytes() == (root / "good" / (name + ".gz")).read_bytes()
    np.testing.assert_array_equal(y_train, full_raw[1])
    np.testing.assert_array_equal(y_test, full_raw[3])
    np.testing.assert_array_equal(X_test, full_raw[2].reshape(10000, 784).astype(np.float32) / np.float32(255))
    assert X_train.shape == (60000, 784)

    # Second call: served from the cache, the server is not contacted.
    n_before = len(server.requests)
    y_train2 = load_mnist("full")[1]
    assert len(server.requests) == n_before
    np.testing.assert_array_equal(y_train2, y_train)


@needs_shared
def test_download_only_missing_files_with_mirrors_keyword(mirror_server, no_env, tmp_path, capsys):
    server, base, root = mirror_server
    target = tmp_path / "data"
    target.mkdir()
    for name in NAMES[:3]:
        shutil.copy(SHARED / (name + ".gz"), target / (name + ".gz"))
    y_test = load_mnist("full", data_dir=target, mirrors=[f"{base}/good"], progress=True)[3]
    assert server.requests == ["/good/t10k-labels-idx1-ubyte.gz"]
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), FULL_TEST_COUNTS)
    out, err = capsys.readouterr()
    assert "t10k-labels-idx1-ubyte.gz" in out and "verified" in out and err == ""


@needs_shared
def test_download_all_mirrors_bad(mirror_server, no_env, tmp_path):
    server, base, root = mirror_server
    target = tmp_path / "new" / "folder"
    mirrors = (f"{base}/missing/", f"{base}/corrupt/", "http://127.0.0.1:1/")  # 404, corrupt, refused
    with pytest.raises(DownloadError) as info:
        load_mnist("full", data_dir=target, mirrors=mirrors)
    msg = str(info.value)
    assert str(target) in msg
    for m in mirrors:
        assert m in msg
    assert "HTTP Error 404" in msg and "cannot be decompressed" in msg  # each mirror's reason is listed
    assert "by hand" in msg and "data_dir" in msg and "FA_LESSONS_DATA" in msg
    assert list(target.iterdir()) == []  # nothing left behind, not even temporary files
    assert server.requests == [f"/{m}/train-images-idx3-ubyte.gz" for m in ("missing", "corrupt")]


@needs_shared
def test_download_hash_mismatch_is_reported(mirror_server, no_env, tmp_path):
    server, base, root = mirror_server
    target = tmp_path / "d"
    target.mkdir()
    for name in NAMES[:3]:
        shutil.copy(SHARED / (name + ".gz"), target / (name + ".gz"))
    with pytest.raises(DownloadError, match="(?s)corrupt/t10k-labels-idx1-ubyte.gz: SHA-256 of the decompressed"):
        load_mnist("full", data_dir=target, mirrors=[f"{base}/corrupt/"])
    assert sorted(p.name for p in target.iterdir()) == sorted(n + ".gz" for n in NAMES[:3])


# --------------------------------------------------------------------------- #
# Teacher tasks
# --------------------------------------------------------------------------- #


def test_linear_teacher_shapes_and_targets():
    task = linear_teacher(400, n_test=300, seed=5)
    assert isinstance(task, TeacherTask) and len(task) == 4
    X_train, Y_train, X_test, Y_test = task
    T = task.T
    assert T.shape == (10, 30) and task.sizes == (30, 10) and task.activation == "linear"
    assert X_train.shape == (400, 30) and Y_train.shape == (400, 10)
    assert X_test.shape == (300, 30) and Y_test.shape == (300, 10)
    for a in (X_train, Y_train, X_test, Y_test, T):
        assert a.dtype == np.float64
    assert np.all(T >= -1) and np.all(T <= 1)
    assert T.min() < -0.9 and T.max() > 0.9  # spans U[-1, 1]
    np.testing.assert_array_equal(Y_train, X_train @ T.T)  # y* = T x, rows are examples
    np.testing.assert_array_equal(Y_test, X_test @ T.T)
    # an independent per-example computation
    np.testing.assert_allclose(Y_train[17], np.einsum("ij,j->i", T, X_train[17]), rtol=1e-13, atol=1e-13)
    assert not T.flags.writeable


def test_linear_teacher_input_statistics():
    X = linear_teacher(20000, n_test=0, seed=1).X_train
    assert abs(X.mean()) < 0.01 and abs(X.std() - 1.0) < 0.01
    assert np.abs(np.corrcoef(X.T) - np.eye(30)).max() < 0.05


def test_teacher_tasks_are_deterministic():
    for make in (linear_teacher, nonlinear_teacher):
        a, b, c = make(100, seed=7), make(100, seed=7), make(100, seed=8)
        for u, v in zip(list(a) + list(a.weights), list(b) + list(b.weights)):
            assert u.tobytes() == v.tobytes()
        assert not np.array_equal(a.X_train, c.X_train)
        assert not np.array_equal(a.weights[0], c.weights[0])
        # the teacher and the test set do not depend on n_train
        d = make(5, seed=7)
        np.testing.assert_array_equal(d.X_test, a.X_test)
        np.testing.assert_array_equal(d.weights[0], a.weights[0])
        # a Generator is accepted as the seed
        e = make(100, seed=np.random.default_rng(7))
        np.testing.assert_array_equal(e.X_train, a.X_train)


def test_linear_teacher_float32_and_sizes():
    task = linear_teacher(50, n_test=20, sizes=(8, 3), dtype=np.float32, seed=2)
    for a in list(task) + [task.T]:
        assert a.dtype == np.float32
    assert task.T.shape == (3, 8)
    np.testing.assert_array_equal(task.Y_train, task.X_train @ task.T.T)


def _reference_teacher(weights, x):
    """Plain per-example forward pass: h = tanh(W h) for hidden layers, linear output."""
    h = np.array(x, dtype=np.float64)
    for i, W in enumerate(weights):
        a = np.array([sum(W[r, c] * h[c] for c in range(W.shape[1])) for r in range(W.shape[0])])
        h = np.tanh(a) if i < len(weights) - 1 else a
    return h


def test_nonlinear_teacher_shapes_and_targets():
    task = nonlinear_teacher(60, n_test=25, seed=3)
    X_train, Y_train, X_test, Y_test = task
    assert [W.shape for W in task.weights] == [(20, 30), (10, 20), (10, 10)]
    assert task.sizes == (30, 20, 10, 10) and task.activation == "tanh"
    assert X_train.shape == (60, 30) and Y_train.shape == (60, 10)
    assert X_test.shape == (25, 30) and Y_test.shape == (25, 10)
    for W in task.weights:
        assert np.all(np.abs(W) <= 1.0) and np.abs(W).max() > 0.8
    for i in (0, 31, 59):
        np.testing.assert_allclose(Y_train[i], _reference_teacher(task.weights, X_train[i]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Y_test[4], _reference_teacher(task.weights, X_test[4]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(task.predict(X_train), Y_train)
    # it is not linear: f(2x) != 2 f(x)
    assert np.abs(task.predict(2 * X_train) - 2 * Y_train).max() > 0.1
    with pytest.raises(AttributeError, match="weights"):
        task.T


def test_nonlinear_teacher_options():
    task = nonlinear_teacher(10, n_test=5, sizes=(4, 6, 2), weight_scale=0.25, dtype=np.float32, seed=0)
    assert [W.shape for W in task.weights] == [(6, 4), (2, 6)]
    assert all(np.abs(W).max() <= 0.25 for W in task.weights)
    assert all(a.dtype == np.float32 for a in list(task) + list(task.weights))


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #


def test_bad_which():
    with pytest.raises(ValueError, match="which must be one of 'subset', 'full'; got 'foo'"):
        load_mnist("foo")


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "uint8", "not a dtype"])
def test_bad_dtype(dtype):
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64"):
        load_mnist(dtype=dtype)
    with pytest.raises(TypeError, match="dtype"):
        linear_teacher(10, dtype=dtype)


def test_bad_teacher_arguments():
    with pytest.raises(ValueError, match="n_train must be >= 0, got -1"):
        linear_teacher(-1)
    with pytest.raises(ValueError, match="n_test must be >= 0"):
        nonlinear_teacher(10, n_test=-5)
    with pytest.raises(TypeError, match="n_train must be an integer"):
        linear_teacher(2.5)
    with pytest.raises(ValueError, match="sizes must have 2 entries"):
        linear_teacher(10, sizes=(30, 20, 10))
    with pytest.raises(ValueError, match="sizes"):
        nonlinear_teacher(10, sizes=(30,))
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        nonlinear_teacher(10, sizes=(30, 0, 10))
    with pytest.raises(ValueError, match="weight_scale must be a positive"):
        nonlinear_teacher(10, weight_scale=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 30\)"):
        linear_teacher(3).predict(np.zeros((2, 5)))


def test_bad_mirrors_and_data_dir(tmp_path):
    with pytest.raises(TypeError, match="mirrors must be a sequence"):
        load_mnist("full", data_dir=tmp_path, mirrors="http://example.org/")
    with pytest.raises(TypeError, match="data_dir must be a path"):
        load_mnist("full", data_dir=3)


# --------------------------------------------------------------------------- #
# Import does no work
# --------------------------------------------------------------------------- #


def test_import_reads_no_data_and_opens_no_connection():
    code = (
        "import sys\n"
        "events = []\n"
        "sys.addaudithook(lambda e, a: events.append((e, repr(a))) if e in "
        "('open', 'urllib.Request', 'socket.connect') else None)\n"
        "import fa_lessons.datasets\n"
        "bad = [ev for ev in events if ev[0] != 'open' or any(s in ev[1] for s in ('.npz', 'ubyte', 'mnist'))]\n"
        "print(bad)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]" and res.stderr == ""
