"""Every private Numba kernel against its plain-NumPy twin in fa_lessons.reference.

Tolerances.  float64: 1e-12 relative (to the largest magnitude of the
expected array), a few hundred ulps of slack for the different order of
operations and libm versus NumPy's SIMD transcendentals; an error in a formula
is many orders larger.  float32: 1e-6 relative, about 8 float32 ulps
(eps = 1.2e-7): the kernels round to float32 at different points than NumPy
(they mix in float64 scalars such as ``lr`` and ``1.0``, and accumulate some
sums in float64), and Numba's float32 ``exp``/``tanh`` and NumPy's differ by a
few ulps.  Sums are compared relative to the sum of magnitudes, the scale of
their rounding error.

Run: ``.venv/bin/python -m pytest tests/test_kernels.py -q``
"""

import warnings
import zlib

import numpy as np
import pytest

from fa_lessons import _kernels as K
from fa_lessons import reference as R

DTYPES = (np.float64, np.float32)
RTOL = {np.float64: 1e-12, np.float32: 1e-6}
SHAPES = ((1, 1), (1, 7), (5, 1), (4, 3), (33, 17))
HIDDEN = {"linear": K.LINEAR, "tanh": K.TANH, "sigmoid": K.SIGMOID, "relu": K.RELU}
PAIRS = {("softmax", "cross_entropy"): K.SOFTMAX_CE, ("linear", "squared_error"): K.LINEAR_SE,
         ("sigmoid", "bce"): K.SIGMOID_BCE, ("sigmoid", "squared_error"): K.SIGMOID_SE}


