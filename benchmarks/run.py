"""Benchmark suite: fa_lessons against the GEMM floor, NumPy and PyTorch.

Run from the repository root::

    make bench                           # = python benchmarks/run.py
    python benchmarks/run.py --rounds 3 --sections mnist,small
    python benchmarks/run.py --threads 1 --clock cpu   # on a machine other jobs share
    python benchmarks/run.py --render    # rewrite latest.md from latest.json
    python benchmarks/run.py --help

Every competitor is built in this process and the epochs are interleaved:
round r runs one epoch of each competitor in turn (in a rotated order), so
that a change of machine load hits them alike.  Times are medians over
rounds; ratios are computed within each round (paired) and then their median
is taken.  Thread settings are left as they are unless ``--threads N`` is
given (then the benchmark, not the package, limits every library to N); the
BLAS libraries and thread counts in use are read with threadpoolctl and
printed with the results.

Results go to ``benchmarks/results/latest.json`` and ``latest.md`` (the table
the book's Performance appendix includes).

Sections
--------
mnist    784-1000-10 and 784-240x4-10, tanh, softmax-CE, batch 128, float32,
         one epoch of the 60,000 MNIST images; bp, fa, dfa (goal 1), plus
         bp with momentum and with weight decay (their cost).
rules    fa_lessons bp, fa and dfa alone, interleaved with more rounds: the
         cost of FA/DFA relative to BP (goal 1, at most 5 % more).
float64  784-1000-10 bp in float64 (goal 6).
small    Lillicrap's 30-20-10 linear task with fa, batch 1, 4, 16: compiled
         loop vs a vectorised NumPy loop, and whether they agree bit for bit
         in float64 (goal 2).
startup  import time vs numba, a warm-cache process training one small epoch,
         cold compilation per dtype (goal 3), in fresh subprocesses.
memory   peak memory of a full-MNIST epoch in a subprocess (goal 5).

The full MNIST set is read from ``--data`` (default: ``../shared/data/mnist``
next to the repository if it exists, else fa_lessons' own default folder);
sections that need it are skipped with a message when it is absent.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import competitors as C  # noqa: E402

import fa_lessons as fl  # noqa: E402

PY = sys.executable

#: The clock of every timed epoch: wall time (default) or, with ``--clock cpu``, the CPU
#: time of this process, which other jobs on a shared machine barely change as long as
#: every library runs one thread (``--threads 1``): descheduled time is not counted.
CLOCK = time.perf_counter


# ----------------------------------------------------------------- utilities
def load_full_mnist(data_dir):
    """Full MNIST as float32 in [0, 1]; ``None`` (with a message) if unavailable."""
    try:
        X, y, Xt, yt = fl.load_mnist("full", data_dir=data_dir, download=False)
    except Exception as exc:  # noqa: BLE001 - reported, section skipped
        print(f"[skip] full MNIST not available in {data_dir}: {exc}")
        return None
    return X, y.astype(np.int64), Xt, yt.astype(np.int64)


def blas_info():
    """BLAS/OpenMP libraries loaded now, with versions and thread counts."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads",
            "threading_layer", "architecture")
    out = []
    for info in threadpool_info():
        d = {k: info.get(k) for k in keep if info.get(k) is not None}
        path = info.get("filepath") or ""
        d["file"] = os.path.basename(path)
        d["used_by"] = ("NumPy" if "/numpy" in path else "SciPy, so Numba's np.dot"
                        if "/scipy" in path else "PyTorch" if "/torch" in path else "")
        out.append(d)
    return out


def machine_info():
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count()}
    import numba
    import scipy

    info["numba"] = numba.__version__
    info["scipy"] = scipy.__version__
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "its own BLAS"
    except ImportError:
        info["torch"] = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    info["env"] = {k: os.environ[k] for k in sorted(os.environ)
                   if k.startswith(("OMP_", "OPENBLAS_", "MKL_", "NUMBA_"))}
    return info


