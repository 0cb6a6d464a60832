"""Named reproductions of the papers' experiments, each defined in one place.

Introduced in chapter 9 (Reproductions).  An :class:`Experiment` fixes the
data, the networks, the learning rules, the optimiser, the epochs, the number
of seeds and the published numbers it is compared with (each with its source
and how well it is confirmed).  :func:`run` trains every variant for every
seed and writes one results file (JSON) that chapter 9 reads::

    fa-lessons list
    fa-lessons reproduce akrout2019-mnist --seeds 3 --jobs 2
    fa-lessons reproduce akrout2019-mnist --quick          # a cut-down run, < 1 min

Determinism.  A run is fixed by ``(experiment, variant, seed)``: the seed
gives, through :class:`numpy.random.SeedSequence`, the seeds of the initial
weights, of the rule's feedback, of the shuffling and (for the teacher task)
of the data.  Every variant of one seed starts from the same initial weights
and sees the examples in the same order, so the rules are compared in pairs.
Each run uses one BLAS thread (``threadpoolctl``; environment variables in
worker processes), in a serial run as in a parallel one, so ``--jobs 2``
gives bit-identical numbers to ``--jobs 1``.

Results file.  ``results/<name>.json`` (``<name>.quick.json`` with
``quick=True``) holds the configuration and its hash, the published numbers,
the differences from the papers' settings, the package version, the machine,
the wall time of every session, and one record per (variant, seed) with the
per-epoch history and the final metrics.  Records are written as runs finish;
a rerun skips the (variant, seed) pairs already there with the same
configuration hash (``force=True`` starts again).

Importing this module imports only NumPy and the standard library.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import pathlib
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

__all__ = [
    "EXPERIMENTS",
    "ConfigMismatchError",
    "Data",
    "Experiment",
    "Published",
    "Variant",
    "get",
    "load_results",
    "names",
    "results_path",
    "curves",
    "run",
    "run_variant",
    "summarise",
]

#: Version of the results-file layout (bump when it changes).
RESULTS_FORMAT = 1

#: Metrics every run can report in its ``final`` record, with their units.
METRICS = {
    "test_error": "% of test images misclassified after the last epoch",
    "test_accuracy": "% of test images classified correctly after the last epoch",
    "train_error": "% of training images misclassified after the last epoch",
    "test_loss": "mean test loss after the last epoch",
    "nse": "normalised squared error on the test set at the end",
    "signal_angle": "degrees between the rule's and BP's hidden teaching signals at the "
                    "end, averaged over hidden layers",
    "weight_angle": "degrees between W_{l+1} and B_{l+1} at the end, averaged over "
                    "hidden layers",
}


class ConfigMismatchError(ValueError):
    """A results file exists but was made with another configuration.

    Introduced in chapter 9 (Reproductions).
    """


# --------------------------------------------------------------------------- #
# Definitions
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Data:
    """Which data an experiment trains on.

    Introduced in chapter 9 (Reproductions).

    Attributes
    ----------
    name : {"mnist-full", "mnist-subset", "linear-teacher"}
        ``"mnist-full"``: the 60,000/10,000 images from
        :func:`fa_lessons.datasets.load_mnist` ``("full")``; ``"mnist-subset"``: the
        embedded 10,000/2,000 subset; ``"linear-teacher"``: Lillicrap et al.'s
        linear task from :func:`fa_lessons.datasets.linear_teacher`, drawn
        afresh for every seed.
    n_train, n_test : int or None
        Use only the first ``n`` examples (MNIST), or generate ``n`` examples
        (teacher task).  ``None``: all (MNIST).
    """

    name: str
    n_train: int | None = None
    n_test: int | None = None


@dataclass(frozen=True)
class Variant:
    """One network trained with one rule: a line in a table, a curve in a plot.

    Introduced in chapter 9 (Reproductions).

    Attributes
    ----------
    label : str
        Unique within its experiment, e.g. ``"fa"`` or ``"dfa 7x240"``.
    rule : str
        A name from :func:`fa_lessons.rules.available`.
    lr : float
        Learning rate.
    sizes : tuple of int
        Layer widths ``(n_0, ..., n_L)``.
    activation, output, loss, init, init_scale, bias, dtype :
        Passed to :class:`fa_lessons.network.MLP` (``dtype`` by name).
    zero_layers : tuple of int
        1-based layers whose weights and biases start at zero (Nøkland's
        zero initial condition).
    rule_options : dict
        Passed to :func:`fa_lessons.rules.get`.
    optimizer, momentum, weight_decay, batch_size, epochs :
        Passed to :func:`fa_lessons.training.train`.
    track : tuple of str
        Metrics tracked during training (``"signal_angle"``, ``"nse"``, ...).
    track_every : int or None
        Track every so many steps (default: after every epoch).
    group : str
        A grouping key for tables, e.g. the architecture ``"2x800"``.
    """

    label: str
    rule: str
    lr: float
    sizes: tuple
    activation: str = "tanh"
    output: str = "softmax"
    loss: str | None = None
    init: str = "pytorch"
    init_scale: float | None = None
    bias: bool = True
    dtype: str = "float32"
    zero_layers: tuple = ()
    rule_options: dict = field(default_factory=dict)
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 10
    track: tuple = ()
    track_every: int | None = None
    group: str = ""


@dataclass(frozen=True)
class Published:
    """A number (or a claim) from a paper that a variant is compared with.

    Introduced in chapter 9 (Reproductions).

    Attributes
    ----------
    variant : str or None
        Label of the variant it compares with; ``None`` for a claim about
        the whole experiment.
    metric : str
        A key of ``METRICS`` (``"test_error"``, ``"signal_angle"``, ...).
    value : float or None
        ``None`` for a claim without a number.
    sd : float or None
        Standard deviation over the paper's runs, if given.
    relation : {"=", "<", ">", "~"}
        ``"<"`` for "below", ``"~"`` for "about".
    epoch : int or None
        The epoch the number belongs to, when it is a point of a learning
        curve; ``None`` for the end of the paper's training.
    setting : str
        The paper's setting for this number (network, epochs, optimiser...).
    source : str
        Where the number was read.
    confirmed : str
        How well it is confirmed: ``"code"`` (read in the authors' files),
        ``"abs"`` (abstract or metadata page), ``"2nd"`` (quoted by a third
        party), ``"RECALL"`` (recalled, not checked against the paper).
    note : str
        Anything else a reader must know.
    """

    variant: str | None
    metric: str
    value: float | None
    sd: float | None = None
    relation: str = "="
    epoch: int | None = None
    setting: str = ""
    source: str = ""
    confirmed: str = ""
    note: str = ""


@dataclass(frozen=True)
class Experiment:
    """A named reproduction: data, variants, seeds, published numbers.

    Introduced in chapter 9 (Reproductions).  Get one with :func:`get`;
    :meth:`quick` gives the cut-down version used by tests and exercises.

    Attributes
    ----------
    name, title : str
    paper : str
        The citation key in the book's ``references.bib``.
    description : str
        What the paper did and what runs here, in a few sentences.
    data : Data
    variants : tuple of Variant
    seeds : int
        Default number of seeds (0, 1, ..., seeds-1).
    headline : tuple of str
        The metrics that summarise the experiment (keys of ``METRICS``).
    published : tuple of Published
    differences : tuple of str
        How the setting here differs from the paper's, one item each.
    quick_data : Data
        Data of the quick version.
    quick_epochs : int
        Epochs of the quick version.
    quick_seeds : int
        Default seeds of the quick version.
    quick_track_every : int or None
        ``track_every`` of the quick version (for step-wise tracking).
    """

    name: str
    title: str
    paper: str
    description: str
    data: Data
    variants: tuple
    seeds: int
    headline: tuple
    published: tuple = ()
    differences: tuple = ()
    quick_data: Data | None = None
    quick_epochs: int = 1
    quick_seeds: int = 2
    quick_track_every: int | None = None
    is_quick: bool = False

    def variant(self, label):
        """The variant with this label (``KeyError`` listing the labels if none)."""
        for v in self.variants:
            if v.label == label:
                return v
        raise KeyError(f"{self.name} has no variant {label!r}; its variants are "
                       f"{[v.label for v in self.variants]}")

    def quick(self):
        """The cut-down version: small data, ``quick_epochs``, ``quick_seeds``.

        It trains the same networks with the same rules, so it exercises the
        same code; its numbers mean nothing.
        """
        if self.is_quick:
            return self
        variants = tuple(
            replace(v, epochs=min(v.epochs, self.quick_epochs),
                    track_every=(self.quick_track_every if v.track_every else None))
            for v in self.variants)
        return replace(self, data=self.quick_data or self.data, variants=variants,
                       seeds=self.quick_seeds, is_quick=True)

    def config(self):
        """The settings that determine the numbers, as a JSON-ready dict."""
        return _jsonable({
            "experiment": self.name,
            "quick": self.is_quick,
            "data": asdict(self.data),
            "variants": [asdict(v) for v in self.variants],
        })

    def config_hash(self):
        """SHA-256 (first 16 hex digits) of :meth:`config` as canonical JSON."""
        text = json.dumps(self.config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def command(self, seeds=None, jobs=None):
        """The command line that regenerates this experiment's results file."""
        parts = ["fa-lessons", "reproduce", self.name]
        if self.is_quick:
            parts.append("--quick")
        n = self.seeds if seeds is None else seeds
        parts += ["--seeds", str(n)]
        if jobs and jobs > 1:
            parts += ["--jobs", str(jobs)]
        if self.data.name == "mnist-full":
            parts += ["--data-dir", "DIR"]
        return " ".join(parts)


def _jsonable(obj):
    """Tuples to lists, NumPy scalars to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        obj = float(obj)
        return obj if math.isfinite(obj) else None
    return obj


# --------------------------------------------------------------------------- #
# The five experiments
# --------------------------------------------------------------------------- #

_MNIST = Data("mnist-full")
_MNIST_QUICK = Data("mnist-subset", n_train=1000, n_test=500)

_LILLICRAP_LINEAR = Experiment(
    name="lillicrap2016-linear",
    title="Lillicrap et al. 2016: the linear 30-20-10 task",
    paper="lillicrap2016random",
    description=(
        "A linear 30-20-10 network without biases learns y* = T x (T_ij ~ U[-1, 1], "
        "x ~ N(0, I)) from one example at a time.  Weights start in U[-0.01, 0.01]; "
        "FA's feedback B ~ U[-0.5, 0.5].  Shallow learning (only the last layer "
        "learns), BP and FA are compared on the normalised squared error (NSE) of a "
        "held-out test set, and FA's hidden teaching signal is compared with BP's "
        "(the signal angle) as learning proceeds."),
    data=Data("linear-teacher", n_train=5000, n_test=1000),
    variants=tuple(
        Variant(label=rule, rule=rule, lr=1e-3, sizes=(30, 20, 10), activation="linear",
                output="linear", loss="squared_error", init="uniform", init_scale=0.01,
                bias=False, dtype="float64",
                rule_options={"scale": 0.5} if rule == "fa" else {},
                batch_size=1, epochs=1,
                track=("nse", "signal_angle") if rule == "fa" else ("nse",),
                track_every=25)
        for rule in ("shallow", "bp", "fa")),
    seeds=20,
    headline=("nse", "signal_angle"),
    published=(
        Published("fa", "signal_angle", 90.0, relation="<",
                  setting="linear 30-20-10, omega = 0.01, B ~ U[-0.5, 0.5]",
                  source="Lillicrap et al. 2016 (arXiv text quoted on m8ta.com): the angle "
                         "falls below 90 degrees; FA works if e^T W B e > 0",
                  confirmed="2nd"),
        Published("fa", "signal_angle", 30.0, relation="~",
                  setting="the same task, one seed, eta = 1e-3",
                  source="iboudhaine/feedback-alignment-reprod (a NumPy reproduction): "
                         "about 85 degrees at the start, below 35 by about 300 examples, "
                         "then a plateau near 30",
                  confirmed="2nd",
                  note="not a number from the paper"),
        Published("fa", "nse", None, relation="~",
                  setting="the same task, 20 runs",
                  source="Lillicrap et al. 2016, Fig. 1-2 (described, values not read): FA "
                         "reaches BP's error and is faster early on; shallow learning "
                         "stays far higher",
                  confirmed="2nd"),
    ),
    differences=(
        "The learning rate 1e-3 is the reproduction's; the paper chose its rate by a "
        "manual search.",
        "5,000 training examples (one pass, one example per step) per run; the figure's "
        "horizon was not confirmed.",
        "Each seed draws its own teacher T, inputs, initial weights and feedback.",
        "The NSE and the signal angle are measured on 1,000 held-out examples every 25 "
        "steps.",
    ),
    quick_data=Data("linear-teacher", n_train=400, n_test=200),
    quick_epochs=1,
    quick_seeds=2,
    quick_track_every=50,
)

_LILLICRAP_MNIST = Experiment(
    name="lillicrap2016-mnist",
    title="Lillicrap et al. 2016: MNIST with a 784-1000-10 sigmoid network",
    paper="lillicrap2016random",
    description=(
        "A 784-1000-10 network with sigmoid hidden and output units and squared error "
        "is trained on the 60,000 MNIST training images with BP, FA and shallow "
        "learning (only the output layer learns) and tested on the 10,000 test images."),
    data=_MNIST,
    variants=tuple(
        Variant(label=rule, rule=rule, lr=0.2, sizes=(784, 1000, 10), activation="sigmoid",
                output="sigmoid", loss="squared_error", init="pytorch", batch_size=4,
                epochs=15, rule_options={"scale": 0.3} if rule == "fa" else {},
                track=("signal_angle",) if rule == "fa" else ())
        for rule in ("shallow", "bp", "fa")),
    seeds=3,
    headline=("test_error",),
    published=(
        Published("fa", "test_error", 2.1,
                  setting="784-1000-10 sigmoid, squared error, eta = 1e-3, weight decay 1e-6",
                  source="Lillicrap et al. 2016, quoted by the paperium.net review of the "
                         "arXiv version", confirmed="2nd"),
        Published("bp", "test_error", 2.4,
                  setting="the same network", source="Lillicrap et al. 2016 (recalled)",
                  confirmed="RECALL", note="check against the paper before quoting"),
    ),
    differences=(
        "15 epochs of minibatch SGD (batch 4, learning rate 0.2 on the batch-mean loss, "
        "no momentum, no weight decay) instead of the paper's longer training with "
        "eta = 1e-3 per example and weight decay 1e-6; the 9 runs of 15 epochs took "
        "18 minutes on 2 cores (--jobs 2).",
        "How the setting was chosen: short runs (1-8 epochs, seed 0 only) trained on the "
        "first 50,000 training images and scored on the last 10,000 (never on the test "
        "set).  Learning rates of 0.4 and above (0.5 at batch 16, 1 and 3 at batch 32, "
        "or 0.1-0.3 with momentum 0.9) drove the sigmoid outputs into saturation and "
        "stuck at chance; below that ceiling, smaller batches (more steps per epoch) "
        "learned faster per second, so batch 4 was kept, with lr 0.2 rather than 0.3 "
        "because at 0.3 FA's validation error jumped from epoch to epoch.  The earlier setting (batch 32, lr 0.3, 10 epochs) gave "
        "BP 7.6 % and FA 9.8 % test error.",
        "FA's feedback B ~ U[-0.3, 0.3] (about ten times the forward scale 1/sqrt(1000)) "
        "instead of the default U[-1/sqrt(n_in), 1/sqrt(n_in)]: with the small default "
        "B, FA's hidden layer learned slowly and its early epochs were unstable "
        "(validation error 80 % then 55 % after 1 and 2 epochs at batch 8, lr 0.3), "
        "while with 0.3 it fell steadily (9.3, 7.9, 7.5 % over 3 epochs at batch 4, "
        "lr 0.2).  Only 0.1 and 0.3 were tried; the paper's scale of B was not confirmed.",
        "Forward weights and biases start in U[-1/sqrt(n_in), 1/sqrt(n_in)]; the paper's "
        "initial scales were not confirmed.",
    ),
    quick_data=_MNIST_QUICK,
    quick_epochs=1,
)


def _nokland_variants():
    out = []
    for arch, sizes in (("1x800", (784, 800, 10)), ("2x800", (784, 800, 800, 10)),
                        ("7x240", (784,) + (240,) * 7 + (10,))):
        L = len(sizes) - 1
        for rule, lr, zero in (("bp", 0.05, ()), ("fa", 0.05, tuple(range(2, L + 1))),
                               ("dfa", 0.05, tuple(range(1, L + 1)))):
            out.append(Variant(
                label=f"{rule} {arch}", rule=rule, lr=lr, sizes=sizes, activation="tanh",
                output="sigmoid", loss="bce", init="pytorch", zero_layers=zero,
                momentum=0.9, batch_size=64, epochs=10,
                track=("signal_angle",) if rule != "bp" else (), group=arch))
    return tuple(out)


_NOKLAND = Experiment(
    name="nokland2016-mnist",
    title="Nøkland 2016: direct feedback alignment on MNIST",
    paper="nokland2016direct",
    description=(
        "Tanh networks with sigmoid outputs and binary cross-entropy (as in the author's "
        "code), 1x800, 2x800 and 7x240 hidden units, trained with BP, FA and DFA.  "
        "DFA's feedback D_l ~ U[-1/sqrt(n_l), 1/sqrt(n_l)]; under DFA every forward "
        "weight starts at zero, under FA all but the first layer's (the author's code), "
        "BP starts from U[-1/sqrt(n_in), 1/sqrt(n_in)]."),
    data=_MNIST,
    variants=_nokland_variants(),
    seeds=3,
    headline=("test_error", "train_error"),
    published=tuple(
        Published(f"{rule} {arch}", "test_error", v, sd,
                  setting=f"MNIST {arch} tanh, no dropout, trained to (near) zero "
                          "training error",
                  source="Nøkland 2016, Table 1 (recalled, not checked against the PDF)",
                  confirmed="RECALL")
        for arch, row in (("1x800", ((1.59, 0.04), (1.68, 0.05), (1.68, 0.05))),
                          ("2x800", ((1.60, 0.06), (1.64, 0.03), (1.74, 0.08))),
                          ("7x240", ((2.16, 0.13), (2.20, 0.13), (2.32, 0.15))))
        for rule, (v, sd) in zip(("bp", "fa", "dfa"), row)
    ) + (
        Published("dfa 2x800", "test_error", 1.45,
                  setting="2x800 tanh WITH dropout (not run here)",
                  source="Nøkland 2016, abstract (papers.nips.cc metadata)", confirmed="abs",
                  note="dropout setting: compare with care"),
    ),
    differences=(
        "10 epochs of SGD with momentum 0.9 (learning rate 0.05, batch 64) instead of "
        "the author's RMSprop (learning rate 1e-4, batch 64) for up to 300 epochs with "
        "the rate chosen on a validation set.",
        "No dropout, no adversarial regularisation, no max-norm constraint.",
        "Final numbers are after the last epoch, not the best epoch on a validation set.",
    ),
    quick_data=_MNIST_QUICK,
    quick_epochs=1,
)


def _liao_variants():
    out = []
    sizes = (784, 256, 256, 10)
    for opt, tag, lr in (("sgd", "", 0.05), ("manhattan", "+bm", 5e-5)):
        for rule in ("bp", "usf", "frsf", "brsf", "fa"):
            out.append(Variant(
                label=f"{rule}{tag}", rule=rule, lr=lr, sizes=sizes, activation="relu",
                output="softmax", init="xavier", optimizer=opt, momentum=0.9,
                batch_size=128, epochs=5,
                track=("signal_angle",) if rule != "bp" else (),
                group="batch manhattan" if opt == "manhattan" else "sgd"))
    return tuple(out)


_LIAO = Experiment(
    name="liao2016-sign",
    title="Liao, Leibo and Poggio 2016: sign-concordant feedback and Batch Manhattan",
    paper="liao2016important",
    description=(
        "A 784-256-256-10 ReLU network with a softmax output is trained on MNIST with "
        "BP, uniform sign-concordant feedback (uSF, B = s sign(W)), fixed and batchwise "
        "random-magnitude sign-concordant feedback (frSF, brSF: B = |M| sign(W)) and "
        "random feedback (FA), each with plain SGD and with Batch Manhattan (the step "
        "follows the sign of the batch gradient), both with momentum 0.9."),
    data=_MNIST,
    variants=_liao_variants(),
    seeds=3,
    headline=("test_error",),
    published=(
        Published(None, "test_error", None,
                  setting="15 data sets, mostly convolutional networks",
                  source="Liao, Leibo and Poggio 2016, abstract: magnitudes of the feedback "
                         "weights do not matter, their signs do; random magnitudes with "
                         "concordant signs do as well as or better than SGD; Batch "
                         "Normalisation and/or Batch Manhattan are indispensable",
                  confirmed="abs"),
        Published("fa", "test_error", None, relation=">",
                  setting="the paper's networks",
                  source="Liao, Leibo and Poggio 2016 (recalled): random feedback is clearly "
                         "worse than sign-concordant feedback", confirmed="RECALL"),
        *(Published(rule, "test_error", v,
                    setting="LeNet (convolutional) on MNIST, SGD with momentum 0.9, weight "
                            "decay 1e-3, batch 64, 100 epochs",
                    source="Sanfiz and Akrout 2021 (BioTorch), Benchmarks.md",
                    confirmed="code", note="another network and another paper")
          for rule, v in (("bp", 0.91), ("usf", 0.94), ("brsf", 0.91), ("frsf", 0.97),
                          ("fa", 1.7))),
    ),
    differences=(
        "A fully connected 784-256-256-10 ReLU network, not the paper's convolutional "
        "networks, and no batch normalisation.",
        "5 epochs; learning rates 0.05 (SGD) and 5e-5 (Batch Manhattan), momentum 0.9, "
        "no learning-rate schedule.",
        "The Batch Manhattan rate 5e-5 was picked among 2e-5, 5e-5, 1e-4, 2e-4 and 1e-3 "
        "by the test error of seed 0 after 5 epochs (bp+bm, usf+bm): a mild selection on "
        "the test set.  With 2e-4 (the first choice) the test error rose again after the "
        "first epoch; 1e-3 was worse still.",
        "uSF's scale s is the standard deviation of a Glorot initialisation of W "
        "(BioTorch's choice); frSF/brSF magnitudes |M| with M ~ U[-1/sqrt(n_in), "
        "1/sqrt(n_in)]; brSF redraws M after every step.",
        "The MNIST numbers from BioTorch are for LeNet, a convolutional network: they "
        "show the ranking, not a target for this network.",
    ),
    quick_data=_MNIST_QUICK,
    quick_epochs=1,
)

_AKROUT_B_SCALE = float(np.sqrt(1.0 / (500 + 10)))

_AKROUT = Experiment(
    name="akrout2019-mnist",
    title="Akrout et al. 2019: Kolen-Pollack and weight mirrors on MNIST",
    paper="akrout2019deep",
    description=(
        "The authors' NumPy reference setting: a 784-500-10 network with sigmoid hidden "
        "and output units and sigmoid cross-entropy, batch 128, weights and feedback "
        "drawn from N(0, 1/(n_in + n_out)), plain SGD with their learning rates (BP 0.2, "
        "FA 0.2, KP 0.3, WM 0.05), KP without weight decay as in their main.py.  The "
        "angle between each rule's hidden teaching signal and BP's is tracked per epoch."),
    data=_MNIST,
    variants=tuple(
        Variant(label=rule, rule=rule, lr=lr, sizes=(784, 500, 10), activation="sigmoid",
                output="sigmoid", loss="bce", init="normal",
                rule_options={} if rule == "bp" else {"dist": "normal",
                                                       "scale": _AKROUT_B_SCALE},
                batch_size=128, epochs=10,
                track=() if rule == "bp" else ("signal_angle", "weight_angle"))
        for rule, lr in (("bp", 0.2), ("fa", 0.2), ("kp", 0.3), ("wm", 0.05))),
    seeds=3,
    headline=("test_accuracy", "signal_angle"),
    published=(
        *(Published(rule, "test_accuracy", v, epoch=10,
                    setting="784-500-10 sigmoid, batch 128, epoch 10 of 400, one run",
                    source="makrout/Deep-Learning-without-Weight-Transport, "
                           f"experiments/mnist/{rule}-V0/log.txt ('Epoch 9', counted from 0)",
                    confirmed="code")
          for rule, v in (("bp", 94.12), ("fa", 90.86), ("kp", 95.41), ("wm", 90.49))),
        *(Published(rule, "signal_angle", v, epoch=10,
                    setting="the same run, epoch 10 (angle between deltas, hidden layer)",
                    source="makrout/Deep-Learning-without-Weight-Transport, "
                           f"experiments/mnist/{rule}-V0/log.txt ('Epoch 9', counted from 0)",
                    confirmed="code")
          for rule, v in (("fa", 26.09), ("kp", 12.21), ("wm", 16.91))),
        *(Published(rule, "test_accuracy", v,
                    setting="the same network after 400 epochs, one run",
                    source="makrout/Deep-Learning-without-Weight-Transport, "
                           "experiments/mnist/*/results.json", confirmed="code")
          for rule, v in (("bp", 98.50), ("fa", 97.80), ("kp", 98.45), ("wm", 98.49))),
        *(Published(rule, "signal_angle", v,
                    setting="the same run after 400 epochs",
                    source="makrout/Deep-Learning-without-Weight-Transport, "
                           "experiments/mnist/*/results.json", confirmed="code")
          for rule, v in (("fa", 34.9), ("kp", 3.1), ("wm", 3.2))),
    ),
    differences=(
        "10 epochs instead of 400: the table compares with the authors' logs at epoch "
        "10 and quotes their epoch-400 numbers separately.",
        "Weight mirror: the package's mirror (noise N(0, 1) through W, 64 samples, mirror "
        "rate 0.05, decay 1 after every step) instead of the authors' (uniform noise of "
        "width 0.1, rate 0.01, plus an initial pass over the data).",
        "Three seeds here; the authors' logs are one run each.",
    ),
    quick_data=_MNIST_QUICK,
    quick_epochs=1,
)

#: The named experiments, by name, in the order of chapter 9.
EXPERIMENTS = {e.name: e for e in (_LILLICRAP_LINEAR, _LILLICRAP_MNIST, _NOKLAND, _LIAO,
                                   _AKROUT)}


def names():
    """Names of the experiments, in the order of chapter 9.

    Introduced in chapter 9 (Reproductions).
    """
    return list(EXPERIMENTS)


def get(name, quick=False):
    """The experiment with this name (its quick version with ``quick=True``).

    Introduced in chapter 9 (Reproductions).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if not isinstance(name, str) or name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known experiments: "
                         f"{', '.join(EXPERIMENTS)} (see `fa-lessons list`)")
    exp = EXPERIMENTS[name]
    return exp.quick() if quick else exp


