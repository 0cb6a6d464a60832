"""Tests of fa_lessons.assignments (student edition, grading) and of the exercise pattern of
the chapters.

* The sample chapter tests/fixtures/sample_book/sample_chapter.ipynb follows the exercise
  pattern with three coding exercises and one pen-and-paper exercise; its student edition is
  built and executed, and two sample submissions derived from it (tests/fixtures/submissions:
  one complete, one with a wrong answer and a stub left) are graded to an exact CSV.
* For the real book, one test per chapter notebook (parametrised over whatever book/*.ipynb
  exist, so xdist spreads them) builds the student edition and executes it: every cell that is
  not an exercise stub must run, and every stub must fail with a helpful message. Static
  tests check the exercise pattern of every chapter (>= 3 exercises, stub -> solution ->
  check, labels unique, the checks of each chapter used).

Run: .venv/bin/python -m pytest tests/test_checks.py tests/test_assignments.py -q
"""

from __future__ import annotations

import copy
import csv
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import BOOK_DIR, book_notebooks
from fa_lessons import assignments, checks
from fa_lessons.assignments import execute_notebook, find_exercises, grade, student_edition

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_BOOK = FIXTURES / "sample_book"
SAMPLE = SAMPLE_BOOK / "sample_chapter.ipynb"
SUBMISSIONS = FIXTURES / "submissions"
EXERCISE_LABEL_RE = re.compile(r"\{exercise(?:-start)?\}[^\n]*\n(?:[ \t]*:[\w-]+:[^\n]*\n)*?"
                               r"[ \t]*:label:[ \t]*(\S+)")
CHECK_CALL_RE = re.compile(r"\bchecks\.(\w+)\(")