def interleave(competitors, rounds, warmup=1, order_seed=0):
    """Run ``competitors`` (name -> callable(round) -> seconds) interleaved.

    Returns name -> list of seconds (one per round, warm-up rounds dropped).
    """
    names = list(competitors)
    times = {k: [] for k in names}
    for r in range(warmup + rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t = competitors[name](r)
            if r >= warmup:
                times[name].append(t)
        print(f"  round {r + 1 - warmup:>2}/{rounds}" if r >= warmup else "  warm-up",
              " ".join(f"{n}={times[n][-1]:.3f}" for n in names if r >= warmup),
              flush=True)
    return times


def paired(times, a, b):
    """Median over rounds of times[a] / times[b]."""
    return float(np.median(np.asarray(times[a]) / np.asarray(times[b])))


def timed(fn):
    def run(r):
        t0 = CLOCK()
        fn(r)
        return CLOCK() - t0
    return run


# ------------------------------------------------------------------ sections
def fa_lessons_runner(X, y, sizes, rule, batch, dtype, lr, **train_kw):
    net = fl.MLP(sizes, seed=0, dtype=dtype)
    r = fl.rules.get(rule, net, seed=1)

    def run(round_):
        t0 = CLOCK()
        hist = fl.train(net, r, (X, y), epochs=1, lr=lr, batch_size=batch, seed=round_,
                        progress=False, **train_kw)
        if CLOCK is time.perf_counter:
            return hist.seconds[0]  # the epoch alone
        return CLOCK() - t0  # CPU time of the whole call: a little set-up included

    return run


def bench_net(X, y, sizes, rules, dtype, rounds, batch=128, lr=0.05, extra=True,
              torch_ok=True):
    """One network: every rule x every competitor, interleaved. Returns rows."""
    n = X.shape[0]
    rows = []
    for rule in rules:
        rng = np.random.default_rng(0)
        orders = {}

        def order(r):
            if r not in orders:
                orders.clear()
                orders[r] = rng.permutation(n)
            return orders[r]

        comp = {}
        comp["gemm"] = timed(lambda r, f=C.make_gemm_floor(X, sizes, rule, batch, dtype):
                             f(order(r)))
        comp["gemm_numba"] = timed(
            lambda r, f=C.make_gemm_floor_numba(X, sizes, rule, batch, dtype): f(order(r)))
        comp["numpy"] = timed(lambda r, f=C.make_numpy(X, y, sizes, rule, batch, dtype, lr):
                              f(order(r)))
        if torch_ok:
            comp["torch"] = timed(
                lambda r, f=C.make_torch_manual(X, y, sizes, rule, batch, dtype, lr):
                f(order(r)))
            auto = C.make_torch_autograd(X, y, sizes, rule, batch, dtype, lr)
            if auto is not None:
                comp["torch_autograd"] = timed(lambda r, f=auto: f(order(r)))
        comp["fa_lessons"] = fa_lessons_runner(X, y, sizes, rule, batch, dtype, lr)
        if extra and rule == "bp":
            comp["fa_lessons_momentum"] = fa_lessons_runner(X, y, sizes, rule, batch, dtype,
                                                            lr, momentum=0.9)
            comp["fa_lessons_wd"] = fa_lessons_runner(X, y, sizes, rule, batch, dtype, lr,
                                                      weight_decay=1e-4)
        print(f"{'-'.join(map(str, sizes))} {rule} {np.dtype(dtype).name}:", flush=True)
        times = interleave(comp, rounds)
        flops = C.epoch_flops(sizes, rule, n, batch)
        row = {"net": "-".join(map(str, sizes)), "rule": rule, "dtype": np.dtype(dtype).name,
               "batch": batch, "gflop": flops / 1e9,
               "seconds": {k: float(np.median(v)) for k, v in times.items()},
               "raw_seconds": {k: [float(t) for t in v] for k, v in times.items()}}
        row["gflops_per_s"] = {k: flops / 1e9 / s for k, s in row["seconds"].items()}
        row["x_gemm"] = {k: paired(times, k, "gemm") for k in times}
        row["speedup_of_fa_lessons"] = {k: paired(times, k, "fa_lessons") for k in times
                                        if k != "fa_lessons"}
        rows.append(row)
    return rows


def bench_rules(X, y, sizes, rounds, batch=128, lr=0.05):
    """fa_lessons bp, fa and dfa alone, interleaved: the cost of FA/DFA relative to BP.

    Separate from :func:`bench_net` so that the three epochs of one round run
    back to back (seconds apart), which pairs them much more tightly than
    rounds that also hold the competitors.
    """
    comp = {rule: fa_lessons_runner(X, y, sizes, rule, batch, np.float32, lr)
            for rule in ("bp", "fa", "dfa")}
    print(f"{'-'.join(map(str, sizes))} fa_lessons bp / fa / dfa float32:", flush=True)
    times = interleave(comp, rounds)
    return {"net": "-".join(map(str, sizes)), "dtype": "float32", "batch": batch,
            "seconds": {k: float(np.median(v)) for k, v in times.items()},
            "raw_seconds": {k: [float(t) for t in v] for k, v in times.items()},
            "x_bp": {k: paired(times, k, "bp") for k in times}}


def bench_small(rounds, n=4096, batches=(1, 4, 16)):
    """Goal 2: Lillicrap's 30-20-10 linear FA task, compiled loop vs NumPy loop, float64."""
    import importlib

    train_mod = importlib.import_module("fa_lessons.training")
    task = fl.datasets.linear_teacher(n, 10, sizes=(30, 10), seed=0, dtype=np.float64)
    X, Y = task.X_train, task.Y_train
    lr = 1e-3
    rows = []
    for batch in batches:
        def make_pair():
            net = fl.MLP([30, 20, 10], activation="linear", output="linear", init="uniform",
                         init_scale=0.01, bias=False, seed=0, dtype=np.float64)
            rule = fl.rules.get("fa", net, seed=1, scale=0.5)
            return net, rule

        net, rule = make_pair()
        Ws = [w.copy() for w in net.weights]
        B2 = rule.feedback[1].copy()

        def numpy_epoch(order, Ws=Ws, B2=B2, batch=batch):
            W1, W2 = Ws
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                x, t = X[idx], Y[idx]
                h = x @ W1.T
                y = h @ W2.T
                e = (y - t) / len(idx)
                d = e @ B2
                W2 -= lr * (e.T @ h)
                W1 -= lr * (d.T @ x)

        def run_numpy(r):
            order = np.random.default_rng(r).permutation(n)
            t0 = CLOCK()
            numpy_epoch(order)
            return CLOCK() - t0

        def run_fl(r):  # the whole train() call, set-up included
            t0 = CLOCK()
            train_mod.train(net, rule, (X, Y), epochs=1, lr=lr, batch_size=batch, seed=r,
                            progress=False)
            return CLOCK() - t0

        def run_call(r):
            # one step only: the fixed cost of a train() call (checks, packing, History)
            t0 = CLOCK()
            train_mod.train(net, rule, (X[:batch], Y[:batch]), epochs=1, lr=lr,
                            batch_size=batch, seed=r, progress=False)
            return CLOCK() - t0

        print(f"30-20-10 linear fa batch {batch} float64:", flush=True)
        times = interleave({"numpy_loop": run_numpy, "fa_lessons": run_fl,
                            "one_step_call": run_call}, max(rounds, 5))
        # bit-identity: one epoch from the same start, same order
        net2, rule2 = make_pair()
        W1, W2 = net2.weights[0].copy(), net2.weights[1].copy()
        train_mod.train(net2, rule2, (X, Y), epochs=1, lr=lr, batch_size=batch, seed=7,
                        progress=False)
        numpy_epoch(np.random.default_rng(7).permutation(n), Ws=[W1, W2],
                    B2=rule2.feedback[1])
        same = bool(np.array_equal(W1, net2.weights[0]) and np.array_equal(W2, net2.weights[1]))
        rows.append({"net": "30-20-10 linear", "rule": "fa", "dtype": "float64", "batch": batch,
                     "examples": n,
                     "us_per_example": {k: float(np.median(v)) / n * 1e6 for k, v in times.items()},
                     "speedup": paired(times, "numpy_loop", "fa_lessons"),
                     "one_step_train_call_us": float(np.median(times["one_step_call"])) * 1e6,
                     "bit_identical": same})
    return rows


def _median_subprocess(code, env=None, repeats=5):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", code], check=True, env=env, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t0)
    return out


def bench_startup(repeats=7):
    env = dict(os.environ)
    res = {}
    # import overhead: alternate the two processes
    a, b = [], []
    code_numba = "import numba"
    code_fl = ("import fa_lessons as fl; fl.MLP; fl.train; fl.rules")
    for _ in range(repeats):
        a += _median_subprocess(code_numba, env, 1)
        b += _median_subprocess(code_fl, env, 1)
    res["import_numba_s"] = float(np.median(a))
    res["import_fa_lessons_s"] = float(np.median(b))
    res["import_overhead_s"] = float(np.median(np.asarray(b) - np.asarray(a)))
    # a warm-cache process that trains one small epoch (the embedded subset)
    code_train = ("import numpy as np, fa_lessons as fl\n"
                  "X, y, Xt, yt = fl.load_mnist('subset')\n"
                  "net = fl.MLP([784, 100, 10], seed=0)\n"
                  "fl.train(net, 'fa', (X, y), epochs=1, lr=0.05, batch_size=128, seed=0,"
                  " progress=False)\n")
    _median_subprocess(code_train, env, 1)  # make sure the cache is warm
    res["warm_process_train_subset_epoch_s"] = float(np.median(
        _median_subprocess(code_train, env, repeats)))
    # cold compilation: a fresh, empty cache directory per dtype
    code_cold = ("import time, numpy as np, fa_lessons as fl\n"
                 "X, y, Xt, yt = fl.load_mnist('subset', dtype=np.{dt})\n"
                 "net = fl.MLP([784, 100, 10], seed=0, dtype=np.{dt})\n"
                 "t = time.perf_counter()\n"
                 "fl.train(net, 'bp', (X[:256], y[:256]), epochs=1, lr=0.05, batch_size=128,"
                 " seed=0, progress=False)\n"
                 "print(time.perf_counter() - t)\n")
    for dt in ("float32", "float64"):
        vals = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as d:
                e = dict(env, NUMBA_CACHE_DIR=d)
                p = subprocess.run([PY, "-c", code_cold.format(dt=dt)], check=True, env=e,
                                   cwd=ROOT, capture_output=True, text=True)
                if p.stderr.strip():
                    res.setdefault("stderr_cold", []).append(p.stderr.strip()[-500:])
                vals.append(float(p.stdout.split()[-1]))
        res[f"cold_first_train_call_{dt}_s"] = float(np.median(vals))
    return res


def bench_memory(data_dir):
    code = f"""
import json, resource, numpy as np, fa_lessons as fl
def rss():
    for line in open('/proc/self/status'):
        if line.startswith(('VmRSS', 'VmHWM')):
            pass
    d = {{l.split(':')[0]: int(l.split()[1]) * 1024 for l in open('/proc/self/status')
         if l.startswith(('VmRSS', 'VmHWM'))}}
    return d
net = fl.MLP([784, 1000, 10], seed=0)
Xs, ys, _, _ = fl.load_mnist('subset')
fl.train(net, 'bp', (Xs[:512], ys[:512]), epochs=1, lr=0.05, batch_size=128, progress=False)
base = rss()['VmRSS']
X, y, Xt, yt = fl.load_mnist('full', data_dir={str(data_dir)!r}, download=False)
after_load = rss()
open('/proc/self/clear_refs', 'w').write('5')
net = fl.MLP([784, 1000, 10], seed=0)
from numba.core.runtime import rtsys
nrt0 = rtsys.get_allocation_stats()
h = fl.train(net, 'bp', (X, y), epochs=1, lr=0.05, batch_size=128, seed=0, progress=False)
nrt1 = rtsys.get_allocation_stats()
after = rss()
# the same count for a 2-step call: what does not grow with the steps is per call
# (Numba wraps each NumPy array argument it receives; no memory is allocated)
n0 = rtsys.get_allocation_stats()
fl.train(fl.MLP([784, 1000, 10], seed=0), 'bp', (X[:256], y[:256]), epochs=1, lr=0.05,
         batch_size=128, progress=False)
n1 = rtsys.get_allocation_stats()
data = X.nbytes + y.nbytes + Xt.nbytes + yt.nbytes
params = sum(w.nbytes for w in net.weights) + sum(b.nbytes for b in net.biases)
print(json.dumps(dict(baseline_rss=base, after_load=after_load['VmRSS'],
      peak_during_load=after_load['VmHWM'], peak_during_epoch=after['VmHWM'],
      data_bytes=data, param_bytes=params, compiled_allocations_in_epoch=nrt1.alloc - nrt0.alloc,
      compiled_allocations_2_steps=n1.alloc - n0.alloc,
      maxrss_process=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
"""
    p = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, NUMBA_NRT_STATS="1"))
    if p.returncode:
        print(p.stderr[-2000:])
        return {"error": p.stderr[-500:]}
    m = json.loads(p.stdout.strip().splitlines()[-1])
    m["epoch_peak_over_baseline"] = m["peak_during_epoch"] - m["baseline_rss"]
    m["limit_1_5x"] = 1.5 * (m["data_bytes"] + m["param_bytes"])
    m["ratio_to_data_plus_params"] = m["epoch_peak_over_baseline"] / (m["data_bytes"]
                                                                      + m["param_bytes"])
    return m