# --------------------------------------------------------------------------- #
# Running one (variant, seed)
# --------------------------------------------------------------------------- #

_DATA_CACHE = {}


def _load_data(data, seed, data_dir=None, download=True):
    """``(X_train, y_train, X_test, y_test)`` for a :class:`Data` and a seed."""
    if data.name == "linear-teacher":
        from .datasets import linear_teacher

        data_seed = _child_seeds(seed)[3]
        return tuple(linear_teacher(data.n_train, data.n_test, seed=data_seed))
    key = (data, None if data_dir is None else str(data_dir), os.environ.get("FA_LESSONS_DATA"))
    if key not in _DATA_CACHE:
        from .datasets import load_mnist

        if data.name == "mnist-full":
            arrays = load_mnist("full", data_dir=data_dir, download=download)
        elif data.name == "mnist-subset":
            arrays = load_mnist("subset")
        else:
            raise ValueError(f"unknown data {data.name!r}; choose 'mnist-full', "
                             f"'mnist-subset' or 'linear-teacher'")
        X, y, Xt, yt = arrays
        X, y = X[:data.n_train], y[:data.n_train]
        Xt, yt = Xt[:data.n_test], yt[:data.n_test]
        _DATA_CACHE.clear()  # keep one data set in memory
        _DATA_CACHE[key] = tuple(np.ascontiguousarray(a) for a in (X, y, Xt, yt))
    return _DATA_CACHE[key]


