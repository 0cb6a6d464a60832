"""Numerics of the fast paths: the float32 tanh, the exact float64 tanh, and
results that do not depend on whether the Numba cache is warm or cold.

* ``_kernels._tanh32`` (used for float32 tanh layers) against ``np.tanh`` in
  float64, rounded to float32, over a sample of every binade of the float32
  range: at most 1 float32 ulp (measured: 0 on the sample, i.e. correctly
  rounded), ``tanh(+-0) = +-0``, ``tanh(x) = x`` for tiny ``x``, ``+-1`` for
  large ``|x|`` and infinities, NaN stays NaN.
* float64 layers call libm's ``tanh`` (the function ``math.tanh`` uses):
  bit for bit, and within 2 ulps of NumPy's own (SIMD) ``np.tanh``.
* A fresh process trained with an empty ``NUMBA_CACHE_DIR`` (cold: compiles)
  and then again with the same folder (warm: loads the cache) gives the same
  bytes of weights, in float32 and float64.

Run: ``.venv/bin/python -m pytest tests/test_perf_numerics.py -q``
"""

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from fa_lessons import _kernels as K

F32 = np.float32
ROOT = Path(__file__).resolve().parents[1]
# Under NUMBA_DISABLE_JIT the kernels run as Python (NumPy scalars): too slow for
# the sweep, and float64 tanh is then NumPy's, not libm's.
compiled = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="needs the compiled kernels")


def layer_tanh(x):
    """The float32 hidden-layer path: ``_bias_activate`` with a zero bias."""
    A = np.array(x, dtype=x.dtype).reshape(1, -1)
    K._bias_activate(A, np.zeros(A.shape[1], x.dtype), K.TANH)
    return A[0]


def ulps(a, b):
    """Distance in float32 units in the last place (same-sign finite values)."""
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


@compiled
def test_tanh32_over_the_float32_range():
    """Every 61st non-negative finite float32 (35 million values, every binade)."""
    worst_ulp, worst_abs = 0, 0.0
    for lo in range(0, 0x7F800000, 61 << 23):
        bits = np.arange(lo, min(lo + (61 << 23), 0x7F800000), 61, dtype=np.uint32)
        x = bits.view(F32)
        got = layer_tanh(x)
        exact = np.tanh(x.astype(np.float64))
        worst_ulp = max(worst_ulp, int(ulps(got, exact.astype(F32)).max()))
        worst_abs = max(worst_abs, float(np.abs(got - exact).max()))
        # odd function: the negative half is the mirror image
        np.testing.assert_array_equal(layer_tanh(-x[x > 0]), -got[x > 0])
    assert worst_ulp <= 1
    # half a float32 ulp of values just below 1 is 2**-25 = 2.98e-8
    assert worst_abs <= 2.0**-25 * 1.0001
    assert worst_abs > 0  # the check above compares two different functions


def test_tanh32_special_values():
    assert math.copysign(1.0, K._tanh32(F32(0.0))) == 1.0 and K._tanh32(F32(0.0)) == 0.0
    assert math.copysign(1.0, K._tanh32(F32(-0.0))) == -1.0 and K._tanh32(F32(-0.0)) == 0.0
    tiny = np.array([1e-45, 1e-38, 3e-20, 1e-8, 2.0**-13], F32)
    np.testing.assert_array_equal(layer_tanh(tiny), tiny)
    np.testing.assert_array_equal(layer_tanh(-tiny), -tiny)
    big = np.array([9.02, 9.5, 10.0, 88.0, 1e20, np.finfo(F32).max, np.inf], F32)
    np.testing.assert_array_equal(layer_tanh(big), np.ones(big.size, F32))
    np.testing.assert_array_equal(layer_tanh(-big), -np.ones(big.size, F32))
    assert np.isnan(K._tanh32(F32(np.nan)))
    assert np.isnan(layer_tanh(np.array([np.nan, -np.nan], F32))).all()


def test_tanh32_close_to_numpy_float32_tanh():
    """Against NumPy's own float32 tanh (itself within 1 ulp of the exact value)."""
    x = np.random.default_rng(0).normal(0, 3, 200_000).astype(F32)
    assert ulps(np.abs(layer_tanh(x)), np.abs(np.tanh(x))).max() <= 2


@compiled
def test_float64_tanh_is_libm():
    x = np.concatenate([np.random.default_rng(1).normal(0, 4, 20_000),
                        [0.0, -0.0, 1e-300, 5e-324, 19.0, 20.0, 1e300, np.inf, -np.inf]])
    got = layer_tanh(x)
    want = np.array([math.tanh(v) for v in x])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_max_ulp(got, np.tanh(x), maxulp=2)
    assert np.isnan(layer_tanh(np.array([np.nan])))[0]


TRAIN_SCRIPT = """
import hashlib, numpy as np, fa_lessons as fl
rng = np.random.default_rng(0)
out = []
for dtype in (np.float32, np.float64):
    X = rng.normal(size=(300, 40)).astype(dtype)
    y = rng.integers(0, 10, 300)
    for name, sizes in (("fa", [40, 1000, 10]), ("bp", [40, 30, 20, 10])):
        net = fl.MLP(sizes, seed=0, dtype=dtype)
        fl.train(net, name, (X, y), epochs=2, lr=0.05, batch_size=32, seed=1,
                 momentum=0.5 if name == "bp" else 0.0, progress=False)
        h = hashlib.sha256()
        for p in net.weights + net.biases:
            h.update(p.tobytes())
        out.append(h.hexdigest())
print(" ".join(out))
"""


def test_warm_and_cold_cache_give_the_same_bytes(tmp_path):
    """Two processes share a fresh cache folder: the first compiles, the second loads."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("NUMBA_DISABLE_JIT", None)
    runs = []
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""
        runs.append(p.stdout.split())
    assert any(tmp_path.rglob("*.nbi")), "the first process wrote no cache"
    assert len(runs[0]) == 4 and runs[0] == runs[1]


@compiled
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_process_result_equals_a_fresh_process(tmp_path, dtype):
    """The cache this process uses (usually warm) agrees with an empty one."""
    import fa_lessons as fl

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 20)).astype(dtype)
    y = rng.integers(0, 5, 120)
    net = fl.MLP([20, 16, 5], seed=0, dtype=dtype)
    fl.train(net, "dfa", (X, y), epochs=1, lr=0.05, batch_size=16, seed=1, progress=False)
    h = hashlib.sha256(b"".join(p.tobytes() for p in net.weights + net.biases)).hexdigest()
    script = (f"import hashlib, numpy as np, fa_lessons as fl\n"
              f"rng = np.random.default_rng(0)\n"
              f"X = rng.normal(size=(120, 20)).astype(np.{np.dtype(dtype).name})\n"
              f"y = rng.integers(0, 5, 120)\n"
              f"net = fl.MLP([20, 16, 5], seed=0, dtype=np.{np.dtype(dtype).name})\n"
              f"fl.train(net, 'dfa', (X, y), epochs=1, lr=0.05, batch_size=16, seed=1,"
              f" progress=False)\n"
              f"print(hashlib.sha256(b''.join(p.tobytes() for p in net.weights + net.biases))"
              f".hexdigest())\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("NUMBA_DISABLE_JIT", None)
    p = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [h]
