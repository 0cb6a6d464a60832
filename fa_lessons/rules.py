"""Learning rules: how the output error travels back to the hidden layers.

Introduced in chapter 1 (``bp``) and chapters 2-7 (the others).  Every rule
shares one forward pass, one output error and one weight update; they differ
only in the matrix that carries the error backward (GUIDE notation, a batch
stored as rows, ``delta[L] = e = dL/da_L``):

===========  ==================================================  =====================
rule         teaching signal of hidden layer ``l``               ``rule.feedback[l-1]``
===========  ==================================================  =====================
``bp``       ``(delta_{l+1} W_{l+1}) * f'(a_l)``                 (empty)
``fa``       ``(delta_{l+1} B_{l+1}) * f'(a_l)``, B fixed        ``B_l``, shape of W_l
``dfa``      ``(e D_l) * f'(a_l)``, D fixed                      ``D_l``, (n_L, n_l)
``usf``      as fa, ``B = s sign(W)``                            ``B_l``
``frsf``     as fa, ``B = |M| * sign(W)``, M fixed               ``B_l``
``brsf``     as frsf, M redrawn every step                       ``B_l``
``kp``       as fa, B gets W's update and weight decay           ``B_l``
``wm``       as fa, B learns from noise sent through W           ``B_l``
``shallow``  none: only the output layer learns (the control)    (empty)
===========  ==================================================  =====================

All rules then use ``dW_l = delta_l^T h_{l-1}`` and ``db_l = sum over the
batch of delta_l``.  For fa-like rules ``B_1`` exists but would only carry the
error to the input, so it never affects learning.

A rule reads ``rule.feedback`` as it stands each time it computes gradients,
so tests and exercises may overwrite the arrays by hand.  Rules with state
(``usf``, ``frsf``, ``brsf``, ``kp``, ``wm``) change it only in
:meth:`Rule.update_feedback`, the hook that :func:`fa_lessons.training.train` calls
after every optimizer step.  All randomness comes from the rule's own
generator ``rule.rng``, seeded by ``seed``.
"""

import numpy as np

from . import _kernels as K
from ._checks import check_data, check_positive
from .network import MLP


class Workspace:
    """Buffers for one batch of ``n`` examples (allocated once, reused).

    ``h[0]`` is the input batch, ``h[l]`` the activity of layer ``l`` (the
    network output for ``l = L``), ``delta[l]`` the teaching signal of layer
    ``l`` (``delta[L]`` is the output error ``e``), ``dW``/``db`` the
    gradients, ``loss`` the mean loss of the last batch.
    """

    def __init__(self, net, n):
        dt = net.dtype
        self.n = n
        self.h = [None] + [np.empty((n, m), dt) for m in net.sizes[1:]]
        self.delta = [None] + [np.empty((n, m), dt) for m in net.sizes[1:]]
        self.dW = [np.zeros_like(w) for w in net.weights]
        self.db = [np.zeros_like(b) for b in net.biases]
        self.loss = np.nan

    def rows(self, n):
        """A workspace whose activity/delta buffers are the first ``n`` rows of these."""
        if n == self.n:
            return self
        new = object.__new__(Workspace)
        new.n = n
        new.h = [None] + [a[:n] for a in self.h[1:]]
        new.delta = [None] + [d[:n] for d in self.delta[1:]]
        new.dW, new.db, new.loss = self.dW, self.db, np.nan
        return new


def _draw(rng, shape, dist, scale, dtype):
    if dist == "uniform":
        return rng.uniform(-scale, scale, size=shape).astype(dtype)
    return rng.normal(0.0, scale, size=shape).astype(dtype)


