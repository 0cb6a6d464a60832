"""The ``fa-lessons`` command (also ``python -m fa_lessons``).

Introduced in chapter 9 (Reproductions).  Subcommands::

    fa-lessons train --rule fa --sizes 784,1000,10 --activation tanh --epochs 20 \\
        --lr 0.1 --batch-size 128 --seed 0 --data mnist-full --out fa.json --plot fa.png
    fa-lessons list
    fa-lessons reproduce akrout2019-mnist --seeds 3 --jobs 2
    fa-lessons reproduce akrout2019-mnist --quick
    fa-lessons summary akrout2019-mnist
    fa-lessons student-edition OUT
    fa-lessons grade DIR --out grades.csv

Errors in the command line exit with status 2 and runtime errors (missing
data, a diverged run, a results file of another configuration) with status 1;
both print one message to stderr, without a traceback.  Everything else goes
to stdout.  Importing this module imports only the standard library.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

PROG = "fa-lessons"
DATA_CHOICES = ("mnist-full", "mnist-subset", "linear-teacher")
TRACK_CHOICES = ("signal_angle", "update_angle", "weight_angle", "nse", "loss")


class CLIError(Exception):
    """An error for the user: printed without a traceback, exit status ``code``."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- #
# Argument types
# --------------------------------------------------------------------------- #


def _sizes(text):
    parts = [p.strip() for p in str(text).split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer widths, e.g. 784,1000,10"
        ) from None
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give at least two positive widths (inputs, ..., outputs), "
            f"e.g. 784,1000,10")
    return sizes


def _int_list(text):
    try:
        return [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of "
                                         f"integers, e.g. 1,2") from None


