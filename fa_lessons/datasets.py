"""Data for the book: MNIST (an embedded subset or the full set) and teacher tasks.

Introduced in chapter 1 (Backpropagation from the chain rule) for MNIST and in
chapter 3 (Random feedback: feedback alignment) for the teacher tasks.

MNIST
    :func:`load_mnist` returns either a 10,000/2,000 image subset that ships
    inside the package (no network needed) or the full 60,000/10,000 set, read
    from a folder, the user cache or downloaded from public mirrors. Every file
    is checked against a known SHA-256 before any array is returned.
    :func:`read_idx` reads one IDX file (the format MNIST is distributed in).

Teacher tasks (Lillicrap et al. 2016)
    :func:`linear_teacher` (``y* = T x``) and :func:`nonlinear_teacher`
    (a fixed 30-20-10-10 tanh network) return a :class:`TeacherTask`.

This module imports only NumPy and the standard library and does no work at
import time: files are read and downloads happen only when a function is called.

The MNIST database is by Yann LeCun, Corinna Cortes and Christopher J. C.
Burges, under the Creative Commons Attribution-Share Alike 3.0 licence (see
``DATA_LICENSE.md``).
"""

from __future__ import annotations

import gzip
import http.client
import hashlib
import io
import os
import pathlib
import sys
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = [
    "MIRRORS",
    "MNIST_FILES",
    "MNIST_SHA256",
    "DownloadError",
    "TeacherTask",
    "linear_teacher",
    "load_mnist",
    "mnist_data_dir",
    "nonlinear_teacher",
    "read_idx",
]

# --------------------------------------------------------------------------- #
# Constants
# --------------------------------------------------------------------------- #

#: Mirrors of the canonical gzip-compressed MNIST files, tried in order.
#: Each entry is a base URL; the file URL is ``base + name + ".gz"``.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: The four standard MNIST file names (without ``.gz``), keyed by role.
MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: SHA-256 of the *uncompressed* IDX files (the .gz bytes vary between
#: compressors, the decompressed content does not).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Environment variable naming the folder that holds the full MNIST files.
ENV_VAR = "FA_LESSONS_DATA"

# The embedded subset, written by scripts/make_subset.py; its SHA-256 is
# printed by that script (and checked by ``make_subset.py --check``).
_SUBSET_FILE = "mnist_subset.npz"
_SUBSET_SHA256 = "215293e691958e82ae88210ca6f731e45914005e0cd5bc700c0e87d2e3d4296e"

_GZIP_MAGIC = b"\x1f\x8b"
_DOWNLOAD_TIMEOUT = 60.0  # seconds per connection attempt / read

# IDX type codes -> big-endian NumPy dtypes.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_CH1 = "Introduced in chapter 1 (Backpropagation from the chain rule)."
_CH3 = "Introduced in chapter 3 (Random feedback: feedback alignment)."


class DownloadError(RuntimeError):
    """Every mirror failed to deliver a verified MNIST file.

    Introduced in chapter 1 (Backpropagation from the chain rule).

    The message lists the folder that was searched, each mirror tried with the
    reason it failed, and how to place the files there by hand.
    """


# --------------------------------------------------------------------------- #
# IDX reader
# --------------------------------------------------------------------------- #


def _corrupt_message(name: str, detail: str) -> str:
    return (
        f"IDX file {name!r} is corrupt or truncated: {detail}. "
        "Delete it so that it is downloaded again (load_mnist(which='full') fetches "
        "missing files), or replace it with a fresh copy of the original file."
    )


def _maybe_gunzip(raw: bytes, name: str) -> bytes:
    """Decompress ``raw`` if it starts with the gzip magic bytes."""
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ValueError(_corrupt_message(name, f"gzip data cannot be decompressed ({exc})")) from None


def _parse_idx(data: bytes, name: str) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file into a native-endian array."""
    if len(data) < 4:
        raise ValueError(_corrupt_message(name, f"only {len(data)} bytes, too short for an IDX header"))
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            _corrupt_message(
                name,
                f"bad magic number 0x{data[:4].hex()} (expected 0x0000TTNN with type code TT in "
                f"{sorted(hex(k) for k in _IDX_DTYPES)} and NN dimensions)",
            )
        )
    dtype = _IDX_DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(_corrupt_message(name, f"header announces {ndim} dimensions but the file has only {len(data)} bytes"))
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            _corrupt_message(name, f"{kind}: shape {shape} of {dtype.name} needs {expected} bytes, the file has {len(data)}")
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # A writable array in native byte order (a copy; frombuffer views are read-only).
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path_or_fileobj) -> np.ndarray:
    """Read an IDX file (the format of the MNIST distribution).

    Introduced in chapter 1 (Backpropagation from the chain rule).

    The IDX format is a 4-byte magic number ``0x0000TTNN`` (``TT`` the type
    code, ``NN`` the number of dimensions), then ``NN`` big-endian 32-bit
    sizes, then the data in C order, big-endian. Gzip-compressed files are
    recognised by their first two bytes (``1f 8b``), not by their name.

    Parameters
    ----------
    path_or_fileobj : str, os.PathLike or binary file object
        The file to read. A file object is read from its current position
        to the end.

    Returns
    -------
    numpy.ndarray
        The data with the shape from the header, in native byte order.
        Type codes: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
        ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64.

    Raises
    ------
    ValueError
        If the magic number is wrong, the gzip stream is damaged, or the
        file is shorter or longer than its header announces. The message
        names the file and says to delete it so that it is downloaded again.
    TypeError
        If ``path_or_fileobj`` is neither a path nor a binary file object.

    Examples
    --------
    >>> import io, numpy as np
    >>> raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    >>> read_idx(io.BytesIO(raw))
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        name = os.fspath(path_or_fileobj)
        with open(path_or_fileobj, "rb") as fh:
            raw = fh.read()
    elif hasattr(path_or_fileobj, "read"):
        name = str(getattr(path_or_fileobj, "name", "<file object>"))
        raw = path_or_fileobj.read()
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"path_or_fileobj: the file object returned {type(raw).__name__}, not bytes; "
                "open the file in binary mode ('rb')."
            )
        raw = bytes(raw)
    else:
        raise TypeError(
            f"path_or_fileobj must be a path (str or os.PathLike) or a binary file object, "
            f"got {type(path_or_fileobj).__name__}."
        )
    return _parse_idx(_maybe_gunzip(raw, name), name)