def _child_seeds(seed):
    """Seeds of the initial weights, the feedback, the shuffling and the data."""
    return [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(4)]


@contextlib.contextmanager
def single_blas_thread():
    """Run the block with one BLAS thread (all BLAS libraries loaded so far).

    Introduced in chapter 9 (Reproductions).  SciPy's BLAS, which Numba's
    ``np.dot`` calls, is loaded first so that it is limited too.  Without
    ``threadpoolctl`` this does nothing (worker processes still get one
    thread from the environment variables set by :func:`run`).
    """
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (load SciPy's OpenBLAS)
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _final_angle(hist, name):
    vals = hist.tracked.get(name)
    if not vals:
        return None
    last = np.asarray(vals[-1], dtype=float)
    return float(np.nanmean(last)) if np.isfinite(last).any() else None


def run_variant(experiment, label, seed, *, data_dir=None, download=True, progress=False):
    """Train one variant of an experiment for one seed; return its record.

    Introduced in chapter 9 (Reproductions).

    Parameters
    ----------
    experiment : Experiment
    label : str
        The variant's label.
    seed : int
        Fixes everything random in the run (see the module docstring).
    data_dir, download :
        Passed to :func:`fa_lessons.datasets.load_mnist` for ``"mnist-full"``.
    progress : bool
        Show :func:`fa_lessons.training.train`'s progress bar.

    Returns
    -------
    dict
        ``{"variant", "seed", "final", "history", "wall_time", "diverged"}``;
        ``final`` holds the metrics of ``METRICS`` that apply.
    """
    from .network import MLP
    from .rules import get as get_rule
    from .training import DivergenceError, train

    v = experiment.variant(label)
    t0 = time.perf_counter()
    with single_blas_thread():
        X, y, Xt, yt = _load_data(experiment.data, seed, data_dir, download)
        dtype = np.dtype(v.dtype)
        X, Xt = X.astype(dtype, copy=False), Xt.astype(dtype, copy=False)
        if y.ndim == 2:
            y, yt = y.astype(dtype, copy=False), yt.astype(dtype, copy=False)
        net_seed, rule_seed, shuffle_seed, _ = _child_seeds(seed)
        net = MLP(v.sizes, activation=v.activation, output=v.output, loss=v.loss,
                  init=v.init, init_scale=v.init_scale, bias=v.bias, seed=net_seed,
                  dtype=dtype)
        for l in v.zero_layers:
            net.weights[l - 1][...] = 0
            net.biases[l - 1][...] = 0
        rule = get_rule(v.rule, net, seed=rule_seed, **v.rule_options)
        regression = experiment.data.name == "linear-teacher"
        track_data = (Xt, yt) if regression else (X[:1000], y[:1000])
        record = {"variant": label, "seed": int(seed), "diverged": None}
        try:
            hist = train(net, rule, (X, y), epochs=v.epochs, lr=v.lr,
                         batch_size=v.batch_size, optimizer=v.optimizer,
                         momentum=v.momentum, weight_decay=v.weight_decay,
                         seed=shuffle_seed, test_data=None if regression else (Xt, yt),
                         progress=progress, track=list(v.track) or None,
                         track_every=v.track_every, track_data=track_data)
        except DivergenceError as exc:
            record.update(final={}, history=None, diverged=str(exc),
                          wall_time=time.perf_counter() - t0)
            return _jsonable(record)
        final = {}
        if not regression:
            acc = hist.test_accuracy[-1]
            final["test_accuracy"] = 100.0 * acc
            final["test_error"] = 100.0 * (1.0 - acc)
            final["test_loss"] = hist.test_loss[-1]
            final["train_error"] = 100.0 * (1.0 - net.accuracy(X, y))
        if "nse" in hist.tracked:
            final["nse"] = float(hist.tracked["nse"][-1])
        for name in ("signal_angle", "weight_angle"):
            angle = _final_angle(hist, name)
            if angle is not None:
                final[name] = angle
    record.update(final=final, history=hist.to_dict(), wall_time=time.perf_counter() - t0)
    return _jsonable(record)


def _worker(args):
    experiment, label, seed, data_dir, download = args
    return run_variant(experiment, label, seed, data_dir=data_dir, download=download)


# --------------------------------------------------------------------------- #
# Running an experiment: results file, resuming, parallel seeds
# --------------------------------------------------------------------------- #


def results_path(experiment, results_dir="results"):
    """``results_dir/<name>.json`` (``<name>.quick.json`` for a quick version).

    Introduced in chapter 9 (Reproductions).
    """
    suffix = ".quick.json" if experiment.is_quick else ".json"
    return pathlib.Path(results_dir) / f"{experiment.name}{suffix}"


def load_results(path):
    """Read a results file written by :func:`run` (a dict, see the module docstring).

    Introduced in chapter 9 (Reproductions).

    Raises
    ------
    FileNotFoundError
        Naming the file and the command that makes it.
    ValueError
        If the file is not a results file of this package.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no results file at {str(path)!r}; make it with `fa-lessons reproduce NAME` "
            f"(see `fa-lessons list`)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({exc}); delete it and run "
                         f"`fa-lessons reproduce` again") from None
    if not isinstance(results, dict) or results.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{str(path)!r} is not a results file of fa_lessons (format "
                         f"{RESULTS_FORMAT}); delete it and run `fa-lessons reproduce` again")
    return results


def _environment(jobs):
    import numba

    try:
        cpu = os.sched_getaffinity(0)
        cores = len(cpu)
    except AttributeError:  # not on Linux
        cores = os.cpu_count()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "platform": platform.platform(terse=True),
            "cpu": model, "cores": cores, "jobs": jobs, "blas_threads_per_run": 1}


#: Keys of a results file that hold texts, refreshed from the definition on every run.
_TEXT_KEYS = ("title", "paper", "description", "headline", "published", "differences",
              "metrics")


def _new_results(experiment):
    from . import __version__

    return {
        "format": RESULTS_FORMAT,
        "experiment": experiment.name,
        "title": experiment.title,
        "paper": experiment.paper,
        "description": experiment.description,
        "quick": experiment.is_quick,
        "package_version": __version__,
        "config_hash": experiment.config_hash(),
        "config": experiment.config(),
        "headline": list(experiment.headline),
        "published": _jsonable([asdict(p) for p in experiment.published]),
        "differences": list(experiment.differences),
        "metrics": dict(METRICS),
        "command": "",
        "environment": {},
        "sessions": [],
        "wall_time": 0.0,
        "runs": [],
    }


def _write(results, path):
    """Write atomically (a temporary file renamed into place)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = {v["label"]: i for i, v in enumerate(results["config"]["variants"])}
    results["runs"].sort(key=lambda r: (order.get(r["variant"], len(order)), r["seed"]))
    # One line per run keeps the file small and its diffs readable.
    head = _jsonable({k: v for k, v in results.items() if k != "runs"})
    runs = [json.dumps(_jsonable(r), separators=(",", ":"), allow_nan=False)
            for r in results["runs"]]
    text = json.dumps(head, indent=1, allow_nan=False)[:-2]
    text += ',\n "runs": [\n' + ",\n".join("  " + r for r in runs) + "\n ]\n}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _one_thread_env():
    """Make processes started inside the block use one BLAS/OpenMP thread."""
    names_ = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names_}
    os.environ.update({n: "1" for n in names_})
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _parse_seeds(seeds, default):
    if seeds is None:
        return list(range(default))
    if isinstance(seeds, bool):
        raise TypeError("seeds must be a count (int) or a list of ints")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return list(range(int(seeds)))
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                            and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a count or a non-empty list of ints >= 0, got {seeds}")
    return sorted({int(s) for s in seeds})


