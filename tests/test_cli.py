"""The ``fa-lessons`` command: entry points, subcommands and bad-input paths.

Most tests call :func:`fa_lessons.cli.main` in this process (fast); a few run the
installed ``fa-lessons`` script and ``python -m fa_lessons`` in a subprocess to check
the entry points themselves, the exit status and that nothing leaks a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import fa_lessons as fl
from fa_lessons import cli
from fa_lessons import experiments as ex

SCRIPT = Path(sys.executable).with_name("fa-lessons")


def run_cmd(*args, env=None, cwd=None):
    """Run ``python -m fa_lessons ARGS``; return (returncode, stdout, stderr)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "fa_lessons", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def call(capsys, *args):
    """Run ``main(ARGS)`` here; return (status, stdout, stderr)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code, err, expected_code, *needles):
    assert code == expected_code, f"exit status {code}, expected {expected_code}; stderr: {err}"
    assert "Traceback" not in err
    assert "error:" in err
    for needle in needles:
        assert needle in err, f"{needle!r} missing from the error message: {err}"


# ------------------------------------------------------------------ entry points


def test_console_script_is_installed_and_lists_experiments():
    assert SCRIPT.is_file(), (f"{SCRIPT} is missing: run `.venv/bin/pip install -e .` so that "
                              f"pyproject's [project.scripts] entry is installed")
    proc = subprocess.run([str(SCRIPT), "list"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    for name in ex.names():
        assert name in proc.stdout


def test_python_m_fa_lessons_version_and_help():
    code, out, err = run_cmd("--version")
    assert code == 0 and out.strip() == f"fa-lessons {fl.__version__}"
    code, out, err = run_cmd("--help")
    assert code == 0
    for sub in ("train", "reproduce", "list", "summary", "student-edition", "grade"):
        assert sub in out


def test_subprocess_error_exits_nonzero_without_traceback(tmp_path):
    code, out, err = run_cmd("reproduce", "no-such-experiment")
    assert_clean_error(code, err, 2, "unknown experiment 'no-such-experiment'",
                       "lillicrap2016-linear")
    code, out, err = run_cmd("train", "--data", "mnist-full", "--data-dir",
                             str(tmp_path / "empty"), "--no-download", "--epochs", "1")
    assert_clean_error(code, err, 1, str(tmp_path / "empty"))


def test_importing_cli_imports_no_numerics():
    code = ("import sys, fa_lessons.cli; "
            "print(sorted(m for m in ('numpy', 'numba', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    # fa_lessons/__init__ imports NumPy (documented); nothing heavier.
    assert "numba" not in proc.stdout and "matplotlib" not in proc.stdout


# ------------------------------------------------------------------ list / summary


def test_list_shows_every_experiment(capsys):
    code, out, err = call(capsys, "list")
    assert code == 0 and err == ""
    for name, e in ex.EXPERIMENTS.items():
        line = next(l for l in out.splitlines() if l.startswith(name))
        assert e.data.name in line and str(e.seeds) in line


def test_summary_of_a_missing_file_is_a_runtime_error(capsys, tmp_path):
    code, out, err = call(capsys, "summary", "akrout2019-mnist", "--results-dir", str(tmp_path))
    assert_clean_error(code, err, 1, "no results file", "fa-lessons reproduce")


def test_summary_unknown_name(capsys):
    code, out, err = call(capsys, "summary", "no-such-thing")
    assert_clean_error(code, err, 2, "neither a results file nor an experiment name")


# ------------------------------------------------------------------ train: bad input


@pytest.mark.parametrize("args, needle", [
    (["--sizes", "784,abc,10"], "not a comma-separated list"),
    (["--sizes", "784"], "at least two positive widths"),
    (["--sizes", "784,0,10"], "at least two positive widths"),
    (["--sizes", "100,50,10"], "MNIST needs 784 inputs and 10 outputs"),
    (["--sizes", "784,50,3"], "MNIST needs 784 inputs and 10 outputs"),
    (["--rule", "magic"], "--rule 'magic' is not known"),
    (["--epochs", "0"], "must be >= 1"),
    (["--lr", "-0.1"], "must be a finite number > 0"),
    (["--lr", "abc"], "is not a number"),
    (["--batch-size", "x"], "is not an integer"),
    (["--data", "cifar"], "invalid choice"),
    (["--activation", "swish"], "activation='swish' is not known"),
    (["--output", "softmax", "--loss", "bce"], "cannot be paired"),
    (["--rule", "bp", "--feedback-scale", "2"], "unknown option"),
    (["--track", "happiness"], "unknown metric"),
    (["--zero-layers", "3"], "layers are numbered 1..2"),
])
def test_train_bad_input_is_a_usage_error(capsys, args, needle):
    code, out, err = call(capsys, "train", "--sizes", "784,50,10", *args)
    assert_clean_error(code, err, 2, needle)
    assert "usage: fa-lessons train" in err


def test_train_missing_data_names_the_folder_and_the_fix(capsys, tmp_path):
    folder = tmp_path / "no-mnist-here"
    code, out, err = call(capsys, "train", "--data", "mnist-full", "--data-dir", str(folder),
                          "--no-download", "--sizes", "784,20,10", "--epochs", "1")
    assert_clean_error(code, err, 1, f"Looked in: {folder}", "--data-dir", "FA_LESSONS_DATA",
                       "train-images-idx3-ubyte")


def test_train_missing_data_from_the_environment_variable(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "env-folder"
    monkeypatch.setenv("FA_LESSONS_DATA", str(folder))
    code, out, err = call(capsys, "train", "--data", "mnist-full", "--no-download",
                          "--sizes", "784,20,10", "--epochs", "1")
    assert_clean_error(code, err, 1, f"Looked in: {folder}")


def test_train_divergence_is_a_runtime_error(capsys, tmp_path):
    code, out, err = call(capsys, "train", "--data", "linear-teacher", "--n-train", "200",
                          "--lr", "50", "--batch-size", "10", "--epochs", "3",
                          "--no-progress", "--out", str(tmp_path / "h.json"))
    assert_clean_error(code, err, 1, "diverged", "lr=")


# ------------------------------------------------------------------ train: good input


def test_train_writes_history_plot_and_epoch_lines(capsys, tmp_path):
    out_json, out_png = tmp_path / "fa.json", tmp_path / "fa.png"
    code, out, err = call(capsys, "train", "--rule", "fa", "--sizes", "784,30,10",
                          "--activation", "tanh", "--epochs", "2", "--lr", "0.1",
                          "--batch-size", "64", "--seed", "3", "--data", "mnist-subset",
                          "--n-train", "640", "--n-test", "200", "--track", "signal_angle",
                          "--out", str(out_json), "--plot", str(out_png))
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    for k in (0, 1, 2):
        assert any(l.startswith(f"epoch {k:>3}/2") and "test accuracy" in l for l in lines)
    hist = fl.History.from_json(str(out_json))
    assert hist.epoch == [1, 2]
    assert len(hist.test_accuracy) == 2 and all(0 <= a <= 1 for a in hist.test_accuracy)
    assert set(hist.tracked) == {"signal_angle"}        # the line printer is not stored
    assert hist.track("signal_angle").shape == (3, 1)   # before training + 2 epochs
    assert hist.examples == [0, 640, 1280]
    assert hist.config["rule"] == "fa" and hist.config["sizes"] == [784, 30, 10]
    assert hist.config["seed"] == 3 and hist.config["data"] == "mnist-subset"
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The per-epoch lines report the same test accuracy as the History.
    for k, acc in zip((1, 2), hist.test_accuracy):
        line = next(l for l in lines if l.startswith(f"epoch {k:>3}/2"))
        assert f"{100 * acc:6.2f} %" in line


def test_train_is_deterministic_and_seed_dependent(capsys, tmp_path):
    def once(seed, name):
        path = tmp_path / name
        code, _, err = call(capsys, "train", "--rule", "dfa", "--sizes", "784,20,20,10",
                            "--epochs", "1", "--n-train", "300", "--n-test", "100",
                            "--seed", str(seed), "--no-progress", "--out", str(path))
        assert code == 0, err
        return json.loads(path.read_text())

    a, b, c = once(0, "a.json"), once(0, "b.json"), once(1, "c.json")
    assert a["train_loss"] == b["train_loss"] and a["test_loss"] == b["test_loss"]
    assert a["train_loss"] != c["train_loss"]


def test_train_linear_teacher_tracks_nse_every_n_steps(capsys, tmp_path):
    path = tmp_path / "lin.json"
    code, out, err = call(capsys, "train", "--data", "linear-teacher", "--rule", "fa",
                          "--n-train", "400", "--n-test", "200", "--batch-size", "1",
                          "--lr", "0.001", "--epochs", "1", "--init", "uniform",
                          "--init-scale", "0.01", "--no-bias", "--feedback-scale", "0.5",
                          "--track", "nse,signal_angle", "--track-every", "100",
                          "--no-progress", "--out", str(path))
    assert code == 0, err
    hist = fl.History.from_json(str(path))
    nse = hist.track("nse")
    assert hist.examples == [0, 100, 200, 300, 400]
    assert nse[0] == pytest.approx(1.0, abs=0.01)   # the network starts near zero output
    assert nse[-1] < 0.7 * nse[0]                   # and learns
    assert sum(l.startswith("step") for l in out.splitlines()) == 5
    assert hist.config["sizes"] == [30, 20, 10] and hist.config["dtype"] == "float64"


# ------------------------------------------------------------------ reproduce: bad input


def test_reproduce_bad_input(capsys, tmp_path):
    code, out, err = call(capsys, "reproduce", "akrout2019")
    assert_clean_error(code, err, 2, "unknown experiment", "akrout2019-mnist")
    code, out, err = call(capsys, "reproduce", "akrout2019-mnist", "--seeds", "0")
    assert_clean_error(code, err, 2, "--seeds", "must be >= 1")
    code, out, err = call(capsys, "reproduce", "akrout2019-mnist", "--jobs", "-1")
    assert_clean_error(code, err, 2, "--jobs")
    code, out, err = call(capsys, "reproduce", "akrout2019-mnist", "--variants", "bp,zz",
                          "--quick", "--results-dir", str(tmp_path))
    assert_clean_error(code, err, 2, "no variant(s) ['zz']", "bp, fa, kp, wm")
    assert not list(tmp_path.iterdir())


def test_reproduce_missing_data(capsys, tmp_path):
    folder = tmp_path / "nothing"
    code, out, err = call(capsys, "reproduce", "akrout2019-mnist", "--seeds", "1",
                          "--data-dir", str(folder), "--no-download",
                          "--results-dir", str(tmp_path / "results"))
    assert_clean_error(code, err, 1, f"Looked in: {folder}", "FA_LESSONS_DATA")
    assert not (tmp_path / "results" / "akrout2019-mnist.json").exists()


def test_reproduce_refuses_a_file_of_another_configuration(capsys, tmp_path):
    args = ["reproduce", "lillicrap2016-linear", "--quick", "--seeds", "1", "--no-progress",
            "--results-dir", str(tmp_path)]
    code, out, err = call(capsys, *args)
    assert code == 0, err
    path = tmp_path / "lillicrap2016-linear.quick.json"
    data = json.loads(path.read_text())
    data["config_hash"] = "0123456789abcdef"
    path.write_text(json.dumps(data))
    code, out, err = call(capsys, *args)
    assert_clean_error(code, err, 1, "another configuration", "--force")
    code, out, err = call(capsys, *args, "--force")
    assert code == 0, err
    assert json.loads(path.read_text())["config_hash"] == \
        ex.get("lillicrap2016-linear", quick=True).config_hash()


def test_reproduce_resumes_and_skips_finished_seeds(capsys, tmp_path):
    base = ["reproduce", "lillicrap2016-linear", "--quick", "--no-progress",
            "--results-dir", str(tmp_path)]
    path = tmp_path / "lillicrap2016-linear.quick.json"
    code, out, err = call(capsys, *base, "--seeds", "1")
    assert code == 0, err
    first = json.loads(path.read_text())
    assert sorted({r["seed"] for r in first["runs"]}) == [0]
    code, out, err = call(capsys, *base, "--seeds", "2")
    assert code == 0, err
    assert "3 run(s) already there, 3 to go" in out
    second = json.loads(path.read_text())
    assert sorted({r["seed"] for r in second["runs"]}) == [0, 1]
    kept = [r for r in second["runs"] if r["seed"] == 0]
    assert kept == first["runs"]                          # untouched, not recomputed
    assert len(second["sessions"]) == 2
    assert second["wall_time"] == pytest.approx(sum(s["wall_time"] for s in second["sessions"]))
    code, out, err = call(capsys, *base, "--seeds", "2")
    assert code == 0 and "already there" in out
    assert json.loads(path.read_text())["runs"] == second["runs"]


def test_reproduce_prints_summary_and_command(capsys, tmp_path):
    code, out, err = call(capsys, "reproduce", "akrout2019-mnist", "--quick", "--seeds", "1",
                          "--variants", "bp,fa", "--no-progress", "--results-dir",
                          str(tmp_path))
    assert code == 0, err
    assert err == ""
    assert "akrout2019-mnist: bp, seed 0: test error" in out
    assert "regenerate with: fa-lessons reproduce akrout2019-mnist --quick --seeds 1" in out
    assert "94.12 @ epoch 10 [code]" in out
    code, out2, err = call(capsys, "summary", "akrout2019-mnist", "--quick", "--results-dir",
                           str(tmp_path))
    assert code == 0 and "fa             signal_angle" in out2


# ------------------------------------------------------------------ assignments


def test_student_edition_and_grade_call_the_assignments_module(capsys, tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("fa_lessons.assignments")
    fake.student_edition = lambda out_dir, book_dir="book": calls.append(("se", out_dir, book_dir))
    fake.grade = lambda submissions_dir, out_csv, book_dir="book": calls.append(
        ("grade", submissions_dir, out_csv, book_dir))
    monkeypatch.setitem(sys.modules, "fa_lessons.assignments", fake)
    monkeypatch.setattr(fl, "assignments", fake, raising=False)
    code, out, err = call(capsys, "student-edition", str(tmp_path / "student"))
    assert code == 0, err
    code, out, err = call(capsys, "student-edition", str(tmp_path / "s2"), "--book-dir", "bk")
    assert code == 0, err
    code, out, err = call(capsys, "grade", str(tmp_path / "subs"), "--out",
                          str(tmp_path / "g.csv"))
    assert code == 0, err
    assert calls == [("se", str(tmp_path / "student"), "book"),
                     ("se", str(tmp_path / "s2"), "bk"),
                     ("grade", str(tmp_path / "subs"), str(tmp_path / "g.csv"), "book")]


def test_student_edition_without_the_assignments_module(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fa_lessons.assignments", None)  # import fails
    monkeypatch.delattr(fl, "assignments", raising=False)
    code, out, err = call(capsys, "student-edition", str(tmp_path / "s"))
    assert_clean_error(code, err, 1, "no assignments module")
    code, out, err = call(capsys, "grade", str(tmp_path), "--out", str(tmp_path / "g.csv"))
    assert_clean_error(code, err, 1, "no assignments module")


def test_grade_needs_out(capsys, tmp_path):
    code, out, err = call(capsys, "grade", str(tmp_path))
    assert_clean_error(code, err, 2, "--out")


def test_no_arguments_is_a_usage_error(capsys):
    code, out, err = call(capsys)
    assert code == 2 and "usage: fa-lessons" in err