def _read(path):
    return nbformat.read(str(path), as_version=4)


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _stdout(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


# ------------------------------------------------------------------ shared assertions

def assert_no_solutions(nb, name):
    for i, cell in enumerate(nb.cells):
        assert "solution" not in _tags(cell), f"{name}: cell {i} is tagged solution"
        for directive in ("{solution}", "{solution-start}", "{solution-end}"):
            assert directive not in cell.source, f"{name}: cell {i} still holds {directive}"


def assert_student_run(nb, name):
    """After executing a student edition: the chapter runs, and every stub fails helpfully."""
    n_stubs = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        if "exercise-stub" in _tags(cell):
            n_stubs += 1
            assert errors, f"{name}: exercise stub in cell {i} ran without raising"
            err = errors[0]
            assert err["ename"] in ("CheckFailed", "NotImplementedError"), (
                f"{name}: exercise stub in cell {i} raised {err['ename']}: {err['evalue']}")
            assert ("is still the stub" in err["evalue"]
                    or re.search(r"Exercise ex-[\w-]+: write your code here", err["evalue"])), (
                f"{name}: the stub in cell {i} fails without a helpful message: {err['evalue']!r}")
        elif "raises-exception" not in _tags(cell):
            assert not errors, (
                f"{name}: cell {i} raised {errors[0]['ename']}: {errors[0]['evalue']} in the "
                f"student edition (solutions removed). Every cell that is not an exercise stub "
                f"must run without the solutions: does it use a function defined in a solution "
                f"cell, or a file outside book/?\n{cell.source[:300]}")
    return n_stubs


def contract_problems(nb, name):
    """Deviations from the exercise pattern of exercises.md / book/instructors.md."""
    problems = []
    cells = nb.cells
    labels = [m.group(1) for c in cells if c.cell_type == "markdown"
              for m in EXERCISE_LABEL_RE.finditer(c.source)]
    if len(labels) < 3:
        problems.append(f"{name}: {len(labels)} exercise(s) ({labels}); every chapter has >= 3")
    stub_checks = []
    for i, cell in enumerate(cells):
        if "exercise-stub" not in _tags(cell):
            continue
        where = f"{name}: exercise stub in cell {i}"
        if cell.cell_type != "code":
            problems.append(f"{where} is not a code cell")
            continue
        if "raises-exception" not in _tags(cell):
            problems.append(f"{where} lacks the raises-exception tag")
        if "raise NotImplementedError(" not in cell.source:
            problems.append(f"{where} does not raise NotImplementedError")
        calls = [c for c in CHECK_CALL_RE.findall(cell.source)]
        if len(calls) != 1 or calls[0] not in checks.CHECKS:
            problems.append(f"{where} must call exactly one check of fa_lessons.checks, "
                            f"found {calls}")
            continue
        check = calls[0]
        stub_checks.append(check)
        label = "ex-" + check.replace("_", "-")
        md = [c for c in cells[:i] if c.cell_type == "markdown"]
        if not md or label not in [m.group(1) for m in EXERCISE_LABEL_RE.finditer(md[-1].source)]:
            problems.append(f"{where}: the markdown cell before it must be the "
                            f"{{exercise}} with :label: {label}")
        after = cells[i + 1:i + 4]
        ok = (len(after) == 3 and after[0].cell_type == "markdown"
              and re.search(r"\{solution-start\}\s*" + re.escape(label) + r"\b", after[0].source)
              and "solution" in _tags(after[1]) and after[1].cell_type == "code"
              and after[2].cell_type == "markdown" and "{solution-end}" in after[2].source)
        if not ok:
            problems.append(f"{where}: it must be followed by the {{solution-start}} {label} "
                            f"cell, the solution code cell (tag solution) and {{solution-end}}")
            continue
        if f"checks.{check}(" not in after[1].source:
            problems.append(f"{name}: the solution of {label} must end with checks.{check}(...)")
        elif not _stdout(after[1]).startswith(f"✓ {check}:"):
            problems.append(f"{name}: the stored output of the solution of {label} does not "
                            f"show its check passing (run make refresh)")
    for label in labels:
        check = label[3:].replace("-", "_")
        if check in checks.CHECKS and check not in stub_checks:
            problems.append(f"{name}: exercise {label} has no stub cell (tag exercise-stub) "
                            f"calling checks.{check}")
    return problems


# -------------------------------------------------------------------- the fixtures

@pytest.fixture(scope="module")
def sample_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student_sample")
    result = student_edition(out, SAMPLE_BOOK, echo=False)
    return out, result


def test_sample_chapter_follows_the_pattern():
    assert contract_problems(_read(SAMPLE), SAMPLE.name) == []


def test_pattern_check_can_fail():
    """Control: the contract check does find broken exercises."""
    nb = _read(SAMPLE)
    stub = next(c for c in nb.cells if "exercise-stub" in _tags(c))
    stub.metadata["tags"] = ["exercise-stub"]                      # no raises-exception
    sol = next(c for c in nb.cells if "solution" in _tags(c))
    sol.outputs = []                                               # never run
    nb.cells = [c for c in nb.cells if "ex-sample-signs" not in c.source]   # 3 exercises left
    nb.cells = [c for c in nb.cells if "ex-nse" not in c.source or c.cell_type == "code"]
    problems = "\n".join(contract_problems(nb, "broken"))
    assert "lacks the raises-exception tag" in problems
    assert "does not show its check passing" in problems
    assert "2 exercise(s)" in problems
    assert "must be the {exercise} with :label: ex-nse" in problems


def test_find_exercises_in_the_sample_chapter():
    coding, other = find_exercises(_read(SAMPLE))
    assert [(e.label, e.check, e.function) for e in coding] == [
        ("ex-usf-feedback", "usf_feedback", "usf_feedback"),
        ("ex-manhattan-step", "manhattan_step", "manhattan_step"),
        ("ex-nse", "nse", "nse")]
    assert other == ["ex-sample-signs"]


def test_find_exercises_in_a_submission():
    """A solution written in a new cell below the stub belongs to the exercise; the chapter's
    own code cells after the exercise do not."""
    nb = _read(SUBMISSIONS / "complete.ipynb")
    coding, _ = find_exercises(nb)
    by = {e.label: e for e in coding}
    man = by["ex-manhattan-step"]
    assert len(man.cells) == 2 and nb.cells[man.cells[1]].id == "student-added-cell"
    assert man.end == man.cells[1] + 1
    usf = by["ex-usf-feedback"]
    assert len(usf.cells) == 1 and "print(np.sign(W))" in nb.cells[usf.end].source


def test_student_edition_of_the_sample_chapter(sample_edition):
    out, result = sample_edition
    original = _read(SAMPLE)
    student = _read(out / SAMPLE.name)
    assert result.notebooks == [out / SAMPLE.name]
    assert result.removed == {SAMPLE.name: 9}          # 3 x (start, solution, end)
    assert result.exercises[SAMPLE.name] == ["ex-usf-feedback", "ex-manhattan-step", "ex-nse",
                                             "ex-sample-signs"]
    assert_no_solutions(student, "student edition")
    by_id = {c.id: c for c in original.cells}
    stubs = 0
    for cell in student.cells:
        orig = by_id[cell.id]
        if "exercise-stub" in _tags(cell):
            stubs += 1
            assert cell.source == orig.source and _tags(cell) == _tags(orig)
            assert orig.outputs and cell.outputs == [] and cell.execution_count is None
        elif "ex-sample-signs" in cell.source:   # pen-and-paper: exercise kept, solution cut
            assert "Why can sign-concordant feedback work" in cell.source
            assert "Because the teaching signal" not in cell.source
            assert cell.source.rstrip().endswith("````")
        else:
            assert cell == orig, f"cell {cell.id} changed"
    assert stubs == 3
    kept = [c.id for c in student.cells]
    assert kept == [c.id for c in original.cells if c.id in kept]   # order kept
    data = "data/values.txt"
    assert (out / data).read_text() == (SAMPLE_BOOK / data).read_text()
    assert result.support == ["data/values.txt"]
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert ("| sample_chapter.ipynb | ex-usf-feedback, ex-manhattan-step, ex-nse, "
            "ex-sample-signs |") in readme
    assert student.metadata["fa_lessons"] == {"edition": "student"}


def test_student_edition_is_idempotent(sample_edition, tmp_path):
    out, _ = sample_edition
    again = tmp_path / "again"
    student_edition(again, out, echo=False)
    assert (again / SAMPLE.name).read_text() == (out / SAMPLE.name).read_text()


@pytest.fixture(scope="module")
def sample_run(sample_edition):
    """The student edition of the sample chapter, executed (errors allowed)."""
    out, _ = sample_edition
    nb = _read(out / SAMPLE.name)
    return nb, execute_notebook(nb, out, timeout=300)


def test_student_edition_of_the_sample_chapter_runs(sample_run):
    nb, problem = sample_run
    assert problem is None
    assert assert_student_run(nb, SAMPLE.name) == 3
    printed = "".join(_stdout(c) for c in nb.cells)
    assert "7.0\n" in printed and "done\n" in printed      # the support file was found
    stub_msgs = [_errors(c)[0]["evalue"] for c in nb.cells if "exercise-stub" in _tags(c)]
    assert stub_msgs[0] == ("usf_feedback is still the stub: it raised NotImplementedError. "
                            "Write your solution in place of the line "
                            "`raise NotImplementedError(...)` and run the cell again.")


def test_run_check_can_fail(sample_run):
    """Control: a chapter cell that fails, or a stub that passes, makes assert_student_run fail."""
    nb = copy.deepcopy(sample_run[0])
    cell = next(c for c in nb.cells if "print(np.sign(W))" in c.source)
    cell.outputs.append(nbformat.v4.new_output("error", ename="NotImplementedError",
                                               evalue="Exercise ex-usf-feedback", traceback=[]))
    with pytest.raises(AssertionError, match=r"raised NotImplementedError: .* in the student "
                                             r"edition \(solutions removed\)"):
        assert_student_run(nb, "control")
    nb = copy.deepcopy(sample_run[0])
    stub = next(c for c in nb.cells if "exercise-stub" in _tags(c))
    stub.outputs = []
    with pytest.raises(AssertionError, match=r"ran without raising"):
        assert_student_run(nb, "control")


def test_student_edition_refuses_to_overwrite_the_book(tmp_path):
    with pytest.raises(ValueError, match="out_dir is the book folder itself"):
        student_edition(SAMPLE_BOOK, SAMPLE_BOOK, echo=False)
    with pytest.raises(ValueError, match="is not a folder"):
        student_edition(tmp_path / "out", tmp_path / "missing", echo=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no chapter notebooks"):
        student_edition(tmp_path / "out", tmp_path / "empty", echo=False)


def test_unclosed_solution_block_is_an_error(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    nb = _read(SAMPLE)
    end = next(i for i, c in enumerate(nb.cells) if "{solution-end}" in c.source)
    del nb.cells[end]
    nbformat.write(nb, str(book / "ch.ipynb"))
    with pytest.raises(ValueError, match=r"ch\.ipynb: cell \d+ opens a \{solution-start\} block "
                                         r"but the one opened in cell \d+ is not closed"):
        student_edition(tmp_path / "out", book, echo=False)


def test_toc_order_and_files_outside_the_book(tmp_path, capsys):
    """Chapters come in _toc.yml order; a literal "../results/..." path is copied into the
    edition and rewritten, files inside book/ keep their place."""
    root = tmp_path / "repo"
    (root / "book" / "img").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "results" / "r.json").write_text('{"acc": 0.97}')
    (root / "book" / "img" / "fig.png").write_bytes(b"png")
    (root / "book" / "intro.md").write_text("# intro")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n"
                                   "  - file: book/b_second\n  - file: book/a_first\n")
    for stem in ("a_first", "b_second"):
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell("# Title\n\n![a figure](../results/r.json) "
                                          "and ![fig](img/fig.png)"),
            nbformat.v4.new_code_cell('import json\nprint(json.load(open("../results/r.json")))')])
        nbformat.write(nb, str(root / "book" / f"{stem}.ipynb"))
    out = tmp_path / "out"
    result = student_edition(out, root / "book")
    assert [p.name for p in result.notebooks] == ["b_second.ipynb", "a_first.ipynb"]
    assert sorted(result.support) == ["img/fig.png", "results/r.json"]
    nb = _read(out / "a_first.ipynb")
    assert 'open("results/r.json")' in nb.cells[1].source
    assert "](results/r.json)" in nb.cells[0].source and "](img/fig.png)" in nb.cells[0].source
    assert not (out / "intro.md").exists()
    printed = capsys.readouterr().out
    assert "b_second.ipynb: 0 exercises, 0 solution cells removed" in printed
    assert f"student edition of 2 notebooks written to {out}" in printed


