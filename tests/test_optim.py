"""The optimizer step against naive.optimizer_step (fa_lessons.optim's documented maths).

One step of SGD, momentum (two steps, so the velocity matters), decoupled
weight decay, Batch Manhattan and Manhattan with momentum; biases are never
decayed.  Checked on ``Optimizer.step`` directly and through ``train``.

Run: ``.venv/bin/python -m pytest tests/test_optim.py -q``
"""

from types import SimpleNamespace

import numpy as np
import pytest

import fa_lessons as fl
import naive
from fa_lessons.optim import Optimizer

CASES = {
    "sgd": dict(optimizer="sgd", momentum=0.0, weight_decay=0.0),
    "momentum": dict(optimizer="sgd", momentum=0.9, weight_decay=0.0),
    "weight_decay": dict(optimizer="sgd", momentum=0.0, weight_decay=0.3),
    "momentum+decay": dict(optimizer="sgd", momentum=0.5, weight_decay=0.1),
    "manhattan": dict(optimizer="manhattan", momentum=0.0, weight_decay=0.0),
    "manhattan+momentum": dict(optimizer="manhattan", momentum=0.8, weight_decay=0.0),
    "manhattan+decay": dict(optimizer="bm", momentum=0.0, weight_decay=0.2),
}
LR = 0.05


def setup(seed=0):
    net = fl.MLP([5, 4, 3], dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    grads = [[(rng.normal(size=W.shape), rng.normal(size=b.shape))
              for W, b in zip(net.weights, net.biases)] for _ in range(2)]
    for dW, _ in grads[0]:
        dW[0, 0] = 0.0  # a zero gradient: no Manhattan step there
    return net, grads


def naive_steps(net, grads, lr, momentum, weight_decay, optimizer):
    """Apply the steps in ``grads`` with naive.optimizer_step; return (W, b, steps)."""
    manhattan = optimizer in ("manhattan", "bm")
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(v) for v in b]
    for g in grads:
        steps = []
        for l, (dW, db) in enumerate(g):
            W[l], s, vW[l] = naive.optimizer_step(W[l], dW, vW[l], lr, momentum, weight_decay,
                                                  manhattan)
            b[l], _, vb[l] = naive.optimizer_step(b[l], db, vb[l], lr, momentum, 0.0,
                                                  manhattan)
            steps.append(s)
    return W, b, steps


@pytest.mark.parametrize("n_steps", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_optimizer_step_matches_naive(case, n_steps):
    net, grads = setup()
    grads = grads[:n_steps]
    kw = CASES[case]
    W, b, steps = naive_steps(net, grads, LR, **kw)
    opt = Optimizer(net, lr=LR, **kw)
    for g in grads:
        ws = SimpleNamespace(dW=[dW.copy() for dW, _ in g], db=[db.copy() for _, db in g])
        opt.step(net, ws, [1, 2])
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], W[l], rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(net.biases[l], b[l], rtol=1e-14, atol=1e-16)
        # ws.dW now holds the step s = -lr d (without the decay), which KP reads.
        np.testing.assert_allclose(ws.dW[l], steps[l], rtol=1e-14, atol=1e-16)


def test_momentum_second_step_differs_from_plain_sgd():
    """The velocity carries over: two momentum steps are not two SGD steps."""
    net, grads = setup()
    W_sgd, *_ = naive_steps(net, grads, LR, 0.0, 0.0, "sgd")
    W_mom, *_ = naive_steps(net, grads, LR, 0.9, 0.0, "sgd")
    opt = Optimizer(net, lr=LR, momentum=0.9)
    for g in grads:
        opt.step(net, SimpleNamespace(dW=[d.copy() for d, _ in g], db=[d.copy() for _, d in g]),
                 [1, 2])
    np.testing.assert_allclose(net.weights[0], W_mom[0], rtol=1e-14)
    assert not np.allclose(net.weights[0], W_sgd[0], rtol=1e-6)
    # by hand: W2 = W0 - lr g1 - lr (0.9 g1 + g2)
    W0 = setup()[0].weights[0]
    g1, g2 = grads[0][0][0], grads[1][0][0]
    np.testing.assert_allclose(net.weights[0], W0 - LR * g1 - LR * (0.9 * g1 + g2), rtol=1e-14)


