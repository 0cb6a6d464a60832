"""Build the MNIST subset embedded in the package: ``fa_lessons/data/mnist_subset.npz``.

Selection
---------
* Source: the full MNIST set (60,000 training and 10,000 test images), read
  with ``fa_lessons.datasets`` and verified against the SHA-256 sums of the
  uncompressed IDX files. Training images come only from the training set,
  test images only from the test set.
* Sizes: 10,000 training and 2,000 test images.
* Stratified by class: class ``k`` gets ``n * c_k / N`` images (``c_k`` its
  count in the full set, ``N`` the full set's size), rounded by the largest
  remainder method (integer arithmetic; ties go to the lower class), so every
  class is within one image of exact proportionality and the quotas sum to ``n``.
* Within a class the images are ``rng.permutation(indices_of_class_k)[:quota_k]``,
  classes taken in order 0..9, with ``rng = numpy.random.default_rng(SEED)`` for
  the training set and ``default_rng(SEED + 1)`` for the test set (SEED = 20161108).
  The chosen indices are then sorted, so the subset keeps MNIST's original order.

Contents of the npz (uint8 unless stated): ``x_train`` (10000, 28, 28),
``y_train`` (10000,), ``x_test`` (2000, 28, 28), ``y_test`` (2000,),
``train_indices`` and ``test_indices`` (int32: the rows of the full training /
test set that were taken). ``x_train[i]`` equals image ``train_indices[i]`` of
the full training set.

Verification
------------
The zip is written deterministically (fixed member order and timestamps,
deflate level 9), so the same inputs give the same bytes with the same zlib.
The script prints two SHA-256 sums:

* of the npz file: this is ``_SUBSET_SHA256`` in ``fa_lessons/datasets.py``,
  which the package checks on every load;
* of the indices, ``sha256(concat(train_indices, test_indices) as little-endian
  uint32)``: independent of zlib, it identifies the selection itself.

Usage (from the project root)::

    python scripts/make_subset.py --source ../shared/data/mnist            # write the npz
    python scripts/make_subset.py --source ../shared/data/mnist --check    # rebuild in memory and compare

``--check`` exits with status 1 if the rebuilt file differs from the one on
disk or from the hash in ``fa_lessons/datasets.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pathlib
import sys
import zipfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fa_lessons import datasets  # noqa: E402

SEED = 20161108
N_TRAIN = 10_000
N_TEST = 2_000
OUT = ROOT / "fa_lessons" / "data" / "mnist_subset.npz"
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "mnist"


def class_quotas(labels: np.ndarray, n: int, n_classes: int = 10) -> np.ndarray:
    """Per-class sample sizes proportional to the class counts (largest remainder)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.int64)
    total = int(counts.sum())
    if not 0 <= n <= total:
        raise ValueError(f"n must be in [0, {total}], got {n}")
    quota = n * counts // total
    remainder = n * counts % total
    short = n - int(quota.sum())
    order = np.argsort(-remainder, kind="stable")  # largest remainder first, ties -> lower class
    quota[order[:short]] += 1
    return quota


def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a class-stratified sample of size ``n`` (see the module docstring)."""
    labels = np.asarray(labels)
    quota = class_quotas(labels, n)
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == k))[: quota[k]] for k in range(len(quota))]
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def select(train_labels: np.ndarray, test_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (train_indices, test_indices) of the embedded subset."""
    return (
        stratified_indices(train_labels, N_TRAIN, SEED),
        stratified_indices(test_labels, N_TEST, SEED + 1),
    )


def indices_sha256(train_idx: np.ndarray, test_idx: np.ndarray) -> str:
    joined = np.concatenate([train_idx, test_idx]).astype("<u4")
    return hashlib.sha256(joined.tobytes()).hexdigest()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic .npz (what numpy.savez_compressed writes, minus the timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def build(source: pathlib.Path) -> tuple[bytes, str]:
    """Return the npz bytes and the indices' SHA-256."""
    train_images, train_labels, test_images, test_labels = datasets._load_full_raw(source, download=False)
    train_idx, test_idx = select(train_labels, test_labels)
    arrays = {
        "x_train": train_images[train_idx],
        "y_train": train_labels[train_idx],
        "x_test": test_images[test_idx],
        "y_test": test_labels[test_idx],
        "train_indices": train_idx,
        "test_indices": test_idx,
    }
    for k in ("x_train", "y_train", "x_test", "y_test"):
        assert arrays[k].dtype == np.uint8, k
    print(f"train class counts: {np.bincount(arrays['y_train'], minlength=10).tolist()}")
    print(f"test class counts:  {np.bincount(arrays['y_test'], minlength=10).tolist()}")
    return npz_bytes(arrays), indices_sha256(train_idx, test_idx)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, default=DEFAULT_SOURCE,
                        help=f"folder with the four full MNIST files (default {DEFAULT_SOURCE})")
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help=f"output file (default {OUT})")
    parser.add_argument("--check", action="store_true",
                        help="rebuild in memory and compare with --out and with fa_lessons.datasets._SUBSET_SHA256")
    args = parser.parse_args(argv)

    data, idx_hash = build(args.source)
    npz_hash = hashlib.sha256(data).hexdigest()
    print(f"npz size:       {len(data)} bytes")
    print(f"npz SHA-256:    {npz_hash}")
    print(f"indices SHA-256: {idx_hash}")
    if args.check:
        ok = True
        on_disk = args.out.read_bytes() if args.out.is_file() else None
        if on_disk != data:
            print(f"MISMATCH: {args.out} differs from the rebuilt subset")
            ok = False
        if datasets._SUBSET_SHA256 != npz_hash:
            print(f"MISMATCH: fa_lessons/datasets.py has _SUBSET_SHA256 = {datasets._SUBSET_SHA256}")
            ok = False
        print("check passed" if ok else "check FAILED")
        return 0 if ok else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out}")
    if datasets._SUBSET_SHA256 != npz_hash:
        print(f"now set _SUBSET_SHA256 = \"{npz_hash}\" in fa_lessons/datasets.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
