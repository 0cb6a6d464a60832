"""fa_lessons.metrics: angles (degrees, clipped cosine), per-layer alignments, NSE.

Run: ``.venv/bin/python -m pytest tests/test_metrics.py -q``
"""

import numpy as np
import pytest

import fa_lessons as fl
import naive

angle = fl.metrics.angle


# arccos resolves angles near 0 and 180 degrees only to about
# degrees(sqrt(2 eps)) ~ 1e-6 degrees: a cosine of 1 - 1e-16 is 8.5e-7 degrees.
# GUIDE.md prescribes arccos of the clipped cosine, so "0" means below 1e-5 here.
ZERO = 1e-5


def test_angle_special_values():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 7))
    assert 0.0 <= angle(W, W) < ZERO
    assert 180.0 - ZERO < angle(W, -W) <= 180.0
    assert angle([1.0, 0.0], [0.0, 3.0]) == 90.0
    assert angle([1.0, 0.0], [1.0, 1.0]) == pytest.approx(45.0, abs=1e-12)
    assert angle([1.0, 0.0], [-1.0, np.sqrt(3.0)]) == pytest.approx(120.0, abs=1e-12)
    assert isinstance(angle(W, W), float)


def test_angle_matches_naive_and_is_symmetric():
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.normal(size=(2, 11))
        assert angle(a, b) == pytest.approx(naive.angle_deg(a, b), abs=1e-10)
        assert angle(a, b) == angle(b, a)


def test_angle_is_scale_invariant_and_flattens():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 4, 3))
    base = angle(a, b)
    for s, t in ((3.0, 1.0), (1e-150, 1e150), (2.5, 1e-3)):
        assert angle(s * a, t * b) == pytest.approx(base, abs=1e-10)
    assert angle(-a, b) == pytest.approx(180.0 - base, abs=1e-10)
    assert angle(a.reshape(12), b.reshape(2, 6)) == pytest.approx(base, abs=1e-12)
    assert angle(a.astype(np.float32), b) == pytest.approx(base, abs=1e-4)


def test_angle_of_zeros_is_nan():
    """Documented choice: the angle with an all-zero array is undefined, so nan."""
    assert np.isnan(angle(np.zeros(3), np.ones(3)))
    assert np.isnan(angle(np.ones(3), np.zeros(3)))
    assert np.isnan(angle(np.zeros((2, 2)), np.zeros((2, 2))))


def test_angle_of_nearly_parallel_vectors_is_never_nan():
    """Rounding can push the cosine just past +-1; the clip keeps arccos defined."""
    rng = np.random.default_rng(3)
    for n in (1, 3, 10, 1000):
        for _ in range(50):
            a = rng.normal(size=n)
            b = a * (1 + 1e-16 * rng.normal(size=n))
            for x, y in ((a, b), (a, -b), (a, a * 7.3), (a.astype(np.float32), a)):
                v = angle(x, y)
                assert np.isfinite(v) and 0.0 <= v <= 180.0
    # A case whose raw cosine rounds above 1.
    a = np.full(3, 0.7)
    assert a @ a / (np.linalg.norm(a) * np.linalg.norm(a)) > 1.0
    assert angle(a, a) == 0.0
    assert angle(a, -a) == 180.0


def test_angle_bad_input():
    with pytest.raises(ValueError, match="equal size"):
        angle(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="NaN or inf"):
        angle(np.array([1.0, np.nan]), np.ones(2))


def test_normalised_squared_error_definition():
    nse = fl.metrics.normalised_squared_error
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(20, 3))
    P = rng.normal(size=(20, 3))
    assert nse(P, Y) == pytest.approx(np.sum((P - Y) ** 2) / np.sum(Y ** 2), rel=1e-14)
    assert nse(np.zeros_like(Y), Y) == 1.0  # a silent network scores 1
    assert nse(Y, Y) == 0.0
    assert nse(2 * Y, Y) == pytest.approx(1.0)
    assert nse(P, Y) != nse(Y, P)  # normalised by the target only
    with pytest.raises(ValueError, match="shape"):
        nse(P[:, :2], Y)
    with pytest.raises(ValueError, match="all zeros"):
        nse(P, np.zeros_like(Y))


# ---------------------------------------------------------- per-layer angles
def _setup(seed=0):
    net = fl.MLP([6, 5, 4, 3], dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    return net, rng.normal(size=(10, 6)), rng.integers(0, 3, 10)


@pytest.mark.parametrize("name", ["fa", "dfa", "usf", "frsf", "brsf", "kp", "wm"])
def test_update_and_signal_angles_match_naive(name):
    net, X, y = _setup()
    rule = fl.rules.get(name, net, seed=1)
    T = np.eye(3)[y]
    args = (net.weights, net.biases, X, T, "tanh", "softmax", "cross_entropy")
    ours = naive.gradients(name, *args, [B.copy() for B in rule.feedback])
    bp = naive.gradients("bp", *args)
    ua = fl.metrics.update_angles(net, rule, X, y)
    assert ua.shape == (3,)
    np.testing.assert_allclose(ua, [naive.angle_deg(o[0], b[0]) for o, b in zip(ours, bp)],
                               atol=1e-9)
    assert abs(ua[-1]) < ZERO  # the output layer gets the same error
    d_ours = naive.deltas(name, *args, [B.copy() for B in rule.feedback])
    d_bp = naive.deltas("bp", *args)
    sa = fl.metrics.signal_angles(net, rule, X, y)
    assert sa.shape == (2,)
    np.testing.assert_allclose(sa, [naive.angle_deg(o, b) for o, b in zip(d_ours[:-1], d_bp)],
                               atol=1e-9)
    assert (ua[:-1] > 1).all()  # random feedback: not BP


def test_bp_angles_are_zero_and_shallow_gives_nan():
    net, X, y = _setup()
    bp = fl.rules.get("bp", net)
    np.testing.assert_allclose(fl.metrics.update_angles(net, bp, X, y), 0, atol=ZERO)
    np.testing.assert_allclose(fl.metrics.signal_angles(net, bp, X, y), 0, atol=ZERO)
    sh = fl.metrics.update_angles(net, fl.rules.get("shallow", net), X, y)
    assert np.isnan(sh[:-1]).all() and abs(sh[-1]) < ZERO
    assert np.isnan(fl.metrics.signal_angles(net, fl.rules.get("shallow", net), X, y)).all()
    for name in ("bp", "shallow"):
        with pytest.raises(ValueError, match="no feedback"):
            fl.metrics.weight_angles(net, fl.rules.get(name, net))


def test_weight_angles():
    net, X, y = _setup()
    fa = fl.rules.get("fa", net, seed=2)
    wa = fl.metrics.weight_angles(net, fa)
    assert wa.shape == (2,)
    np.testing.assert_allclose(
        wa, [naive.angle_deg(net.weights[l], fa.feedback[l]) for l in (1, 2)], atol=1e-10)
    fa.feedback[1] = net.weights[1].copy()
    fa.feedback[2] = -3 * net.weights[2]
    np.testing.assert_allclose(fl.metrics.weight_angles(net, fa), [0, 180], atol=ZERO)
    dfa = fl.rules.get("dfa", net, seed=2)
    want = [naive.angle_deg(net.weights[2] @ net.weights[1], dfa.feedback[0]),
            naive.angle_deg(net.weights[2], dfa.feedback[1])]
    np.testing.assert_allclose(fl.metrics.weight_angles(net, dfa), want, atol=1e-10)
    usf = fl.rules.get("usf", net)
    assert (fl.metrics.weight_angles(net, usf) < 45).all()  # sign-concordant