# -------------------------------------------------------------------- report
NAMES = {"gemm": "GEMM only (NumPy)", "gemm_numba": "GEMM only (Numba/SciPy BLAS)",
         "numpy": "NumPy trainer", "torch": "PyTorch (manual)", "torch_autograd":
         "PyTorch autograd", "fa_lessons": "**fa_lessons**",
         "fa_lessons_momentum": "fa_lessons, momentum 0.9",
         "fa_lessons_wd": "fa_lessons, weight decay"}


STARTUP_NAMES = {
    "import_numba_s": "`import numba`",
    "import_fa_lessons_s": "`import fa_lessons`",
    "import_overhead_s": "`import fa_lessons` minus `import numba` (paired)",
    "warm_process_train_subset_epoch_s": "whole process, warm cache: import, load the "
                                         "subset, one epoch 784-100-10 fa",
    "cold_first_train_call_float32_s": "cold cache: first `train` call, float32 (compiles)",
    "cold_first_train_call_float64_s": "cold cache: first `train` call, float64 (compiles)",
}


def _best(row, key="raw_seconds"):
    """Fastest epoch of each competitor (load on a shared machine only ever adds time)."""
    return {k: min(v) for k, v in row[key].items()}


def _ok(flag):
    return "met" if flag else "**missed**"


