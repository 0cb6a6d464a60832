"""Same seed -> bit-identical weights, whether Numba's cache is cold or warm.

Two fresh interpreters share one new, empty ``NUMBA_CACHE_DIR``: the first
compiles every kernel it needs into it (cold), the second loads them (warm).
Both train small float32 and float64 networks under several rules and print a
SHA-256 of every weight, bias and feedback matrix; the hashes must be equal,
and equal to the same training done in this test process.  The test also
checks that the cold run really wrote cache files into that folder, so it
cannot pass by never compiling.

Run: ``.venv/bin/python -m pytest tests/test_determinism.py -q``
"""

import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fa_lessons as fl

ROOT = pathlib.Path(__file__).resolve().parents[1]

SCRIPT = r'''
import hashlib
import numpy as np
import fa_lessons as fl


def run():
    h = hashlib.sha256()
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(96, 12)).astype(dtype)
        y = rng.integers(0, 4, 96)
        Y = rng.normal(size=(96, 4)).astype(dtype)
        for name, act, out, opt in (("bp", "tanh", "softmax", "sgd"),
                                    ("fa", "sigmoid", "linear", "sgd"),
                                    ("dfa", "relu", "sigmoid", "sgd"),
                                    ("kp", "tanh", "softmax", "sgd"),
                                    ("brsf", "tanh", "softmax", "manhattan"),
                                    ("wm", "tanh", "linear", "sgd")):
            net = fl.MLP([12, 16, 8, 4], activation=act, output=out, dtype=dtype, seed=1)
            rule = fl.rules.get(name, net, seed=2)
            target = y if out == "softmax" else (Y if out == "linear" else (Y > 0).astype(dtype))
            hist = fl.train(net, rule, (X, target), epochs=2, lr=0.05, batch_size=16,
                            momentum=0.5, weight_decay=1e-3, optimizer=opt, seed=3,
                            progress=False)
            for p in net.weights + net.biases + rule.feedback:
                h.update(np.ascontiguousarray(p).tobytes())
            h.update(np.float64(hist.train_loss[-1]).tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    print(run())
'''


def _run(script, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", f"training wrote to stderr: {proc.stderr!r}"
    return proc.stdout.strip()


def source_stamps():
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size)
            for p in (ROOT / "fa_lessons").glob("*.py")}


def cache_files(folder):
    return sorted(p for p in pathlib.Path(folder).rglob("*") if p.suffix in (".nbi", ".nbc"))


def test_cold_and_warm_cache_give_bit_identical_weights(tmp_path):
    script = tmp_path / "train_hash.py"
    script.write_text(SCRIPT)
    cache = tmp_path / "numba_cache"
    cache.mkdir()
    assert cache_files(cache) == []
    sources = source_stamps()
    cold = _run(script, cache)
    written = cache_files(cache)
    # Every kernel the script uses was compiled into the fresh folder.
    for kernel in ("_bias_activate", "_mul_derivative", "_output_error", "_column_sum",
                   "_optimizer_step", "_add_step", "_signed_magnitude"):
        assert any(kernel in p.name for p in written), f"{kernel} not cached in {cache}"
    stamps = {p: p.stat().st_mtime_ns for p in written}
    warm = _run(script, cache)
    assert len(cold) == 64 and cold == warm
    if source_stamps() != sources:
        pytest.skip("fa_lessons sources were edited while this test ran; the warm run "
                    "had to recompile, run the test again")
    # The warm run loaded the cache: nothing was recompiled or rewritten.
    assert cache_files(cache) == written
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    # And this process (whatever the state of its cache) computes the same bits.
    namespace = {}
    exec(compile(SCRIPT, "train_hash", "exec"), namespace)
    assert namespace["run"]() == cold


def test_repeated_runs_in_one_process_are_identical():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    digests = []
    for _ in range(2):
        net = fl.MLP([6, 7, 3], dtype=np.float32, seed=4)
        fl.train(net, "fa", (X, y), epochs=3, lr=0.1, batch_size=7, seed=9, progress=False)
        digests.append(hashlib.sha256(b"".join(w.tobytes() for w in net.weights)).hexdigest())
    assert digests[0] == digests[1]
