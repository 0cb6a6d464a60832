"""Backpropagation's gradients against central finite differences (float64).

The core test uses its own finite differences of the package's loss
(``MLP.loss``), not ``fa_lessons.gradcheck``; a separate test checks that
``fa_lessons.gradcheck`` agrees.  The independent reference ``tests/naive.py``
is checked against finite differences of its own loss too, so the rule tests
can lean on it.

Run: ``.venv/bin/python -m pytest tests/test_gradients.py -q``
"""

import itertools

import numpy as np
import pytest

import fa_lessons as fl
import naive

ACTS = ("tanh", "sigmoid", "relu", "linear")
EPS = 1e-6
TOL = 1e-6


def make_targets(rng, N, n_out, output, loss, soft=False):
    """Targets that suit an output/loss pair (labels or soft rows for softmax)."""
    if output == "softmax":
        if soft:
            p = rng.uniform(0.1, 1.0, size=(N, n_out))
            return p / p.sum(axis=1, keepdims=True)
        return rng.integers(0, n_out, size=N)
    if output == "linear":
        return rng.normal(size=(N, n_out))
    if loss == "bce":
        return rng.uniform(0.0, 1.0, size=(N, n_out))
    return rng.integers(0, 2, size=(N, n_out)).astype(np.float64)


def relu_margin(net, X):
    """Smallest |a_l| over the hidden layers (how far the batch is from ReLU's kink)."""
    a, _ = naive.forward(net.weights, net.biases, X, net.activation, net.output)
    hidden = [np.abs(al).min() for al in a[1:-1]]
    return min(hidden) if hidden else np.inf


def make_case(seed, depth, activation, output, loss, bias, N, soft=False):
    """A random float64 network of ``depth`` weight layers and a batch for it.

    For ReLU, seeds are tried until every hidden pre-activation is at least
    1e-3 away from the kink, far more than a finite-difference step moves it.
    """
    for attempt in range(200):
        rng = np.random.default_rng([seed, attempt])
        sizes = [int(n) for n in rng.integers(1, 6, size=depth + 1)]
        if output == "softmax":
            sizes[-1] = max(sizes[-1], 2)  # one softmax unit has no gradient at all
        net = fl.MLP(sizes, activation=activation, output=output, loss=loss, bias=bias,
                     init="normal", init_scale=2.0, seed=int(rng.integers(2**31)),
                     dtype=np.float64)
        if bias:  # nonzero biases, so that their gradients are tested too
            for b in net.biases:
                b[...] = rng.normal(0.0, 0.5, size=b.shape)
        X = rng.normal(size=(N, sizes[0]))
        y = make_targets(rng, N, sizes[-1], output, loss, soft)
        if activation != "relu" or relu_margin(net, X) > 1e-3:
            return net, X, y
    raise AssertionError("no ReLU case away from the kink")  # pragma: no cover


def targets_2d(net, y):
    """Labels as one-hot rows (for the naive reference), 2-D targets unchanged."""
    if y.ndim == 1:
        T = np.zeros((len(y), net.sizes[-1]))
        T[np.arange(len(y)), y] = 1.0
        return T
    return y


def finite_differences(loss_fn, params, eps=EPS):
    """Central differences of ``loss_fn()`` with respect to each array in ``params``.

    The arrays are perturbed in place, one entry at a time, and restored.
    """
    grads = []
    for P in params:
        G = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            up = loss_fn()
            P[idx] = old - eps
            down = loss_fn()
            P[idx] = old
            G[idx] = (up - down) / (2 * eps)
        grads.append(G)
    return grads