class Rule:
    """Base class: the forward pass, the output error and the weight gradients.

    Subclasses define ``_signal``, the product that carries the error to
    hidden layer ``l`` before it is multiplied by ``f'(a_l)``.

    Parameters
    ----------
    net : MLP
        The network the rule will train (its sizes and dtype fix the shapes
        of the feedback matrices).
    seed : int or None
        Seed of ``rule.rng``, which draws feedback matrices and noise.
    """

    name = None
    #: Option names and their defaults, checked by :func:`get`.
    options = {}

    def __init__(self, net, seed=None, **options):
        if not isinstance(net, MLP):
            raise TypeError(f"net must be an fa_lessons.MLP, got {type(net).__name__}")
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = sorted(self.options) or "none"
            raise TypeError(f"rule {self.name!r} got unknown option(s) {unknown}; "
                            f"its options are: {known}")
        self.sizes = list(net.sizes)
        self.dtype = net.dtype
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.config = {**self.options, **options}
        self.feedback = []

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"rules.get({self.name!r}, net, seed={self.seed!r}{', ' if opts else ''}{opts})"

    # -------------------------------------------------------------- contract
    def trains(self, l):
        """Whether layer ``l`` (1-based) gets a teaching signal under this rule."""
        return True

    def update_feedback(self, net, steps, decay):
        """The per-step hook: update the rule's state after an optimizer step.

        :func:`fa_lessons.training.train` calls it once after every step, when the new
        weights are in place.

        Parameters
        ----------
        net : MLP
            The network, already updated.
        steps : list of ndarray
            ``steps[l-1]`` is the step ``s_l`` the optimizer added to ``W_l``
            (without weight decay): ``-lr * dW_l`` for plain SGD.
        decay : float
            The weight-decay factor of the step, ``lr * weight_decay``: the
            optimizer set ``W_l <- W_l + s_l - decay W_l``.
        """

    def _signal(self, net, ws, l, out):
        """Write the error carried back to hidden layer ``l`` into ``out``."""
        raise NotImplementedError

    # ----------------------------------------------------------- computation
    def check(self, net):
        """Check that ``net`` matches the rule and the feedback arrays are usable."""
        if list(net.sizes) != self.sizes or net.dtype != self.dtype:
            raise ValueError(
                f"this {self.name!r} rule was made for sizes {self.sizes} ({self.dtype}); "
                f"the network has sizes {net.sizes} ({net.dtype}): make a new rule with "
                f"rules.get({self.name!r}, net)"
            )
        net.check_parameters()
        for i, (B, shape) in enumerate(zip(self.feedback, self.feedback_shapes())):
            if not isinstance(B, np.ndarray) or B.shape != shape:
                got = getattr(B, "shape", type(B).__name__)
                raise ValueError(f"rule.feedback[{i}] must have shape {shape}, got {got}")
            if B.dtype != self.dtype or not B.flags.c_contiguous:
                raise TypeError(f"rule.feedback[{i}] must be a C-contiguous {self.dtype} "
                                f"array; use np.ascontiguousarray(B, dtype=np.{self.dtype})")
            if not np.isfinite(B).all():
                raise ValueError(f"rule.feedback[{i}] contains NaN or inf")

    def feedback_shapes(self):
        """Shapes of ``rule.feedback`` entries (empty for bp and shallow)."""
        return []

    def _compute(self, net, ws, T):
        """Forward pass, loss, teaching signals and gradients into ``ws``.

        ``ws.h[0]`` must hold the input batch; ``T`` the targets.
        """
        L = net.n_layers
        net._forward_into(ws.h)
        ws.loss = K._output_error(ws.h[L], net.biases[L - 1], T, net._output_code,
                                  ws.delta[L])
        for l in range(L - 1, 0, -1):
            if self.trains(l):
                self._signal(net, ws, l, ws.delta[l])
                K._mul_derivative(ws.delta[l], ws.h[l], net._hidden_code)
        for l in range(1, L + 1):
            if self.trains(l):
                np.dot(ws.delta[l].T, ws.h[l - 1], out=ws.dW[l - 1])
                if net.bias:
                    K._column_sum(ws.delta[l], ws.db[l - 1])

    def _run(self, net, X, y):
        self.check(net)
        X, T, _ = check_data((X, y), net)
        ws = Workspace(net, X.shape[0])
        ws.h[0] = X
        self._compute(net, ws, T)
        return ws

    def gradients(self, net, X, y):
        """Weight and bias gradients of the batch-mean loss under this rule.

        Parameters
        ----------
        net : MLP
        X : ndarray, shape (N, n_0)
        y : ndarray
            Integer labels ``(N,)`` or targets ``(N, n_L)``.

        Returns
        -------
        list of (dW, db)
            One pair per layer with the shapes of ``net.weights[l-1]`` and
            ``net.biases[l-1]``, with the sign of a gradient (to be
            subtracted).  For ``bp`` it is the exact gradient.  Layers the rule
            does not train (hidden layers under ``shallow``) get zeros.
        """
        ws = self._run(net, X, y)
        return [(dW.copy(), db.copy()) for dW, db in zip(ws.dW, ws.db)]

    def deltas(self, net, X, y):
        """The teaching signals ``[delta_1, ..., delta_L]`` (``delta_L = e``).

        Rows are examples; ``delta_l`` has shape ``(N, n_l)`` and carries the
        factor 1/N of the batch-mean loss.  Hidden entries are ``None`` for
        layers the rule does not train.
        """
        ws = self._run(net, X, y)
        L = net.n_layers
        return [ws.delta[l].copy() if (self.trains(l) or l == L) else None
                for l in range(1, L + 1)]


