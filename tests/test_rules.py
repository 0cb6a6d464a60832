"""Every learning rule against the independent reference ``tests/naive.py``.

Float64 throughout (one float32 smoke check).  Same weights, same feedback
(the rule's own, and matrices set by hand), same batch: gradients and
teaching signals agree to 1e-12 relative.  Then the identities that tie the
rules together (FA with B = W is BP, DFA with D = W_out is BP, uSF with W = s
is BP, Kolen-Pollack shrinks W - B by exactly 1 - lr*wd) and the behaviour of
the per-step hooks (frSF, brSF, KP, WM, shallow).

Run: ``.venv/bin/python -m pytest tests/test_rules.py -q``
"""

import numpy as np
import pytest

import fa_lessons as fl
import naive

ARCHS = {
    "7-5-3": ([7, 5, 3], "tanh", "softmax", None),
    "6-5-4-3": ([6, 5, 4, 3], "sigmoid", "linear", None),
    "4-6-5-4-2": ([4, 6, 5, 4, 2], "relu", "sigmoid", "bce"),
    "5-8-3/sigmoid-se": ([5, 8, 3], "tanh", "sigmoid", "squared_error"),
    "3-2": ([3, 2], "tanh", "softmax", None),
}
WITH_FEEDBACK = ("fa", "dfa", "usf", "frsf", "brsf", "kp", "wm")
RTOL = 1e-12