# Every hidden activation x every output/loss pair x with/without bias; depth
# 1..4 and the batch size (1 or 4) rotate through the cases.
CASES = []
for i, (act, (out, loss), bias) in enumerate(
        itertools.product(ACTS, naive.PAIRS, (True, False))):
    depth = 1 + (i // 2) % 4
    N = 1 if i % 3 == 0 else 4
    CASES.append(pytest.param(i, depth, act, out, loss, bias, N,
                              id=f"{act}-{out}-{loss}-L{depth}-N{N}-{'bias' if bias else 'nobias'}"))


@pytest.mark.parametrize("seed, depth, act, out, loss, bias, N", CASES)
def test_bp_gradients_match_finite_differences(seed, depth, act, out, loss, bias, N):
    net, X, y = make_case(seed, depth, act, out, loss, bias, N, soft=seed % 4 == 1)
    grads = fl.rules.get("bp", net).gradients(net, X, y)
    params = net.weights + (net.biases if bias else [])
    numeric = finite_differences(lambda: net.loss(X, y), params)
    for l in range(net.n_layers):
        dW, db = grads[l]
        assert dW.shape == net.weights[l].shape and db.shape == net.biases[l].shape
        assert dW.dtype == np.float64
        err = naive.rel_err(dW, numeric[l])
        assert err < TOL, f"dW_{l + 1}: relative error {err:.2e}"
        if bias:
            err = naive.rel_err(db, numeric[net.n_layers + l])
            assert err < TOL, f"db_{l + 1}: relative error {err:.2e}"
        else:
            assert not db.any(), "bias=False must report zero bias gradients"


@pytest.mark.parametrize("seed, depth, act, out, loss, bias, N", CASES[::3])
def test_naive_reference_matches_finite_differences(seed, depth, act, out, loss, bias, N):
    """The reference that the rule tests rely on is itself right."""
    net, X, y = make_case(seed, depth, act, out, loss, bias, N)
    T = targets_2d(net, y)
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    args = (act, out, loss)
    ref = naive.gradients("bp", W, b, X, T, *args, bias=True)
    numeric = finite_differences(lambda: naive.loss(W, b, X, T, *args), W + b)
    L = len(W)
    for l in range(L):
        assert naive.rel_err(ref[l][0], numeric[l]) < TOL
        assert naive.rel_err(ref[l][1], numeric[L + l]) < TOL


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("out, loss", naive.PAIRS)
def test_loss_matches_naive(act, out, loss):
    net, X, y = make_case(7, 3, act, out, loss, True, 6)
    ref = naive.loss(net.weights, net.biases, X, targets_2d(net, y), act, out, loss)
    assert net.loss(X, y) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("out, loss", naive.PAIRS)
def test_batch_of_one_deep_tanh(out, loss):
    """A single example through four weight layers."""
    net, X, y = make_case(99, 4, "tanh", out, loss, True, 1)
    grads = fl.rules.get("bp", net).gradients(net, X, y)
    numeric = finite_differences(lambda: net.loss(X, y), net.weights + net.biases)
    for l in range(4):
        assert naive.rel_err(grads[l][0], numeric[l]) < TOL
        assert naive.rel_err(grads[l][1], numeric[4 + l]) < TOL


def test_gradients_are_of_the_batch_mean():
    """Duplicating every example leaves the mean loss and its gradient unchanged."""
    net, X, y = make_case(3, 2, "tanh", "softmax", "cross_entropy", True, 5)
    bp = fl.rules.get("bp", net)
    g1 = bp.gradients(net, X, y)
    g2 = bp.gradients(net, np.vstack([X, X]), np.concatenate([y, y]))
    for (a, b), (c, d) in zip(g1, g2):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, d, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------- fa_lessons.gradcheck
@pytest.mark.parametrize("act", ACTS)
def test_package_gradcheck_agrees(act):
    net, X, y = make_case(11, 3, act, "softmax", "cross_entropy", True, 3)
    ours = finite_differences(lambda: net.loss(X, y), net.weights + net.biases)
    theirs = fl.gradcheck.numerical_gradients(net, X, y, eps=EPS)
    L = net.n_layers
    for l in range(L):
        np.testing.assert_allclose(theirs[l][0], ours[l], rtol=0, atol=1e-12)
        np.testing.assert_allclose(theirs[l][1], ours[L + l], rtol=0, atol=1e-12)
    assert fl.gradcheck.check_gradients(net, X, y) < TOL


def test_package_gradcheck_detects_a_wrong_gradient():
    """check_gradients can fail: feedback alignment's updates are not gradients."""
    net, X, y = make_case(5, 3, "tanh", "softmax", "cross_entropy", True, 4)
    rule = fl.rules.get("fa", net, seed=0)
    assert fl.gradcheck.check_gradients(net, X, y, rule=rule) > 1e-2
    assert fl.gradcheck.check_gradients(net, X, y) < TOL


def test_package_gradcheck_refuses_float32():
    net = fl.MLP([3, 2], dtype=np.float32, seed=0)
    X = np.zeros((1, 3), np.float32)
    with pytest.raises(TypeError, match="float64"):
        fl.gradcheck.numerical_gradients(net, X, np.array([0]))


def test_relative_error_definition():
    rel = fl.gradcheck.relative_error
    assert rel(np.ones(3), np.ones(3)) == 0.0
    assert rel(np.array([1.0, 2.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert rel(np.zeros(2), np.zeros(2)) == 0.0
