"""Readable NumPy versions of the compiled kernels.

Introduced in chapter 1 (Backpropagation from the chain rule).  Each function
here is the plain-NumPy twin of a private Numba kernel in
``fa_lessons._kernels``: it says the same thing in the way a reader would
write it, allocates freely, and is what the tests compare the kernels with.
Notation follows the book: a batch is stored as rows, ``a = h W^T + b``,
``h = f(a)``, and the output error ``e = dL/da_L`` carries the factor ``1/N``
of the batch-mean loss.
"""

import numpy as np


def activation(a, name):
    """Hidden activation ``f(a)`` for ``name`` in tanh, sigmoid, relu, linear."""
    if name == "tanh":
        return np.tanh(a)
    if name == "sigmoid":
        return sigmoid(a)
    if name == "relu":
        return np.maximum(a, 0.0)
    if name == "linear":
        return a.copy()
    raise ValueError(f"unknown activation {name!r}")


def sigmoid(a):
    """Logistic function ``1 / (1 + exp(-a))``, written so that no ``exp`` overflows."""
    return np.exp(-np.logaddexp(0.0, -a)).astype(np.result_type(a), copy=False)


def derivative_from_output(h, name):
    """``f'(a)`` written through ``h = f(a)``: what the backward pass multiplies by."""
    if name == "tanh":
        return 1.0 - h**2
    if name == "sigmoid":
        return h * (1.0 - h)
    if name == "relu":
        return (h > 0).astype(h.dtype)
    if name == "linear":
        return np.ones_like(h)
    raise ValueError(f"unknown activation {name!r}")


def bias_activate(a, b, name):
    """Twin of ``_bias_activate``: ``f(a + b)``."""
    return activation(a + b, name)


def mul_derivative(g, h, name):
    """Twin of ``_mul_derivative``: ``g * f'(a)``."""
    return g * derivative_from_output(h, name)


def softmax(a):
    """Row-wise softmax, shifted by the row maximum for stability."""
    z = np.exp(a - a.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def output_error(a, b, t, output, loss):
    """Twin of ``_output_error``: output ``y``, mean loss and error ``e``.

    Parameters
    ----------
    a : ndarray, shape (N, n_L)
        Output pre-activation without its bias, ``h_{L-1} W_L^T``.
    b : ndarray, shape (n_L,)
        Output bias.
    t : ndarray, shape (N, n_L)
        Targets (one-hot rows for classification).
    output, loss : str
        The output/loss pair: ``("softmax", "cross_entropy")``,
        ``("linear", "squared_error")``, ``("sigmoid", "bce")`` or
        ``("sigmoid", "squared_error")``.

    Returns
    -------
    y : ndarray
        Network output ``g(a + b)``.
    mean_loss : float
        The loss averaged over the batch.
    e : ndarray
        ``dL/da_L`` for the batch-mean loss.
    """
    n = a.shape[0]
    z = a + b
    if (output, loss) == ("softmax", "cross_entropy"):
        y = softmax(z)
        log_y = z - z.max(axis=1, keepdims=True)
        log_y = log_y - np.log(np.exp(log_y).sum(axis=1, keepdims=True))
        per_example = -(t * log_y).sum(axis=1)
        e = (y - t) / n
    elif (output, loss) == ("linear", "squared_error"):
        y = z
        per_example = 0.5 * ((y - t) ** 2).sum(axis=1)
        e = (y - t) / n
    elif (output, loss) == ("sigmoid", "bce"):
        y = sigmoid(z)
        per_example = (np.logaddexp(0.0, z) - t * z).sum(axis=1)
        e = (y - t) / n
    elif (output, loss) == ("sigmoid", "squared_error"):
        y = sigmoid(z)
        per_example = 0.5 * ((y - t) ** 2).sum(axis=1)
        e = (y - t) * y * (1.0 - y) / n
    else:
        raise ValueError(f"unknown output/loss pair {(output, loss)!r}")
    return y, float(per_example.mean()), e


def column_sum(d):
    """Twin of ``_column_sum``: the bias gradient ``sum over the batch of delta``."""
    return d.sum(axis=0)


def optimizer_step(p, g, v, lr, momentum, decay, manhattan):
    """Twin of ``_optimizer_step``; returns ``(p_new, step, v_new)``.

    Batch Manhattan replaces the gradient by its elementwise sign; momentum
    accumulates ``v <- momentum v + d``; the step is ``s = -lr d`` and the
    weights become ``p + s - decay p`` with ``decay = lr * weight_decay``.
    """
    d = np.sign(g) if manhattan else g
    if momentum != 0.0:
        v = momentum * v + d
        d = v
    s = -lr * d
    return p + s - decay * p, s, v


def add_step(p, s, decay):
    """Twin of ``_add_step``: the Kolen-Pollack feedback update ``p + s - decay p``."""
    return p + s - decay * p


def signed_magnitude(m, w, scale):
    """Twin of ``_signed_magnitude``: ``scale * |m| * sign(w)``."""
    return scale * np.abs(m) * np.sign(w)