class BP(Rule):
    """Backpropagation: ``delta_l = (delta_{l+1} W_{l+1}) * f'(a_l)``.

    Introduced in chapter 1 (Backpropagation from the chain rule); Rumelhart,
    Hinton and Williams (1986).
    """

    name = "bp"

    def _signal(self, net, ws, l, out):
        np.dot(ws.delta[l + 1], net.weights[l], out=out)


class Shallow(Rule):
    """Shallow learning: only the output layer learns; the control experiment.

    Introduced in chapter 2 (The weight-transport problem).  Hidden layers
    keep their initial random weights, so the network is a linear read-out
    of fixed random features.
    """

    name = "shallow"

    def trains(self, l):
        return l == len(self.sizes) - 1


class _MatrixFeedback(Rule):
    """Rules whose hidden signal is ``(delta_{l+1} B_{l+1}) * f'(a_l)``."""

    options = {"dist": "uniform", "scale": None}

    def __init__(self, net, seed=None, **options):
        super().__init__(net, seed, **options)
        dist, scale = self.config["dist"], self.config["scale"]
        if dist not in ("uniform", "normal"):
            raise ValueError(f"dist={dist!r} is not known; choose 'uniform' or 'normal'")
        if scale is not None:
            check_positive(scale, "scale")
        self.feedback = [_draw(self.rng, shape, dist, self._scale(shape), self.dtype)
                         for shape in self.feedback_shapes()]

    def _scale(self, shape):
        """Default: 1/sqrt(n_{l-1}), the scale of PyTorch's default forward init."""
        scale = self.config["scale"]
        return 1.0 / np.sqrt(shape[1]) if scale is None else scale

    def feedback_shapes(self):
        return [(n_out, n_in) for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])]

    def _signal(self, net, ws, l, out):
        np.dot(ws.delta[l + 1], self.feedback[l], out=out)


class FA(_MatrixFeedback):
    """Feedback alignment: a fixed random ``B_{l+1}`` replaces ``W_{l+1}``.

    Introduced in chapter 3 (Random feedback: feedback alignment); Lillicrap,
    Cownden, Tweed and Akerman (2016).

    Options
    -------
    dist : {"uniform", "normal"}
        Distribution of the entries of ``B_l``; default ``"uniform"``.
    scale : float or None
        Half-width (uniform) or standard deviation (normal).  Default
        ``None``: ``1/sqrt(n_{l-1})`` for ``B_l``, the scale of the default
        forward initialisation.  Lillicrap's linear task uses ``scale=0.5``.
    """

    name = "fa"


class DFA(_MatrixFeedback):
    """Direct feedback alignment: ``delta_l = (e D_l) * f'(a_l)``.

    Introduced in chapter 5 (Direct feedback alignment); Nøkland (2016).
    ``rule.feedback[l-1]`` is ``D_l`` of shape ``(n_L, n_l)`` for each hidden
    layer ``l = 1 .. L-1``.

    Options
    -------
    dist : {"uniform", "normal"}
        Default ``"uniform"``.
    scale : float or None
        Default ``None``: ``1/sqrt(n_l)``, i.e. ``D_l ~ U[-1/sqrt(n_l), 1/sqrt(n_l)]``
        as in Nøkland's code.
    """

    name = "dfa"

    def _scale(self, shape):
        scale = self.config["scale"]
        return 1.0 / np.sqrt(shape[1]) if scale is None else scale

    def feedback_shapes(self):
        n_out = self.sizes[-1]
        return [(n_out, n) for n in self.sizes[1:-1]]

    def _signal(self, net, ws, l, out):
        np.dot(ws.delta[len(self.sizes) - 1], self.feedback[l - 1], out=out)


