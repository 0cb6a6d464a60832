"""Names of hidden activations and of output/loss pairs.

Introduced in chapter 1 (Backpropagation from the chain rule).  The maths
lives in :mod:`fa_lessons.reference` (readable NumPy) and in the private
Numba kernels; this module only maps names to them and checks the names.
"""

from . import _kernels as K

#: Hidden activations f and their derivatives f'(a), written through h = f(a).
HIDDEN = {
    "linear": K.LINEAR,
    "tanh": K.TANH,
    "sigmoid": K.SIGMOID,
    "relu": K.RELU,
}

#: Output nonlinearity g -> the losses it can be paired with, and the default.
OUTPUT_LOSSES = {
    "softmax": ("cross_entropy",),
    "linear": ("squared_error",),
    "sigmoid": ("bce", "squared_error"),
}

_PAIR_CODE = {
    ("softmax", "cross_entropy"): K.SOFTMAX_CE,
    ("linear", "squared_error"): K.LINEAR_SE,
    ("sigmoid", "bce"): K.SIGMOID_BCE,
    ("sigmoid", "squared_error"): K.SIGMOID_SE,
}


def hidden_code(name):
    """Return the kernel code of a hidden activation, or raise a clear error."""
    if not isinstance(name, str) or name not in HIDDEN:
        raise ValueError(
            f"activation={name!r} is not known; choose one of {sorted(HIDDEN)}"
        )
    return HIDDEN[name]


def output_code(output, loss=None):
    """Return ``(loss_name, kernel_code)`` for an output/loss pair.

    ``loss=None`` picks the natural loss of the output: cross-entropy for
    softmax, squared error for linear, binary cross-entropy for sigmoid.
    """
    if not isinstance(output, str) or output not in OUTPUT_LOSSES:
        raise ValueError(
            f"output={output!r} is not known; choose one of {sorted(OUTPUT_LOSSES)}"
        )
    allowed = OUTPUT_LOSSES[output]
    if loss is None:
        loss = allowed[0]
    if loss not in allowed:
        raise ValueError(
            f"loss={loss!r} cannot be paired with output={output!r}; "
            f"choose one of {list(allowed)}"
        )
    return loss, _PAIR_CODE[(output, loss)]
