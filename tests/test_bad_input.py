"""Bad input gets a ValueError/TypeError whose message names the parameter.

Every case asserts the exception type and, with ``match=``, that the message
names what is wrong.  Divergence raises ``fa_lessons.DivergenceError`` naming
the learning rate, and leaves finite weights behind.

Run: ``.venv/bin/python -m pytest tests/test_bad_input.py -q``
"""

import numpy as np
import pytest

import fa_lessons as fl


def net64(**kw):
    return fl.MLP([4, 5, 3], dtype=np.float64, seed=0, **kw)


def data(n=6, dtype=np.float64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(dtype), rng.integers(0, 3, n)


def train(net=None, rule="bp", train_data=None, **kw):
    net = net64() if net is None else net
    args = dict(epochs=1, lr=0.1, batch_size=2, seed=0, progress=False)
    args.update(kw)
    return fl.train(net, rule, data() if train_data is None else train_data, **args)


# ---------------------------------------------------------------------- MLP
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(sizes=[5]), ValueError, "sizes"),
    (dict(sizes=[]), ValueError, "sizes"),
    (dict(sizes=[4, 0, 3]), ValueError, "sizes"),
    (dict(sizes=[4, -2, 3]), ValueError, "sizes"),
    (dict(sizes=[4, 2.5, 3]), TypeError, "sizes"),
    (dict(sizes="43"), ValueError, "sizes"),
    (dict(activation="softplus"), ValueError, "activation='softplus'.*relu"),
    (dict(activation=None), ValueError, "activation"),
    (dict(output="tanh"), ValueError, "output='tanh'.*softmax"),
    (dict(output="softmax", loss="squared_error"), ValueError, "loss='squared_error'"),
    (dict(output="linear", loss="bce"), ValueError, "loss='bce'"),
    (dict(loss="hinge"), ValueError, "loss='hinge'"),
    (dict(init="he"), ValueError, "init='he'"),
    (dict(init="uniform"), ValueError, "init_scale"),
    (dict(init="uniform", init_scale=-0.1), ValueError, "init_scale"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(dtype=np.float16), TypeError, "dtype"),
    (dict(dtype="complex128"), TypeError, "dtype"),
])
def test_mlp_bad_arguments(kwargs, exc, match):
    kw = dict(sizes=[4, 5, 3])
    kw.update(kwargs)
    sizes = kw.pop("sizes")
    with pytest.raises(exc, match=match):
        fl.MLP(sizes, **kw)


# -------------------------------------------------------------------- inputs
X_OK, Y_OK = data()
BAD_X = {
    "1-D": (X_OK[0], ValueError, r"X\)? must be 2-D"),
    "3-D": (X_OK[None], ValueError, r"X\)? must be 2-D"),
    "wrong columns": (X_OK[:, :3], ValueError, r"X\)? has 3 columns.*4 inputs"),
    "float32": (X_OK.astype(np.float32), TypeError, r"X\)? has dtype float32.*float64"),
    "int": (X_OK.astype(np.int64), TypeError, r"X\)? has dtype int64"),
    "list": (X_OK.tolist(), TypeError, r"X\)? must be a NumPy array"),
    "nan": (np.where(np.eye(6, 4) > 0, np.nan, X_OK), ValueError, r"X\)? contains NaN"),
    "inf": (np.where(np.eye(6, 4) > 0, np.inf, X_OK), ValueError, r"X\)? contains NaN or inf"),
    "empty": (np.empty((0, 4)), ValueError, r"X\)? is empty"),
}


@pytest.mark.parametrize("case", BAD_X)
def test_bad_inputs_everywhere(case):
    X, exc, match = BAD_X[case]
    net = net64()
    with pytest.raises(exc, match=match):
        net.forward(X)
    with pytest.raises(exc, match=match):
        net.predict(X)
    y = Y_OK[:len(X)] if hasattr(X, "__len__") and len(X) <= 6 else Y_OK
    with pytest.raises(exc, match=match):
        fl.rules.get("fa", net, seed=0).gradients(net, X, y)
    with pytest.raises(exc, match=match):
        train(net, train_data=(X, y))
    with pytest.raises(exc, match=match):
        train(net, test_data=(X, y))


BAD_Y = {
    "too few rows": (Y_OK[:4], ValueError, r"y\)? has 4 rows but X has 6"),
    "label too large": (np.array([0, 1, 2, 3, 0, 1]), ValueError, r"labels in .*y.*\[0, 2\]"),
    "negative label": (np.array([0, 1, -1, 2, 0, 1]), ValueError, r"labels in .*y.*\[0, 2\]"),
    "float labels": (Y_OK.astype(np.float64), TypeError, r"1-D .*y.* integer class labels"),
    "bool labels": (Y_OK > 0, TypeError, r"1-D .*y.* integer class labels"),
    "wrong columns": (np.zeros((6, 2)), ValueError, r"y.*shape \(6, 3\)"),
    "3-D": (np.zeros((6, 3, 1)), ValueError, r"y.*shape"),
    "nan target": (np.full((6, 3), np.nan), ValueError, r"y.*NaN"),
    "not probabilities": (np.full((6, 3), 0.5), ValueError, r"y.*probability rows"),
    "float32 targets": (np.full((6, 3), 1 / 3, np.float32), TypeError, r"y.*dtype float32"),
    "list": (Y_OK.tolist(), TypeError, r"y.*NumPy array"),
}