def _int_at_least(minimum):
    """An argparse ``type`` that accepts integers >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _nonneg_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _names(text):
    return [p.strip() for p in str(text).split(",") if p.strip()]


# --------------------------------------------------------------------------- #
# Parser
# --------------------------------------------------------------------------- #


def build_parser():
    """The argument parser of ``fa-lessons`` (subcommands and their options)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Learning without weight transport: train networks with BP, FA, DFA, "
                    "sign symmetry, Kolen-Pollack or weight mirrors, and reproduce the "
                    "papers' experiments (the companion of the fa_lessons book).")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    parser.commands = sub.choices  # name -> subparser (for errors with the right usage)

    # ---- train
    p = sub.add_parser(
        "train", help="train one network with one learning rule",
        description="Train one network with one learning rule; print one line per epoch and "
                    "write the History as JSON (and a plot as PNG with --plot).")
    g = p.add_argument_group("network and rule")
    g.add_argument("--rule", default="bp",
                   help="bp, fa, dfa, usf, frsf, brsf, kp, wm or shallow (default: bp)")
    g.add_argument("--sizes", type=_sizes, default=None,
                   help="layer widths, e.g. 784,1000,10 (default: 784,1000,10 for MNIST, "
                        "30,20,10 for the linear teacher)")
    g.add_argument("--activation", default=None,
                   help="hidden units: tanh, sigmoid, relu or linear (default: tanh; linear "
                        "for the linear teacher)")
    g.add_argument("--output", default=None,
                   help="softmax, sigmoid or linear (default: softmax; linear for the linear "
                        "teacher)")
    g.add_argument("--loss", default=None,
                   help="cross_entropy, squared_error or bce (default: the output's natural "
                        "loss)")
    g.add_argument("--init", default="pytorch",
                   help="pytorch, xavier, xavier_normal, normal, uniform or zeros "
                        "(default: pytorch)")
    g.add_argument("--init-scale", type=_nonneg_float, default=None,
                   help="half-width for --init uniform, a multiplier otherwise")
    g.add_argument("--zero-layers", type=_int_list, default=(),
                   help="1-based layers whose weights and biases start at zero, e.g. 1,2 "
                        "(Nøkland's zero initial condition for DFA)")
    g.add_argument("--no-bias", action="store_true", help="layers without biases")
    g.add_argument("--feedback-scale", type=_positive_float, default=None,
                   help="scale of the feedback matrices (rule option 'scale')")
    g.add_argument("--feedback-dist", choices=("uniform", "normal"), default=None,
                   help="distribution of the feedback matrices (rule option 'dist')")
    g.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="float type (default: float32; float64 for the linear teacher)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_positive_int, default=20, help="default: 20")
    g.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (default 0.1)")
    g.add_argument("--batch-size", type=_positive_int, default=128, help="default: 128")
    g.add_argument("--optimizer", choices=("sgd", "manhattan"), default="sgd",
                   help="sgd or manhattan (Batch Manhattan); default sgd")
    g.add_argument("--momentum", type=_nonneg_float, default=0.0, help="default: 0")
    g.add_argument("--weight-decay", type=_nonneg_float, default=0.0, help="default: 0")
    g.add_argument("--seed", type=_nonneg_int, default=0,
                   help="seed of the initial weights, feedback and shuffling (default 0)")
    g.add_argument("--track", type=_names, default=(),
                   help="metrics to record, comma-separated: " + ", ".join(TRACK_CHOICES))
    g.add_argument("--track-every", type=_positive_int, default=None,
                   help="record tracked metrics every N steps (default: every epoch)")
    g = p.add_argument_group("data")
    _add_data_args(g, train=True)
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None,
                   help="History JSON file (default: train-RULE-seedSEED.json)")
    g.add_argument("--plot", default=None, help="also save a plot of the run as PNG")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    # ---- list
    sub.add_parser("list", help="list the named experiments",
                   description="List the named paper experiments that `reproduce` runs.")

    # ---- reproduce
    p = sub.add_parser(
        "reproduce", help="run a named paper experiment and write its results file",
        description="Run a named experiment (see `fa-lessons list`) for several seeds and "
                    "write results/NAME.json.  Finished (variant, seed) runs are saved as "
                    "they finish and skipped when the command is run again.")
    p.add_argument("name", help="experiment name (see `fa-lessons list`)")
    p.add_argument("--seeds", type=_positive_int, default=None,
                   help="number of seeds, 0..N-1 (default: the experiment's)")
    p.add_argument("--quick", action="store_true",
                   help="cut-down version (small data, 1 epoch) for tests; writes "
                        "NAME.quick.json")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="worker processes (default 1); results are identical for any N")
    p.add_argument("--variants", type=_names, default=None,
                   help="run only these variants (comma-separated labels)")
    p.add_argument("--results-dir", default="results", help="default: results")
    p.add_argument("--out", default=None, help="results file (overrides --results-dir)")
    p.add_argument("--force", action="store_true",
                   help="start the results file again instead of resuming it")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_data_args(p, train=False)

    # ---- summary
    p = sub.add_parser("summary", help="print a results file next to the published numbers",
                       description="Print mean ± sd over seeds of a results file next to "
                                   "the published numbers.")
    p.add_argument("name", help="an experiment name or the path of a results file")
    p.add_argument("--quick", action="store_true", help="the quick results file")
    p.add_argument("--results-dir", default="results", help="default: results")

    # ---- student-edition / grade
    p = sub.add_parser("student-edition", help="write the book without solutions",
                       description="Write a student edition of the book (exercise "
                                   "solutions removed) to OUT.")
    p.add_argument("out", metavar="OUT", help="output folder")
    p.add_argument("--book-dir", default="book", help="the book's folder (default: book)")
    p = sub.add_parser("grade", help="grade submitted notebooks",
                       description="Grade the submitted notebooks in DIR; write a CSV.")
    p.add_argument("dir", metavar="DIR", help="folder of submissions")
    p.add_argument("--out", required=True, metavar="CSV", help="grades file to write")
    p.add_argument("--book-dir", default="book", help="the book's folder (default: book)")
    return parser


def _add_data_args(g, train):
    if train:
        g.add_argument("--data", choices=DATA_CHOICES, default="mnist-subset",
                       help="mnist-full (60,000/10,000 images), mnist-subset (the embedded "
                            "10,000/2,000) or linear-teacher (default: mnist-subset)")
        g.add_argument("--n-train", type=_positive_int, default=None,
                       help="training examples: the first N (MNIST) or N generated (teacher; "
                            "default 5000)")
        g.add_argument("--n-test", type=_positive_int, default=None,
                       help="test examples (teacher default 1000)")
    g.add_argument("--data-dir", default=None,
                   help="folder of the full MNIST files (default: $FA_LESSONS_DATA, else "
                        "~/.cache/fa_lessons/mnist)")
    g.add_argument("--no-download", action="store_true",
                   help="never download MNIST; fail if the files are missing")


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _out(line=""):
    print(line, file=sys.stdout, flush=True)