def run(experiment, seeds=None, *, jobs=1, results_dir="results", out=None, data_dir=None,
        download=True, force=False, progress=True, echo=print, variants=None):
    """Run an experiment for several seeds and write its results file.

    Introduced in chapter 9 (Reproductions).  This is what
    ``fa-lessons reproduce`` calls.

    Parameters
    ----------
    experiment : Experiment or str
        A name from :func:`names` or an :class:`Experiment` (use
        ``get(name, quick=True)`` for the quick version).
    seeds : int or list of int, optional
        A count (seeds 0..n-1) or the seeds themselves; default
        ``experiment.seeds``.
    jobs : int
        Worker processes (spawned); 1 runs everything in this process.  The
        numbers do not depend on it.
    results_dir : str or path
        Folder of the results file (see :func:`results_path`).
    out : str or path, optional
        The results file itself (overrides ``results_dir``).
    data_dir, download :
        Where to find (or whether to download) the full MNIST set.
    force : bool
        Start a new file even if one exists; otherwise finished (variant,
        seed) pairs are kept and skipped.
    progress : bool
        Show progress bars (on stdout).
    echo : callable or None
        Receives one line of text per finished run (default ``print``).
    variants : list of str, optional
        Run only these variants (labels); default all.

    Returns
    -------
    dict
        The results, as written to the file.

    Raises
    ------
    ConfigMismatchError
        If the file exists with another configuration and ``force`` is False.
    """
    if isinstance(experiment, str):
        experiment = get(experiment)
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be a name or an Experiment, got "
                        f"{type(experiment).__name__}")
    seed_list = _parse_seeds(seeds, experiment.seeds)
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    labels = [v.label for v in experiment.variants]
    if variants is not None:
        unknown = [x for x in variants if x not in labels]
        if unknown:
            raise ValueError(f"unknown variant(s) {unknown} of {experiment.name}; its "
                             f"variants are {labels}")
        labels = [x for x in labels if x in variants]
    path = pathlib.Path(out) if out is not None else results_path(experiment, results_dir)
    echo = echo or (lambda line: None)

    results = None
    if path.exists() and not force:
        results = load_results(path)
        if results.get("config_hash") != experiment.config_hash():
            raise ConfigMismatchError(
                f"{str(path)!r} holds results of another configuration of "
                f"{experiment.name} (hash {results.get('config_hash')} instead of "
                f"{experiment.config_hash()}); pass --force (force=True) to replace it, or "
                f"--out to write elsewhere")
    if results is None:
        results = _new_results(experiment)
    else:  # texts that do not change the numbers follow the current definition
        fresh = _new_results(experiment)
        for key in _TEXT_KEYS:
            results[key] = fresh[key]
    done = {(r["variant"], r["seed"]) for r in results["runs"]}
    tasks = [(label, s) for s in seed_list for label in labels if (label, s) not in done]
    n_seeds = len({r["seed"] for r in results["runs"]} | set(seed_list))
    results["command"] = experiment.command(seeds=max(n_seeds, len(seed_list)), jobs=jobs)
    if done and tasks:
        echo(f"{path}: {len(done)} run(s) already there, {len(tasks)} to go")
    if not tasks:
        echo(f"{path}: every requested run is already there (use --force to redo them)")
        _write(results, path)  # refresh the texts (published numbers, differences)
        return results

    # Fail early (before any worker starts) if the data is missing.
    _load_data(experiment.data, seed_list[0], data_dir, download)
    results["environment"] = _environment(jobs)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    from . import __version__

    session = {"started": started, "jobs": jobs, "runs": 0, "wall_time": 0.0,
               "package_version": __version__}
    results["sessions"].append(session)
    t0 = time.perf_counter()

    def finished(rec):
        results["runs"].append(rec)
        session["runs"] += 1
        session["wall_time"] = time.perf_counter() - t0
        results["wall_time"] = sum(s["wall_time"] for s in results["sessions"])
        _write(results, path)
        echo(_run_line(experiment, rec))

    args = [(experiment, label, s, data_dir, download) for label, s in tasks]
    if jobs == 1:
        for i, (label, s) in enumerate(tasks, start=1):
            if progress:
                echo(f"[{i}/{len(tasks)}] {experiment.name}: {label}, seed {s}")
            finished(run_variant(experiment, label, s, data_dir=data_dir,
                                 download=download, progress=progress))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), desc=experiment.name, unit="run", file=sys.stdout,
                       mininterval=0.5)
            echo_inner = echo
            echo = (lambda line: bar.write(line, file=sys.stdout)) if echo_inner is print \
                else echo_inner
        try:
            with _one_thread_env():
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                                         mp_context=ctx) as pool:
                    futures = [pool.submit(_worker, a) for a in args]
                    for fut in as_completed(futures):
                        finished(fut.result())
                        if bar is not None:
                            bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return results