def test_main_student_edition(tmp_path, capsys):
    assert assignments.main(["student-edition", str(tmp_path / "se"), "--book",
                             str(SAMPLE_BOOK)]) == 0
    assert (tmp_path / "se" / SAMPLE.name).is_file()
    assert "4 exercises" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        assignments.main(["student-edition", str(tmp_path / "x"), "--book",
                          str(tmp_path / "nope")])
    assert info.value.code == 2


# ------------------------------------------------------------------------- grading

def test_submissions_derive_from_the_sample_chapter(sample_edition):
    """The fixtures are the student edition with only the exercise cells changed."""
    out, _ = sample_edition
    student = _read(out / SAMPLE.name)
    for sub in ("complete.ipynb", "partial.ipynb"):
        nb = _read(SUBMISSIONS / sub)
        by_id = {c.id: c for c in nb.cells}
        for cell in student.cells:
            if "exercise-stub" not in _tags(cell):
                assert by_id[cell.id].source == cell.source, (sub, cell.id)


def test_grade_scores_the_sample_submissions(tmp_path, capsys):
    csv_path = tmp_path / "out" / "scores.csv"
    assert assignments.main(["grade", str(SUBMISSIONS), "--out", str(csv_path), "--book",
                             str(SAMPLE_BOOK), "--timeout", "300"]) == 0
    assert csv_path.read_text(encoding="utf-8") == (
        "submission,ex-usf-feedback,ex-manhattan-step,ex-nse,total\n"
        "complete.ipynb,1,1,1,3\n"
        "partial.ipynb,1,0,0,1\n")
    printed = capsys.readouterr()
    assert printed.err == ""
    assert "complete.ipynb: 3/3" in printed.out and "partial.ipynb: 1/3" in printed.out
    # why the partial submission lost points (the stale stored "✓" output did not count)
    assert re.search(r"ex-manhattan-step: manhattan_step is wrong .* plain SGD step", printed.out)
    assert "ex-nse: nse is still the stub" in printed.out
    assert "per exercise: ex-usf-feedback 2/2, ex-manhattan-step 1/2, ex-nse 1/2" in printed.out
    with open(csv_path, newline="") as f:
        assert [r["total"] for r in csv.DictReader(f)] == ["3", "1"]