def _data_error(exc, data_dir):
    """A CLIError for missing or undownloadable MNIST, naming the folder and the fix."""
    from .datasets import ENV_VAR, mnist_data_dir

    folder = mnist_data_dir(data_dir)
    return CLIError(
        f"the full MNIST set is not available.\n{exc}\n"
        f"Looked in: {folder}\n"
        f"To get it: run once with network access (the files are downloaded into that "
        f"folder), or copy the four MNIST files (train-images-idx3-ubyte.gz, "
        f"train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
        f"there, or point --data-dir or {ENV_VAR} at a folder that has them.  "
        f"--data mnist-subset needs no download.", code=1)


def _load_train_data(args, dtype):
    import numpy as np

    from .datasets import DownloadError, linear_teacher, load_mnist

    if args.data == "linear-teacher":
        n_train = args.n_train or 5000
        n_test = args.n_test or 1000
        task = linear_teacher(n_train, n_test, sizes=(args.sizes[0], args.sizes[-1]),
                              seed=args.seed, dtype=dtype)
        return tuple(task)
    try:
        if args.data == "mnist-full":
            arrays = load_mnist("full", data_dir=args.data_dir, download=not args.no_download,
                                dtype=dtype)
        else:
            arrays = load_mnist("subset", dtype=dtype)
    except (FileNotFoundError, DownloadError) as exc:
        raise _data_error(exc, args.data_dir) from None
    X, y, Xt, yt = arrays
    if args.n_train:
        X, y = X[:args.n_train], y[:args.n_train]
    if args.n_test:
        Xt, yt = Xt[:args.n_test], yt[:args.n_test]
    return tuple(np.ascontiguousarray(a) for a in (X, y, Xt, yt))


def _writer(progress):
    if progress:
        from tqdm import tqdm

        return lambda line: tqdm.write(line, file=sys.stdout)
    return _out


# --------------------------------------------------------------------------- #
# Subcommands
# --------------------------------------------------------------------------- #


