"""Finite-difference checks of gradients.

Introduced in chapter 1 (Backpropagation from the chain rule), where the
derivation of backpropagation is checked against central differences.
"""

import numpy as np

from .network import MLP


def numerical_gradients(net, X, y, eps=1e-6):
    """Central finite-difference gradients of ``net.loss(X, y)``.

    Parameters
    ----------
    net : MLP
        A float64 network (float32 has too few digits for a useful check).
    X, y : ndarray
        A small batch.
    eps : float
        Step of ``(L(p + eps) - L(p - eps)) / (2 eps)``.

    Returns
    -------
    list of (dW, db)
        Same layout as :meth:`fa_lessons.rules.Rule.gradients`.
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an fa_lessons.MLP, got {type(net).__name__}")
    if net.dtype != np.float64:
        raise TypeError("numerical_gradients needs a float64 network: "
                        "make it with MLP(..., dtype=np.float64)")
    out = []
    for W, b in zip(net.weights, net.biases):
        grads = []
        for P in (W, b):
            G = np.zeros_like(P)
            flat, g = P.reshape(-1), G.reshape(-1)
            for k in range(flat.size):
                old = flat[k]
                flat[k] = old + eps
                up = net.loss(X, y)
                flat[k] = old - eps
                down = net.loss(X, y)
                flat[k] = old
                g[k] = (up - down) / (2 * eps)
            grads.append(G)
        out.append(tuple(grads))
    return out


def relative_error(a, b):
    """``max |a - b| / max(max |a|, max |b|, tiny)``: a scale-free difference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-300)
    return float(np.abs(a - b).max(initial=0.0) / scale)


def check_gradients(net, X, y, rule=None, eps=1e-6):
    """Largest relative error between a rule's gradients and finite differences.

    Parameters
    ----------
    net : MLP (float64)
    X, y : ndarray
        A small batch.
    rule : Rule, optional
        Default: backpropagation.

    Returns
    -------
    float
        The largest :func:`relative_error` over all weights and biases; below
        1e-6 for a correct backpropagation in float64.
    """
    from .rules import get

    rule = get("bp", net) if rule is None else rule
    analytic = rule.gradients(net, X, y)
    numeric = numerical_gradients(net, X, y, eps)
    errs = [relative_error(p, q) for pa, pn in zip(analytic, numeric) for p, q in zip(pa, pn)
            if net.bias or p.ndim == 2]
    return max(errs)