def _run_line(experiment, rec):
    f = rec["final"]
    if rec.get("diverged"):
        what = "DIVERGED"
    elif "test_error" in f:
        what = f"test error {f['test_error']:.2f} %"
        if "train_error" in f:
            what += f", train error {f['train_error']:.2f} %"
    elif "nse" in f:
        what = f"test NSE {f['nse']:.4f}"
    else:
        what = "done"
    if f.get("signal_angle") is not None:
        what += f", signal angle {f['signal_angle']:.1f} deg"
    return (f"  {experiment.name}: {rec['variant']}, seed {rec['seed']}: {what} "
            f"({rec['wall_time']:.1f} s)")


# --------------------------------------------------------------------------- #
# Summaries
# --------------------------------------------------------------------------- #


def summarise(results, metrics=None):
    """Mean and standard deviation over seeds, next to the published numbers.

    Introduced in chapter 9 (Reproductions).

    Parameters
    ----------
    results : dict or str or path
        A results dict or the path of a results file.
    metrics : list of str, optional
        Default: the experiment's headline metrics.

    Returns
    -------
    list of dict
        One row per (variant, metric), in the order of the experiment:
        ``variant, metric, mean, sd, n, diverged, published`` where
        ``sd`` is the sample standard deviation (``ddof=1``; ``None`` for one
        seed) and ``published`` lists the matching :class:`Published` entries
        as dicts.
    """
    if not isinstance(results, dict):
        results = load_results(results)
    metrics = list(metrics or results["headline"])
    rows = []
    for v in results["config"]["variants"]:
        runs = [r for r in results["runs"] if r["variant"] == v["label"]]
        for metric in metrics:
            values = [r["final"].get(metric) for r in runs if not r.get("diverged")]
            values = np.array([x for x in values if x is not None], dtype=float)
            pub = [p for p in results["published"]
                   if p["variant"] == v["label"] and p["metric"] == metric]
            if not len(values) and not pub:
                continue
            rows.append({
                "variant": v["label"], "metric": metric,
                "mean": float(values.mean()) if len(values) else None,
                "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
                "n": int(len(values)),
                "diverged": sum(1 for r in runs if r.get("diverged")),
                "published": pub,
            })
    return rows