def cmd_train(args, parser):
    """``fa-lessons train``."""
    regression = args.data == "linear-teacher"
    args.sizes = args.sizes or ([30, 20, 10] if regression else [784, 1000, 10])
    if not regression and (args.sizes[0] != 784 or args.sizes[-1] != 10):
        parser.error(f"--sizes {','.join(map(str, args.sizes))}: MNIST needs 784 inputs "
                     f"and 10 outputs, e.g. --sizes 784,1000,10")
    bad_track = [t for t in args.track if t not in TRACK_CHOICES]
    if bad_track:
        parser.error(f"--track: unknown metric(s) {bad_track}; choose from "
                     f"{', '.join(TRACK_CHOICES)}")
    L = len(args.sizes) - 1
    bad_zero = [l for l in args.zero_layers if not 1 <= l <= L]
    if bad_zero:
        parser.error(f"--zero-layers {bad_zero}: layers are numbered 1..{L} for --sizes "
                     f"{','.join(map(str, args.sizes))}")

    import numpy as np

    from . import metrics
    from .network import MLP
    from .rules import available, get
    from .training import DivergenceError, train

    if args.rule not in available():
        parser.error(f"--rule {args.rule!r} is not known; choose one of "
                     f"{', '.join(available())}")
    dtype = np.dtype(args.dtype or ("float64" if regression else "float32"))
    activation = args.activation or ("linear" if regression else "tanh")
    output = args.output or ("linear" if regression else "softmax")
    options = {}
    if args.feedback_scale is not None:
        options["scale"] = args.feedback_scale
    if args.feedback_dist is not None:
        options["dist"] = args.feedback_dist
    try:
        net = MLP(args.sizes, activation=activation, output=output, loss=args.loss,
                  init=args.init, init_scale=args.init_scale, bias=not args.no_bias,
                  seed=args.seed, dtype=dtype)
        for l in args.zero_layers:
            net.weights[l - 1][...] = 0
            net.biases[l - 1][...] = 0
        rule = get(args.rule, net, seed=args.seed + 1, **options)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))

    X, y, Xt, yt = _load_train_data(args, dtype)
    progress = not args.no_progress
    write = _writer(progress)
    out = args.out or f"train-{args.rule}-seed{args.seed}.json"
    _out(f"{args.rule} on {args.data}: {net!r}, {X.shape[0]} training and {Xt.shape[0]} "
         f"test examples, {args.epochs} epoch(s), lr {args.lr:g}, batch {args.batch_size}, "
         f"{args.optimizer}")

    t_start = time.perf_counter()
    calls = {"n": 0}

    def report(net_, rule_, X_, y_):
        """Print one line per epoch (or per --track-every steps); called by train()."""
        i = calls["n"]
        calls["n"] += 1
        when = (f"step {i * args.track_every:>7}" if args.track_every
                else f"epoch {i:>3}/{args.epochs}")
        if regression:
            value = metrics.normalised_squared_error(net_.predict(Xt), yt)
            text = f"test NSE {value:.4f}"
        else:
            loss, acc = net_.evaluate(Xt, yt)
            value = acc
            text = f"test loss {loss:.4f}  test accuracy {100 * acc:6.2f} %"
        write(f"{when}  {text}  ({time.perf_counter() - t_start:.1f} s)")
        return value

    from .training import TRACKABLE

    track = {name: TRACKABLE[name] for name in args.track}
    track["_report"] = report
    try:
        hist = train(net, rule, (X, y), epochs=args.epochs, lr=args.lr,
                     batch_size=args.batch_size, optimizer=args.optimizer,
                     momentum=args.momentum, weight_decay=args.weight_decay, seed=args.seed,
                     test_data=None if regression else (Xt, yt), progress=progress,
                     track=track, track_every=args.track_every,
                     track_data=(Xt, yt) if regression else None)
    except DivergenceError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    hist.tracked.pop("_report", None)
    if not hist.tracked:
        hist.examples = []
    hist.config["data"] = args.data
    hist.to_json(out)
    if not regression:
        _out(hist.table())
    _out(f"wrote the history to {out}")
    if args.plot:
        _plot_history(hist, args, args.plot, regression)
        _out(f"wrote the plot to {args.plot}")
    return 0


