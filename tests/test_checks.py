"""Tests of fa_lessons.checks: every check passes a reference solution, fails typical wrong
answers with a message that names the mistake, and fails the stub with the stub message.

The reference solutions below are written the way a learner would write them (plain NumPy,
independent of the package), following the table in the exercise contract (exercises.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from fa_lessons import checks
from fa_lessons.checks import CheckFailed

# The contract: every check of the exercise table, by chapter.
CONTRACT = {
    1: ["softmax_ce_error", "bp_delta", "weight_gradients"],
    2: ["backward_pass", "shallow_gradients"],
    3: ["fa_delta", "nse", "angle"],
    4: ["weight_angles", "pseudobackprop_signal"],
    5: ["dfa_delta", "dfa_feedback"],
    6: ["usf_feedback", "brsf_feedback", "manhattan_step"],
    7: ["kp_update", "mirror_update"],
    8: ["update_angles"],
}
ALL = [n for names in CONTRACT.values() for n in names]


# ------------------------------------------------------------------ reference solutions

def softmax_ce_error(A, labels):
    z = np.exp(A - A.max(axis=1, keepdims=True))
    y = z / z.sum(axis=1, keepdims=True)
    t = np.zeros_like(A)
    t[np.arange(len(A)), labels] = 1
    return (y - t) / len(A)


def bp_delta(delta_next, W_next, h):
    return (delta_next @ W_next) * (1 - h**2)


def weight_gradients(delta, h_prev):
    return delta.T @ h_prev, delta.sum(axis=0)


def backward_pass(e, matrices, hs):
    L = len(matrices)
    deltas = [None] * L
    deltas[-1] = e
    for l in range(L - 1, 0, -1):
        deltas[l - 1] = (deltas[l] @ matrices[l]) * (1 - hs[l] ** 2)
    return deltas


def shallow_gradients(e, hs, weights):
    grads = [(np.zeros_like(W), np.zeros(W.shape[0], W.dtype)) for W in weights[:-1]]
    grads.append((e.T @ hs[-1], e.sum(axis=0)))
    return grads


def fa_delta(delta_next, B_next, h):
    return (delta_next @ B_next) * (1 - h**2)


def nse(y_pred, y_true):
    return float(np.sum((y_pred - y_true) ** 2) / np.sum(y_true**2))


def angle(a, b):
    a, b = np.ravel(a), np.ravel(b)
    c = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def weight_angles(weights, feedback):
    return np.array([angle(weights[l], feedback[l]) for l in range(1, len(weights))])


def pseudobackprop_signal(e, W):
    return e @ np.linalg.pinv(W).T


def dfa_delta(e, D, h):
    return (e @ D) * (1 - h**2)


def dfa_feedback(sizes, rng):
    return [rng.uniform(-1 / np.sqrt(n), 1 / np.sqrt(n), size=(sizes[-1], n)) for n in sizes[1:-1]]


def usf_feedback(W, scale):
    return scale * np.sign(W)


def brsf_feedback(W, rng):
    M = rng.uniform(-1, 1, size=W.shape).astype(W.dtype)
    return np.abs(M) * np.sign(W)


def manhattan_step(W, dW, lr):
    return W - lr * np.sign(dW)


def kp_update(W, B, dW, lr, weight_decay):
    return W - lr * dW - lr * weight_decay * W, B - lr * dW - lr * weight_decay * B


def mirror_update(B, W, x, mirror_lr, mirror_decay):
    y = x @ W.T
    return B + mirror_lr * (y.T @ x / len(x) - mirror_decay * B)


def update_angles(grads_rule, grads_bp):
    return np.array([angle(r[0], b[0]) for r, b in zip(grads_rule, grads_bp)])


SOLUTIONS = {n: globals()[n] for n in ALL}


# ------------------------------------------------------------------ typical wrong answers

def _sm(A, axis=1):
    z = np.exp(A - A.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def _onehot(labels, k):
    return np.eye(k)[labels]


def _wrong_backward(order=False, pick=0, deriv=lambda h: 1 - h**2):
    def fn(e, matrices, hs):
        L = len(matrices)
        deltas = [None] * L
        deltas[-1] = e
        for l in range(L - 1, 0, -1):
            deltas[l - 1] = (deltas[l] @ matrices[l - pick]) * deriv(hs[l])
        return deltas[::-1] if order else deltas
    return fn


def _dfa_fb(scale_of=lambda sizes, l: sizes[l], shape=lambda sizes, l: (sizes[-1], sizes[l]),
            draw=None, count=lambda L: range(1, L)):
    def fn(sizes, rng):
        L = len(sizes) - 1
        out = []
        for l in count(L):
            s = 1 / np.sqrt(scale_of(sizes, l))
            size = shape(sizes, l)
            out.append(draw(s, size) if draw else rng.uniform(-s, s, size=size))
        return out
    return fn


WRONG = {
    "softmax_ce_error": [
        (lambda A, labels: _sm(A) - _onehot(labels, A.shape[1]), r"1/N is missing"),
        (lambda A, labels: (_onehot(labels, A.shape[1]) - _sm(A)) / len(A), r"sign is flipped"),
        (lambda A, labels: (_sm(A, axis=0) - _onehot(labels, A.shape[1])) / len(A),
         r"wrong axis"),
        (lambda A, labels: (np.exp(A) / np.exp(A).sum(1, keepdims=True)
                            - _onehot(labels, A.shape[1])) / len(A),
         r"large logits.*(overflow|maximum)"),
    ],
    "bp_delta": [
        (lambda d, W, h: (d @ W.T) * (1 - h**2), r"square matrices.*W_next\.T was used"),
        (lambda d, W, h: (d @ W) * (1 - np.tanh(h) ** 2), r"wrong point.*1 - h\*\*2"),
        (lambda d, W, h: d @ W, r"derivative f'\(a\) = 1 - h\*\*2 is missing"),
        (lambda d, W, h: (W.T @ d.T).T * (1 - h**2) if W.shape[0] == W.shape[1]
         else (W @ d.T) * (1 - h**2), r"raised ValueError.*transpose"),
    ],
    "weight_gradients": [
        (lambda d, h: (h.T @ d, d.sum(0)), r"dW has shape \(4, 3\) but should have shape \(3, 4\)"
                                            r".*transposed"),
        (lambda d, h: (d.T @ h, d.mean(0)), r"db.*1/N is already inside delta"),
        (lambda d, h: (d.T @ h / len(d), d.sum(0)), r"dW was divided by the batch size"),
        (lambda d, h: d.T @ h, r"should be a pair \(dW, db\) but is an array"),
    ],
    "backward_pass": [
        (_wrong_backward(order=True), r"reverse order"),
        (_wrong_backward(deriv=lambda h: 1 - np.tanh(h) ** 2), r"wrong point"),
        (_wrong_backward(pick=1), r"(raised ValueError|matrices\[l-1\])"),
        (lambda e, ms, hs: _wrong_backward()(e, ms, hs)[:-1], r"delta_L = e is missing"),
    ],
    "shallow_gradients": [
        (lambda e, hs, ws: [(np.zeros_like(W), np.zeros(len(W))) for W in ws[:-1]]
         + [(e.T @ hs[-1], e.mean(0))], r"batch mean.*e\.sum\(axis=0\)"),
        (lambda e, hs, ws: [None for W in ws[:-1]] + [(e.T @ hs[-1], e.sum(0))],
         r"should be a pair \(dW_1, db_1\) but is None"),
        (lambda e, hs, ws: [(d.T @ h, d.sum(0)) for d, h in
                            zip(backward_pass(e, ws, hs), hs)], r"only the output layer learns"),
        (lambda e, hs, ws: [(np.zeros_like(W), np.zeros(len(W))) for W in ws[:-1]]
         + [(hs[-1].T @ e, e.sum(0))], r"transposed"),
    ],
    "fa_delta": [
        (lambda d, B, h: (d @ B.T) * (1 - h**2), r"B_next\.T was used instead of B_next"),
        (lambda d, B, h: (d @ B) * (1 - np.tanh(h) ** 2), r"derivative was taken at the wrong"),
        (lambda d, B, h: -(d @ B) * (1 - h**2), r"sign is flipped"),
        (lambda d, B, h: (d @ B) * h * (1 - h), r"sigmoid"),
    ],
    "nse": [
        (lambda yp, yt: np.mean((yp - yt) ** 2), r"mean squared error, not normalised"),
        (lambda yp, yt: np.sum((yp - yt) ** 2) / np.sum(yp**2), r"sum\(y_pred\*\*2\)"),
        (lambda yp, yt: np.sqrt(np.sum((yp - yt) ** 2) / np.sum(yt**2)), r"square root"),
        (lambda yp, yt: np.sum((yp - yt) ** 2, axis=1) / np.sum(yt**2),
         r"array of shape \(10,\), but a single number"),
    ],
    "angle": [
        (lambda a, b: np.arccos(np.clip(np.ravel(a) @ np.ravel(b)
                                        / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)),
         r"radians"),
        (lambda a, b: np.degrees(np.arccos(np.ravel(a) @ np.ravel(b)
                                           / (np.linalg.norm(a) * np.linalg.norm(b)))),
         r"parallel.*is nan.*not clipped"),
        (lambda a, b: np.ravel(a) @ np.ravel(b) / (np.linalg.norm(a) * np.linalg.norm(b)),
         r"cosine, not the angle"),
        (lambda a, b: np.degrees(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a)
                                                                  * np.linalg.norm(b)), -1, 1))),
         r"raised ValueError.*matrices \(3, 4\).*flatten both arrays"),
    ],
    "weight_angles": [
        (lambda W, B: np.array([angle(w, b) for w, b in zip(W, B)]),
         r"shape \(3,\) but should have shape \(2,\).*first layer was included"),
        (lambda W, B: np.array([angle(W[l], B[l]) for l in range(len(W) - 1)]), r"off by one"),
        (lambda W, B: np.radians([angle(W[l], B[l]) for l in range(1, len(W))]), r"radians"),
    ],
    "pseudobackprop_signal": [
        (lambda e, W: e @ W, r"backprop's signal"),
        (lambda e, W: e @ np.linalg.pinv(W), r"(raised ValueError|not transposed)"),
        (lambda e, W: e @ np.linalg.inv(W).T, r"LinAlgError.*pinv"),
    ],
    "dfa_delta": [
        (lambda e, D, h: (e @ D.T) * (1 - h**2), r"D\.T was used instead of D"),
        (lambda e, D, h: (e @ D) * (1 - np.tanh(h) ** 2), r"wrong point"),
        (lambda e, D, h: e @ D, r"is missing"),
    ],
    "dfa_feedback": [
        (_dfa_fb(shape=lambda s, l: (s[l], s[-1])), r"shape \(50, 30\).*transposed"),
        (_dfa_fb(scale_of=lambda s, l: s[-1]), r"reach .* looks like ±1/sqrt\(n_L\)"),
        (_dfa_fb(count=lambda L: range(1, L + 1)), r"returned 3 matrices.*output layer has no D"),
        (_dfa_fb(draw=lambda s, shape: np.random.uniform(-s, s, size=shape)),
         r"(did not draw from rng|same seed)"),
        (_dfa_fb(draw=lambda s, shape: s * np.random.default_rng(0).standard_normal(shape)),
         r"reach"),
    ],
    "usf_feedback": [
        (lambda W, scale: np.sign(W), r"scale is missing"),
        (lambda W, scale: scale * W, r"keeps only the signs"),
        (lambda W, scale: scale * np.where(W >= 0, 1.0, -1.0), r"zero weights.*np\.sign\(0\) = 0"),
    ],
    "brsf_feedback": [
        (lambda W, rng: np.sign(W), r"magnitudes .* are equal.*uSF"),
        (lambda W, rng: W.copy(), r"returned W itself"),
        (lambda W, rng: rng.uniform(-1, 1, size=W.shape) * np.sign(W), r"sign of W everywhere"),
        (lambda W, rng: np.abs(np.random.default_rng(7).normal(size=W.shape)) * np.sign(W),
         r"same feedback.*frSF"),
        (lambda W, rng: np.abs(np.random.normal(size=W.shape)) * np.sign(W), r"same seed"),
    ],
    "manhattan_step": [
        (lambda W, dW, lr: W - lr * dW, r"plain SGD step"),
        (lambda W, dW, lr: W + lr * np.sign(dW), r"wrong sign"),
        (lambda W, dW, lr: W - lr * np.sign(W), r"sign of W was used"),
    ],
    "kp_update": [
        (lambda W, B, dW, lr, wd: (W - lr * dW - wd * W, B - lr * dW - wd * B),
         r"not multiplied by lr"),
        (lambda W, B, dW, lr, wd: (W - lr * dW - lr * wd * W, B), r"B was not updated"),
        (lambda W, B, dW, lr, wd: (B - lr * dW - lr * wd * B, W - lr * dW - lr * wd * W),
         r"swapped"),
    ],
    "mirror_update": [
        (lambda B, W, x, lr, d: B + lr * ((x @ W.T).T @ x - d * B), r"1/len\(x\) is missing"),
        (lambda B, W, x, lr, d: B + lr * (x @ W.T).T @ x / len(x) - d * B,
         r"decay was not multiplied by mirror_lr"),
        (lambda B, W, x, lr, d: B + lr * ((x @ W).T @ x / len(x) - d * B),
         r"raised ValueError.*Likely cause: in case 'float64, square W'.*x @ W was used"),
    ],
    "update_angles": [
        (lambda r, b: np.array([angle(x[1], y[1]) for x, y in zip(r, b)]),
         r"bias updates \(index 1\) were compared"),
        (lambda r, b: np.radians([angle(x[0], y[0]) for x, y in zip(r, b)]), r"radians"),
        (lambda r, b: np.array([angle(x[0], y[0]) for x, y in zip(r[:-1], b[:-1])]),
         r"one update angle per layer"),
    ],
}


def _stub(*args):
    raise NotImplementedError("Exercise: write your code here")


# ----------------------------------------------------------------------------- tests

def test_contract_is_complete():
    """Every check of the exercise table exists, under its exact name, and nothing else."""
    assert list(checks.CHECKS) == ALL
    assert checks.CHECK_CHAPTERS == {n: ch for ch, names in CONTRACT.items() for n in names}
    for name in ALL:
        assert callable(getattr(checks, name))
        assert "chapter" in getattr(checks, name).__doc__
    assert issubclass(CheckFailed, AssertionError)


@pytest.mark.parametrize("name", ALL)
def test_reference_solution_passes(name, capfd):
    getattr(checks, name)(SOLUTIONS[name])
    out, err = capfd.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1, out
    n = len(checks.cases(name))
    assert lines[0].startswith(f"✓ {name}: {n} cases passed ("), lines[0]


WRONG_CASES = [(name, i) for name in ALL for i in range(len(WRONG[name]))]


def test_every_check_has_two_wrong_answers():
    for name in ALL:
        assert len(WRONG[name]) >= 2, name


@pytest.mark.parametrize("name,i", WRONG_CASES, ids=[f"{n}-{i}" for n, i in WRONG_CASES])
def test_wrong_answer_fails_with_named_mistake(name, i, capfd):
    fn, pattern = WRONG[name][i]
    with pytest.raises(CheckFailed, match=pattern) as info:
        getattr(checks, name)(fn)
    msg = str(info.value)
    assert "case '" in msg and f"checks.cases('{name}')" in msg, msg
    out, err = capfd.readouterr()
    assert "✓" not in out and err == ""


@pytest.mark.parametrize("name", ALL)
def test_stub_fails_with_stub_message(name):
    with pytest.raises(CheckFailed, match=r"_stub is still the stub: it raised "
                                          r"NotImplementedError\. Write your solution") as info:
        getattr(checks, name)(_stub)
    assert isinstance(info.value.__cause__, NotImplementedError)


@pytest.mark.parametrize("name", ALL)
def test_not_a_function(name):
    with pytest.raises(CheckFailed, match=rf"checks\.{name} needs your function itself"):
        getattr(checks, name)(np.zeros(3))


@pytest.mark.parametrize("name", ALL)
def test_returning_none_is_explained(name):
    with pytest.raises(CheckFailed, match=r"(None \(did you forget the `return`|returned None)"):
        getattr(checks, name)(lambda *args: None)


@pytest.mark.parametrize("name", ALL)
def test_cases_are_deterministic(name):
    a, b = checks.cases(name), checks.cases(name)
    assert [c["name"] for c in a] == [c["name"] for c in b]
    for ca, cb in zip(a, b):
        for k in ca["inputs"]:
            va, vb = ca["inputs"][k], cb["inputs"][k]
            if isinstance(va, np.random.Generator):
                assert va.bit_generator.state == vb.bit_generator.state
            elif isinstance(va, list) and va and isinstance(va[0], tuple):
                for (x, y), (u, v) in zip(va, vb):
                    assert np.array_equal(x, u) and np.array_equal(y, v)
            elif isinstance(va, list) and va and isinstance(va[0], np.ndarray):
                assert all(np.array_equal(x, y) for x, y in zip(va, vb))
            else:
                assert np.array_equal(va, vb)
    names = [c["name"] for c in a]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(a) >= 4


@pytest.mark.parametrize("name", [n for n in ALL if n not in ("dfa_feedback",)])
def test_cases_cover_both_dtypes(name):
    dts = set()
    for c in checks.cases(name):
        for v in c["inputs"].values():
            vs = v if isinstance(v, list) else [v]
            for x in vs:
                x = x[0] if isinstance(x, tuple) else x
                if isinstance(x, np.ndarray) and x.dtype.kind == "f":
                    dts.add(x.dtype)
    assert dts == {np.dtype(np.float32), np.dtype(np.float64)}


def test_cases_reproduce_expected():
    for c in checks.cases("fa_delta"):
        np.testing.assert_allclose(fa_delta(**c["inputs"]), c["expected"], rtol=2e-4,
                                   atol=1e-6)
    with pytest.raises(ValueError, match="unknown check 'fa_detla'"):
        checks.cases("fa_detla")


def test_exception_names_case_and_shapes():
    def broken(delta_next, B_next, h):
        return delta_next @ B_next.T  # shape error in the first case
    with pytest.raises(CheckFailed) as info:
        checks.fa_delta(broken)
    msg = str(info.value)
    assert "broken raised ValueError" in msg
    assert "case 'float64' (delta_next (3, 4) float64, B_next (4, 5) float64, h (3, 5) float64)" \
        in msg
    assert "transpose" in msg and "should be an array of shape (3, 5)" in msg
    assert isinstance(info.value.__cause__, ValueError)


def test_wrong_entry_is_located():
    def off(delta_next, B_next, h):
        out = (delta_next @ B_next) * (1 - h**2)
        out[2, 1] += 1.0
        return out
    with pytest.raises(CheckFailed, match=r"case 'float64'.*entry \[2, 1\] of the result is .* "
                                          r"but should be .*relative difference .*1 of 15 "
                                          r"entries are wrong"):
        checks.fa_delta(off)


def test_transposed_shape_is_named():
    with pytest.raises(CheckFailed, match=r"has shape \(5, 3\) but should have shape \(3, 5\) "
                                          r"\(the transposed shape"):
        checks.fa_delta(lambda d, B, h: ((d @ B) * (1 - h**2)).T)


def test_in_place_update_is_refused():
    def in_place(W, dW, lr):
        W -= lr * np.sign(dW)
        return W
    with pytest.raises(CheckFailed, match=r"changed its input W in place.*`W = W - \.\.\.`"):
        checks.manhattan_step(in_place)


def test_float64_answer_for_float32_input_passes_with_note(capfd):
    def upcasting(A, labels):   # np.eye is float64: the answer is right, the dtype is not kept
        z = np.exp(A - A.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True) - np.eye(A.shape[1])[labels]) / len(A)
    checks.softmax_ce_error(upcasting)
    out, err = capfd.readouterr()
    assert out.startswith("✓ softmax_ce_error: 8 cases passed")
    assert "note: for float32 inputs your function returned float64 in 4 cases" in out
    assert "np.eye(K)" in out
    assert err == ""


def test_float32_precision_mistake_is_caught():
    """A float32 answer far from the right value fails even with the float32 tolerance."""
    def half(W, scale):
        return (scale * np.sign(W)).astype(np.float16) * np.float16(1.01)
    with pytest.raises(CheckFailed, match=r"relative difference 0\.98%"):
        checks.usf_feedback(half)


def test_numpy_warnings_do_not_reach_stderr(capfd):
    naive = WRONG["softmax_ce_error"][3][0]
    with pytest.raises(CheckFailed, match=r"NumPy warned: .*overflow"):
        checks.softmax_ce_error(naive)
    assert capfd.readouterr().err == ""


def test_success_line_lists_edge_cases(capfd):
    checks.fa_delta(fa_delta)
    assert capfd.readouterr().out == (
        "✓ fa_delta: 6 cases passed (float32 and float64, batch of one, square matrices, "
        "zero weights)\n")


def test_scalar_answer_accepts_numpy_scalars(capfd):
    checks.nse(lambda yp, yt: np.sum((yp - yt) ** 2) / np.sum(yt**2))   # np.float64 / float32
    checks.angle(lambda a, b: np.asarray(angle(a, b)))                  # 0-d array
    assert capfd.readouterr().out.count("✓") == 2


def test_dfa_feedback_detects_shared_matrix():
    def shared(sizes, rng):   # one matrix reused by every layer of the same width
        def draw(n):
            return rng.uniform(-1 / np.sqrt(n), 1 / np.sqrt(n), size=(sizes[-1], n))
        D = draw(sizes[1])
        return [D if n == sizes[1] else draw(n) for n in sizes[1:-1]]
    with pytest.raises(CheckFailed, match=r"D_1 and D_2 are identical in case 'deep and narrow'"):
        checks.dfa_feedback(shared)


def test_dfa_feedback_std_mismatch():
    def narrow_normal(sizes, rng):
        return [np.clip(rng.normal(0, 0.3 / np.sqrt(n), size=(sizes[-1], n)), -1 / np.sqrt(n),
                        1 / np.sqrt(n)) for n in sizes[1:-1]]
    with pytest.raises(CheckFailed, match=r"(standard deviation|reach)"):
        checks.dfa_feedback(narrow_normal)


def test_check_failure_leaves_no_state():
    """A failed check does not affect the next one (cases are rebuilt every call)."""
    with pytest.raises(CheckFailed):
        checks.kp_update(WRONG["kp_update"][0][0])
    checks.kp_update(kp_update)