# --------------------------------------------------------------------------- #
# MNIST: helpers
# --------------------------------------------------------------------------- #


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}.") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dt.name}; pass dtype=np.float32 or dtype=np.float64.")
    return dt


def _to_float(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 images (n, 28, 28) or (n, 784) -> C-contiguous (n, 784) floats in [0, 1]."""
    n = images.shape[0]
    X = np.ascontiguousarray(images.reshape(n, -1), dtype=dtype)  # fresh array
    X /= dtype.type(255)
    return X


def mnist_data_dir(data_dir=None) -> pathlib.Path:
    """The folder where :func:`load_mnist` looks for the full MNIST files.

    Introduced in chapter 1 (Backpropagation from the chain rule).

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        An explicit folder; returned as given (with ``~`` expanded).

    Returns
    -------
    pathlib.Path
        In order of precedence: ``data_dir``; the folder in the environment
        variable ``FA_LESSONS_DATA``; ``$XDG_CACHE_HOME/fa_lessons/mnist``
        if ``XDG_CACHE_HOME`` is set to an absolute path; otherwise
        ``~/.cache/fa_lessons/mnist``. The folder is not created here.

    Raises
    ------
    TypeError
        If ``data_dir`` is neither None nor a path.
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(f"data_dir must be a path (str or os.PathLike) or None, got {type(data_dir).__name__}.")
        return pathlib.Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return pathlib.Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = pathlib.Path(xdg) if xdg and os.path.isabs(xdg) else pathlib.Path.home() / ".cache"
    return base / "fa_lessons" / "mnist"


def _find_file(directory: pathlib.Path, name: str) -> pathlib.Path | None:
    """The uncompressed file if present, else the .gz file, else None."""
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_verified(path: pathlib.Path, name: str) -> bytes:
    """Read a local MNIST file, decompress it if needed and check its SHA-256."""
    with open(path, "rb") as fh:
        raw = fh.read()
    data = _maybe_gunzip(raw, str(path))
    digest = _sha256(data)
    if digest != MNIST_SHA256[name]:
        raise ValueError(
            f"MNIST file {str(path)!r} is corrupt or truncated: the SHA-256 of its "
            f"{'decompressed ' if raw[:2] == _GZIP_MAGIC else ''}content is {digest}, expected "
            f"{MNIST_SHA256[name]}. Delete it so that it is downloaded again "
            f"(load_mnist(which='full') fetches missing files), or replace it with a fresh copy."
        )
    return data


def _download(name: str, directory: pathlib.Path, mirrors, progress: bool) -> bytes:
    """Fetch ``name + '.gz'`` from the first mirror that gives verified content.

    The file is streamed into a temporary file in ``directory``, decompressed
    and hashed, and only then renamed (atomically) to its final name. A bad
    download is deleted before the next mirror is tried.

    Returns the decompressed content. Raises DownloadError, listing each
    mirror's failure, when every mirror fails.
    """
    filename = name + ".gz"
    final = directory / filename
    failures: list[str] = []
    for base in mirrors:
        url = base + filename if base.endswith("/") else base + "/" + filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
        tmp = pathlib.Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                if progress:
                    print(f"Downloading {url} ...", end="", flush=True, file=sys.stdout)
                with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
                    while True:
                        chunk = response.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
            raw = tmp.read_bytes()
            data = _maybe_gunzip(raw, url)
            digest = _sha256(data)
            if digest != MNIST_SHA256[name]:
                raise ValueError(f"SHA-256 of the decompressed content is {digest}, expected {MNIST_SHA256[name]}")
            os.replace(tmp, final)
            if progress:
                print(f" {len(raw) / 1e6:.1f} MB, verified.", file=sys.stdout, flush=True)
            return data
        except (OSError, ValueError, http.client.HTTPException) as exc:  # HTTP errors, timeouts, bad data
            if progress:
                print(" failed.", file=sys.stdout, flush=True)
            failures.append(f"{url}: {exc}")
        finally:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
    tried = "\n".join(f"  - {f}" for f in failures) if failures else "  (no mirrors were given)"
    names = ", ".join(v + ".gz" for v in MNIST_FILES.values())
    raise DownloadError(
        f"Could not download {filename} into {str(directory)!r}; every mirror failed:\n{tried}\n"
        f"To get the data by hand, download {names} from one of these mirrors (or any copy of "
        f"the original MNIST files, compressed or not) into {str(directory)!r}, or point "
        f"load_mnist(data_dir=...) or the {ENV_VAR} environment variable at a folder that has them. "
        f"Each file's decompressed SHA-256 must match fa_lessons.datasets.MNIST_SHA256."
    )


def _load_full_raw(data_dir=None, download=True, mirrors=None, progress=False):
    """The full MNIST set as uint8 arrays: (train_images, train_labels, test_images, test_labels).

    Images have shape (n, 28, 28). Every file is verified by SHA-256.
    """
    directory = mnist_data_dir(data_dir)
    if mirrors is None:
        mirrors = MIRRORS
    if isinstance(mirrors, str) or not all(isinstance(m, str) for m in mirrors):
        raise TypeError("mirrors must be a sequence of base URL strings, e.g. ('https://example.org/mnist/',).")
    mirrors = tuple(mirrors)

    names = list(MNIST_FILES.values())
    found = {name: _find_file(directory, name) for name in names}
    missing = [name for name in names if found[name] is None]
    if missing and not download:
        raise FileNotFoundError(
            f"MNIST files missing in {str(directory)!r}: "
            f"{', '.join(missing)} (each may be uncompressed or end in .gz). Expected the four files "
            f"{', '.join(names)}. To fix: call load_mnist(which='full', download=True) to fetch them, "
            f"or put the files there, or pass data_dir=... / set {ENV_VAR} to a folder that has them."
        )
    if missing:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DownloadError(
                f"Cannot create the MNIST folder {str(directory)!r} ({exc}). Pass data_dir=... or set "
                f"{ENV_VAR} to a writable folder."
            ) from None

    # Verify what is already there first, so a corrupt local file fails before any download.
    contents: dict[str, bytes] = {}
    for name in names:
        if found[name] is not None:
            contents[name] = _read_verified(found[name], name)
    for name in missing:
        contents[name] = _download(name, directory, mirrors, progress)

    arrays = [_parse_idx(contents[name], name) for name in names]
    return tuple(arrays)


def _subset_resource():
    """The embedded subset as an importlib.resources Traversable (tests patch this)."""
    return resources.files("fa_lessons").joinpath("data").joinpath(_SUBSET_FILE)


def _load_subset_raw():
    """The embedded subset as a dict of arrays, after checking its SHA-256."""
    resource = _subset_resource()
    try:
        raw = resource.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"The embedded MNIST subset {str(resource)!r} is missing from the installed package. "
            "Reinstall fa_lessons (pip install --force-reinstall fa_lessons), or use "
            "load_mnist(which='full')."
        ) from None
    digest = _sha256(raw)
    if digest != _SUBSET_SHA256:
        raise ValueError(
            f"The embedded MNIST subset {str(resource)!r} is corrupt: its SHA-256 is {digest}, "
            f"expected {_SUBSET_SHA256}. Reinstall fa_lessons (pip install --force-reinstall "
            "fa_lessons) or, in a source checkout, restore the file with git or regenerate it with "
            "scripts/make_subset.py."
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


# --------------------------------------------------------------------------- #
# MNIST: public loader
# --------------------------------------------------------------------------- #

_WHICH = ("subset", "full")


def load_mnist(which="subset", data_dir=None, download=True, dtype=np.float32, *, mirrors=None, progress=False):
    """Load MNIST as flat float images in [0, 1] and integer labels.

    Introduced in chapter 1 (Backpropagation from the chain rule).

    Parameters
    ----------
    which : {"subset", "full"}, default "subset"
        ``"subset"``: 10,000 training and 2,000 test images embedded in the
        package (``fa_lessons/data/mnist_subset.npz``), drawn without
        replacement from the full training and test sets, stratified by class
        in proportion to the full sets' class frequencies, with a fixed seed
        (``scripts/make_subset.py`` documents the selection). Needs no
        network and no files outside the package.
        ``"full"``: the 60,000 training and 10,000 test images.
    data_dir : str or os.PathLike, optional
        Only for ``which="full"``: the folder holding the four MNIST files
        ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each either
        uncompressed or with ``.gz``. Default: the environment variable
        ``FA_LESSONS_DATA``, else ``$XDG_CACHE_HOME/fa_lessons/mnist``, else
        ``~/.cache/fa_lessons/mnist`` (see :func:`mnist_data_dir`).
    download : bool, default True
        Only for ``which="full"``: download missing files from
        :data:`MIRRORS` (tried in order) into the folder. Existing files are
        never re-downloaded.
    dtype : numpy.float32 or numpy.float64, default numpy.float32
        Floating type of the images.
    mirrors : sequence of str, optional
        Base URLs to try instead of :data:`MIRRORS` (read at call time).
    progress : bool, default False
        Print one line per downloaded file to standard output.

    Returns
    -------
    X_train : numpy.ndarray, shape (n_train, 784), dtype ``dtype``
        Training images, one per row, pixel values ``uint8 / 255``,
        C-contiguous.
    y_train : numpy.ndarray, shape (n_train,), int64
        Labels 0..9.
    X_test : numpy.ndarray, shape (n_test, 784), dtype ``dtype``
    y_test : numpy.ndarray, shape (n_test,), int64

    Raises
    ------
    ValueError
        ``which`` is not ``"subset"`` or ``"full"``; ``data_dir`` given with
        ``which="subset"``; or a file is corrupt (wrong SHA-256 or damaged):
        the message names the file and says to delete it so that it is
        downloaded again.
    TypeError
        ``dtype`` is not float32 or float64.
    FileNotFoundError
        ``download=False`` and files are missing; the message names the
        folder and the expected file names.
    DownloadError
        Every mirror failed; the message lists the folder, the mirrors tried
        and how to get the files by hand.

    Notes
    -----
    Every file is verified against the SHA-256 of its uncompressed content
    (:data:`MNIST_SHA256`; the embedded subset against its own hash) before
    any array is returned. A download goes to a temporary file in the target
    folder and is renamed into place only after it is verified. Nothing is
    cached in memory: each call decodes the files again (about a second for
    the full set).

    The MNIST database is by Yann LeCun, Corinna Cortes and Christopher J. C.
    Burges, licensed CC BY-SA 3.0.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_mnist()
    >>> X_train.shape, X_test.shape
    ((10000, 784), (2000, 784))
    """
    if not isinstance(which, str) or which not in _WHICH:
        raise ValueError(f"which must be one of {', '.join(repr(w) for w in _WHICH)}; got {which!r}.")
    dt = _check_dtype(dtype)
    if which == "subset":
        if data_dir is not None:
            raise ValueError(
                "data_dir is only used with which='full' (the subset is embedded in the package); "
                "drop data_dir or pass which='full'."
            )
        arrays = _load_subset_raw()
        train_images, train_labels = arrays["x_train"], arrays["y_train"]
        test_images, test_labels = arrays["x_test"], arrays["y_test"]
    else:
        train_images, train_labels, test_images, test_labels = _load_full_raw(
            data_dir, download=bool(download), mirrors=mirrors, progress=bool(progress)
        )
    return (
        _to_float(train_images, dt),
        train_labels.astype(np.int64),
        _to_float(test_images, dt),
        test_labels.astype(np.int64),
    )


# --------------------------------------------------------------------------- #
# Teacher tasks (Lillicrap et al. 2016)
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class TeacherTask:
    """A regression task generated by a fixed teacher network.

    Introduced in chapter 3 (Random feedback: feedback alignment).

    Unpacks like a 4-tuple, so ``X_train, Y_train, X_test, Y_test = task``
    works; the teacher itself is kept in :attr:`weights`.

    Attributes
    ----------
    X_train : numpy.ndarray, shape (n_train, n_0)
        Inputs, one example per row, drawn from N(0, I).
    Y_train : numpy.ndarray, shape (n_train, n_L)
        Targets y* = teacher(x), one per row.
    X_test : numpy.ndarray, shape (n_test, n_0)
    Y_test : numpy.ndarray, shape (n_test, n_L)
    weights : tuple of numpy.ndarray
        The teacher's weight matrices ``W_1, ..., W_L``; ``W_l`` has shape
        ``(n_l, n_{l-1})`` (rows = outputs, as everywhere in the package).
        The teacher has no biases.
    activation : str
        ``"linear"`` or ``"tanh"``: the hidden units' activation. The output
        layer is always linear.
    """

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    weights: tuple
    activation: str

    def __iter__(self):
        return iter((self.X_train, self.Y_train, self.X_test, self.Y_test))

    def __len__(self):
        return 4

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(n_0, n_1, ..., n_L)`` of the teacher."""
        return (self.weights[0].shape[1],) + tuple(W.shape[0] for W in self.weights)

    @property
    def T(self) -> np.ndarray:
        """The target matrix of a linear teacher, shape ``(n_out, n_in)``: ``y* = T x``."""
        if len(self.weights) != 1:
            raise AttributeError(
                f"T is defined only for a one-layer linear teacher; this teacher has "
                f"{len(self.weights)} layers: use .weights."
            )
        return self.weights[0]

    def predict(self, X) -> np.ndarray:
        """The teacher's output for inputs ``X`` of shape (n, n_0), one example per row."""
        X = np.asarray(X, dtype=self.weights[0].dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (n, {self.sizes[0]}), got {X.shape}.")
        return _teacher_forward(self.weights, self.activation, X)


def _teacher_forward(weights, activation: str, X: np.ndarray) -> np.ndarray:
    """h_0 = x; h_l = f(W_l h_{l-1}) for hidden layers, linear output; rows are examples."""
    H = X
    for i, W in enumerate(weights):
        H = H @ W.T
        if activation == "tanh" and i < len(weights) - 1:
            H = np.tanh(H)
    return np.ascontiguousarray(H)


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_sizes(sizes, n_layers: int | None) -> tuple[int, ...]:
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of positive integers, got {sizes!r}.") from None
    if n_layers is not None and len(sizes) != n_layers + 1:
        raise ValueError(f"sizes must have {n_layers + 1} entries (n_in, n_out), got {sizes!r}.")
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least 2 entries (n_in, ..., n_out), got {sizes!r}.")
    return tuple(_check_count(s, "each entry of sizes", 1) for s in sizes)


def _make_teacher_task(sizes, weight_scale, activation, n_train, n_test, seed, dtype) -> TeacherTask:
    """Shared generator: weights, then test inputs, then training inputs, all from one Generator."""
    n_train = _check_count(n_train, "n_train", 0)
    n_test = _check_count(n_test, "n_test", 0)
    dt = _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    weights = tuple(
        rng.uniform(-weight_scale, weight_scale, size=(sizes[i + 1], sizes[i])).astype(dt)
        for i in range(len(sizes) - 1)
    )
    for W in weights:
        W.flags.writeable = False
    X_test = rng.standard_normal((n_test, sizes[0])).astype(dt)
    X_train = rng.standard_normal((n_train, sizes[0])).astype(dt)
    Y_train = _teacher_forward(weights, activation, X_train)
    Y_test = _teacher_forward(weights, activation, X_test)
    return TeacherTask(X_train, Y_train, X_test, Y_test, weights, activation)


def linear_teacher(n_train, n_test=1000, *, sizes=(30, 10), seed=0, dtype=np.float64) -> TeacherTask:
    """The linear task of Lillicrap et al. (2016): targets ``y* = T x``.

    Introduced in chapter 3 (Random feedback: feedback alignment).

    ``T`` has shape ``(n_out, n_in)`` with entries drawn from U[-1, 1];
    inputs are drawn from N(0, I); with one example per row the targets are
    ``Y = X @ T.T``. The paper's student is a 30-20-10 linear network.

    Parameters
    ----------
    n_train : int
        Number of training examples (>= 0).
    n_test : int, default 1000
        Number of test examples (>= 0).
    sizes : tuple of 2 ints, default (30, 10)
        ``(n_in, n_out)``.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, default 0
        Passed to :func:`numpy.random.default_rng`. The draws are, in this
        order: ``T``, the test inputs, the training inputs, so ``T`` and the
        test set do not depend on ``n_train``.
    dtype : numpy.float32 or numpy.float64, default numpy.float64
        Type of every returned array (``T`` is cast too, so ``Y == X @ T.T``
        holds exactly in that type).

    Returns
    -------
    TeacherTask
        Unpacks as ``X_train, Y_train, X_test, Y_test`` with shapes
        ``(n_train, n_in)``, ``(n_train, n_out)``, ``(n_test, n_in)``,
        ``(n_test, n_out)``; ``task.T`` is the target matrix (read-only).

    Raises
    ------
    ValueError
        Negative ``n_train``/``n_test``, or ``sizes`` not two positive integers.
    TypeError
        Non-integer counts or a ``dtype`` other than float32/float64.

    Examples
    --------
    >>> task = linear_teacher(500, seed=1)
    >>> X_train, Y_train, X_test, Y_test = task
    >>> task.T.shape, X_train.shape, Y_train.shape
    ((10, 30), (500, 30), (500, 10))
    """
    sizes = _check_sizes(sizes, 1)
    return _make_teacher_task(sizes, 1.0, "linear", n_train, n_test, seed, dtype)


def nonlinear_teacher(
    n_train, n_test=1000, *, sizes=(30, 20, 10, 10), weight_scale=1.0, seed=0, dtype=np.float64
) -> TeacherTask:
    """The nonlinear task of Lillicrap et al. (2016): a fixed tanh teacher network.

    Introduced in chapter 3 (Random feedback: feedback alignment).

    The teacher is a 30-20-10-10 network with tanh hidden units, a linear
    output layer and no biases; its weights ``W_l`` (shape ``(n_l, n_{l-1})``)
    are drawn from U[-weight_scale, weight_scale]. Inputs are drawn from
    N(0, I). With one example per row,
    ``Y = tanh(tanh(X @ W_1.T) @ W_2.T) @ W_3.T``.

    The paper picks the teacher's weight scale by hand and we could not
    confirm its value; U[-1, 1], the same range as the linear task's ``T``,
    is our documented default (it is also the default of a public NumPy
    reproduction). With it the first hidden layer is strongly nonlinear
    (pre-activations have variance ``n_0 / 3 = 10``).

    Parameters
    ----------
    n_train : int
        Number of training examples (>= 0).
    n_test : int, default 1000
        Number of test examples (>= 0).
    sizes : sequence of int, default (30, 20, 10, 10)
        Layer widths of the teacher, at least 2 entries.
    weight_scale : float, default 1.0
        Half-width of the uniform distribution of the teacher's weights (> 0).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, default 0
        Passed to :func:`numpy.random.default_rng`. Draw order: ``W_1``, ...,
        ``W_L``, the test inputs, the training inputs.
    dtype : numpy.float32 or numpy.float64, default numpy.float64
        Type of every returned array, including the weights.

    Returns
    -------
    TeacherTask
        Unpacks as ``X_train, Y_train, X_test, Y_test``; ``task.weights``
        holds ``(W_1, ..., W_L)`` (read-only) and ``task.predict(X)``
        evaluates the teacher.

    Raises
    ------
    ValueError
        Negative counts, bad ``sizes`` or a non-positive ``weight_scale``.
    TypeError
        Non-integer counts or a ``dtype`` other than float32/float64.

    Examples
    --------
    >>> task = nonlinear_teacher(200, n_test=50, seed=3)
    >>> [W.shape for W in task.weights]
    [(20, 30), (10, 20), (10, 10)]
    """
    sizes = _check_sizes(sizes, None)
    try:
        scale = float(weight_scale)
    except (TypeError, ValueError):
        raise TypeError(f"weight_scale must be a positive number, got {weight_scale!r}.") from None
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"weight_scale must be a positive finite number, got {weight_scale!r}.")
    return _make_teacher_task(sizes, scale, "tanh", n_train, n_test, seed, dtype)
