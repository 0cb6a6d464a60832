"""Optimizers: SGD, momentum, weight decay and Batch Manhattan.

Introduced in chapter 1 (SGD) and chapter 6 (Batch Manhattan).  One step on
a weight ``W`` with gradient ``g`` (the rule's ``dW``):

* ``d = sign(g)`` for Batch Manhattan (Liao, Leibo and Poggio 2016), else ``d = g``;
* with momentum ``mu``: ``v <- mu v + d`` and ``d = v``;
* the step ``s = -lr d``;
* ``W <- W + s - lr * weight_decay * W``.

Weight decay is applied to the weights directly (outside momentum and the
sign), so for plain SGD it is exactly L2 regularisation and Kolen-Pollack's
``W - B`` shrinks by ``1 - lr * weight_decay`` per step.  Biases get the
same step without decay.
"""

import numpy as np

from . import _kernels as K
from ._checks import check_positive

OPTIMIZERS = ("sgd", "manhattan")


class Optimizer:
    """Holds the optimizer state of one network and applies steps in place.

    Parameters
    ----------
    net : MLP
    optimizer : {"sgd", "manhattan"}
        ``"manhattan"`` (alias ``"bm"``) steps with the elementwise sign of the
        batch gradient.
    lr : float
        Learning rate ``eta > 0``.
    momentum : float
        In ``[0, 1)``.
    weight_decay : float
        ``>= 0``; the weights shrink by ``lr * weight_decay`` each step.
    """

    def __init__(self, net, optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=0.0):
        if optimizer == "bm":
            optimizer = "manhattan"
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r} is not known; choose one of "
                             f"{list(OPTIMIZERS)} ('bm' is an alias of 'manhattan')")
        self.name = optimizer
        self.lr = check_positive(lr, "lr")
        self.momentum = check_positive(momentum, "momentum", allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
        self.decay = self.lr * self.weight_decay
        if self.decay >= 1:
            raise ValueError("lr * weight_decay must be < 1, or the weights flip sign every "
                             "step; lower weight_decay")
        self._vw = [np.zeros_like(w) if self.momentum else w for w in net.weights]
        self._vb = [np.zeros_like(b) if self.momentum else b for b in net.biases]

    def step(self, net, ws, layers):
        """Apply one step to ``layers`` (1-based) with the gradients in ``ws``.

        On return ``ws.dW[l-1]`` holds the step ``s_l`` that was added to
        ``W_l`` (without the decay), which rules read in their hook.
        """
        manhattan = self.name == "manhattan"
        for l in layers:
            W, G = net.weights[l - 1], ws.dW[l - 1]
            K._optimizer_step(W.reshape(-1), G.reshape(-1), self._vw[l - 1].reshape(-1),
                              self.lr, self.momentum, self.decay, manhattan)
            if net.bias:
                K._optimizer_step(net.biases[l - 1], ws.db[l - 1], self._vb[l - 1],
                                  self.lr, self.momentum, 0.0, manhattan)
