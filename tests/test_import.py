"""Importing fa_lessons does no work: no output, no heavy imports, no compilation.

Each check runs in a fresh interpreter (this process has long imported
everything), with an empty ``NUMBA_CACHE_DIR`` so that any compilation
would leave files behind.

Run: ``.venv/bin/python -m pytest tests/test_import.py -q``
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def python(code, tmp_path, **env):
    cache = tmp_path / "numba_cache"
    cache.mkdir(exist_ok=True)
    full_env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), **env)
    full_env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, cwd=str(tmp_path), timeout=300)
    return proc, cache


def cache_files(folder):
    return [p for p in pathlib.Path(folder).rglob("*") if p.is_file()]


def test_import_prints_nothing_and_imports_nothing_heavy(tmp_path):
    code = ("import sys, json\n"
            "import fa_lessons\n"
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('numba', 'numpy', 'scipy', 'matplotlib', 'tqdm', "
            "'fa_lessons', 'llvmlite'))))\n")
    proc, cache = python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    loaded = json.loads(proc.stdout)
    assert loaded == ["fa_lessons"], loaded  # not even numpy: __init__ imports only importlib
    assert cache_files(cache) == []


def test_bare_import_is_silent(tmp_path):
    proc, _ = python("import fa_lessons", tmp_path)
    assert proc.returncode == 0
    assert (proc.stdout, proc.stderr) == ("", "")


def test_public_names_cost_no_compilation(tmp_path):
    code = ("import sys\n"
            "import fa_lessons as fl\n"
            "names = [fl.MLP, fl.train, fl.History, fl.DivergenceError, fl.rules, fl.metrics,\n"
            "         fl.optim, fl.reference, fl.gradcheck]\n"
            "print('numba' in sys.modules)\n")
    proc, cache = python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "True"  # the kernels module was imported ...
    assert cache_files(cache) == []  # ... but nothing was compiled


def test_making_a_network_compiles_nothing(tmp_path):
    """Building an MLP and a rule is pure NumPy; kernels compile on first use."""
    code = ("import numpy as np, fa_lessons as fl\n"
            "net = fl.MLP([5, 4, 3], seed=0)\n"
            "rule = fl.rules.get('fa', net, seed=0)\n")
    proc, cache = python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", "")
    assert cache_files(cache) == []
    # Control: using a kernel does write the cache (so the check above can fail).
    proc, cache = python(code + "from fa_lessons import _kernels as K\n"
                                "K._add_step(np.zeros(2), np.ones(2), 0.0)\n", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert cache_files(cache) != []


def test_dir_and_unknown_names(tmp_path):
    code = ("import fa_lessons as fl\n"
            "assert 'MLP' in dir(fl) and 'train' in dir(fl) and '__version__' in dir(fl)\n"
            "try:\n"
            "    fl.nothing_here\n"
            "except AttributeError as e:\n"
            "    print(e)\n")
    proc, _ = python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "nothing_here" in proc.stdout


def test_train_name_is_the_function_after_submodule_import(tmp_path):
    """``from fa_lessons.training import History`` must not turn ``fl.train`` into a module."""
    code = ("from fa_lessons.training import History\n"
            "import fa_lessons as fl\n"
            "print(callable(fl.train), type(fl.train).__name__)\n")
    proc, _ = python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "function"], proc.stdout
