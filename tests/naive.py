"""Plain-NumPy references of the book's equations, written from GUIDE.md §1.

This module is deliberately independent of ``fa_lessons``: it imports nothing
from the package, uses its own formulas (for example the sigmoid as
``(1 + tanh(a/2)) / 2`` and the derivatives written through the
pre-activation ``a``, not through ``h``), and is slow and obvious on purpose.
The tests compare the package with it.

Notation (GUIDE.md §1): a batch is stored as rows, ``a_l = h_{l-1} W_l^T + b_l``,
``h_l = f(a_l)`` for hidden layers and ``h_L = g(a_L)`` at the output.  The
loss is the mean over the batch, so ``e = dL/da_L`` carries the factor 1/N.
``weights[l-1]`` is ``W_l`` with shape ``(n_l, n_{l-1})``.

Backward pass of each rule (``delta[l-1]`` holds ``delta_l``)::

    bp                      delta_l = (delta_{l+1} W_{l+1}) * f'(a_l)
    fa, usf, frsf, brsf,    delta_l = (delta_{l+1} B_{l+1}) * f'(a_l),  B_{l+1} = feedback[l]
      kp, wm
    dfa                     delta_l = (e D_l) * f'(a_l),                D_l = feedback[l-1]
    shallow                 only the output layer learns

and every rule uses ``dW_l = delta_l^T h_{l-1}``, ``db_l = sum over the batch of delta_l``.
"""

import numpy as np

FA_LIKE = ("fa", "usf", "frsf", "brsf", "kp", "wm")
ALL_RULES = ("bp", "fa", "dfa", "usf", "frsf", "brsf", "kp", "wm", "shallow")
PAIRS = (
    ("softmax", "cross_entropy"),
    ("linear", "squared_error"),
    ("sigmoid", "bce"),
    ("sigmoid", "squared_error"),
)