class USF(_MatrixFeedback):
    """Uniform sign-concordant feedback: ``B_l = s_l sign(W_l)``.

    Introduced in chapter 6 (Sign symmetry); Liao, Leibo and Poggio (2016).
    ``B`` follows the signs of the current weights: it is set at creation and
    again after every step (in :meth:`update_feedback`).

    Options
    -------
    scale : float or None
        ``s_l``.  Default ``None``: ``sqrt(2 / (n_{l-1} + n_l))``, the standard
        deviation of a Glorot initialisation (BioTorch's choice), which keeps
        ``B`` on the scale of ``W``; ``sign(W)`` alone is far larger.
    """

    name = "usf"
    options = {"scale": None}

    def __init__(self, net, seed=None, **options):
        Rule.__init__(self, net, seed, **options)
        if self.config["scale"] is not None:
            check_positive(self.config["scale"], "scale")
        self.feedback = [np.empty(s, self.dtype) for s in self.feedback_shapes()]
        self._magnitudes = [np.full(s, self._scale(s), self.dtype)
                            for s in self.feedback_shapes()]
        self._refresh(net)

    def _scale(self, shape):
        scale = self.config["scale"]
        return np.sqrt(2.0 / (shape[0] + shape[1])) if scale is None else scale

    def _refresh(self, net):
        for W, M, B in zip(net.weights, self._magnitudes, self.feedback):
            K._signed_magnitude(M.reshape(-1), W.reshape(-1), 1.0, B.reshape(-1))

    def update_feedback(self, net, steps, decay):
        self._refresh(net)


class FRSF(USF):
    """Fixed random-magnitude sign-concordant feedback: ``B = |M| * sign(W)``.

    Introduced in chapter 6 (Sign symmetry); Liao, Leibo and Poggio (2016).
    ``M`` is drawn once; the signs follow the current weights.

    Options
    -------
    dist, scale :
        Distribution of ``M`` as for ``fa`` (default uniform with half-width
        ``1/sqrt(n_{l-1})``).
    """

    name = "frsf"
    options = {"dist": "uniform", "scale": None}

    def __init__(self, net, seed=None, **options):
        Rule.__init__(self, net, seed, **options)
        self._check_dist()
        self.feedback = [np.empty(s, self.dtype) for s in self.feedback_shapes()]
        self._magnitudes = [np.empty(s, self.dtype) for s in self.feedback_shapes()]
        self._draw_magnitudes()
        self._refresh(net)

    _scale = _MatrixFeedback._scale

    def _check_dist(self):
        if self.config["dist"] not in ("uniform", "normal"):
            raise ValueError(f"dist={self.config['dist']!r} is not known; "
                             f"choose 'uniform' or 'normal'")
        if self.config["scale"] is not None:
            check_positive(self.config["scale"], "scale")

    def _draw_magnitudes(self):
        for M in self._magnitudes:
            M[...] = _draw(self.rng, M.shape, self.config["dist"], self._scale(M.shape),
                           self.dtype)


class BRSF(FRSF):
    """Batchwise random-magnitude sign-concordant feedback.

    Introduced in chapter 6 (Sign symmetry); Liao, Leibo and Poggio (2016).
    As ``frsf``, but the magnitudes ``M`` are drawn again from ``rule.rng``
    after every step, so each batch sees new magnitudes with the current signs.
    """

    name = "brsf"

    def update_feedback(self, net, steps, decay):
        self._draw_magnitudes()
        self._refresh(net)


class KP(_MatrixFeedback):
    """Kolen-Pollack: ``B`` receives the same update and decay as ``W``.

    Introduced in chapter 7 (Learning the feedback); Kolen and Pollack (1994),
    Akrout et al. (2019).  After each optimizer step
    ``B_l <- B_l + s_l - decay B_l``, where ``s_l`` is the step taken by
    ``W_l``; hence ``W_l - B_l`` shrinks by ``(1 - decay)`` every step and ``B``
    converges to ``W`` when there is weight decay.  Options as for ``fa``.
    """

    name = "kp"

    def update_feedback(self, net, steps, decay):
        for B, s in zip(self.feedback, steps):
            K._add_step(B.reshape(-1), s.reshape(-1), decay)


