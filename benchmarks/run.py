"""Benchmark suite: fa_lessons against the GEMM floor, NumPy and PyTorch.

Run from the repository root::

    make bench                           # = python benchmarks/run.py
    python benchmarks/run.py --rounds 3 --sections mnist,small
    python benchmarks/run.py --help

Every competitor is built in this process and the epochs are interleaved:
round r runs one epoch of each competitor in turn (in a rotated order), so
that a change of machine load hits them alike.  Times are medians over
rounds; ratios are computed within each round (paired) and then their median
is taken.  Nothing changes thread settings: the BLAS libraries and thread
counts in use are read with threadpoolctl and printed with the results.

Results go to ``benchmarks/results/latest.json`` and ``latest.md`` (the table
the book's Performance appendix includes).

Sections
--------
mnist    784-1000-10 and 784-240x4-10, tanh, softmax-CE, batch 128, float32,
         one epoch of the 60,000 MNIST images; bp, fa, dfa (goal 1), plus
         bp with momentum and with weight decay (their cost).
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
    return [{k: info.get(k) for k in keep if info.get(k) is not None}
            for info in threadpool_info()]


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
        t0 = time.perf_counter()
        fn(r)
        return time.perf_counter() - t0
    return run


# ------------------------------------------------------------------ sections
def fa_lessons_runner(X, y, sizes, rule, batch, dtype, lr, **train_kw):
    net = fl.MLP(sizes, seed=0, dtype=dtype)
    r = fl.rules.get(rule, net, seed=1)

    def run(round_):
        hist = fl.train(net, r, (X, y), epochs=1, lr=lr, batch_size=batch, seed=round_,
                        progress=False, **train_kw)
        return hist.seconds[0]

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
            t0 = time.perf_counter()
            numpy_epoch(order)
            return time.perf_counter() - t0

        def run_fl(r):
            hist = train_mod.train(net, rule, (X, Y), epochs=1, lr=lr, batch_size=batch,
                                   seed=r, progress=False)
            return hist.seconds[0]

        print(f"30-20-10 linear fa batch {batch} float64:", flush=True)
        times = interleave({"numpy_loop": run_numpy, "fa_lessons": run_fl}, rounds)
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
h = fl.train(net, 'bp', (X, y), epochs=1, lr=0.05, batch_size=128, seed=0, progress=False,
             test_data=(Xt, yt))
after = rss()
data = X.nbytes + y.nbytes + Xt.nbytes + yt.nbytes
params = sum(w.nbytes for w in net.weights) + sum(b.nbytes for b in net.biases)
print(json.dumps(dict(baseline_rss=base, after_load=after_load['VmRSS'],
      peak_during_load=after_load['VmHWM'], peak_during_epoch=after['VmHWM'],
      data_bytes=data, param_bytes=params,
      maxrss_process=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
"""
    p = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT)
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
         "numpy": "NumPy trainer", "torch": "PyTorch manual", "torch_autograd":
         "PyTorch autograd", "fa_lessons": "**fa_lessons**",
         "fa_lessons_momentum": "fa_lessons, momentum 0.9",
         "fa_lessons_wd": "fa_lessons, weight decay"}


def markdown(results):
    out = []
    info = results["machine"]
    out.append(f"Measured {results['date']} on {info.get('cpu', '?')} ({info['cpus']} CPUs), "
               f"load average before the run {info['load_average'][0]:.2f}; "
               f"Python {info['python']}, NumPy {info['numpy']}, Numba {info['numba']}, "
               f"SciPy {info['scipy']}, PyTorch {info['torch'] or 'not installed'}. "
               f"{results['rounds']} interleaved rounds; medians; ratios paired per round.\n")
    for row in results.get("mnist", []) + results.get("float64", []):
        out.append(f"\n**{row['net']}, {row['rule']}, {row['dtype']}, batch {row['batch']}** "
                   f"({row['gflop']:.1f} GFLOP of matrix products per epoch)\n")
        out.append("| implementation | s / epoch | GFLOP/s | × GEMM floor | "
                   "fa_lessons speed-up |")
        out.append("|---|---:|---:|---:|---:|")
        for k, s in row["seconds"].items():
            sp = row["speedup_of_fa_lessons"].get(k)
            out.append(f"| {NAMES.get(k, k)} | {s:.3f} | {row['gflops_per_s'][k]:.1f} | "
                       f"{row['x_gemm'][k]:.3f} | {'' if sp is None else f'{sp:.2f} ×'} |")
    if results.get("small"):
        out.append("\n**30-20-10 linear network, fa (Lillicrap's task), float64**: "
                   "compiled loop against a vectorised NumPy loop\n")
        out.append("| batch | NumPy µs / example | fa_lessons µs / example | speed-up | "
                   "bit-identical |")
        out.append("|---:|---:|---:|---:|:---:|")
        for r in results["small"]:
            u = r["us_per_example"]
            out.append(f"| {r['batch']} | {u['numpy_loop']:.2f} | {u['fa_lessons']:.3f} | "
                       f"{r['speedup']:.1f} × | {'yes' if r['bit_identical'] else 'NO'} |")
    if results.get("startup"):
        s = results["startup"]
        out.append("\n**Start-up** (fresh processes, medians)\n")
        out.append("| measure | seconds |")
        out.append("|---|---:|")
        for k, v in s.items():
            if isinstance(v, float):
                out.append(f"| {k.replace('_', ' ')} | {v:.2f} |")
    if results.get("memory") and "error" not in results["memory"]:
        m = results["memory"]
        out.append(f"\n**Memory** (full-MNIST epoch, 784-1000-10): peak "
                   f"{m['epoch_peak_over_baseline'] / 2**20:.0f} MiB above the process "
                   f"baseline, for {(m['data_bytes'] + m['param_bytes']) / 2**20:.0f} MiB of "
                   f"data and parameters ({m['ratio_to_data_plus_params']:.2f} ×).\n")
    out.append("\n**Libraries and threads** (threadpoolctl)\n")
    out.append("| library | API | version | threads | kernel |")
    out.append("|---|---|---|---:|---|")
    for lib in results["blas"]:
        out.append(f"| {lib.get('prefix', '')} | {lib.get('internal_api', '')} | "
                   f"{lib.get('version', '')} | {lib.get('num_threads', '')} | "
                   f"{lib.get('architecture', '')} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--sections", default="mnist,float64,small,startup,memory")
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--out", default=str(HERE / "results"), help="folder for latest.json/.md")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    args = p.parse_args(argv)
    sections = args.sections.split(",")
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

    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "rounds": args.rounds,
               "machine": machine_info(), "blas": blas_info(),
               "command": "python benchmarks/run.py " + " ".join(argv or sys.argv[1:])}
    print(json.dumps(results["machine"], indent=1))
    for lib in results["blas"]:
        print(lib)

    if "mnist" in sections or "float64" in sections:
        data = load_full_mnist(data_dir)
        if data is not None:
            X, y = data[0], data[1]
            if "mnist" in sections:
                results["mnist"] = (
                    bench_net(X, y, [784, 1000, 10], ["bp", "fa", "dfa"], np.float32,
                              args.rounds, torch_ok=torch_ok)
                    + bench_net(X, y, [784, 240, 240, 240, 240, 10], ["bp", "fa", "dfa"],
                                np.float32, args.rounds, extra=False, torch_ok=torch_ok))
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
