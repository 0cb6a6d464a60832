"""The compiled training loop (``fa_lessons._fused``) against the Python loop of
``fa_lessons.training`` and against an independent NumPy reference (``naive``).

``train()`` runs whole epochs in one compiled call when it can
(``training._fused_plan``); the module switch ``training._USE_FUSED`` turns
that off, which gives the readable Python loop to compare with.

* float64, small layers: bit for bit (``_fused`` keeps the two-pass update of
  the Python loop below ``_fused.FOLD_MIN`` weights);
* float64, large layers (update folded into the GEMM): a few ulps;
* float32: the compiled loop calls SciPy's BLAS, the Python loop NumPy's, so
  the two round differently by about an ulp: tight relative tolerance.

Run: ``.venv/bin/python -m pytest tests/test_fused.py -q``
"""

import numba
import numpy as np
import pytest

import fa_lessons as fl
import naive
from fa_lessons import _fused
from fa_lessons import training as T

pytestmark = pytest.mark.skipif(numba.config.DISABLE_JIT,
                                reason="train() uses the compiled loop only with the JIT on")

FUSED_RULES = ("bp", "fa", "dfa", "shallow", "kp", "usf", "frsf")
DEPTHS = ((9, 3), (9, 12, 3), (9, 12, 10, 7, 3))


def blobs(n, n_in, n_out, seed=0, dtype=np.float64):
    """A small classification problem (labels) with separable class centres."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(n_out, n_in))
    y = rng.integers(0, n_out, n)
    return (centers[y] + rng.normal(size=(n, n_in))).astype(dtype), y


def run(monkeypatch, fused, make_net, name, data, rule_opts=None, **kw):
    """Train a fresh network with the compiled loop on or off; returns (net, rule, hist)."""
    monkeypatch.setattr(T, "_USE_FUSED", fused)
    net = make_net()
    rule = fl.rules.get(name, net, seed=1, **(rule_opts or {}))
    assert (T._fused_plan(rule, {}) is not None) == fused
    kw = dict(dict(epochs=2, lr=0.05, batch_size=7, seed=3, progress=False), **kw)
    hist = fl.train(net, rule, data, **kw)
    return net, rule, hist


def params(net, rule):
    return net.weights + net.biases + list(rule.feedback)


def compare(monkeypatch, make_net, name, data, exact, rtol=0.0, **kw):
    a = run(monkeypatch, True, make_net, name, data, **kw)
    b = run(monkeypatch, False, make_net, name, data, **kw)
    pa, pb = params(*a[:2]), params(*b[:2])
    assert len(pa) == len(pb)
    for p, q in zip(pa, pb):
        assert p.dtype == q.dtype
        if exact:
            np.testing.assert_array_equal(p, q)
        else:
            np.testing.assert_allclose(p, q, rtol=rtol, atol=rtol * np.abs(q).max())
    if exact:
        assert a[2].train_loss == b[2].train_loss
    else:
        np.testing.assert_allclose(a[2].train_loss, b[2].train_loss, rtol=rtol)
    return a, b


# --------------------------------------------- compiled loop vs Python loop
@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("name", FUSED_RULES)
def test_every_rule_and_depth_float64_bit_identical(monkeypatch, name, sizes):
    """50 examples in batches of 7 (the last batch has 1): same bits, same losses."""
    data = blobs(50, sizes[0], sizes[-1])
    compare(monkeypatch, lambda: fl.MLP(list(sizes), seed=0, dtype=np.float64), name, data,
            exact=True)


@pytest.mark.parametrize("name", FUSED_RULES)
@pytest.mark.parametrize("optimizer, momentum, wd", [
    ("sgd", 0.9, 0.0), ("sgd", 0.0, 0.05), ("sgd", 0.5, 0.01), ("manhattan", 0.0, 0.0),
    ("manhattan", 0.9, 0.01)])
def test_optimizers_float64_bit_identical(monkeypatch, name, optimizer, momentum, wd):
    data = blobs(45, 9, 3, seed=1)
    compare(monkeypatch, lambda: fl.MLP([9, 12, 10, 3], seed=0, dtype=np.float64), name,
            data, exact=True, optimizer=optimizer, momentum=momentum, weight_decay=wd,
            lr=0.01 if optimizer == "manhattan" else 0.05)


@pytest.mark.parametrize("name", FUSED_RULES)
@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.9, 0.01)])
@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
def test_float32_close(monkeypatch, name, momentum, wd, sizes):
    """float32 (the fast tanh, another BLAS): within a few float32 ulps after 2 epochs."""
    data = blobs(50, sizes[0], sizes[-1], dtype=np.float32)
    compare(monkeypatch, lambda: fl.MLP(list(sizes), seed=0, dtype=np.float32), name, data,
            exact=False, rtol=2e-5, momentum=momentum, weight_decay=wd)


@pytest.mark.parametrize("activation, output, loss", [
    ("sigmoid", "sigmoid", "bce"), ("relu", "linear", "squared_error"),
    ("linear", "sigmoid", "squared_error"), ("tanh", "softmax", "cross_entropy")])
@pytest.mark.parametrize("bias", [True, False])
def test_activations_outputs_and_no_bias(monkeypatch, activation, output, loss, bias):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 6))
    Y = (rng.random((40, 4)) if output != "softmax" else np.eye(4)[rng.integers(0, 4, 40)])
    compare(monkeypatch, lambda: fl.MLP([6, 11, 8, 4], activation=activation, output=output,
                                        loss=loss, bias=bias, seed=0, dtype=np.float64),
            "fa", (X, Y), exact=True, batch_size=6)


@pytest.mark.parametrize("name", ("bp", "fa", "dfa", "kp"))
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_large_layers_folded_update(monkeypatch, name, dtype, rtol):
    """Layers of at least FOLD_MIN weights take the GEMM-folded SGD step.

    It rounds once (W - lr dh) where the Python loop rounds twice, so the
    results agree to rounding, not bit for bit.
    """
    sizes = [100, 400, 10]
    assert sizes[0] * sizes[1] >= _fused.FOLD_MIN > sizes[1] * sizes[2]
    data = blobs(300, sizes[0], sizes[-1], dtype=dtype)
    compare(monkeypatch, lambda: fl.MLP(sizes, seed=0, dtype=dtype), name, data,
            exact=False, rtol=rtol, batch_size=64, weight_decay=0.01)


def test_the_compiled_loop_runs_once_per_epoch(monkeypatch):
    """Without a progress bar an epoch is one compiled call; tracking uses Python."""
    calls = []
    real = _fused.Loop.run

    def spy(self, order, first, last):
        calls.append((first, last))
        return real(self, order, first, last)

    monkeypatch.setattr(_fused.Loop, "run", spy)
    X, y = blobs(50, 9, 3)
    net = fl.MLP([9, 12, 3], seed=0, dtype=np.float64)
    fl.train(net, "fa", (X, y), epochs=3, lr=0.05, batch_size=7, seed=0, progress=False)
    assert calls == [(0, 8)] * 3
    calls.clear()
    fl.train(net, "fa", (X, y), epochs=1, lr=0.05, batch_size=7, progress=False,
             track="weight_angle")
    assert calls == []


@pytest.mark.parametrize("name", ("brsf", "wm"))
def test_rules_with_per_step_randomness_stay_in_python(name):
    net = fl.MLP([9, 12, 3], seed=0)
    assert T._fused_plan(fl.rules.get(name, net, seed=1), {}) is None
    assert T._fused_plan(fl.rules.get("bp", net), {"loss": lambda *a: 0.0}) is None


@pytest.mark.parametrize("name", ("bp", "dfa"))
def test_divergence_stops_both_loops_at_the_same_step(monkeypatch, name):
    """The step with a non-finite loss is not applied, in either loop."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)) * 100
    Y = rng.normal(size=(64, 2)) * 100
    out = []
    for fused in (True, False):
        monkeypatch.setattr(T, "_USE_FUSED", fused)
        net = fl.MLP([5, 8, 2], activation="linear", output="linear", seed=0,
                     dtype=np.float64)
        with pytest.raises(T.DivergenceError) as err, np.errstate(all="ignore"):
            fl.train(net, name, (X, Y), epochs=50, lr=10.0, batch_size=8, seed=0,
                     progress=False)
        out.append((str(err.value), net))
    assert out[0][0] == out[1][0]
    for p, q in zip(out[0][1].weights + out[0][1].biases, out[1][1].weights + out[1][1].biases):
        np.testing.assert_array_equal(p, q)
        assert np.isfinite(p).all()


