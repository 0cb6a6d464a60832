"""fa_lessons: learning without weight transport, the companion package of the book.

The public names are loaded on first use, so ``import fa_lessons`` does no
work beyond importing NumPy: no compilation, no data loading, no printing.

>>> import fa_lessons as fl
>>> net = fl.MLP([784, 256, 10], seed=0)                   # doctest: +SKIP
>>> rule = fl.rules.get("fa", net, seed=1)                  # doctest: +SKIP
>>> hist = fl.train(net, rule, fl.load_mnist()[:2], epochs=1, lr=0.1,
...                 batch_size=32, seed=0)                  # doctest: +SKIP
"""

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "MLP": ("network", "MLP"),
    "ForwardPass": ("network", "ForwardPass"),
    "train": ("training", "train"),
    "History": ("training", "History"),
    "DivergenceError": ("training", "DivergenceError"),
    "load_mnist": ("datasets", "load_mnist"),
    "rules": ("rules", None),
    "metrics": ("metrics", None),
    "datasets": ("datasets", None),
    "reference": ("reference", None),
    "gradcheck": ("gradcheck", None),
    "optim": ("optim", None),
    "plotting": ("plotting", None),
    "checks": ("checks", None),
    "experiments": ("experiments", None),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'fa_lessons' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