# --------------------------------------------------------------- activations
def sigmoid(a):
    """Logistic function via tanh: exact to rounding and never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def f(a, name):
    """Hidden activation."""
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return sigmoid(a)
    if name == "relu":
        return np.where(a > 0, a, 0.0)
    if name == "linear":
        return 1.0 * a
    raise ValueError(name)


def fprime(a, name):
    """Derivative of the hidden activation, written through the pre-activation."""
    if name == "tanh":
        return 1.0 / np.cosh(a) ** 2
    if name == "sigmoid":
        s = sigmoid(a)
        return s * (1.0 - s)
    if name == "relu":
        return np.where(a > 0, 1.0, 0.0)
    if name == "linear":
        return np.ones_like(a)
    raise ValueError(name)


def g(a, output):
    """Output nonlinearity."""
    if output == "softmax":
        z = np.exp(a - a.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    if output == "sigmoid":
        return sigmoid(a)
    if output == "linear":
        return 1.0 * a
    raise ValueError(output)


# ------------------------------------------------------------------- forward
def forward(weights, biases, X, activation, output):
    """Return ``(a, h)``: lists indexed by layer, ``a[0] = None``, ``h[0] = X``."""
    a, h = [None], [X]
    L = len(weights)
    for l in range(1, L + 1):
        al = h[l - 1] @ weights[l - 1].T + biases[l - 1]
        a.append(al)
        h.append(f(al, activation) if l < L else g(al, output))
    return a, h


def loss_and_error(aL, T, output, loss):
    """Mean loss over the batch and ``e = dL/da_L`` (which carries 1/N)."""
    N = aL.shape[0]
    y = g(aL, output)
    if (output, loss) == ("softmax", "cross_entropy"):
        m = aL.max(axis=1, keepdims=True)
        logp = aL - m - np.log(np.exp(aL - m).sum(axis=1, keepdims=True))
        per = -(T * logp).sum(axis=1)
        e = (y - T) / N
    elif (output, loss) == ("linear", "squared_error"):
        per = 0.5 * ((y - T) ** 2).sum(axis=1)
        e = (y - T) / N
    elif (output, loss) == ("sigmoid", "bce"):
        # -t log s(a) - (1 - t) log(1 - s(a)), with -log s(a) = log(1 + e^{-a}).
        per = (T * np.logaddexp(0.0, -aL) + (1.0 - T) * np.logaddexp(0.0, aL)).sum(axis=1)
        e = (y - T) / N
    elif (output, loss) == ("sigmoid", "squared_error"):
        per = 0.5 * ((y - T) ** 2).sum(axis=1)
        e = (y - T) * y * (1.0 - y) / N
    else:
        raise ValueError((output, loss))
    return per.sum() / N, e


def loss(weights, biases, X, T, activation, output, loss_name):
    """Mean loss of the network on ``(X, T)``."""
    a, _ = forward(weights, biases, X, activation, output)
    return loss_and_error(a[-1], T, output, loss_name)[0]


# ------------------------------------------------------------------ backward
def deltas(rule, weights, biases, X, T, activation, output, loss_name, feedback=()):
    """Teaching signals ``[delta_1, ..., delta_L]`` of ``rule`` (``delta_L = e``).

    ``feedback`` is ``[B_1, ..., B_L]`` for fa-like rules and ``[D_1, ...,
    D_{L-1}]`` for dfa.  Hidden entries are ``None`` for shallow.
    """
    a, _ = forward(weights, biases, X, activation, output)
    L = len(weights)
    _, e = loss_and_error(a[L], T, output, loss_name)
    d = [None] * (L + 1)
    d[L] = e
    for l in range(L - 1, 0, -1):
        if rule == "bp":
            carried = d[l + 1] @ weights[l]
        elif rule in FA_LIKE:
            carried = d[l + 1] @ feedback[l]
        elif rule == "dfa":
            carried = e @ feedback[l - 1]
        elif rule == "shallow":
            continue
        else:
            raise ValueError(rule)
        d[l] = carried * fprime(a[l], activation)
    return d[1:]


def gradients(rule, weights, biases, X, T, activation, output, loss_name, feedback=(),
              bias=True):
    """``[(dW_1, db_1), ...]`` with ``dW_l = delta_l^T h_{l-1}``, ``db_l = sum delta_l``.

    Layers a rule does not train get zeros; without biases ``db`` is zero.
    """
    _, h = forward(weights, biases, X, activation, output)
    ds = deltas(rule, weights, biases, X, T, activation, output, loss_name, feedback)
    out = []
    for l, d in enumerate(ds, start=1):
        if d is None:
            out.append((np.zeros_like(weights[l - 1]), np.zeros_like(biases[l - 1])))
            continue
        dW = d.T @ h[l - 1]
        db = d.sum(axis=0) if bias else np.zeros_like(biases[l - 1])
        out.append((dW, db))
    return out


# ---------------------------------------------------------- feedback matrices
def usf_feedback(weights, scale):
    """uSF: ``B_l = s_l sign(W_l)``; ``scale`` is a number or one per layer."""
    scales = scale if np.ndim(scale) else [scale] * len(weights)
    return [s * np.sign(W) for s, W in zip(scales, weights)]


def usf_default_scale(W):
    """The documented default ``s_l = sqrt(2 / (n_{l-1} + n_l))``."""
    return np.sqrt(2.0 / (W.shape[0] + W.shape[1]))


def frsf_feedback(weights, magnitudes):
    """frSF/brSF: ``B_l = |M_l| * sign(W_l)``."""
    return [np.abs(M) * np.sign(W) for M, W in zip(magnitudes, weights)]


def kp_update(B, step, decay):
    """Kolen-Pollack: ``B <- B + s - decay B`` with ``s`` the step ``W`` took."""
    return B + step - decay * B


def wm_update(feedback, weights, rng, mirror_lr, sigma, mirror_decay, mirror_batch):
    """Weight mirror, as documented in ``fa_lessons.rules.WM``.

    For every layer ``l >= 2`` in order: ``x ~ N(0, sigma^2)`` of shape
    ``(mirror_batch, n_{l-1})`` from ``rng``, ``y = x W_l^T`` and
    ``B_l <- B_l + mirror_lr (y^T x / mirror_batch - mirror_decay B_l)``.
    ``B_1`` is left alone.
    """
    new = [B.copy() for B in feedback]
    for l in range(2, len(weights) + 1):
        W = weights[l - 1]
        x = rng.normal(0.0, sigma, size=(mirror_batch, W.shape[1]))
        y = x @ W.T
        new[l - 1] = feedback[l - 1] + mirror_lr * (y.T @ x / mirror_batch
                                                    - mirror_decay * feedback[l - 1])
    return new


# ----------------------------------------------------------------- optimizer
def optimizer_step(W, grad, velocity, lr, momentum=0.0, weight_decay=0.0, manhattan=False):
    """One step as documented in ``fa_lessons.optim``; returns ``(W_new, step, v_new)``.

    ``d = sign(grad)`` for Batch Manhattan, else ``grad``; with momentum
    ``v <- momentum v + d`` and ``d = v``; the step is ``s = -lr d`` and
    ``W <- W + s - lr * weight_decay * W`` (decoupled decay, outside momentum
    and sign).
    """
    d = np.sign(grad) if manhattan else grad
    v = velocity
    if momentum:
        v = momentum * velocity + d
        d = v
    s = -lr * d
    return W + s - lr * weight_decay * W, s, v


# ------------------------------------------------------------------- metrics
def angle_deg(a, b):
    """Angle in degrees between flattened arrays (no clipping: test inputs only)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    c = a @ b / np.sqrt((a @ a) * (b @ b))
    return np.degrees(np.arccos(min(1.0, max(-1.0, c))))


def rel_err(a, b):
    """``|a - b| / max(|a|, |b|)`` in the Frobenius norm (0 if both are zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)