def make(arch, seed=0, N=9, dtype=np.float64, bias=True):
    """A network, a batch and its 2-D targets for ``arch``."""
    sizes, act, out, loss = ARCHS[arch]
    net = fl.MLP(sizes, activation=act, output=out, loss=loss, init="xavier", bias=bias,
                 seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    if bias:
        for b in net.biases:
            b[...] = rng.normal(0.0, 0.3, size=b.shape)
    X = rng.normal(size=(N, sizes[0])).astype(dtype)
    if out == "softmax":
        y = rng.integers(0, sizes[-1], size=N)
        T = np.eye(sizes[-1])[y]
    elif out == "linear":
        y = T = rng.normal(size=(N, sizes[-1])).astype(dtype)
    else:
        y = T = rng.uniform(size=(N, sizes[-1])).astype(dtype)
    return net, X, y, T


def naive_grads(rule_name, net, X, T, feedback):
    return naive.gradients(rule_name, net.weights, net.biases, X, T, net.activation,
                           net.output, net.loss_name, feedback, bias=net.bias)


def naive_deltas(rule_name, net, X, T, feedback):
    return naive.deltas(rule_name, net.weights, net.biases, X, T, net.activation,
                        net.output, net.loss_name, feedback)


def assert_grads_close(got, want, rtol=RTOL):
    assert len(got) == len(want)
    for l, ((gW, gb), (wW, wb)) in enumerate(zip(got, want), start=1):
        assert gW.shape == wW.shape and gb.shape == wb.shape
        assert naive.rel_err(gW, wW) <= rtol, f"dW_{l}: {naive.rel_err(gW, wW):.2e}"
        assert naive.rel_err(gb, wb) <= rtol, f"db_{l}: {naive.rel_err(gb, wb):.2e}"


def assert_deltas_close(got, want, rtol=RTOL):
    for l, (g, w) in enumerate(zip(got, want), start=1):
        if w is None:
            assert g is None, f"delta_{l} should be None (layer not trained)"
        else:
            assert naive.rel_err(g, w) <= rtol, f"delta_{l}: {naive.rel_err(g, w):.2e}"


def random_feedback(rule, rng):
    return [rng.normal(size=s) for s in rule.feedback_shapes()]


# --------------------------------------------------------- rules vs naive.py
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", naive.ALL_RULES)
def test_rule_matches_naive_with_its_own_feedback(name, arch):
    net, X, y, T = make(arch)
    rule = fl.rules.get(name, net, seed=3)
    fb = [B.copy() for B in rule.feedback]
    assert_grads_close(rule.gradients(net, X, y), naive_grads(name, net, X, T, fb))
    assert_deltas_close(rule.deltas(net, X, y), naive_deltas(name, net, X, T, fb))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", WITH_FEEDBACK)
def test_rule_matches_naive_with_feedback_set_by_hand(name, arch):
    """Replacing the arrays, and overwriting them in place, both take effect."""
    net, X, y, T = make(arch, seed=1)
    rule = fl.rules.get(name, net, seed=4)
    rng = np.random.default_rng(5)
    fb = random_feedback(rule, rng)
    for i, B in enumerate(fb):
        rule.feedback[i] = B.copy()
    assert_grads_close(rule.gradients(net, X, y), naive_grads(name, net, X, T, fb))
    fb2 = random_feedback(rule, rng)
    for i, B in enumerate(fb2):
        rule.feedback[i][...] = B
    assert_grads_close(rule.gradients(net, X, y), naive_grads(name, net, X, T, fb2))
    assert_deltas_close(rule.deltas(net, X, y), naive_deltas(name, net, X, T, fb2))


@pytest.mark.parametrize("name", naive.ALL_RULES)
def test_rule_matches_naive_without_bias(name):
    net, X, y, T = make("6-5-4-3", seed=2, bias=False)
    rule = fl.rules.get(name, net, seed=6)
    got = rule.gradients(net, X, y)
    assert_grads_close(got, naive_grads(name, net, X, T, [B.copy() for B in rule.feedback]))
    assert all(not db.any() for _, db in got)


@pytest.mark.parametrize("name", naive.ALL_RULES)
def test_rule_matches_naive_batch_of_one(name):
    net, X, y, T = make("4-6-5-4-2", seed=3, N=1)
    rule = fl.rules.get(name, net, seed=7)
    assert_grads_close(rule.gradients(net, X, y),
                       naive_grads(name, net, X, T, [B.copy() for B in rule.feedback]))


@pytest.mark.parametrize("name", naive.ALL_RULES)
def test_rule_float32_close_to_naive(name):
    """The float32 path computes the same thing (to float32 accuracy)."""
    net, X, y, T = make("7-5-3", seed=4, dtype=np.float32)
    rule = fl.rules.get(name, net, seed=8)
    got = rule.gradients(net, X, y)
    assert got[0][0].dtype == np.float32
    w64 = [w.astype(np.float64) for w in net.weights]
    b64 = [b.astype(np.float64) for b in net.biases]
    want = naive.gradients(name, w64, b64, X.astype(np.float64), T, net.activation,
                           net.output, net.loss_name,
                           [B.astype(np.float64) for B in rule.feedback])
    assert_grads_close(got, want, rtol=1e-5)


# ----------------------------------------------------------- feedback shapes
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", naive.ALL_RULES)
def test_feedback_shapes(name, arch):
    net, *_ = make(arch)
    rule = fl.rules.get(name, net, seed=0)
    shapes = [B.shape for B in rule.feedback]
    if name in ("bp", "shallow"):
        want = []
    elif name == "dfa":
        want = [(net.sizes[-1], n) for n in net.sizes[1:-1]]
    else:
        want = [W.shape for W in net.weights]
    assert shapes == want
    assert rule.feedback_shapes() == want
    assert all(B.dtype == net.dtype and B.flags.c_contiguous for B in rule.feedback)


def test_available_rules():
    assert fl.rules.available() == list(naive.ALL_RULES)


# ------------------------------------------------ documented default feedback
def test_fa_default_and_scaled_feedback_distributions():
    net = fl.MLP([400, 300, 200], dtype=np.float64, seed=0)
    rule = fl.rules.get("fa", net, seed=0)
    for B in rule.feedback:
        r = 1 / np.sqrt(B.shape[1])  # U[-1/sqrt(n_{l-1}), 1/sqrt(n_{l-1})]
        assert np.abs(B).max() <= r and np.abs(B).max() > 0.99 * r
        assert B.std() == pytest.approx(r / np.sqrt(3), rel=0.02)
    B = fl.rules.get("fa", net, seed=0, scale=0.5).feedback[1]
    assert np.abs(B).max() <= 0.5 and B.std() == pytest.approx(0.5 / np.sqrt(3), rel=0.02)
    B = fl.rules.get("fa", net, seed=0, dist="normal", scale=0.2).feedback[1]
    assert B.std() == pytest.approx(0.2, rel=0.02) and np.abs(B).max() > 0.6


def test_dfa_default_feedback_distribution():
    net = fl.MLP([50, 400, 100, 300], dtype=np.float64, seed=0)
    rule = fl.rules.get("dfa", net, seed=0)
    for D, n_l in zip(rule.feedback, [400, 100]):
        r = 1 / np.sqrt(n_l)  # Nøkland: U[-1/sqrt(n_l), 1/sqrt(n_l)]
        assert np.abs(D).max() <= r and D.std() == pytest.approx(r / np.sqrt(3), rel=0.03)


@pytest.mark.parametrize("name", WITH_FEEDBACK)
def test_same_seed_same_feedback_different_seed_different(name):
    net, *_ = make("6-5-4-3")
    a, b, c = (fl.rules.get(name, net, seed=s) for s in (1, 1, 2))
    for Ba, Bb, Bc in zip(a.feedback, b.feedback, c.feedback):
        assert np.array_equal(Ba, Bb)
        if name != "usf":  # uSF has no randomness: B = s sign(W)
            assert not np.array_equal(Ba, Bc)


# ---------------------------------------------------------------- identities
@pytest.mark.parametrize("arch", ARCHS)
def test_fa_with_feedback_equal_to_weights_is_bp(arch):
    net, X, y, _ = make(arch, seed=5)
    fa = fl.rules.get("fa", net, seed=0)
    for l, W in enumerate(net.weights):
        fa.feedback[l] = W.copy()
    bp = fl.rules.get("bp", net).gradients(net, X, y)
    for (a, b), (c, d) in zip(fa.gradients(net, X, y), bp):
        assert np.array_equal(a, c) and np.array_equal(b, d)


@pytest.mark.parametrize("arch", ["7-5-3", "5-8-3/sigmoid-se"])
def test_dfa_one_hidden_layer_with_d_equal_to_output_weights_is_bp(arch):
    net, X, y, _ = make(arch, seed=6)
    dfa = fl.rules.get("dfa", net, seed=0)
    dfa.feedback[0] = net.weights[1].copy()
    bp = fl.rules.get("bp", net).gradients(net, X, y)
    for (a, b), (c, d) in zip(dfa.gradients(net, X, y), bp):
        assert np.array_equal(a, c) and np.array_equal(b, d)


def test_dfa_linear_network_with_products_of_weights_is_bp():
    """In a linear net BP sends e back through W_L ... W_{l+1}; DFA with that D is BP."""
    net = fl.MLP([5, 6, 4, 3, 2], activation="linear", output="linear", dtype=np.float64,
                 seed=1)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(8, 5)), rng.normal(size=(8, 2))
    dfa = fl.rules.get("dfa", net, seed=0)
    L = net.n_layers
    for l in range(1, L):
        P = net.weights[L - 1]
        for k in range(L - 1, l, -1):
            P = P @ net.weights[k - 1]
        dfa.feedback[l - 1] = P.copy()
    assert_grads_close(dfa.gradients(net, X, Y), fl.rules.get("bp", net).gradients(net, X, Y))
    assert np.allclose(fl.metrics.weight_angles(net, dfa), 0, atol=1e-5)