class WM(_MatrixFeedback):
    """Weight mirror: ``B`` learns ``W`` from noise sent through the forward weights.

    Introduced in chapter 7 (Learning the feedback); Akrout et al. (2019).
    After each optimizer step, for every layer ``l >= 2``: draw noise
    ``x ~ N(0, sigma^2)`` of shape ``(mirror_batch, n_{l-1})`` from
    ``rule.rng``, send it through the forward weights ``y = x W_l^T`` and set
    ``B_l <- B_l + mirror_lr (y^T x / mirror_batch - mirror_decay B_l)``.
    Since ``E[y^T x] / mirror_batch = sigma^2 W_l``, ``B_l`` tends to
    ``(sigma^2 / mirror_decay) W_l``; the default ``mirror_decay = sigma^2``
    makes it tend to ``W_l`` itself.  ``B_1`` is not mirrored (it does not
    affect learning).

    Options
    -------
    dist, scale :
        Initial ``B`` as for ``fa``.
    mirror_lr : float
        Rate of the mirror update (default 0.05).
    mirror_noise : float
        ``sigma``, the standard deviation of the injected noise (default 1).
    mirror_decay : float or None
        Default ``None``: ``sigma^2``.
    mirror_batch : int
        Noise samples per step (default 64).
    """

    name = "wm"
    options = {"dist": "uniform", "scale": None, "mirror_lr": 0.05, "mirror_noise": 1.0,
               "mirror_decay": None, "mirror_batch": 64}

    def __init__(self, net, seed=None, **options):
        super().__init__(net, seed, **options)
        c = self.config
        self.mirror_lr = check_positive(c["mirror_lr"], "mirror_lr")
        self.mirror_noise = check_positive(c["mirror_noise"], "mirror_noise")
        decay = self.mirror_noise**2 if c["mirror_decay"] is None else c["mirror_decay"]
        self.mirror_decay = check_positive(decay, "mirror_decay", allow_zero=True)
        self.mirror_batch = check_positive(c["mirror_batch"], "mirror_batch", integer=True)
        if self.mirror_lr * self.mirror_decay >= 1:
            raise ValueError("mirror_lr * mirror_decay must be < 1, or B flips sign every "
                             "step; lower mirror_lr")

    def update_feedback(self, net, steps, decay):
        m = self.mirror_batch
        for l in range(2, len(self.sizes)):
            W, B = net.weights[l - 1], self.feedback[l - 1]
            x = self.rng.normal(0.0, self.mirror_noise, size=(m, W.shape[1])).astype(self.dtype)
            y = x @ W.T
            B *= self.dtype.type(1.0 - self.mirror_lr * self.mirror_decay)
            B += (self.mirror_lr / m) * (y.T @ x)


RULES = {cls.name: cls for cls in (BP, FA, DFA, USF, FRSF, BRSF, KP, WM, Shallow)}


def available():
    """Names of the learning rules, in the order the book introduces them."""
    return list(RULES)


def get(name, net, seed=None, **options):
    """Make a learning rule for a network.

    Introduced in chapter 1 (Backpropagation from the chain rule).

    Parameters
    ----------
    name : str
        One of ``"bp", "fa", "dfa", "usf", "frsf", "brsf", "kp", "wm",
        "shallow"``.
    net : MLP
        The network to train; fixes the shapes of the feedback matrices.
    seed : int or None
        Seed of the rule's own generator (feedback matrices, noise).
    **options
        Rule options (see each rule's class), e.g. ``scale=0.5`` for ``fa``.

    Returns
    -------
    Rule

    Examples
    --------
    >>> import fa_lessons as fl
    >>> net = fl.MLP([30, 20, 10], activation="linear", output="linear", seed=0)
    >>> rule = fl.rules.get("fa", net, seed=1, scale=0.5)
    >>> [B.shape for B in rule.feedback]
    [(20, 30), (10, 20)]
    """
    if not isinstance(name, str) or name.lower() not in RULES:
        raise ValueError(f"unknown rule {name!r}; known rules: {', '.join(RULES)}")
    return RULES[name.lower()](net, seed=seed, **options)
