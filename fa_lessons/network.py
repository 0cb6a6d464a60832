"""The multilayer perceptron that every chapter trains.

Introduced in chapter 1 (Backpropagation from the chain rule).  Shapes follow
the book: ``weights[l-1]`` is ``W_l`` of shape ``(n_l, n_{l-1})`` (rows are
outputs), ``biases[l-1]`` is ``b_l``, a batch is stored as rows and
``a_l = h_{l-1} W_l^T + b_l``.
"""

from dataclasses import dataclass

import numpy as np

from . import _kernels as K
from ._checks import check_data, check_dtype, check_inputs, check_positive, check_targets
from .activations import hidden_code, output_code

INITS = ("pytorch", "xavier", "xavier_normal", "normal", "uniform", "zeros")


@dataclass
class ForwardPass:
    """What the backward pass needs from a forward pass.

    Attributes
    ----------
    a : list of ndarray
        ``a[l]`` is the pre-activation of layer ``l`` (``a[0]`` is ``None``).
    h : list of ndarray
        ``h[0]`` is the input batch ``X``; ``h[l] = f(a[l])``; ``h[L]`` is the
        network output ``g(a[L])``.
    """

    a: list
    h: list

    @property
    def output(self):
        """The network output ``h[L]``."""
        return self.h[-1]


def init_weights(shape, init, rng, dtype, scale=None):
    """Draw one weight matrix ``(n_out, n_in)`` with a named initialiser.

    Introduced in chapter 1.

    Parameters
    ----------
    shape : tuple of int
        ``(n_out, n_in)``.
    init : str
        ``"pytorch"``: U[-1/sqrt(n_in), 1/sqrt(n_in)] (PyTorch's ``nn.Linear``
        default); ``"xavier"``: U[-r, r] with r = sqrt(6 / (n_in + n_out))
        (Glorot and Bengio 2010); ``"xavier_normal"`` / ``"normal"``:
        N(0, 2 / (n_in + n_out)) and N(0, 1 / (n_in + n_out)) (the latter as in
        Akrout et al. 2019); ``"uniform"``: U[-scale, scale] (``scale`` required);
        ``"zeros"``.
    rng : numpy.random.Generator
    dtype : float32 or float64
    scale : float, optional
        Half-width for ``"uniform"``; for the other names, multiplies the draw.
    """
    n_out, n_in = shape
    if init == "uniform":
        if scale is None:
            raise ValueError('init="uniform" needs init_scale= (the half-width of U[-s, s])')
        return rng.uniform(-scale, scale, size=shape).astype(dtype)
    factor = 1.0 if scale is None else scale
    if init == "pytorch":
        r = 1.0 / np.sqrt(n_in)
        w = rng.uniform(-r, r, size=shape)
    elif init == "xavier":
        r = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-r, r, size=shape)
    elif init == "xavier_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=shape)
    elif init == "normal":
        w = rng.normal(0.0, np.sqrt(1.0 / (n_in + n_out)), size=shape)
    elif init == "zeros":
        w = np.zeros(shape)
    else:
        raise ValueError(f"init={init!r} is not known; choose one of {list(INITS)}")
    return (factor * w).astype(dtype)