@pytest.mark.parametrize("case", BAD_Y)
def test_bad_targets_everywhere(case):
    y, exc, match = BAD_Y[case]
    net = net64()
    with pytest.raises(exc, match=match):
        fl.rules.get("bp", net).gradients(net, X_OK, y)
    with pytest.raises(exc, match=match):
        net.evaluate(X_OK, y)
    with pytest.raises(exc, match=match):
        train(net, train_data=(X_OK, y))


def test_suggested_fix_works_in_the_callers_namespace():
    """A message that says "convert with <code>" or "use <code>" must give working code.

    The hint is evaluated where the user stands: ``X`` for ``gradients(net, X, y)``
    and ``evaluate(X, y)``, ``train_data`` for ``train(net, rule, train_data)``;
    the result must be an input the network accepts.
    """
    net = net64()
    X, y = data()
    calls = {
        "gradients": (lambda X: fl.rules.get("bp", net).gradients(net, X, y),
                      lambda bad: {"X": bad}),
        "evaluate": (lambda X: net.evaluate(X, y), lambda bad: {"X": bad}),
        "train": (lambda X: train(net, train_data=(X, y)),
                  lambda bad: {"train_data": (bad, y)}),
    }
    single = X[0]  # one example given as a 1-D row
    for where, (call, namespace) in calls.items():
        for bad in (X.astype(np.float32), X.reshape(6, 2, 2), single):
            with pytest.raises((TypeError, ValueError)) as info:
                call(bad)
            msg = str(info.value)
            if "convert with " in msg:
                code = msg.split("convert with ")[-1]
            else:
                code = msg.split("(use ")[-1][:-1]
            try:
                fixed = eval(code, {"np": np, **namespace(bad)})
            except Exception as err:  # noqa: BLE001 - report what the hint does
                pytest.fail(f"{where}: hint {code!r} fails: {err!r} (message: {msg!r})")
            assert fixed.dtype == np.float64 and fixed.shape[1:] == (4,), (where, code)


def test_nan_in_regression_targets():
    net = fl.MLP([4, 3], output="linear", dtype=np.float64, seed=0)
    Y = np.zeros((6, 3))
    Y[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"train_data\[1\] \(y\) contains NaN or inf"):
        train(net, train_data=(X_OK, Y))


@pytest.mark.parametrize("bad, exc, match", [
    ([X_OK, Y_OK, Y_OK], TypeError, "train_data must be a pair"),
    (X_OK, TypeError, "train_data must be a pair"),
    ({"X": X_OK}, TypeError, "train_data must be a pair"),
])
def test_train_data_not_a_pair(bad, exc, match):
    with pytest.raises(exc, match=match):
        train(train_data=bad)


# ------------------------------------------------------------ train options
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=np.nan), ValueError, "lr"),
    (dict(lr="0.1"), TypeError, "lr"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(momentum=1.5), ValueError, "momentum"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(lr=1.0, weight_decay=2.0), ValueError, "weight_decay"),
    (dict(optimizer="adam"), ValueError, "optimizer='adam'"),
    (dict(track="angles"), ValueError, "track='angles'"),
    (dict(track={"x": 3}), TypeError, "track\\['x'\\]"),
    (dict(track="loss", track_every=0), ValueError, "track_every"),
    (dict(test_data=(X_OK, Y_OK[:3])), ValueError, r"test_data\[1\]"),
])
def test_train_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train(**kwargs)


def test_train_bad_net_and_rule():
    with pytest.raises(TypeError, match="net must be an fa_lessons.MLP"):
        fl.train("net", "bp", data(), epochs=1, lr=0.1, batch_size=2)
    with pytest.raises(TypeError, match="rule must come from fa_lessons.rules.get"):
        train(rule=object())
    with pytest.raises(ValueError, match="unknown rule 'ba'.*bp, fa, dfa"):
        train(rule="ba")


# --------------------------------------------------------------------- rules
def test_unknown_rule_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        fl.rules.get("feedback", net64())
    msg = str(info.value)
    assert "'feedback'" in msg
    for name in fl.rules.available():
        assert name in msg
    with pytest.raises(ValueError, match="unknown rule"):
        fl.rules.get(None, net64())