def test_usf_default_feedback_is_scaled_sign_of_weights():
    net, X, y, T = make("6-5-4-3", seed=7)
    rule = fl.rules.get("usf", net)
    want = [naive.usf_default_scale(W) * np.sign(W) for W in net.weights]
    for B, Bw in zip(rule.feedback, want):
        np.testing.assert_allclose(B, Bw, rtol=1e-15)
    rule = fl.rules.get("usf", net, scale=0.3)
    for B, Bw in zip(rule.feedback, naive.usf_feedback(net.weights, 0.3)):
        np.testing.assert_allclose(B, Bw, rtol=1e-15)


def test_usf_with_positive_weights_sends_error_through_constant_matrix():
    """W > 0 everywhere: B = s * ones, whatever the magnitudes of W."""
    net, X, y, T = make("6-5-4-3", seed=8)
    for W in net.weights:
        W[...] = np.abs(W) + 0.01
    s = 0.37
    rule = fl.rules.get("usf", net, scale=s)
    for B in rule.feedback:
        assert np.array_equal(B, np.full(B.shape, s))
    ones = [s * np.ones_like(W) for W in net.weights]
    assert_grads_close(rule.gradients(net, X, y), naive_grads("fa", net, X, T, ones))


def test_usf_equals_bp_when_weights_equal_the_scale():
    """With W_l = s * ones for l >= 2, uSF's B = s sign(W) = W: the gradients are BP's."""
    net, X, y, _ = make("6-5-4-3", seed=9)
    s = 0.2
    for W in net.weights[1:]:
        W[...] = s
    rule = fl.rules.get("usf", net, scale=s)
    bp = fl.rules.get("bp", net).gradients(net, X, y)
    for (a, b), (c, d) in zip(rule.gradients(net, X, y), bp):
        assert np.array_equal(a, c) and np.array_equal(b, d)