def curves(results, label, name, layer=None):
    """Per-seed curves of one variant, ready for :func:`fa_lessons.plotting.band`.

    Introduced in chapter 9 (Reproductions).

    Parameters
    ----------
    results : dict
        From :func:`load_results`.
    label : str
        The variant.
    name : str
        A per-epoch field of :class:`fa_lessons.training.History` (``"test_accuracy"``,
        ``"test_loss"``, ``"train_loss"``), ``"test_error"`` (percent) or
        ``"test_accuracy_pct"``, or a tracked metric (``"nse"``,
        ``"signal_angle"``, ...).
    layer : int, optional
        For a tracked per-layer metric, the 1-based hidden layer; default:
        the mean over hidden layers (ignoring NaN).

    Returns
    -------
    x : ndarray, shape (T,)
        Epochs ``1..E`` for per-epoch fields; training examples seen for
        tracked metrics (0 is before training).
    values : ndarray, shape (seeds, T)
        One row per seed, in seed order (diverged runs left out).
    """
    runs = sorted((r for r in results["runs"]
                   if r["variant"] == label and not r.get("diverged")),
                  key=lambda r: r["seed"])
    if not runs:
        raise KeyError(f"no finished runs of variant {label!r} in {results['experiment']}")
    h0 = runs[0]["history"]
    if name in h0.get("tracked", {}):
        x = np.asarray(h0["examples"], dtype=float)
        rows = []
        for r in runs:
            v = np.array([np.nan if a is None else a for a in _flat(r["history"]["tracked"][name])],
                         dtype=float).reshape(len(x), -1)
            if layer is None:
                with np.errstate(all="ignore"):
                    rows.append(np.array([np.nanmean(row) if np.isfinite(row).any() else np.nan
                                          for row in v]))
            else:
                rows.append(v[:, layer - 1])
        return x, np.array(rows)
    x = np.asarray(h0["epoch"], dtype=float)
    key = {"test_error": "test_accuracy", "test_accuracy_pct": "test_accuracy"}.get(name, name)
    if key not in h0 or not isinstance(h0[key], list) or not h0[key]:
        raise KeyError(f"{name!r} is neither a per-epoch field nor a tracked metric of "
                       f"{label!r}; tracked: {sorted(h0.get('tracked', {}))}")
    values = np.array([r["history"][key] for r in runs], dtype=float)
    if name == "test_error":
        values = 100.0 * (1.0 - values)
    elif name == "test_accuracy_pct":
        values = 100.0 * values
    return x, values


