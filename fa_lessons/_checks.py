"""Input checks shared by the public functions: clear errors, never silent fixes."""

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype, name="dtype"):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}={dtype!r} is not supported; use np.float32 or np.float64")
    return dt


def check_positive(value, name, integer=False, allow_zero=False):
    """Check a positive (or non-negative) scalar and return it."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return int(value) if integer else float(value)


def check_inputs(X, n_in, dtype, name="X", code="X"):
    """Check a batch of inputs: 2-D, ``n_in`` columns, ``dtype``, finite, non-empty.

    ``name`` is how messages call the argument; ``code`` is the expression used
    in the suggested fix (``X.astype(...)``).
    """
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(X).__name__}")
    if X.ndim != 2:
        what = ("a 1-D array; for a single example" if X.ndim == 1
                else f"shape {X.shape}")
        fix = f"{code}.reshape(1, -1)" if X.ndim == 1 else f"{code}.reshape(len({code}), -1)"
        raise ValueError(
            f"{name} must be 2-D with one example per row, shape (n, {n_in}); "
            f"got {what} (use {fix})"
        )
    if X.shape[1] != n_in:
        raise ValueError(
            f"{name} has {X.shape[1]} columns but the network takes {n_in} inputs"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one row")
    if X.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {X.dtype} but the network uses {dtype}; "
            f"convert with {code}.astype(np.{dtype})"
        )
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf; clean the data first")
    return X


def check_targets(y, n, n_out, dtype, classification, name="y", code="y"):
    """Check labels or targets for ``n`` examples and return targets ``(n, n_out)``.

    Integer labels (1-D, in ``[0, n_out)``) become one-hot rows.  A 2-D float
    array of shape ``(n, n_out)`` is used as it is (regression, or soft labels);
    it is refused for softmax (``classification=True``) unless its rows are
    probability vectors.
    """
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(y).__name__}")
    if y.shape[:1] != (n,):
        raise ValueError(f"{name} has {y.shape[0] if y.ndim else 0} rows but X has {n}")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(
                f"1-D {name} must hold integer class labels, got dtype {y.dtype}; "
                f"use {code}.astype(np.int64), or pass 2-D targets of shape (n, {n_out})"
            )
        if n and (y.min() < 0 or y.max() >= n_out):
            raise ValueError(
                f"labels in {name} must lie in [0, {n_out - 1}] for {n_out} outputs; "
                f"found values from {y.min()} to {y.max()}"
            )
        t = np.zeros((n, n_out), dtype=dtype)
        t[np.arange(n), y] = 1
        return t
    if y.ndim != 2 or y.shape[1] != n_out:
        raise ValueError(
            f"{name} must be 1-D integer labels or 2-D targets of shape ({n}, {n_out}); "
            f"got shape {y.shape}"
        )
    if y.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {y.dtype} but the network uses {dtype}; "
            f"convert with {code}.astype(np.{dtype})"
        )
    if not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or inf")
    if classification and not (
        (y >= 0).all() and np.allclose(y.sum(axis=1), 1.0, atol=1e-4)
    ):
        raise ValueError(
            f"2-D {name} for a softmax output must hold probability rows summing to 1"
        )
    return np.ascontiguousarray(y)


def check_data(data, net, name=None):
    """Check an ``(X, y)`` pair for ``net``; return ``(X, targets, labels)``.

    ``name`` is the argument that held the pair (``"train_data"``), or ``None``
    when ``X`` and ``y`` were separate arguments.  ``labels`` are the integer
    classes used for accuracy (the argmax of the targets when targets are
    given as a 2-D array).
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name or 'data'} must be a pair (X, y), got {type(data).__name__}")
    X, y = data
    if name is None:
        xname, xcode, yname, ycode = "X", "X", "y", "y"
    else:
        xname, xcode = f"{name}[0] (X)", f"{name}[0]"
        yname, ycode = f"{name}[1] (y)", f"{name}[1]"
    X = check_inputs(X, net.sizes[0], net.dtype, name=xname, code=xcode)
    T = check_targets(y, X.shape[0], net.sizes[-1], net.dtype, net.output == "softmax",
                      name=yname, code=ycode)
    labels = y if y.ndim == 1 else T.argmax(axis=1)
    return X, T, labels