# ------------------------------------------------------- sign-symmetry hooks
def _train_steps(net, rule, X, y, steps, lr=0.5):
    return fl.train(net, rule, (X, y), epochs=steps, lr=lr, batch_size=len(X), seed=0,
                    progress=False)


def test_usf_feedback_follows_the_signs_after_steps():
    net, X, y, _ = make("7-5-3", seed=10)
    rule = fl.rules.get("usf", net, scale=0.3)
    _train_steps(net, rule, X, y, 3, lr=2.0)
    for B, Bw in zip(rule.feedback, naive.usf_feedback(net.weights, 0.3)):
        np.testing.assert_array_equal(B, Bw)


def test_frsf_magnitudes_fixed_signs_follow_weights():
    net, X, y, _ = make("7-5-3", seed=11)
    rule = fl.rules.get("frsf", net, seed=1)
    M0 = [np.abs(B).copy() for B in rule.feedback]
    for B, W in zip(rule.feedback, net.weights):
        assert np.array_equal(np.sign(B), np.sign(W))
    signs0 = [np.sign(W).copy() for W in net.weights]
    _train_steps(net, rule, X, y, 5, lr=3.0)
    assert any((np.sign(W) != s).any() for W, s in zip(net.weights, signs0)), \
        "the test needs some weights to change sign"
    for B, Bw in zip(rule.feedback, naive.frsf_feedback(net.weights, M0)):
        np.testing.assert_array_equal(B, Bw)


def test_brsf_redraws_magnitudes_every_batch_and_repeats_under_a_seed():
    net0, X, y, _ = make("7-5-3", seed=12)

    def run(seed):
        net = net0.copy()
        rule = fl.rules.get("brsf", net, seed=seed)
        draws = [[B.copy() for B in rule.feedback]]
        for _ in range(3):
            _train_steps(net, rule, X, y, 1)
            draws.append([B.copy() for B in rule.feedback])
            for B, W in zip(rule.feedback, net.weights):
                assert np.array_equal(np.sign(B), np.sign(W))
        return draws, net

    a, net_a = run(1)
    b, net_b = run(1)
    c, _ = run(2)
    for t in range(1, 4):  # magnitudes differ from batch to batch
        assert not np.array_equal(np.abs(a[t][1]), np.abs(a[t - 1][1]))
    for da, db in zip(a, b):  # and repeat exactly under one seed
        for Ba, Bb in zip(da, db):
            assert np.array_equal(Ba, Bb)
    assert all(np.array_equal(p, q) for p, q in zip(net_a.weights, net_b.weights))
    assert not np.array_equal(a[0][1], c[0][1])


def test_frsf_gradients_use_absolute_magnitudes_times_signs():
    net, X, y, T = make("6-5-4-3", seed=13)
    rule = fl.rules.get("frsf", net, seed=2, dist="normal", scale=0.4)
    assert any((B < 0).any() for B in rule.feedback)
    M = [np.abs(B) for B in rule.feedback]
    fb = naive.frsf_feedback(net.weights, M)
    assert_grads_close(rule.gradients(net, X, y), naive_grads("fa", net, X, T, fb))


