"""Plot helpers for histories and angles.  Each takes an Axes and returns it.

Introduced in chapter 1 (learning curves) and chapter 3 (angles).  Importing
this module imports Matplotlib but changes no global style; call
:func:`use_style` to opt in to the book's style.
"""

import matplotlib.pyplot as plt
import numpy as np

_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "savefig.bbox": "tight",
}

#: One colour per rule, the same in every chapter.
RULE_COLORS = {
    "bp": "black", "fa": "tab:blue", "dfa": "tab:orange", "usf": "tab:green",
    "frsf": "tab:olive", "brsf": "tab:cyan", "kp": "tab:red", "wm": "tab:purple",
    "shallow": "tab:gray",
}


def use_style():
    """Apply the book's Matplotlib style (opt-in; importing does nothing)."""
    plt.rcParams.update(_STYLE)


def _axes(ax):
    return plt.gca() if ax is None else ax


def band(x, runs, ax=None, label=None, color=None, spread="std"):
    """Plot the mean of several runs with a shaded band.

    Parameters
    ----------
    x : array_like, shape (T,)
    runs : array_like, shape (seeds, T)
        One row per seed.
    spread : {"std", "minmax"}
        Band of mean ± one standard deviation, or from the minimum to the
        maximum over seeds.
    """
    ax = _axes(ax)
    runs = np.asarray(runs, dtype=float)
    if runs.ndim != 2 or runs.shape[1] != len(x):
        raise ValueError(f"runs must have shape (seeds, {len(x)}), got {runs.shape}")
    mean = np.nanmean(runs, axis=0)
    if spread == "std":
        lo, hi = mean - np.nanstd(runs, axis=0), mean + np.nanstd(runs, axis=0)
    elif spread == "minmax":
        lo, hi = np.nanmin(runs, axis=0), np.nanmax(runs, axis=0)
    else:
        raise ValueError(f"spread={spread!r} is not known; choose 'std' or 'minmax'")
    (line,) = ax.plot(x, mean, label=label, color=color)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    return ax


def learning_curves(histories, ax=None, metric="test_accuracy", percent=True):
    """Plot one learning curve per history (or per list of seeds, with a band).

    Parameters
    ----------
    histories : dict of str -> History or list of History
        Label -> history; a list of histories (one per seed) is drawn as a
        mean with a band.
    metric : str
        A per-epoch field of :class:`fa_lessons.training.History`.
    percent : bool
        Show accuracies in percent.
    """
    ax = _axes(ax)
    for label, hs in histories.items():
        hs = hs if isinstance(hs, (list, tuple)) else [hs]
        runs = np.array([getattr(h, metric) for h in hs], dtype=float)
        if percent and "accuracy" in metric:
            runs = 100 * runs
        band(hs[0].epoch, runs, ax=ax, label=label, color=RULE_COLORS.get(label))
    ax.set_xlabel("epoch")
    unit = " (%)" if percent and "accuracy" in metric else ""
    ax.set_ylabel(metric.replace("_", " ") + unit)
    ax.legend()
    return ax


def angles(history, name="signal_angle", ax=None, layers=None, label=None):
    """Plot a tracked angle (degrees) against the number of training examples.

    Parameters
    ----------
    history : History
        A run trained with ``track=[name]``.
    name : str
        ``"signal_angle"``, ``"update_angle"`` or ``"weight_angle"``.
    layers : list of int, optional
        1-based hidden layers to show; default all with finite values.
    """
    ax = _axes(ax)
    values = history.track(name)
    if values.ndim == 1:
        values = values[:, None]
    layers = layers or [l for l in range(1, values.shape[1] + 1)
                        if np.isfinite(values[:, l - 1]).any()]
    for l in layers:
        tag = f"layer {l}" if label is None else f"{label}, layer {l}"
        ax.plot(history.examples, values[:, l - 1], label=tag)
    ax.axhline(90, color="gray", linestyle=":", linewidth=1)
    ax.set_xlabel("training examples")
    ax.set_ylabel(f"{name.replace('_', ' ')} (degrees)")
    ax.set_ylim(0, 180 if np.nanmax(values) > 95 else 95)
    ax.legend()
    return ax