class MLP:
    """A fully connected network of any depth.

    Introduced in chapter 1 (Backpropagation from the chain rule).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[n_0, n_1, ..., n_L]``: inputs, hidden layers, outputs.
        At least two entries.
    activation : {"tanh", "sigmoid", "relu", "linear"}
        Hidden nonlinearity ``f``.
    output : {"softmax", "linear", "sigmoid"}
        Output nonlinearity ``g``.
    loss : str, optional
        ``"cross_entropy"`` (softmax), ``"squared_error"`` (linear or sigmoid:
        ``1/2 ||e||^2`` averaged over the batch) or ``"bce"`` (sigmoid, binary
        cross-entropy).  Default: the natural loss of ``output``.
    init : str
        Weight initialiser, see :func:`init_weights`.  Biases start at zero,
        except with ``"pytorch"``, where they are drawn like the weights.
    init_scale : float, optional
        Half-width for ``init="uniform"`` (for example 0.01 in Lillicrap's
        linear task); a multiplier for the other initialisers.
    bias : bool
        Whether the layers have biases.  With ``bias=False`` the biases stay
        zero and rules report zero bias gradients.
    seed : int or None
        Seed of the generator that draws the initial weights.
    dtype : np.float32 or np.float64

    Attributes
    ----------
    weights : list of ndarray
        ``weights[l-1]`` is ``W_l``, shape ``(n_l, n_{l-1})``.
    biases : list of ndarray
        ``biases[l-1]`` is ``b_l``, shape ``(n_l,)``.

    Examples
    --------
    >>> import numpy as np, fa_lessons as fl
    >>> net = fl.MLP([784, 256, 10], seed=0)
    >>> [w.shape for w in net.weights]
    [(256, 784), (10, 256)]
    """

    def __init__(self, sizes, activation="tanh", output="softmax", loss=None,
                 init="pytorch", init_scale=None, bias=True, seed=None,
                 dtype=np.float32):
        sizes = list(sizes) if not isinstance(sizes, (str, bytes)) else None
        if not sizes or len(sizes) < 2:
            raise ValueError("sizes must list at least two layer widths, e.g. [784, 256, 10]")
        for n in sizes:
            check_positive(n, "every entry of sizes", integer=True)
        self.sizes = [int(n) for n in sizes]
        self.activation = activation
        self._hidden_code = hidden_code(activation)
        self.output = output
        self.loss_name, self._output_code = output_code(output, loss)
        self.dtype = check_dtype(dtype)
        if init_scale is not None:
            init_scale = check_positive(init_scale, "init_scale", allow_zero=True)
        if init not in INITS:
            raise ValueError(f"init={init!r} is not known; choose one of {list(INITS)}")
        self.init = init
        self.bias = bool(bias)
        rng = np.random.default_rng(seed)
        self.weights, self.biases = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            self.weights.append(init_weights((n_out, n_in), init, rng, self.dtype, init_scale))
            if init == "pytorch" and self.bias:
                r = 1.0 / np.sqrt(n_in)
                self.biases.append(rng.uniform(-r, r, size=n_out).astype(self.dtype))
            else:
                self.biases.append(np.zeros(n_out, dtype=self.dtype))

    # ------------------------------------------------------------------ basics
    @property
    def n_layers(self):
        """Number of weight layers ``L``."""
        return len(self.weights)

    def __repr__(self):
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
                f"output={self.output!r}, loss={self.loss_name!r}, "
                f"dtype={self.dtype.name})")

    def copy(self):
        """A deep copy: same architecture, copied weights and biases."""
        new = object.__new__(MLP)
        new.__dict__.update(self.__dict__)
        new.weights = [w.copy() for w in self.weights]
        new.biases = [b.copy() for b in self.biases]
        return new

    def check_parameters(self):
        """Raise a clear error if a weight or bias was replaced by a bad array.

        Chapters and exercises overwrite ``weights`` and ``biases`` by hand;
        this checks shapes, dtype and C-contiguity before the kernels use them.
        """
        for l, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
            shape = (self.sizes[l], self.sizes[l - 1])
            if not isinstance(w, np.ndarray) or w.shape != shape:
                raise ValueError(f"weights[{l - 1}] (W_{l}) must have shape {shape}")
            if b.shape != (self.sizes[l],):
                raise ValueError(f"biases[{l - 1}] (b_{l}) must have shape ({self.sizes[l]},)")
            for name, arr in ((f"weights[{l - 1}]", w), (f"biases[{l - 1}]", b)):
                if arr.dtype != self.dtype:
                    raise TypeError(f"{name} has dtype {arr.dtype}; the network uses {self.dtype}")
                if not arr.flags.c_contiguous:
                    raise ValueError(f"{name} must be C-contiguous; use np.ascontiguousarray")

    # ----------------------------------------------------------------- forward
    def _forward_into(self, hs):
        """Forward pass from ``hs[0]`` into preallocated ``hs[1..L]``.

        ``hs[L]`` receives ``h_{L-1} W_L^T`` without the output bias and
        nonlinearity, which the output-error kernel adds.
        """
        L = self.n_layers
        for l in range(1, L):
            np.dot(hs[l - 1], self.weights[l - 1].T, out=hs[l])
            K._bias_activate(hs[l], self.biases[l - 1], self._hidden_code)
        np.dot(hs[L - 1], self.weights[L - 1].T, out=hs[L])

    def forward(self, X):
        """Run the network on a batch and keep what the backward pass needs.

        Parameters
        ----------
        X : ndarray, shape (N, n_0), the network's dtype

        Returns
        -------
        ForwardPass
            Pre-activations ``a[l]`` and activities ``h[l]`` for every layer.
        """
        X = check_inputs(X, self.sizes[0], self.dtype)
        self.check_parameters()
        a, h = [None], [X]
        for l in range(1, self.n_layers + 1):
            a.append(h[-1] @ self.weights[l - 1].T + self.biases[l - 1])
            hl = a[-1].copy()
            if l < self.n_layers:
                K._bias_activate(hl, np.zeros_like(self.biases[l - 1]), self._hidden_code)
            else:
                hl = self._apply_output(hl)
            h.append(hl)
        return ForwardPass(a=a, h=h)

    def _apply_output(self, z):
        if self.output == "softmax":
            z = np.exp(z - z.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        if self.output == "sigmoid":
            K._bias_activate(z, np.zeros(z.shape[1], z.dtype), K.SIGMOID)
        return z

    def predict(self, X, batch_size=1000):
        """Network output ``h_L`` (class probabilities for softmax), shape ``(N, n_L)``."""
        X = check_inputs(X, self.sizes[0], self.dtype)
        self.check_parameters()
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.dtype)
        for start in range(0, X.shape[0], batch_size):
            out[start:start + batch_size] = self.forward(X[start:start + batch_size]).output
        return out

    def evaluate(self, X, y, batch_size=1000):
        """Mean loss and accuracy over ``(X, y)`` in one pass.

        ``y`` holds integer labels or 2-D targets (whose argmax is the class
        used for accuracy).  Returns ``(loss, accuracy)`` as floats.
        """
        X, T, labels = check_data((X, y), self)
        total, correct = 0.0, 0
        zero = np.zeros(self.sizes[-1], self.dtype)
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            a_out = np.ascontiguousarray(self.forward(X[start:stop]).a[-1])
            Tb = T[start:stop]
            mean = K._output_error(a_out, zero, Tb, self._output_code, np.empty_like(a_out))
            total += mean * len(Tb)
            correct += int((a_out.argmax(axis=1) == labels[start:stop]).sum())
        return total / X.shape[0], correct / X.shape[0]

    def loss(self, X, y):
        """Mean loss over the examples ``(X, y)``; ``y`` labels or 2-D targets."""
        return self.evaluate(X, y)[0]

    def accuracy(self, X, y):
        """Fraction of examples whose largest output is the labelled class.

        ``y`` holds integer labels, or 2-D targets whose argmax is the class.
        """
        return self.evaluate(X, y)[1]

    def targets(self, y, n):
        """Targets of shape ``(n, n_L)`` from labels or 2-D targets (checked)."""
        return check_targets(y, n, self.sizes[-1], self.dtype, self.output == "softmax")