def close(got, want, dtype, scale=None):
    """``|got - want| <= rtol * scale`` elementwise, scale = max |want| by default."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape
    if scale is None:
        scale = max(np.abs(want).max(initial=0.0), np.finfo(dtype).tiny)
    err = np.abs(got - want).max(initial=0.0)
    assert err <= RTOL[dtype] * scale, f"max error {err:.3e} > {RTOL[dtype]:g} x {scale:.3e}"


def seed_of(*key):
    """A stable seed from a key (``hash`` of a str changes between processes)."""
    return zlib.crc32(repr(key).encode())


def rand(rng, shape, dtype, scale=1.0):
    return (scale * rng.normal(size=shape)).astype(dtype)


def edge_values(dtype):
    """Pre-activations that stress stability: huge, tiny, zero, both signs."""
    big = 80.0 if dtype == np.float32 else 700.0
    return np.array([[0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0],
                     [30.0, -30.0, big, -big, 1e4, -1e4]], dtype=dtype)


# ---------------------------------------------------------------- activation
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", HIDDEN)
@pytest.mark.parametrize("shape", SHAPES)
def test_bias_activate(dtype, name, shape):
    rng = np.random.default_rng(seed_of(name, shape))
    A = rand(rng, shape, dtype, 3.0)
    b = rand(rng, shape[1], dtype)
    want = R.bias_activate(A, b, name)
    got = A.copy()
    K._bias_activate(got, b, HIDDEN[name])
    assert got.dtype == dtype
    close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", HIDDEN)
def test_bias_activate_edge_values(dtype, name):
    A = edge_values(dtype)
    b = np.zeros(A.shape[1], dtype)
    got = A.copy()
    K._bias_activate(got, b, HIDDEN[name])
    assert np.isfinite(got).all()
    with np.errstate(over="ignore"):  # the reference's exp may overflow; checked below
        want = R.bias_activate(A, b, name)
    close(got, want, dtype)
    if name == "sigmoid":
        assert got[1, 2] == 1.0 and 0.0 <= got[1, 3] < 1e-30
        assert got[0, 0] == 0.5


@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_sigmoid_is_quiet_for_large_negative_input(dtype):
    """The readable twin must not warn where the kernel is stable.

    Chapter 1 and the tests call the reference; a RuntimeWarning from
    ``exp`` overflowing lands on stderr in a notebook.
    """
    A = edge_values(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        R.activation(A, "sigmoid")
        R.output_error(A, np.zeros(A.shape[1], dtype), np.zeros_like(A), "sigmoid", "bce")


# ---------------------------------------------------------------- derivative
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", HIDDEN)
@pytest.mark.parametrize("shape", SHAPES)
def test_mul_derivative(dtype, name, shape):
    rng = np.random.default_rng(seed_of(name, shape, 1))
    H = R.activation(rand(rng, shape, dtype, 2.0), name)
    G = rand(rng, shape, dtype)
    want = R.mul_derivative(G, H, name)
    got = G.copy()
    K._mul_derivative(got, H, HIDDEN[name])
    close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mul_derivative_values(dtype):
    """Spot values written out by hand (a wrong derivative cannot hide here)."""
    G = np.ones((1, 4), dtype)
    for name, H, want in (("tanh", [0.0, 0.5, -0.5, 1.0], [1.0, 0.75, 0.75, 0.0]),
                          ("sigmoid", [0.5, 0.25, 1.0, 0.0], [0.25, 0.1875, 0.0, 0.0]),
                          ("relu", [0.0, 2.0, 0.5, 1e-30], [0.0, 1.0, 1.0, 1.0]),
                          ("linear", [0.0, -3.0, 2.0, 7.0], [1.0, 1.0, 1.0, 1.0])):
        got = G.copy()
        K._mul_derivative(got, np.array([H], dtype), HIDDEN[name])
        np.testing.assert_array_equal(got, np.array([want], dtype), err_msg=name)


# -------------------------------------------------------------- output error
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("shape", SHAPES)
def test_output_error(dtype, pair, shape):
    rng = np.random.default_rng(seed_of(pair, shape))
    A = rand(rng, shape, dtype, 3.0)
    b = rand(rng, shape[1], dtype)
    if pair[0] == "softmax":
        T = np.zeros(shape, dtype)
        T[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1
    elif pair == ("sigmoid", "bce"):
        T = rng.uniform(size=shape).astype(dtype)
    else:
        T = rand(rng, shape, dtype)
    y, loss, e = R.output_error(A, b, T, *pair)
    Aout, E = A.copy(), np.empty_like(A)
    got = K._output_error(Aout, b, T, PAIRS[pair], E)
    close(Aout, y, dtype)
    close(E, e, dtype)
    assert abs(got - loss) <= RTOL[dtype] * max(abs(loss), 1e-300) * 4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", PAIRS)
def test_output_error_edge_values(dtype, pair):
    """Huge logits give finite, correct outputs, losses and errors."""
    A = edge_values(dtype)
    b = np.zeros(A.shape[1], dtype)
    T = np.zeros_like(A)
    T[:, 3] = 1.0  # the target sits on a hugely negative logit in row 1
    with np.errstate(over="ignore"):
        y, loss, e = R.output_error(A, b, T, *pair)
    Aout, E = A.copy(), np.empty_like(A)
    got = K._output_error(Aout, b, T, PAIRS[pair], E)
    assert np.isfinite(Aout).all() and np.isfinite(E).all() and np.isfinite(got)
    close(Aout, y, dtype)
    close(E, e, dtype)
    assert abs(got - loss) <= RTOL[dtype] * abs(loss)
    if pair[0] == "softmax":
        np.testing.assert_allclose(Aout.sum(axis=1), 1.0, rtol=RTOL[dtype])
        # Row 1: log-sum-exp is 1e4 and the target logit is -big: loss is exact.
        big = float(-A[1, 3])
        row0 = np.log(np.exp(A[0].astype(np.float64)).sum()) - A[0, 3]
        assert got == pytest.approx((row0 + 1e4 + big) / 2, rel=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_error_zero_logits(dtype):
    A = np.zeros((3, 4), dtype)
    T = np.zeros_like(A)
    T[:, 0] = 1
    E = np.empty_like(A)
    loss = K._output_error(A, np.zeros(4, dtype), T, K.SOFTMAX_CE, E)
    assert loss == pytest.approx(np.log(4), rel=RTOL[dtype])
    np.testing.assert_allclose(A, 0.25, rtol=RTOL[dtype])
    np.testing.assert_allclose(E[:, 0], -0.75 / 3, rtol=RTOL[dtype])


# ---------------------------------------------------------------- column sum
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES + ((200, 3),))
def test_column_sum(dtype, shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    D = rand(rng, shape, dtype)
    out = np.full(shape[1], np.nan, dtype)  # garbage in out must be overwritten
    K._column_sum(D, out)
    close(out, R.column_sum(D), dtype, scale=np.abs(D).sum(axis=0).max())


def test_column_sum_float32_accumulates_in_float64():
    """The module docstring promises a float64 accumulator.

    One large entry followed by many small ones: a float32 accumulator drops
    every 1.0 (the float32 spacing at 1e8 is 8), a float64 one keeps them.
    """
    D = np.array([[1e8]] + [[1.0]] * 100, np.float32)
    out = np.zeros(1, np.float32)
    K._column_sum(D, out)
    assert out[0] == np.float32(1e8 + 100.0)


# ------------------------------------------------------------ optimizer step
OPT_CASES = [(0.0, 0.0, False), (0.0, 0.0, True), (0.9, 0.0, False), (0.9, 0.0, True),
             (0.0, 0.01, False), (0.5, 0.02, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, decay, manhattan", OPT_CASES)
@pytest.mark.parametrize("size", (1, 7, 300))
def test_optimizer_step(dtype, momentum, decay, manhattan, size):
    rng = np.random.default_rng(size)
    P, G, V = (rand(rng, size, dtype) for _ in range(3))
    G[::5] = 0.0  # sign(0) = 0: a zero gradient takes no Manhattan step
    lr = 0.3
    p_want, s_want, v_want = R.optimizer_step(P, G, V, lr, momentum, decay, manhattan)
    Pk, Gk, Vk = P.copy(), G.copy(), V.copy()
    K._optimizer_step(Pk, Gk, Vk, lr, momentum, decay, manhattan)
    close(Pk, p_want, dtype)
    close(Gk, s_want, dtype)  # the step is written back into G
    if momentum:
        close(Vk, v_want, dtype)
    if manhattan and not momentum:
        assert set(np.unique(np.abs(Gk))) <= {0.0, dtype(lr)}
        assert (Gk[::5] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_step_two_momentum_steps(dtype):
    rng = np.random.default_rng(4)
    P, G1, G2 = (rand(rng, (3, 4), dtype) for _ in range(3))
    V = np.zeros_like(P)
    p, _, v = R.optimizer_step(P, G1, V, 0.1, 0.9, 0.001, False)
    p, s, v = R.optimizer_step(p, G2, v, 0.1, 0.9, 0.001, False)
    Pk, Vk = P.copy(), V.copy()
    for Gi in (G1.copy(), G2.copy()):
        K._optimizer_step(Pk.reshape(-1), Gi.reshape(-1), Vk.reshape(-1), 0.1, 0.9, 0.001,
                          False)
    close(Pk, p, dtype)
    close(Vk, v, dtype)
    close(Gi, s, dtype)


# ------------------------------------------------- add step, signed magnitude
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", (1, 12, 257))
@pytest.mark.parametrize("decay", (0.0, 0.003))
def test_add_step(dtype, size, decay):
    rng = np.random.default_rng(size)
    P, S = rand(rng, size, dtype), rand(rng, size, dtype)
    want = R.add_step(P, S, decay)
    K._add_step(P, S, decay)
    close(P, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", (1, 12, 257))
@pytest.mark.parametrize("scale", (1.0, 0.37))
def test_signed_magnitude(dtype, size, scale):
    rng = np.random.default_rng(size)
    M, W = rand(rng, size, dtype), rand(rng, size, dtype)
    W[::4] = 0.0  # sign(0) = 0
    out = np.full(size, np.nan, dtype)
    K._signed_magnitude(M, W, scale, out)
    close(out, R.signed_magnitude(M, W, scale), dtype)
    assert (out[::4] == 0).all()
    assert (np.sign(out[W != 0]) == np.sign(W[W != 0])).all()
