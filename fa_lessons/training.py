"""The training loop and its record, :class:`History`.

Introduced in chapter 1 (Backpropagation from the chain rule).
"""

import json
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _fused, metrics
from . import rules as _rules
from ._checks import check_data, check_positive
from .network import MLP
from .optim import Optimizer
from .rules import Rule, Workspace, get

#: Whether :func:`train` may run whole epochs in one compiled call (see
#: :func:`_fused_plan`).  The tests switch it off to compare with the Python loop.
_USE_FUSED = True

# Rules whose step the compiled loop knows: class -> (rule code, per-step hook).
_FUSED_RULES = {
    _rules.BP: (_fused.BP, _fused.HOOK_NONE),
    _rules.FA: (_fused.FA, _fused.HOOK_NONE),
    _rules.DFA: (_fused.DFA, _fused.HOOK_NONE),
    _rules.Shallow: (_fused.SHALLOW, _fused.HOOK_NONE),
    _rules.KP: (_fused.FA, _fused.HOOK_KP),
    _rules.USF: (_fused.FA, _fused.HOOK_SIGN),
    _rules.FRSF: (_fused.FA, _fused.HOOK_SIGN),
}


def _fused_plan(rule, trackers):
    """``(rule_code, hook)`` if :func:`train` can run epochs compiled, else ``None``.

    The compiled loop (``fa_lessons._fused``) covers the rules of
    ``_FUSED_RULES`` (exact classes: a subclass may change the step) with any
    optimizer setting, when no metric is tracked (tracking runs Python
    between steps).  ``brsf`` and ``wm`` draw random numbers every step and
    stay in the Python loop, as does everything under ``NUMBA_DISABLE_JIT``.
    """
    if not _USE_FUSED or trackers:
        return None
    import numba

    if numba.config.DISABLE_JIT:
        return None
    return _FUSED_RULES.get(type(rule))


class DivergenceError(FloatingPointError):
    """Training stopped because the loss became NaN or infinite."""


#: Metrics that ``train(track=...)`` knows by name; each maps (net, rule, X, y)
#: to a float or a per-layer array.
TRACKABLE = {
    "update_angle": metrics.update_angles,
    "signal_angle": metrics.signal_angles,
    "weight_angle": lambda net, rule, X, y: metrics.weight_angles(net, rule),
    "nse": lambda net, rule, X, y: metrics.normalised_squared_error(net.predict(X), y),
    "loss": lambda net, rule, X, y: net.loss(X, y),
}