def goal_summary(results):
    """One line per goal of issue 6, computed from the measured ratios."""
    out = ["\n**Goals of the performance issue, as measured in this run**\n"]
    out.append("Each ratio is given as best / best (fastest epoch of each, the estimate "
               "least disturbed by other jobs) and, in brackets, as the paired median.\n")
    for row in results.get("mnist", []):
        sp, xg = row["speedup_of_fa_lessons"], row["x_gemm"]["fa_lessons"]
        b = _best(row)
        xgb = b["fa_lessons"] / b["gemm"]
        spb = {k: b[k] / b["fa_lessons"] for k in b}
        need = 1.1 if row["rule"] == "dfa" else 1.3
        comps = [k for k in ("numpy", "torch", "torch_autograd") if k in sp]
        worst = min(spb[k] for k in comps)
        out.append(f"- goal 1, {row['net']} {row['rule']}: {xgb:.3f} ({xg:.3f}) × GEMM floor "
                   f"({_ok(xgb <= 1.10)}, ≤ 1.10); speed-up "
                   + ", ".join(f"{spb[k]:.2f} ({sp[k]:.2f}) × over {NAMES[k]}" for k in comps)
                   + f" ({_ok(worst >= need)}, ≥ {need})")
        for k in ("fa_lessons_momentum", "fa_lessons_wd"):
            if k in sp:
                out.append(f"  - {NAMES[k]}: {spb[k]:.3f} ({sp[k]:.3f}) × the plain-SGD epoch")
    for r in results.get("rules", []):
        b = _best(r)
        fb, db = b["fa"] / b["bp"], b["dfa"] / b["bp"]
        out.append(f"- goal 1, {r['net']}: FA {fb:.3f} ({r['x_bp']['fa']:.3f}) × BP, DFA "
                   f"{db:.3f} ({r['x_bp']['dfa']:.3f}) × BP ({_ok(max(fb, db) <= 1.05)}, ≤ 1.05)")
    for r in results.get("small", []):
        out.append(f"- goal 2, batch {r['batch']}: {r['speedup']:.1f} × over the NumPy loop "
                   f"({_ok(r['speedup'] >= 30)}, ≥ 30), bit-identical in float64: "
                   f"{'yes' if r['bit_identical'] else 'NO'}")
    s = results.get("startup")
    if s:
        out.append(f"- goal 3: import overhead {s['import_overhead_s']:.2f} s "
                   f"({_ok(s['import_overhead_s'] <= 0.3)}, ≤ 0.3 s); warm-cache process "
                   f"{s['warm_process_train_subset_epoch_s']:.2f} s "
                   f"({_ok(s['warm_process_train_subset_epoch_s'] < 2)}, < 2 s); cold "
                   f"compilation {s['cold_first_train_call_float32_s']:.1f} s float32, "
                   f"{s['cold_first_train_call_float64_s']:.1f} s float64 "
                   f"({_ok(max(s['cold_first_train_call_float32_s'], s['cold_first_train_call_float64_s']) < 10)}, < 10 s)")
    m = results.get("memory")
    if m and "error" not in m:
        out.append(f"- goal 5: epoch peak {m['ratio_to_data_plus_params']:.2f} × data + "
                   f"parameters ({_ok(m['ratio_to_data_plus_params'] <= 1.5)}, ≤ 1.5); "
                   f"allocations per step in the compiled loop: "
                   f"{m.get('compiled_allocations_in_epoch', 0) - m.get('compiled_allocations_2_steps', 0)} "
                   "(epoch minus 2-step call)")
    for row in results.get("float64", []):
        sp = row["speedup_of_fa_lessons"]
        b = _best(row)
        spb = {k: b[k] / b["fa_lessons"] for k in b}
        comps = [k for k in ("torch", "torch_autograd") if k in sp]
        if comps:
            out.append(f"- goal 6, {row['net']} {row['rule']} float64: "
                       + ", ".join(f"{spb[k]:.2f} ({sp[k]:.2f}) × over {NAMES[k]}"
                                   for k in comps)
                       + f" ({_ok(min(spb[k] for k in comps) >= 1.0)}, ≥ 1)")
    return "\n".join(out) + "\n"