def test_weight_decay_is_decoupled_and_spares_biases():
    net, grads = setup()
    W0 = [w.copy() for w in net.weights]
    b0 = [v.copy() for v in net.biases]
    zero = SimpleNamespace(dW=[np.zeros_like(w) for w in W0], db=[np.zeros_like(v) for v in b0])
    Optimizer(net, lr=0.1, weight_decay=0.5).step(net, zero, [1, 2])
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], (1 - 0.05) * W0[l], rtol=1e-15)
        assert np.array_equal(net.biases[l], b0[l])
    # With Manhattan and momentum, the decay is outside both: still exactly 1 - lr*wd.
    net, _ = setup()
    Optimizer(net, "manhattan", lr=0.1, momentum=0.9, weight_decay=0.5).step(net, zero, [1, 2])
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], (1 - 0.05) * W0[l], rtol=1e-15)


def test_manhattan_steps_have_size_lr():
    net, grads = setup()
    W0 = [w.copy() for w in net.weights]
    g = grads[0]
    Optimizer(net, "manhattan", lr=0.01).step(
        net, SimpleNamespace(dW=[d.copy() for d, _ in g], db=[d.copy() for _, d in g]), [1, 2])
    for l in range(2):
        d = net.weights[l] - W0[l]
        np.testing.assert_allclose(np.abs(d[g[l][0] != 0]), 0.01, rtol=1e-12)
    assert net.weights[0][0, 0] == W0[0][0, 0]  # zero gradient: no step


def test_only_listed_layers_step():
    net, grads = setup()
    W0 = [w.copy() for w in net.weights]
    g = grads[0]
    Optimizer(net, lr=0.1).step(
        net, SimpleNamespace(dW=[d.copy() for d, _ in g], db=[d.copy() for _, d in g]), [2])
    assert np.array_equal(net.weights[0], W0[0])
    assert not np.array_equal(net.weights[1], W0[1])


@pytest.mark.parametrize("case", CASES)
def test_train_steps_match_naive(case):
    """``train`` with one full batch per epoch: two epochs are two naive steps."""
    net = fl.MLP([6, 5, 3], dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 6)), rng.integers(0, 3, 10)
    T = np.eye(3)[y]
    kw = CASES[case]
    manhattan = kw["optimizer"] in ("manhattan", "bm")
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(v) for v in b]
    for _ in range(2):
        g = naive.gradients("bp", W, b, X, T, "tanh", "softmax", "cross_entropy")
        for l, (dW, db) in enumerate(g):
            W[l], _, vW[l] = naive.optimizer_step(W[l], dW, vW[l], LR, kw["momentum"],
                                                  kw["weight_decay"], manhattan)
            b[l], _, vb[l] = naive.optimizer_step(b[l], db, vb[l], LR, kw["momentum"], 0.0,
                                                  manhattan)
    fl.train(net, "bp", (X, y), epochs=2, lr=LR, batch_size=10, shuffle=False, seed=0,
             progress=False, **kw)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], W[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(net.biases[l], b[l], rtol=1e-12, atol=1e-15)


def test_train_without_bias_keeps_biases_zero():
    net = fl.MLP([6, 5, 3], dtype=np.float64, bias=False, seed=1)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 6)), rng.integers(0, 3, 10)
    fl.train(net, "bp", (X, y), epochs=2, lr=0.1, batch_size=4, momentum=0.9,
             optimizer="manhattan", seed=0, progress=False)
    assert all(not b.any() for b in net.biases)


def test_optimizer_names():
    net, _ = setup()
    assert Optimizer(net, "bm").name == "manhattan"
    with pytest.raises(ValueError, match="optimizer='adam'.*sgd.*manhattan"):
        Optimizer(net, "adam")