# ------------------------------------------------------------ Kolen-Pollack
def test_kp_hook_matches_naive_and_shrinks_the_difference():
    net, *_ = make("6-5-4-3", seed=14)
    rule = fl.rules.get("kp", net, seed=3)
    rng = np.random.default_rng(0)
    B0 = [B.copy() for B in rule.feedback]
    steps = [rng.normal(size=W.shape) * 0.1 for W in net.weights]
    decay = 0.03
    diff0 = [np.linalg.norm(W - B) for W, B in zip(net.weights, B0)]
    for W, s in zip(net.weights, steps):  # what the optimizer does to W
        W += s - decay * W
    rule.update_feedback(net, [s.copy() for s in steps], decay)
    for B, Bw in zip(rule.feedback, map(naive.kp_update, B0, steps, [decay] * 3)):
        np.testing.assert_allclose(B, Bw, rtol=1e-14, atol=1e-16)
    for W, B, d0 in zip(net.weights, rule.feedback, diff0):
        assert np.linalg.norm(W - B) / d0 == pytest.approx(1 - decay, rel=1e-12)


@pytest.mark.parametrize("optimizer, momentum", [("sgd", 0.0), ("sgd", 0.9),
                                                 ("manhattan", 0.0)])
def test_kp_one_training_step_shrinks_w_minus_b_by_one_minus_lr_wd(optimizer, momentum):
    net, X, y, _ = make("6-5-4-3", seed=15)
    rule = fl.rules.get("kp", net, seed=4)
    diff0 = [W - B for W, B in zip(net.weights, rule.feedback)]
    lr, wd = 0.2, 0.25
    fl.train(net, rule, (X, y), epochs=1, lr=lr, batch_size=len(X), weight_decay=wd,
             optimizer=optimizer, momentum=momentum, seed=0, progress=False)
    for W, B, d0 in zip(net.weights, rule.feedback, diff0):
        ratio = np.linalg.norm(W - B) / np.linalg.norm(d0)
        assert ratio == pytest.approx(1 - lr * wd, rel=1e-12)
        np.testing.assert_allclose(W - B, (1 - lr * wd) * d0, rtol=1e-12, atol=1e-15)


def test_kp_update_angle_falls_to_near_zero_while_fa_stays_high():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, 20))
    Y = np.tanh(X @ rng.normal(size=(5, 20)).T / np.sqrt(20))
    ends = {}
    for name in ("kp", "fa"):
        net = fl.MLP([20, 32, 32, 5], activation="tanh", output="linear", seed=0,
                     dtype=np.float64)
        rule = fl.rules.get(name, net, seed=10)
        h = fl.train(net, rule, (X, Y), epochs=20, lr=0.1, batch_size=32, weight_decay=0.3,
                     seed=0, progress=False, track=["update_angle"],
                     track_data=(X[:128], Y[:128]))
        angles = h.track("update_angle")
        assert angles.shape == (21, 3)
        assert (angles[0, :2] > 45).all()  # both start far from BP
        ends[name] = angles[-1, :2]
    assert (ends["kp"] < 5).all(), ends
    assert (ends["fa"] > 15).all(), ends


