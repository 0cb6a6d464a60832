"""Named experiments: definitions, quick runs, results files, serial = parallel.

Every experiment runs in its --quick version here (through the CLI, in this process)
and must write a well-formed results file.  A serial and a two-process run of the
same seeds must give identical numbers.  The committed full results (results/*.json)
must cover every experiment with the current definitions.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import fa_lessons as fl
from fa_lessons import cli
from fa_lessons import experiments as ex
from fa_lessons.rules import available

from conftest import REPO_ROOT

CONFIRMED = {"code", "abs", "2nd", "RECALL"}


def strict_json(path):
    """Parse JSON, refusing NaN/Infinity (which the JSON standard does not allow)."""
    def bad(token):
        raise ValueError(f"{path}: non-standard JSON constant {token}")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=bad)


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# ------------------------------------------------------------------ definitions


def test_the_five_named_experiments_exist():
    assert ex.names() == ["lillicrap2016-linear", "lillicrap2016-mnist", "nokland2016-mnist",
                          "liao2016-sign", "akrout2019-mnist"]


@pytest.mark.parametrize("name", ex.names())
def test_definition_is_consistent(name):
    e = ex.get(name)
    labels = [v.label for v in e.variants]
    assert len(labels) == len(set(labels)), "variant labels must be unique"
    assert e.seeds >= (20 if name == "lillicrap2016-linear" else 3)
    assert e.headline and all(m in ex.METRICS for m in e.headline)
    assert e.differences, "every experiment says how it differs from the paper"
    bib = (REPO_ROOT / "references.bib").read_text(encoding="utf-8")
    assert re.search(r"@\w+\{" + re.escape(e.paper) + ",", bib), f"{e.paper} not in references.bib"
    for v in e.variants:
        assert v.rule in available()
        assert v.epochs >= 1 and v.lr > 0 and v.batch_size >= 1
        assert all(1 <= l <= len(v.sizes) - 1 for l in v.zero_layers)
        net = fl.MLP(v.sizes, activation=v.activation, output=v.output, loss=v.loss,
                     init=v.init, init_scale=v.init_scale, bias=v.bias, dtype=v.dtype)
        fl.rules.get(v.rule, net, **v.rule_options)      # options are valid
        if e.data.name.startswith("mnist"):
            assert v.sizes[0] == 784 and v.sizes[-1] == 10
    assert e.published
    for p in e.published:
        assert p.variant is None or p.variant in labels, p
        assert p.metric in ex.METRICS
        assert p.confirmed in CONFIRMED, p
        assert p.source and p.setting
        assert p.value is None or finite(p.value)


def test_nokland_zero_initial_condition_and_feedback_scale():
    e = ex.get("nokland2016-mnist")
    for v in e.variants:
        L = len(v.sizes) - 1
        expected = {"bp": (), "fa": tuple(range(2, L + 1)), "dfa": tuple(range(1, L + 1))}
        assert v.zero_layers == expected[v.rule], v.label
        assert v.activation == "tanh" and v.rule_options == {}  # DFA default U[±1/sqrt(n_l)]
    assert {v.group for v in e.variants} == {"1x800", "2x800", "7x240"}


def test_quick_versions_are_cut_down():
    for name in ex.names():
        full, quick = ex.get(name), ex.get(name, quick=True)
        assert quick.is_quick and not full.is_quick
        assert quick.quick() is quick
        assert [v.label for v in quick.variants] == [v.label for v in full.variants]
        assert all(v.epochs == 1 for v in quick.variants)
        assert quick.data.n_train is not None and quick.data.n_train <= 1000
        assert quick.config_hash() != full.config_hash()
        assert ex.results_path(quick).name == f"{name}.quick.json"
        assert ex.results_path(full).name == f"{name}.json"


def test_config_hash_changes_with_any_setting():
    e = ex.get("akrout2019-mnist")
    assert e.config_hash() == ex.get("akrout2019-mnist").config_hash()
    from dataclasses import replace

    v0 = e.variants[0]
    changed = replace(e, variants=(replace(v0, lr=v0.lr * 2),) + e.variants[1:])
    assert changed.config_hash() != e.config_hash()
    # Text that does not change the numbers does not change the hash.
    assert replace(e, differences=("x",)).config_hash() == e.config_hash()


def test_get_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown experiment 'nope'.*akrout2019-mnist"):
        ex.get("nope")
    with pytest.raises(KeyError, match="no variant 'zz'"):
        ex.get("akrout2019-mnist").variant("zz")


def test_run_rejects_bad_arguments(tmp_path):
    e = ex.get("lillicrap2016-linear", quick=True)
    with pytest.raises(ValueError, match="jobs"):
        ex.run(e, jobs=0, results_dir=tmp_path)
    with pytest.raises(ValueError, match="seeds"):
        ex.run(e, seeds=0, results_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown variant"):
        ex.run(e, variants=["zz"], results_dir=tmp_path)
    with pytest.raises(TypeError):
        ex.run(3.5, results_dir=tmp_path)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ quick runs


def check_results_file(path, experiment, seeds):
    data = strict_json(path)
    assert data == ex.load_results(path)
    assert data["format"] == ex.RESULTS_FORMAT
    assert data["experiment"] == experiment.name and data["quick"] == experiment.is_quick
    assert data["package_version"] == fl.__version__
    assert data["config_hash"] == experiment.config_hash()
    assert data["config"] == json.loads(json.dumps(experiment.config()))
    assert data["headline"] == list(experiment.headline)
    assert len(data["published"]) == len(experiment.published)
    assert data["differences"] == list(experiment.differences)
    assert data["command"].startswith(f"fa-lessons reproduce {experiment.name}")
    assert finite(data["wall_time"]) and data["wall_time"] > 0
    env = data["environment"]
    assert env["blas_threads_per_run"] == 1 and env["numpy"] == np.__version__
    assert data["sessions"] and all(s["wall_time"] > 0 for s in data["sessions"])
    labels = [v.label for v in experiment.variants]
    pairs = [(r["variant"], r["seed"]) for r in data["runs"]]
    assert pairs == [(l, s) for l in labels for s in seeds]     # sorted, complete, unique
    regression = experiment.data.name == "linear-teacher"
    for r in data["runs"]:
        v = experiment.variant(r["variant"])
        assert r["diverged"] is None, r["diverged"]
        assert finite(r["wall_time"]) and r["wall_time"] >= 0
        h = r["history"]
        assert h["epoch"] == list(range(1, v.epochs + 1))
        assert len(h["train_loss"]) == v.epochs and all(finite(x) for x in h["train_loss"])
        assert h["config"]["rule"] == v.rule and h["config"]["sizes"] == list(v.sizes)
        assert h["config"]["lr"] == v.lr and h["config"]["batch_size"] <= v.batch_size
        final = r["final"]
        if regression:
            assert h["test_accuracy"] == []
            assert 0 <= final["nse"] and finite(final["nse"])
        else:
            assert len(h["test_accuracy"]) == v.epochs
            assert final["test_accuracy"] == pytest.approx(100 * h["test_accuracy"][-1])
            assert final["test_error"] == pytest.approx(100 - final["test_accuracy"])
            assert 0 <= final["train_error"] <= 100
        assert set(h["tracked"]) == set(v.track)
        for name in v.track:
            assert len(h["tracked"][name]) == len(h["examples"])
        for name in ("signal_angle", "weight_angle"):
            if name in v.track:
                assert 0 <= final[name] <= 180
    return data


@pytest.mark.parametrize("name", ex.names())
def test_quick_run_writes_a_well_formed_results_file(capsys, tmp_path, name):
    code = cli.main(["reproduce", name, "--quick", "--seeds", "2", "--no-progress",
                     "--results-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    path = tmp_path / f"{name}.quick.json"
    data = check_results_file(path, ex.get(name, quick=True), [0, 1])
    # The summary printed at the end is the one computed from the file.
    assert ex.format_summary(data) in out
    assert list(tmp_path.iterdir()) == [path]            # no temporary file left behind


def test_same_seed_same_numbers_other_seed_other_numbers():
    e = ex.get("nokland2016-mnist", quick=True)
    a = ex.run_variant(e, "dfa 2x800", 0)
    b = ex.run_variant(e, "dfa 2x800", 0)
    c = ex.run_variant(e, "dfa 2x800", 1)
    strip = lambda r: {**r, "wall_time": 0, "history": {**r["history"], "seconds": []}}
    assert strip(a) == strip(b)
    assert a["history"]["train_loss"] != c["history"]["train_loss"]


def test_summarise_matches_numpy():
    e = ex.get("akrout2019-mnist", quick=True)
    results = ex._new_results(e)
    values = {"bp": [1.0, 2.0, 4.0], "fa": [3.0], "kp": [], "wm": [5.0, 7.0]}
    for label, vals in values.items():
        for seed, v in enumerate(vals):
            final = {"test_accuracy": v}
            if label != "bp":
                final["signal_angle"] = 2 * v
            results["runs"].append({"variant": label, "seed": seed, "diverged": None,
                                    "final": final})
    results["runs"].append({"variant": "kp", "seed": 9, "diverged": "boom", "final": {}})
    rows = {(r["variant"], r["metric"]): r for r in ex.summarise(results)}
    bp = rows[("bp", "test_accuracy")]
    assert bp["mean"] == pytest.approx(np.mean([1, 2, 4]))
    assert bp["sd"] == pytest.approx(np.std([1, 2, 4], ddof=1)) and bp["n"] == 3
    assert rows[("fa", "test_accuracy")]["sd"] is None
    assert rows[("fa", "signal_angle")]["mean"] == 6.0
    kp = rows[("kp", "test_accuracy")]
    assert kp["mean"] is None and kp["n"] == 0 and kp["diverged"] == 1
    assert [p["value"] for p in kp["published"]] == [95.41, 98.45]
    assert ("bp", "signal_angle") not in rows   # neither measured nor published


# ------------------------------------------------------------------ serial = parallel


def _strip_timing(results):
    runs = []
    for r in results["runs"]:
        r = dict(r, wall_time=None)
        if r["history"] is not None:
            r["history"] = dict(r["history"], seconds=None)
        runs.append(r)
    return runs


@pytest.mark.parametrize("name", ["liao2016-sign", "lillicrap2016-linear"])
def test_serial_and_two_processes_give_identical_results(tmp_path, name):
    e = ex.get(name, quick=True)
    serial = ex.run(e, seeds=2, jobs=1, out=tmp_path / "serial.json", progress=False,
                    echo=None)
    parallel = ex.run(e, seeds=2, jobs=2, out=tmp_path / "parallel.json", progress=False,
                      echo=None)
    assert parallel["environment"]["jobs"] == 2 and serial["environment"]["jobs"] == 1
    a = _strip_timing(strict_json(tmp_path / "serial.json"))
    b = _strip_timing(strict_json(tmp_path / "parallel.json"))
    assert len(a) == len(e.variants) * 2
    assert a == b        # every number of every run, bit for bit (JSON keeps 17 digits)
    assert _strip_timing(serial) == a


# ------------------------------------------------------------------ committed results

RESULTS = REPO_ROOT / "results"


@pytest.mark.parametrize("name", ex.names())
def test_committed_results_cover_the_experiment(name):
    """results/<name>.json: the full run, current definitions, enough seeds."""
    path = RESULTS / f"{name}.json"
    assert path.is_file(), (f"{path} is missing: regenerate it with "
                            f"`fa-lessons reproduce {name} --jobs 2` (see chapter 9)")
    e = ex.get(name)
    data = strict_json(path)
    assert data["config_hash"] == e.config_hash(), (
        f"{path} was made with another definition of {name}; rerun "
        f"`fa-lessons reproduce {name} --force --jobs 2`")
    seeds = sorted({r["seed"] for r in data["runs"]})
    assert seeds == list(range(len(seeds))) and len(seeds) >= e.seeds
    check_results_file(path, e, seeds)


def test_curves_per_epoch_and_tracked():
    e = ex.get("akrout2019-mnist", quick=True)
    results = ex._new_results(e)
    for seed, accs in enumerate(([0.5, 0.75], [0.25, 1.0])):
        results["runs"].append({
            "variant": "fa", "seed": seed, "diverged": None, "final": {},
            "history": {"epoch": [1, 2], "test_accuracy": accs, "train_loss": [1.0, 0.5],
                        "examples": [0, 10, 20],
                        "tracked": {"signal_angle": [[90.0, None], [60.0, 30.0],
                                                     [40.0, 20.0]],
                                    "nse": [1.0, 0.5, 0.25]}}})
    results["runs"].append({"variant": "fa", "seed": 2, "diverged": "boom", "final": {},
                            "history": None})
    x, v = ex.curves(results, "fa", "test_error")
    np.testing.assert_array_equal(x, [1, 2])
    np.testing.assert_allclose(v, [[50, 25], [75, 0]])
    x, v = ex.curves(results, "fa", "test_accuracy_pct")
    np.testing.assert_allclose(v, [[50, 75], [25, 100]])
    x, v = ex.curves(results, "fa", "signal_angle")
    np.testing.assert_array_equal(x, [0, 10, 20])
    np.testing.assert_allclose(v, [[90, 45, 30]] * 2)      # mean over layers, NaN ignored
    x, v = ex.curves(results, "fa", "signal_angle", layer=2)
    np.testing.assert_allclose(v, [[np.nan, 30, 20]] * 2)
    x, v = ex.curves(results, "fa", "nse")
    np.testing.assert_allclose(v, [[1, 0.5, 0.25]] * 2)
    with pytest.raises(KeyError, match="no finished runs"):
        ex.curves(results, "kp", "test_error")
    with pytest.raises(KeyError, match="neither a per-epoch field"):
        ex.curves(results, "fa", "weight_angle")