def _plot_history(hist, args, path, regression):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    angles = [k for k in ("signal_angle", "update_angle", "weight_angle") if k in hist.tracked]
    ncols = 2 if angles else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4), squeeze=False)
    ax = axes[0, 0]
    if regression:
        if "nse" in hist.tracked:
            ax.plot(hist.examples, hist.track("nse"), label=args.rule)
            ax.set_xlabel("training examples")
            ax.set_ylabel("test NSE")
        else:
            ax.plot(hist.epoch, hist.train_loss, marker="o", label=args.rule)
            ax.set_xlabel("epoch")
            ax.set_ylabel("training loss")
    else:
        ax.plot(hist.epoch, 100 * np.asarray(hist.test_accuracy), marker="o", label=args.rule)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{args.rule}, sizes {','.join(map(str, args.sizes))}")
    ax.legend()
    if angles:
        ax = axes[0, 1]
        for name in angles:
            values = hist.track(name)
            values = values[:, None] if values.ndim == 1 else values
            for l in range(values.shape[1]):
                if np.isfinite(values[:, l]).any():
                    ax.plot(hist.examples, values[:, l], label=f"{name.replace('_', ' ')}, "
                                                               f"layer {l + 1}")
        ax.axhline(90, color="gray", linestyle=":", linewidth=1)
        ax.set_xlabel("training examples")
        ax.set_ylabel("angle (degrees)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cmd_list(args, parser):
    """``fa-lessons list``."""
    from .experiments import EXPERIMENTS

    rows = [("name", "data", "runs", "seeds", "epochs", "title")]
    for e in EXPERIMENTS.values():
        epochs = sorted({v.epochs for v in e.variants})
        rows.append((e.name, e.data.name, str(len(e.variants)), str(e.seeds),
                     ",".join(map(str, epochs)), e.title))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        _out("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5])
    _out()
    _out("Run one with `fa-lessons reproduce NAME` (add --quick for a test run, --jobs 2 to "
         "use two processes).")
    return 0


def cmd_reproduce(args, parser):
    """``fa-lessons reproduce``."""
    from . import experiments as ex
    from .datasets import DownloadError

    try:
        exp = ex.get(args.name, quick=args.quick)
    except ValueError as exc:
        parser.error(str(exc))
    if args.variants:
        labels = [v.label for v in exp.variants]
        unknown = [v for v in args.variants if v not in labels]
        if unknown:
            parser.error(f"--variants: {exp.name} has no variant(s) {unknown}; its variants "
                         f"are: {', '.join(labels)}")
    path = args.out or ex.results_path(exp, args.results_dir)
    _out(f"{exp.name}{' (quick)' if args.quick else ''}: {len(exp.variants)} variant(s) x "
         f"{args.seeds or exp.seeds} seed(s), {args.jobs} process(es) -> {path}")
    t0 = time.perf_counter()
    progress = not args.no_progress
    try:
        results = ex.run(exp, seeds=args.seeds, jobs=args.jobs, results_dir=args.results_dir,
                         out=args.out, data_dir=args.data_dir,
                         download=not args.no_download, force=args.force, progress=progress,
                         echo=_out, variants=args.variants)
    except (FileNotFoundError, DownloadError) as exc:
        if exp.data.name == "mnist-full":
            raise _data_error(exc, args.data_dir) from None
        raise CLIError(str(exc)) from None
    except ex.ConfigMismatchError as exc:
        raise CLIError(str(exc)) from None
    except KeyboardInterrupt:
        raise CLIError(f"interrupted; finished runs are saved in {path}: run the same "
                       f"command again to resume", code=130) from None
    _out()
    _out(ex.format_summary(results))
    _out(f"this session: {time.perf_counter() - t0:.0f} s; results in {path}")
    return 0


def cmd_summary(args, parser):
    """``fa-lessons summary``."""
    from . import experiments as ex

    if os.path.isfile(args.name):
        path = args.name
    else:
        try:
            exp = ex.get(args.name, quick=args.quick)
        except ValueError as exc:
            parser.error(f"{args.name!r} is neither a results file nor an experiment name: "
                         f"{exc}")
        path = ex.results_path(exp, args.results_dir)
    try:
        _out(ex.format_summary(path))
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    return 0


def _assignments():
    try:
        from . import assignments
    except ModuleNotFoundError as exc:
        if exc.name not in ("fa_lessons.assignments", __package__ + ".assignments"):
            raise
        raise CLIError("this installation of fa_lessons has no assignments module "
                       "(fa_lessons/assignments.py), which student-edition and grade need; "
                       "update or reinstall fa_lessons", code=1) from None
    return assignments


def cmd_student_edition(args, parser):
    """``fa-lessons student-edition OUT``."""
    assignments = _assignments()
    try:
        assignments.student_edition(args.out, book_dir=args.book_dir)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    _out(f"wrote the student edition to {args.out}")
    return 0


def cmd_grade(args, parser):
    """``fa-lessons grade DIR --out CSV``."""
    assignments = _assignments()
    try:
        assignments.grade(args.dir, args.out, book_dir=args.book_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    _out(f"wrote the grades to {args.out}")
    return 0


COMMANDS = {"train": cmd_train, "list": cmd_list, "reproduce": cmd_reproduce,
            "summary": cmd_summary, "student-edition": cmd_student_edition,
            "grade": cmd_grade}


def main(argv=None):
    """Run the ``fa-lessons`` command; return the exit status.

    Introduced in chapter 9 (Reproductions).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a bad command line, 1 for a runtime error
        (130 when interrupted).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args, parser.commands[args.command])
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 1
    except CLIError as exc:
        sys.stdout.flush()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stdout = open(os.devnull, "w")
        return 1


if __name__ == "__main__":
    sys.exit(main())