# ------------------------------------------------------------- weight mirror
def test_wm_hook_matches_naive():
    net, *_ = make("6-5-4-3", seed=16)
    rule = fl.rules.get("wm", net, seed=5, mirror_lr=0.1, mirror_noise=0.7, mirror_batch=16)
    B0 = [B.copy() for B in rule.feedback]
    rule.rng = np.random.default_rng(42)
    rule.update_feedback(net, [np.zeros_like(W) for W in net.weights], 0.0)
    want = naive.wm_update(B0, net.weights, np.random.default_rng(42), 0.1, 0.7, 0.49, 16)
    assert np.array_equal(rule.feedback[0], B0[0])  # B_1 is not mirrored
    for B, Bw in zip(rule.feedback, want):
        np.testing.assert_allclose(B, Bw, rtol=1e-12, atol=1e-15)
    rule2 = fl.rules.get("wm", net, seed=5, mirror_lr=0.1, mirror_noise=0.7, mirror_batch=16,
                         mirror_decay=0.2)
    B0 = [B.copy() for B in rule2.feedback]
    rule2.rng = np.random.default_rng(7)
    rule2.update_feedback(net, [np.zeros_like(W) for W in net.weights], 0.0)
    want = naive.wm_update(B0, net.weights, np.random.default_rng(7), 0.1, 0.7, 0.2, 16)
    for B, Bw in zip(rule2.feedback, want):
        np.testing.assert_allclose(B, Bw, rtol=1e-12, atol=1e-15)


def test_wm_weight_angle_decreases_over_mirror_steps():
    net = fl.MLP([20, 30, 30, 10], dtype=np.float64, seed=0)
    rule = fl.rules.get("wm", net, seed=1)
    zeros = [np.zeros_like(W) for W in net.weights]
    angles = [fl.metrics.weight_angles(net, rule)]
    for _ in range(10):
        for _ in range(20):
            rule.update_feedback(net, zeros, 0.0)
        angles.append(fl.metrics.weight_angles(net, rule))
    angles = np.array(angles)
    assert (angles[0] > 80).all()  # random start: about 90 degrees
    # Falls steadily, then sits at the noise floor of the mirror estimate.
    assert (np.diff(angles[:4], axis=0) < 0).all(), angles
    assert (angles[4:] < 10).all(), angles


def test_wm_brings_training_close_to_bp():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(256, 10))
    Y = np.tanh(X @ rng.normal(size=(4, 10)).T / np.sqrt(10))
    net = fl.MLP([10, 24, 24, 4], activation="tanh", output="linear", seed=0,
                 dtype=np.float64)
    rule = fl.rules.get("wm", net, seed=2)
    h = fl.train(net, rule, (X, Y), epochs=8, lr=0.05, batch_size=16, seed=0,
                 progress=False, track=["weight_angle", "update_angle"])
    w = h.track("weight_angle")
    assert (w[0] > 70).all() and (w[-1] < 15).all(), w[[0, -1]]
    assert (h.track("update_angle")[-1, :2] < 20).all()


# ------------------------------------------------------------------ shallow
def test_shallow_trains_only_the_last_layer():
    net, X, y, _ = make("6-5-4-3", seed=17)
    before = net.copy()
    rule = fl.rules.get("shallow", net)
    grads = rule.gradients(net, X, y)
    for dW, db in grads[:-1]:
        assert not dW.any() and not db.any()
    assert grads[-1][0].any()
    _train_steps(net, rule, X, y, 3)
    for l in range(net.n_layers - 1):
        assert np.array_equal(net.weights[l], before.weights[l])
        assert np.array_equal(net.biases[l], before.biases[l])
    assert not np.array_equal(net.weights[-1], before.weights[-1])
    assert not np.array_equal(net.biases[-1], before.biases[-1])
    assert [rule.trains(l) for l in (1, 2, 3)] == [False, False, True]


def test_shallow_last_layer_gradient_is_bp_gradient():
    net, X, y, _ = make("4-6-5-4-2", seed=18)
    sh = fl.rules.get("shallow", net).gradients(net, X, y)[-1]
    bp = fl.rules.get("bp", net).gradients(net, X, y)[-1]
    assert np.array_equal(sh[0], bp[0]) and np.array_equal(sh[1], bp[1])


@pytest.mark.parametrize("name", ["fa", "dfa", "usf", "frsf", "brsf", "kp", "wm"])
def test_output_layer_gradient_is_the_same_for_every_rule(name):
    net, X, y, _ = make("6-5-4-3", seed=19)
    g = fl.rules.get(name, net, seed=0).gradients(net, X, y)[-1]
    bp = fl.rules.get("bp", net).gradients(net, X, y)[-1]
    assert np.array_equal(g[0], bp[0]) and np.array_equal(g[1], bp[1])