def markdown(results):
    out = []
    info = results["machine"]
    out.append(f"Measured {results['date']} on {info.get('cpu', '?')} ({info['cpus']} CPUs), "
               f"load average before the run {info['load_average'][0]:.2f}; "
               f"Python {info['python']}, NumPy {info['numpy']}, Numba {info['numba']}, "
               f"SciPy {info['scipy']}, PyTorch {info['torch'] or 'not installed'}. "
               f"{results['rounds']} interleaved rounds; medians; ratios paired per round "
               f"(median over rounds of the ratio within a round).\n")
    if results.get("threads"):
        out.append(f"Run with `--threads {results['threads']}`: BLAS, OpenMP and PyTorch were "
                   f"limited to {results['threads']} thread(s) by the benchmark (threadpoolctl, "
                   "`torch.set_num_threads`, and the `*_NUM_THREADS` variables for its "
                   "subprocesses), because other jobs shared the machine.\n")
    if results.get("clock") == "cpu":
        out.append("Epochs timed by the CPU time of the benchmark process (`--clock cpu`), "
                   "which time spent waiting for other jobs does not inflate; each "
                   "fa_lessons time is its whole `train` call, set-up included. Start-up "
                   "figures are wall time.\n")
    env = info.get("env") or {}
    out.append("Environment variables that set threads or kernels: "
               + (", ".join(f"`{k}={v}`" for k, v in env.items()) if env else "none set")
               + "; the package itself never changes thread counts"
               + (f"; PyTorch used {info['torch_threads']} threads "
                  f"({info.get('torch_blas', '?')}, linked into PyTorch, not seen by "
                  "threadpoolctl)" if info.get("torch")
                  else "") + ". Command: `" + results.get("command", "").strip() + "`.\n")
    for row in results.get("mnist", []) + results.get("float64", []):
        out.append(f"\n**{row['net']}, {row['rule']}, {row['dtype']}, batch {row['batch']}** "
                   f"({row['gflop']:.1f} GFLOP of matrix products per epoch)\n")
        best = _best(row)
        out.append("| implementation | s / epoch (median) | s / epoch (best) | GFLOP/s (best) "
                   "| × GEMM floor (paired median) | × GEMM floor (best / best) "
                   "| fa_lessons speed-up (paired median) | fa_lessons speed-up (best / best) |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for k, s in row["seconds"].items():
            sp = row["speedup_of_fa_lessons"].get(k)
            spb = best[k] / best["fa_lessons"]
            out.append(f"| {NAMES.get(k, k)} | {s:.3f} | {best[k]:.3f} | "
                       f"{row['gflop'] / best[k]:.1f} | {row['x_gemm'][k]:.3f} | "
                       f"{best[k] / best['gemm']:.3f} | "
                       f"{'' if sp is None else f'{sp:.2f} ×'} | "
                       f"{'' if k == 'fa_lessons' else f'{spb:.2f} ×'} |")
    if results.get("rules"):
        out.append("\n**fa_lessons alone: FA and DFA against BP** (float32, batch 128, "
                   "bp / fa / dfa epochs back to back in each round)\n")
        out.append("| network | BP s | FA s | DFA s | FA × BP (paired median) | "
                   "DFA × BP (paired median) | FA × BP (best / best) | DFA × BP (best / best) |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["rules"]:
            sec, x, b = r["seconds"], r["x_bp"], _best(r)
            out.append(f"| {r['net']} | {sec['bp']:.3f} | {sec['fa']:.3f} | {sec['dfa']:.3f} | "
                       f"{x['fa']:.3f} | {x['dfa']:.3f} | {b['fa'] / b['bp']:.3f} | "
                       f"{b['dfa'] / b['bp']:.3f} |")
    if results.get("small"):
        out.append("\n**30-20-10 linear network, fa (Lillicrap's task), float64**: "
                   "compiled loop against a vectorised NumPy loop\n")
        out.append("| batch | NumPy µs / example | fa_lessons µs / example | speed-up | "
                   "bit-identical | one-step `train` call (µs) |")
        out.append("|---:|---:|---:|---:|:---:|---:|")
        for r in results["small"]:
            u = r["us_per_example"]
            out.append(f"| {r['batch']} | {u['numpy_loop']:.2f} | {u['fa_lessons']:.3f} | "
                       f"{r['speedup']:.1f} × | {'yes' if r['bit_identical'] else 'NO'} | "
                       f"{r.get('one_step_train_call_us', float('nan')):.0f} |")
        out.append(f"\n({results['small'][0]['examples']} examples per epoch; the last "
                   "column is the fixed cost of one `train` call, included in the "
                   "fa_lessons time.)\n")
    if results.get("startup"):
        s = results["startup"]
        out.append("\n**Start-up** (fresh processes, medians)\n")
        out.append("| measure | seconds |")
        out.append("|---|---:|")
        for k, v in s.items():
            if isinstance(v, float):
                out.append(f"| {STARTUP_NAMES.get(k, k.replace('_', ' '))} | {v:.2f} |")
    if results.get("memory") and "error" not in results["memory"]:
        m = results["memory"]
        out.append(f"\n**Memory** (full-MNIST epoch, 784-1000-10): peak "
                   f"{m['epoch_peak_over_baseline'] / 2**20:.0f} MiB above the process "
                   f"baseline, for {(m['data_bytes'] + m['param_bytes']) / 2**20:.0f} MiB of "
                   f"data and parameters ({m['ratio_to_data_plus_params']:.2f} ×); "
                   f"Numba's allocation counter: {m.get('compiled_allocations_in_epoch', '?')} "
                   f"during the 469-step epoch, {m.get('compiled_allocations_2_steps', '?')} "
                   "during a 2-step call (one per array argument of the compiled loop, which "
                   "Numba wraps without copying), so none per step.\n")
    out.append(goal_summary(results))
    out.append("\n**Libraries and threads** (threadpoolctl)\n")
    out.append("| library | used by | API | version | threads | kernel |")
    out.append("|---|---|---|---|---:|---|")
    for lib in results["blas"]:
        out.append(f"| {lib.get('file', lib.get('prefix', ''))} | {lib.get('used_by', '')} | "
                   f"{lib.get('internal_api', '')} | "
                   f"{lib.get('version', '')} | {lib.get('num_threads', '')} | "
                   f"{lib.get('architecture', '')} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--sections", default="mnist,rules,float64,small,startup,memory")
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--out", default=str(HERE / "results"), help="folder for latest.json/.md")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--threads", type=int, default=None,
                   help="limit BLAS/OpenMP (threadpoolctl) and PyTorch to this many threads "
                        "for the whole benchmark, subprocesses included (default: leave "
                        "the libraries' own settings). On a machine that other jobs share, "
                        "1 thread gives much steadier ratios: a 2-thread GEMM whose second "
                        "thread is descheduled waits for it.")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="time epochs by wall clock (default) or by this process's CPU time "
                        "(steadier on a shared machine; use with --threads 1)")
    p.add_argument("--nets", default="784-1000-10,784-240x4-10",
                   help="networks of the mnist and rules sections (default: %(default)s)")
    p.add_argument("--render", action="store_true",
                   help="only rewrite latest.md from the latest.json in --out")
    args = p.parse_args(argv)
    if args.render:
        out = Path(args.out)
        md = markdown(json.loads((out / "latest.json").read_text()))
        (out / "latest.md").write_text(md)
        print(md)
        return
    sections = args.sections.split(",")
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    data_dir = args.data
    if data_dir is None:
        shared = ROOT.parent / "shared" / "data" / "mnist"
        data_dir = str(shared) if shared.is_dir() else None

    torch_ok = not args.no_torch
    if torch_ok:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("[skip] PyTorch is not installed: its rows are left out "
                  "(pip install torch to add them)")
            torch_ok = False
    import scipy.linalg  # noqa: F401  (loads the BLAS that numba calls, for the report)

    if args.threads:
        # Only the benchmark process (and the subprocesses it starts) are limited;
        # the package itself never changes thread settings.
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads)  # kept for the whole run
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)  # for the subprocesses
        if torch_ok:
            import torch

            torch.set_num_threads(args.threads)

    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "rounds": args.rounds,
               "threads": args.threads, "clock": args.clock,
               "machine": machine_info(), "blas": blas_info(),
               "command": "python benchmarks/run.py " + " ".join(argv or sys.argv[1:])}
    print(json.dumps(results["machine"], indent=1))
    for lib in results["blas"]:
        print(lib)

    if "mnist" in sections or "float64" in sections or "rules" in sections:
        data = load_full_mnist(data_dir)
        if data is not None:
            X, y = data[0], data[1]
            nets = {"784-1000-10": [784, 1000, 10],
                    "784-240x4-10": [784, 240, 240, 240, 240, 10]}
            nets = [nets[k] for k in args.nets.split(",")]
            if "mnist" in sections:
                results["mnist"] = []
                for i, sz in enumerate(nets):
                    results["mnist"] += bench_net(X, y, sz, ["bp", "fa", "dfa"], np.float32,
                                                  args.rounds, extra=(i == 0),
                                                  torch_ok=torch_ok)
            if "rules" in sections:
                results["rules"] = [bench_rules(X, y, sz, max(args.rounds, 7)) for sz in nets]
            if "float64" in sections:
                results["float64"] = bench_net(X.astype(np.float64), y, [784, 1000, 10],
                                               ["bp"], np.float64, max(3, args.rounds - 2),
                                               extra=False, torch_ok=torch_ok)
    if "small" in sections:
        results["small"] = bench_small(args.rounds)
    if "startup" in sections:
        results["startup"] = bench_startup()
        print(results["startup"])
    if "memory" in sections and data_dir is not None:
        results["memory"] = bench_memory(data_dir)
        print(results["memory"])
    results["load_average_after"] = list(os.getloadavg())

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=1))
    md = markdown(results)
    (out / "latest.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