def test_grade_rejects_bad_folders(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        grade(tmp_path / "missing", tmp_path / "s.csv")
    with pytest.raises(ValueError, match=r"no notebooks \(\*\.ipynb\)"):
        grade(tmp_path, tmp_path / "s.csv")
    shutil.copy(SUBMISSIONS / "complete.ipynb", tmp_path)
    with pytest.raises(ValueError, match="timeout must be a positive"):
        grade(tmp_path, tmp_path / "s.csv", timeout=0)


def _grade_line(capsys):
    line = capsys.readouterr().out.strip()
    assert line.startswith(assignments.GRADE_MARKER)
    return json.loads(line[len(assignments.GRADE_MARKER):])


def test_grade_in_kernel_uses_a_fresh_copy_of_the_checks(monkeypatch, capsys):
    """Rebinding checks.<name> in the notebook does not change the grade."""
    def wrong_nse(y_pred, y_true):
        return 0.0
    monkeypatch.setattr(checks, "nse", lambda fn: print("✓ nse: all good"))
    assignments._grade_in_kernel("ex-nse", "nse", "nse", {"nse": wrong_nse})
    rec = _grade_line(capsys)
    assert rec["passed"] is False and "nse is wrong" in rec["message"]

    def right_nse(y_pred, y_true):
        return float(((y_pred - y_true) ** 2).sum() / (y_true**2).sum())
    assignments._grade_in_kernel("ex-nse", "nse", "nse", {"nse": right_nse})
    rec = _grade_line(capsys)
    assert rec["passed"] is True and rec["message"].startswith("✓ nse: 5 cases passed")
    assignments._grade_in_kernel("ex-nse", "nse", "nse", {})
    rec = _grade_line(capsys)
    assert rec["passed"] is False and "no function named nse" in rec["message"]


# ----------------------------------------------------------------- the real chapters

CHAPTERS = book_notebooks()


@pytest.fixture(scope="module")
def book_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student_book")
    return out, student_edition(out, BOOK_DIR, echo=False)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_follows_the_exercise_pattern(path):
    problems = contract_problems(_read(path), path.name)
    assert not problems, "\n".join(problems)


def test_exercise_labels_are_unique_across_the_book():
    seen = {}
    for path in CHAPTERS:
        for cell in _read(path).cells:
            if cell.cell_type == "markdown":
                for m in EXERCISE_LABEL_RE.finditer(cell.source):
                    assert m.group(1) not in seen, (
                        f"label {m.group(1)} is used in {seen[m.group(1)]} and {path.name}")
                    seen[m.group(1)] = path.name


@pytest.mark.parametrize("chapter", sorted(set(checks.CHECK_CHAPTERS.values())))
def test_each_chapter_uses_its_checks(chapter):
    """Once chapter k exists (book/0k_*.ipynb), it has the exercises of its checks."""
    found = sorted(BOOK_DIR.glob(f"{chapter:02d}_*.ipynb"))
    if not found:
        pytest.skip(f"chapter {chapter} (book/{chapter:02d}_*.ipynb) does not exist yet")
    code = "\n".join(c.source for p in found for c in _read(p).cells if c.cell_type == "code")
    missing = [n for n, ch in checks.CHECK_CHAPTERS.items()
               if ch == chapter and f"checks.{n}(" not in code]
    assert not missing, (f"{found[0].name} has no exercise calling checks."
                         f"{', checks.'.join(missing)} (see the exercise contract)")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_student_edition_of_chapter_runs(path, book_edition):
    """The student edition of each chapter executes: every non-exercise cell runs, and every
    exercise stub fails with a helpful message (one test per chapter: xdist spreads them)."""
    out, result = book_edition
    assert out / path.name in result.notebooks
    nb = _read(out / path.name)
    assert_no_solutions(nb, path.name)
    problem = execute_notebook(nb, out, timeout=600)
    assert problem is None, f"{path.name}: the kernel stopped: {problem}"
    n_stubs = assert_student_run(nb, path.name)
    assert n_stubs == sum("exercise-stub" in _tags(c) for c in _read(path).cells)