# ------------------------------------- against the independent NumPy reference
def reference_training(rule, net, feedback, X, Y, epochs, lr, batch, seed, momentum, wd):
    """Minibatch training written from the update equations (tests/naive.py)."""
    Ws = [w.astype(np.float64) for w in net.weights]
    bs = [b.astype(np.float64) for b in net.biases]
    Bs = [B.astype(np.float64) for B in feedback]
    vW = [np.zeros_like(w) for w in Ws]
    vb = [np.zeros_like(b) for b in bs]
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            grads = naive.gradients(rule, Ws, bs, X[idx], Y[idx], net.activation, net.output,
                                    net.loss_name, Bs)
            for l, (dW, db) in enumerate(grads):
                vW[l] = momentum * vW[l] + dW
                vb[l] = momentum * vb[l] + db
                Ws[l] = Ws[l] - lr * vW[l] - lr * wd * Ws[l]
                bs[l] = bs[l] - lr * vb[l]
    return Ws, bs


@pytest.mark.parametrize("name", ("bp", "fa"))
@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.9, 0.01)])
@pytest.mark.parametrize("sizes, batch", [((9, 12, 10, 3), 7), ((100, 400, 10), 64)],
                         ids=["small", "folded"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_compiled_loop_matches_the_update_equations(name, momentum, wd, sizes, batch, dtype,
                                                    rtol):
    n = 150
    X, y = blobs(n, sizes[0], sizes[-1], seed=5, dtype=dtype)
    Y = np.eye(sizes[-1])[y]
    net = fl.MLP(list(sizes), seed=0, dtype=dtype)
    rule = fl.rules.get(name, net, seed=1)
    assert T._fused_plan(rule, {}) is not None
    want_W, want_b = reference_training(name, net.copy(), rule.feedback, X.astype(np.float64),
                                        Y, 2, 0.05, batch, 8, momentum, wd)
    fl.train(net, rule, (X, y), epochs=2, lr=0.05, batch_size=batch, seed=8,
             momentum=momentum, weight_decay=wd, progress=False)
    for got, want in zip(net.weights + net.biases, want_W + want_b):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