def _flat(records):
    """Tracked values (scalars or per-layer lists) as a flat list, None kept."""
    out = []
    for rec in records:
        out.extend(rec if isinstance(rec, list) else [rec])
    return out


def format_summary(results, metrics=None):
    """:func:`summarise` as a plain-text table (what ``fa-lessons summary`` prints).

    Introduced in chapter 9 (Reproductions).
    """
    if not isinstance(results, dict):
        results = load_results(results)
    rows = summarise(results, metrics)
    n_epochs = {v["label"]: v["epochs"] for v in results["config"]["variants"]}
    lines = [f"{results['experiment']}: {results['title']}",
             f"{'variant':<14} {'metric':<14} {'reproduced (mean ± sd, n)':<28} published"]
    for row in rows:
        if row["mean"] is None:
            ours = "-"
        else:
            sd = f" ± {row['sd']:.2f}" if row["sd"] is not None else ""
            ours = f"{row['mean']:.2f}{sd} (n={row['n']})"
        pubs = []
        for p in row["published"]:
            if p["value"] is None:
                continue
            sd = f" ± {p['sd']:.2f}" if p.get("sd") is not None else ""
            rel = "" if p["relation"] == "=" else p["relation"] + " "
            when = f" @ epoch {p['epoch']}" if p.get("epoch") else ""
            pubs.append(f"{rel}{p['value']:g}{sd}{when} [{p['confirmed']}]")
        lines.append(f"{row['variant']:<14} {row['metric']:<14} {ours:<28} "
                     f"{'; '.join(pubs) or '-'}")
    epochs = sorted(set(n_epochs.values()))
    lines.append(f"epochs run here: {', '.join(map(str, epochs))}; wall time "
                 f"{results['wall_time']:.0f} s; regenerate with: {results['command']}")
    return "\n".join(lines)