@pytest.mark.parametrize("name, options, exc, match", [
    ("fa", dict(sigma=1.0), TypeError, r"'fa'.*unknown option.*sigma.*dist.*scale"),
    ("bp", dict(scale=1.0), TypeError, r"'bp'.*unknown option.*scale.*none"),
    ("shallow", dict(lr=1.0), TypeError, r"unknown option.*lr"),
    ("usf", dict(dist="normal"), TypeError, r"'usf'.*unknown option.*dist"),
    ("fa", dict(scale=0.0), ValueError, "scale"),
    ("fa", dict(scale=-1.0), ValueError, "scale"),
    ("dfa", dict(scale=0.0), ValueError, "scale"),
    ("usf", dict(scale=-0.5), ValueError, "scale"),
    ("frsf", dict(scale=0.0), ValueError, "scale"),
    ("brsf", dict(scale=np.inf), ValueError, "scale"),
    ("kp", dict(scale=0.0), ValueError, "scale"),
    ("wm", dict(scale=0.0), ValueError, "scale"),
    ("fa", dict(dist="cauchy"), ValueError, "dist='cauchy'"),
    ("frsf", dict(dist="cauchy"), ValueError, "dist='cauchy'"),
    ("wm", dict(mirror_lr=0.0), ValueError, "mirror_lr"),
    ("wm", dict(mirror_noise=-1.0), ValueError, "mirror_noise"),
    ("wm", dict(mirror_batch=0), ValueError, "mirror_batch"),
    ("wm", dict(mirror_batch=2.5), TypeError, "mirror_batch"),
    ("wm", dict(mirror_lr=2.0, mirror_decay=1.0), ValueError, "mirror_lr"),
])
def test_rule_bad_options(name, options, exc, match):
    with pytest.raises(exc, match=match):
        fl.rules.get(name, net64(), seed=0, **options)


def test_rule_needs_an_mlp():
    with pytest.raises(TypeError, match="net must be an fa_lessons.MLP"):
        fl.rules.get("fa", [4, 5, 3])


def test_rule_made_for_another_network():
    rule = fl.rules.get("fa", net64(), seed=0)
    other = fl.MLP([4, 6, 3], dtype=np.float64, seed=0)
    with pytest.raises(ValueError, match=r"sizes \[4, 5, 3\].*\[4, 6, 3\].*rules.get"):
        rule.gradients(other, *data())
    with pytest.raises(ValueError, match="sizes"):
        fl.train(other, rule, data(), epochs=1, lr=0.1, batch_size=2, progress=False)
    f32 = fl.MLP([4, 5, 3], dtype=np.float32, seed=0)
    with pytest.raises(ValueError, match="float32"):
        rule.gradients(f32, *data(dtype=np.float32))


@pytest.mark.parametrize("name", ["fa", "dfa", "usf", "kp", "wm"])
def test_feedback_set_by_hand_is_checked(name):
    net = net64()
    X, y = data()
    rule = fl.rules.get(name, net, seed=0)
    good = rule.feedback[-1]
    rule.feedback[-1] = good.T.copy()  # the classic mistake: transposed
    i = len(rule.feedback) - 1
    with pytest.raises(ValueError, match=rf"rule.feedback\[{i}\] must have shape"):
        rule.gradients(net, X, y)
    with pytest.raises(ValueError, match=rf"rule.feedback\[{i}\]"):
        fl.train(net, rule, (X, y), epochs=1, lr=0.1, batch_size=2, progress=False)
    rule.feedback[-1] = good.astype(np.float32)
    with pytest.raises(TypeError, match=rf"rule.feedback\[{i}\].*float64"):
        rule.gradients(net, X, y)
    rule.feedback[-1] = np.asfortranarray(good) if good.shape[0] > 1 else good
    if not rule.feedback[-1].flags.c_contiguous:
        with pytest.raises(TypeError, match="C-contiguous"):
            rule.gradients(net, X, y)
    bad = good.copy()
    bad[0, 0] = np.nan
    rule.feedback[-1] = bad
    with pytest.raises(ValueError, match=rf"rule.feedback\[{i}\] contains NaN"):
        rule.gradients(net, X, y)
    rule.feedback[-1] = good.tolist()
    with pytest.raises(ValueError, match=rf"rule.feedback\[{i}\]"):
        rule.gradients(net, X, y)


def test_weights_replaced_by_hand_are_checked():
    net = net64()
    X, y = data()
    net.weights[0] = net.weights[0].T.copy()
    with pytest.raises(ValueError, match=r"weights\[0\] \(W_1\) must have shape \(5, 4\)"):
        net.forward(X)
    net = net64()
    net.weights[1] = net.weights[1].astype(np.float32)
    with pytest.raises(TypeError, match=r"weights\[1\] has dtype float32"):
        fl.rules.get("bp", net).gradients(net, X, y)
    net = net64()
    net.biases[0] = np.zeros(4)
    with pytest.raises(ValueError, match=r"biases\[0\] \(b_1\)"):
        net.predict(X)


# ---------------------------------------------------------------- divergence
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_divergence_raises_and_names_the_learning_rate(dtype):
    net = fl.MLP([10, 10, 10], activation="linear", output="linear", dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 10)).astype(dtype)
    Y = rng.normal(size=(64, 10)).astype(dtype)
    with pytest.raises(fl.DivergenceError, match=r"lr=1e\+06") as info:
        fl.train(net, "bp", (X, Y), epochs=50, lr=1e6, batch_size=8, seed=0, progress=False)
    assert "learning rate" in str(info.value)
    assert isinstance(info.value, FloatingPointError)
    for p in net.weights + net.biases:
        assert np.isfinite(p).all(), "a diverged step must not be applied"