@dataclass
class History:
    """What :func:`train` records.

    Introduced in chapter 1.

    Attributes
    ----------
    epoch : list of int
        1, 2, ..., epochs.
    train_loss : list of float
        Mean of the batch losses during each epoch.
    test_loss, test_accuracy : list of float
        On ``test_data`` after each epoch (empty without test data).
    seconds : list of float
        Wall time of each epoch's training steps (evaluation excluded).
    examples : list of int
        Training examples seen when each tracked value was recorded; the
        first entry is 0 (before training).
    tracked : dict of str -> list
        The metrics asked for with ``track=``, one entry per ``examples``.
    config : dict
        The settings of the run (rule, sizes, lr, ...).
    """

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    examples: list = field(default_factory=list)
    tracked: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def to_dict(self):
        """A JSON-ready dict (arrays become lists)."""
        d = asdict(self)
        d["tracked"] = {k: [np.asarray(v).tolist() for v in vals]
                        for k, vals in self.tracked.items()}
        return d

    def to_json(self, path=None):
        """The history as JSON text; also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=True)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    @classmethod
    def from_json(cls, text_or_path):
        """Read a history written by :meth:`to_json` (text or a file path)."""
        text = text_or_path
        if not str(text).lstrip().startswith("{"):
            with open(text_or_path) as fh:
                text = fh.read()
        d = json.loads(text)
        d["tracked"] = {k: [np.asarray(v, dtype=float) for v in vals]
                        for k, vals in d.get("tracked", {}).items()}
        return cls(**d)

    def track(self, name):
        """A tracked metric as an array: shape ``(records,)`` or ``(records, layers)``."""
        if name not in self.tracked:
            raise KeyError(f"{name!r} was not tracked; tracked: {sorted(self.tracked)}")
        return np.array([np.asarray(v, dtype=float) for v in self.tracked[name]])

    def table(self, digits=4):
        """A plain-text table: one row per epoch."""
        cols = ["epoch", "train_loss", "test_loss", "test_accuracy", "seconds"]
        cols = [c for c in cols if len(getattr(self, c))]
        rows = [" ".join(f"{c:>13}" for c in cols)]
        for i in range(len(self.epoch)):
            cells = []
            for c in cols:
                v = getattr(self, c)[i]
                cells.append(f"{v:>13d}" if c == "epoch" else f"{v:>13.{digits}f}")
            rows.append(" ".join(cells))
        return "\n".join(rows)


def _progress_bar(total, enabled, desc):
    if not enabled:
        return None
    try:  # A widget in Jupyter when ipywidgets is there; plain text otherwise.
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm

            return tqdm(total=total, desc=desc)
    except ImportError:
        pass
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stdout, mininterval=0.5, leave=True)


def _check_track(track):
    if track is None:
        return {}
    if isinstance(track, str):
        track = [track]
    if isinstance(track, dict):
        items = dict(track)
    else:
        items = {}
        for name in track:
            if name not in TRACKABLE:
                raise ValueError(f"track={name!r} is not known; choose from "
                                 f"{sorted(TRACKABLE)} or pass {{name: callable}}")
            items[name] = TRACKABLE[name]
    for name, fn in items.items():
        if not callable(fn):
            raise TypeError(f"track[{name!r}] must be callable(net, rule, X, y)")
    return items


def _fused_epoch(loop, order, epoch, step, seen, n, steps_per_epoch, bar, lr):
    """One epoch on the compiled path; returns ``(loss_sum, step, seen)``.

    With a progress bar the epoch runs in about 20 calls so that the bar
    moves; without one it is a single call.  The weights are copied back
    after each call, and before a :class:`DivergenceError` is raised.
    """
    loss_sum = 0.0
    chunk = steps_per_epoch if bar is None else max(1, -(-steps_per_epoch // 20))
    for first in range(0, steps_per_epoch, chunk):
        last = min(first + chunk, steps_per_epoch)
        part, done, bad = loop.run(order, first, last)
        loss_sum += part
        step += done
        seen += min((first + done) * loop.batch, n) - first * loop.batch
        if done < last - first:
            loop.write_back()
            raise DivergenceError(
                f"training diverged at epoch {epoch}, step {step + 1}: the batch "
                f"loss is {bad}. The learning rate lr={lr:g} is probably too "
                f"large for this network and rule; try lr={lr / 10:g}")
        if bar is not None:
            bar.update(done)
    loop.write_back()
    return loss_sum, step, seen


def train(net, rule, train_data, *, epochs, lr, batch_size, optimizer="sgd",
          momentum=0.0, weight_decay=0.0, seed=None, test_data=None, progress=True,
          shuffle=True, track=None, track_every=None, track_data=None):
    """Train a network with a learning rule by minibatch stochastic descent.

    Introduced in chapter 1 (Backpropagation from the chain rule).

    Parameters
    ----------
    net : MLP
        Trained in place.
    rule : Rule or str
        From :func:`fa_lessons.rules.get`; a name makes one with ``seed``.
    train_data : (X, y)
        ``X`` of shape ``(n, n_0)`` and the network's dtype; ``y`` integer
        labels ``(n,)`` or targets ``(n, n_L)``.
    epochs : int
        Passes over the training data.
    lr : float
        Learning rate.
    batch_size : int
        Examples per step; the last batch of an epoch may be smaller.
    optimizer : {"sgd", "manhattan"}
        ``"manhattan"`` is Batch Manhattan (the sign of the batch gradient).
    momentum, weight_decay : float
        See :mod:`fa_lessons.optim`.
    seed : int or None
        Seed of the shuffling; the same seed gives bit-identical weights.
    test_data : (X, y), optional
        Evaluated after every epoch.
    progress : bool
        Show a progress bar (a widget in Jupyter, else text on stdout).
    shuffle : bool
        Shuffle the examples every epoch (default) or keep their order.
    track : list of str or dict, optional
        Metrics to record: names from ``TRACKABLE`` (``"update_angle"``,
        ``"signal_angle"``, ``"weight_angle"``, ``"nse"``, ``"loss"``) or a
        dict ``{name: f(net, rule, X, y)}``.  They are computed on
        ``track_data`` before training and then every ``track_every`` steps
        (default: after every epoch); a run without ``track`` pays nothing.
    track_data : (X, y), optional
        Default: the first 256 training examples.

    Returns
    -------
    History

    Raises
    ------
    DivergenceError
        If a batch loss becomes NaN or infinite (the step is not applied).
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an fa_lessons.MLP, got {type(net).__name__}")
    if isinstance(rule, str):
        rule = get(rule, net, seed=seed)
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must come from fa_lessons.rules.get, got {type(rule).__name__}")
    rule.check(net)
    X, T, _ = check_data(train_data, net, "train_data")
    epochs = check_positive(epochs, "epochs", integer=True)
    batch_size = check_positive(batch_size, "batch_size", integer=True)
    opt = Optimizer(net, optimizer, lr, momentum, weight_decay)
    if test_data is not None:
        Xt, Tt, _ = check_data(test_data, net, "test_data")
    trackers = _check_track(track)
    if trackers:
        Xp, Yp = track_data if track_data is not None else (X[:256], train_data[1][:256])
        check_data((Xp, Yp), net, "track_data")
    if track_every is not None:
        track_every = check_positive(track_every, "track_every", integer=True)

    n = X.shape[0]
    batch_size = min(batch_size, n)
    layers = [l for l in range(1, net.n_layers + 1) if rule.trains(l)]
    ws = Workspace(net, batch_size)
    Xb = np.empty((batch_size, X.shape[1]), net.dtype)
    Tb = np.empty((batch_size, T.shape[1]), net.dtype)
    tail = n % batch_size
    ws_tail = ws.rows(tail) if tail else None
    rng = np.random.default_rng(seed)
    hist = History(config=dict(rule=rule.name, rule_options=rule.config, sizes=net.sizes,
                               activation=net.activation, output=net.output,
                               loss=net.loss_name, dtype=net.dtype.name, epochs=epochs,
                               lr=opt.lr, batch_size=batch_size, optimizer=opt.name,
                               momentum=opt.momentum, weight_decay=opt.weight_decay,
                               seed=seed))

    def record(seen):
        hist.examples.append(seen)
        for name, fn in trackers.items():
            hist.tracked.setdefault(name, []).append(fn(net, rule, Xp, Yp))

    if trackers:
        record(0)
    steps_per_epoch = -(-n // batch_size)
    plan = _fused_plan(rule, trackers)
    loop = _fused.Loop(net, rule, opt, X, T, batch_size, *plan) if plan else None
    bar = _progress_bar(epochs * steps_per_epoch, progress, rule.name)
    order = np.arange(n)
    step = seen = 0
    try:
        for epoch in range(1, epochs + 1):
            if shuffle:
                order = rng.permutation(n)
            loss_sum = 0.0
            t0 = time.perf_counter()
            tracking_time = 0.0
            if loop is not None:
                loss_sum, step, seen = _fused_epoch(loop, order, epoch, step, seen, n,
                                                    steps_per_epoch, bar, opt.lr)
            else:
                for start in range(0, n, batch_size):
                    idx = order[start:start + batch_size]
                    w = ws if len(idx) == batch_size else ws_tail
                    xb, tb = Xb[:len(idx)], Tb[:len(idx)]
                    np.take(X, idx, axis=0, out=xb)
                    np.take(T, idx, axis=0, out=tb)
                    w.h[0] = xb
                    rule._compute(net, w, tb)
                    if not np.isfinite(w.loss):
                        raise DivergenceError(
                            f"training diverged at epoch {epoch}, step {step + 1}: the batch "
                            f"loss is {w.loss}. The learning rate lr={opt.lr:g} is probably too "
                            f"large for this network and rule; try lr={opt.lr / 10:g}")
                    loss_sum += w.loss * len(idx)
                    seen += len(idx)
                    opt.step(net, w, layers)
                    rule.update_feedback(net, w.dW, opt.decay)
                    step += 1
                    if bar is not None:
                        bar.update(1)
                    if trackers and track_every and step % track_every == 0:
                        t1 = time.perf_counter()
                        record(seen)
                        tracking_time += time.perf_counter() - t1
            hist.seconds.append(time.perf_counter() - t0 - tracking_time)
            hist.epoch.append(epoch)
            hist.train_loss.append(loss_sum / n)
            if test_data is not None:
                loss, acc = net.evaluate(Xt, Tt)
                hist.test_loss.append(loss)
                hist.test_accuracy.append(acc)
            if trackers and not track_every:
                record(seen)
            if bar is not None:
                post = {"loss": f"{hist.train_loss[-1]:.4f}"}
                if test_data is not None:
                    post["test_acc"] = f"{hist.test_accuracy[-1]:.4f}"
                bar.set_postfix(post)
    finally:
        if bar is not None:
            bar.close()
    return hist
