"""Alignment metrics: how close a rule's learning is to backpropagation.

Introduced in chapter 3 (Random feedback: feedback alignment) and chapter 4
(Why it works: the alignment).  Every alignment is an angle in degrees
between two flattened arrays, ``arccos`` of their cosine with the cosine
clipped to ``[-1, 1]``:

* the **update angle** of layer ``l``: the rule's ``dW_l`` against BP's
  ``dW_l`` on the same weights and batch;
* the **signal angle** of hidden layer ``l``: the rule's ``delta_l`` against
  BP's ``delta_l`` (Lillicrap's ``Delta h_FA angle Delta h_BP``);
* the **weight angle** of hidden layer ``l``: ``W_{l+1}`` against ``B_{l+1}``.
"""

import numpy as np

from .rules import RULES, get


def angle(a, b):
    """Angle in degrees between two arrays, flattened.

    Introduced in chapter 3.

    Parameters
    ----------
    a, b : array_like
        Arrays with the same number of elements (shapes may differ).

    Returns
    -------
    float
        ``degrees(arccos(clip(<a, b> / (|a| |b|), -1, 1)))``, computed in
        float64.  By choice, ``nan`` if either array is all zeros (the angle is
        undefined; plots show a gap instead of a made-up number).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"angle needs arrays of equal size, got {a.size} and {b.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("angle got NaN or inf")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))))


def _bp_twin(rule, net):
    return get("bp", net) if rule.name != "bp" else rule


def update_angles(net, rule, X, y):
    """Per-layer angle between the rule's weight update and BP's, in degrees.

    Introduced in chapter 4.  Both are computed on the same weights and batch.

    Returns
    -------
    ndarray, shape (L,)
        Entry ``l-1`` compares ``dW_l``.  The output layer always gives 0 (both
        rules use the same error there); layers the rule does not train give
        ``nan``.
    """
    ours = rule.gradients(net, X, y)
    theirs = _bp_twin(rule, net).gradients(net, X, y)
    return np.array([angle(g[0], t[0]) if rule.trains(l) else np.nan
                     for l, (g, t) in enumerate(zip(ours, theirs), start=1)])


def signal_angles(net, rule, X, y):
    """Per-hidden-layer angle between the rule's ``delta_l`` and BP's, in degrees.

    Introduced in chapter 3: this is Lillicrap et al.'s
    ``Delta h_FA angle Delta h_BP``.

    Returns
    -------
    ndarray, shape (L-1,)
        Entry ``l-1`` is for hidden layer ``l``; ``nan`` for layers the rule
        does not train.
    """
    ours = rule.deltas(net, X, y)
    theirs = _bp_twin(rule, net).deltas(net, X, y)
    return np.array([angle(d, t) if d is not None else np.nan
                     for d, t in zip(ours[:-1], theirs[:-1])])


def weight_angles(net, rule):
    """Per-hidden-layer angle between forward and feedback weights, in degrees.

    Introduced in chapter 4.

    Returns
    -------
    ndarray, shape (L-1,)
        Entry ``l-1`` is for hidden layer ``l``: the angle between ``W_{l+1}``
        and ``B_{l+1}``.  For ``dfa``, ``D_l`` is compared with the product
        ``W_L W_{L-1} ... W_{l+1}`` (shape ``(n_L, n_l)``), the matrix that BP
        would send the output error through in a linear network.

    Raises
    ------
    ValueError
        For rules without feedback matrices (bp, shallow).
    """
    rule.check(net)
    if not rule.feedback:
        raise ValueError(f"rule {rule.name!r} has no feedback matrices; weight angles "
                         f"exist for {[n for n in RULES if n not in ('bp', 'shallow')]}")
    L = net.n_layers
    if rule.name == "dfa":
        out = []
        for l in range(1, L):
            P = net.weights[L - 1].astype(np.float64)
            for k in range(L - 1, l, -1):
                P = P @ net.weights[k - 1]
            out.append(angle(P, rule.feedback[l - 1]))
        return np.array(out)
    return np.array([angle(net.weights[l], rule.feedback[l]) for l in range(1, L)])


def normalised_squared_error(y_pred, y_true):
    """Lillicrap et al.'s normalised squared error ``sum (y - y*)^2 / sum y*^2``.

    Introduced in chapter 3.  It is 1 for a network that outputs zeros (as a
    network does at the start of the linear task) and 0 for a perfect fit.
    """
    y_pred = np.asarray(y_pred, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.float64)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred has shape {y_pred.shape} but y_true has {y_true.shape}")
    denom = np.sum(y_true**2)
    if denom == 0:
        raise ValueError("y_true is all zeros: the normalised error is undefined")
    return float(np.sum((y_pred - y_true) ** 2) / denom)
