"""Assign, hand out and grade the book's exercises.

Introduced in the instructor page of the book (``book/instructors.md``).  Two
commands, also available as ``fa-lessons student-edition`` and
``fa-lessons grade``::

    python -m fa_lessons.assignments student-edition OUT [--book book]
    python -m fa_lessons.assignments grade SUBMISSIONS_DIR --out scores.csv [--book book]

* :func:`student_edition` writes every chapter without its solutions: cells
  tagged ``solution``, everything between the ``{solution-start}`` and
  ``{solution-end}`` markdown cells, and ``{solution}`` blocks of
  pen-and-paper exercises are removed; exercise stubs (tag
  ``exercise-stub``) are kept with their outputs cleared; every other cell
  keeps its stored outputs.  Files the chapters read are copied along.
* :func:`grade` executes every submitted notebook on a fresh kernel, re-runs
  the check of every coding exercise on the learner's function (from a fresh
  copy of :mod:`fa_lessons.checks`, right after the exercise's cells) and
  writes a CSV with one row per submission, one column per exercise
  (1 = the check passes, 0 = it fails or the exercise is missing) and a total.

The exercise cell pattern they rely on is described in ``book/instructors.md``.
Executing notebooks needs ``nbclient``, ``nbformat`` and ``ipykernel`` (they
come with the book's tool chain, ``requirements.txt``); they are imported only
when needed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["student_edition", "grade", "find_exercises", "execute_notebook", "Exercise",
           "StudentEdition", "GradeReport", "main"]

TAG_SOLUTION = "solution"
TAG_STUB = "exercise-stub"
TAG_RAISES = "raises-exception"
GRADE_MARKER = "FA_LESSONS_GRADE "

# ```{exercise} Title            or  :::{exercise-start} Title
# :label: ex-name
_EXERCISE_RE = re.compile(
    r"^[ \t]*(`{3,}|:{3,})\{exercise(?:-start)?\}[^\n]*\n(?:[ \t]*:[\w-]+:[^\n]*\n)*?"
    r"[ \t]*:label:[ \t]*(\S+)", re.MULTILINE)
_CHECK_CALL_RE = re.compile(r"\bchecks\.(\w+)\(\s*([A-Za-z_]\w*)?")
_DEF_RE = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_UP_LITERAL_RE = re.compile(r"""(["'])(\.\./[^"'\s]+)\1""")
_UP_LINK_RE = re.compile(r"\]\((\.\./[^)\s]+)\)")
_INSPECT_RE = re.compile(r" \(Inspect this case with checks\.cases\([^)]*\)\[\d+\]\.\)")
_SKIP_SUPPORT = {"_build", "__pycache__", ".ipynb_checkpoints"}


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _directive_blocks(text: str, name: str):
    """Spans ``(start, end)`` of the fenced ``{name}`` directive blocks in MyST text."""
    spans = []
    opener = re.compile(r"^[ \t]*(`{3,}|:{3,})\{" + re.escape(name) + r"\}[^\n]*$", re.MULTILINE)
    pos = 0
    while True:
        m = opener.search(text, pos)
        if not m:
            return spans
        fence = m.group(1)
        closer = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$",
                            re.MULTILINE)
        c = closer.search(text, m.end())
        end = c.end() if c else len(text)
        spans.append((m.start(), end))
        pos = end


def _strip_directive(text: str, name: str) -> str:
    for start, end in reversed(_directive_blocks(text, name)):
        text = text[:start] + text[end:]
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _has_directive(text: str, name: str) -> bool:
    return bool(_directive_blocks(text, name))


# --------------------------------------------------------------------- exercises


@dataclass
class Exercise:
    """A coding exercise found in a notebook.

    Attributes
    ----------
    label : str
        The ``{exercise}`` label, e.g. ``"ex-fa-delta"``.
    check : str
        The check that grades it, e.g. ``"fa_delta"``.
    function : str
        The name of the learner's function the check is called on.
    cells : list of int
        Indices of the code cells of the exercise (the stub and any cells the
        learner added before the next markdown cell).
    end : int
        Index at which a grading cell is inserted (after those cells).
    """

    label: str
    check: str
    function: str
    cells: list = field(default_factory=list)
    end: int = 0


def _check_names():
    from . import checks
    return checks.CHECKS


def _label_check(label: str):
    name = label[3:].replace("-", "_") if label.startswith("ex-") else None
    return name if name in _check_names() else None


def find_exercises(nb) -> tuple[list, list]:
    """The coding and the pen-and-paper exercises of a notebook.

    Introduced in the instructor page of the book.  A coding exercise is an
    ``{exercise}`` whose label names a check (``ex-fa-delta`` ->
    ``checks.fa_delta``) or whose code cells call a check; a check call
    outside any labelled exercise counts as the exercise ``ex-<check>``.

    Parameters
    ----------
    nb : dict or nbformat.NotebookNode
        The notebook.

    Returns
    -------
    coding : list of Exercise
        In the order of the notebook.
    other : list of str
        Labels of the exercises without a check (pen-and-paper, experiments).
    """
    cells = nb["cells"]
    coding, other, used = [], [], set()
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for m in _EXERCISE_RE.finditer(_source(cell)):
            label = m.group(2)
            j = i + 1
            section = []
            while j < len(cells) and cells[j]["cell_type"] != "markdown":
                if cells[j]["cell_type"] == "code":
                    section.append(j)
                j += 1
            code = "\n".join(_source(cells[k]) for k in section)
            calls = [(c, f) for c, f in _CHECK_CALL_RE.findall(code) if c in _check_names()]
            check = _label_check(label) or (calls[0][0] if calls else None)
            if check is None:
                other.append(label)
                continue
            fn = _function_name(check, calls, code)
            # The exercise ends after the last cell that defines the function (the stub, or a
            # cell the learner added below it); later code cells are the chapter's own.
            defining = [k for k in section if _defines(_source(cells[k]), fn)]
            last = defining[-1] if defining else (section[0] if section else i)
            cells_of = [k for k in section if k <= last]
            coding.append(Exercise(label, check, fn, cells_of, last + 1))
            used.update(cells_of)
    # check calls outside labelled exercises (e.g. the markdown cell was deleted)
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or i in used or TAG_SOLUTION in _tags(cell):
            continue
        code = _source(cell)
        for check, fn in _CHECK_CALL_RE.findall(code):
            label = "ex-" + check.replace("_", "-")
            if check in _check_names() and label not in {e.label for e in coding}:
                coding.append(Exercise(label, check, _function_name(check, [(check, fn)], code),
                                       [i], i + 1))
    coding.sort(key=lambda e: e.end)
    return coding, other


def _defines(code, name):
    return re.search(rf"^(def\s+{re.escape(name)}\s*\(|{re.escape(name)}\s*=[^=])", code,
                     re.MULTILINE) is not None


def _function_name(check, calls, code):
    for c, fn in calls:
        if c == check and fn:
            return fn
    defs = _DEF_RE.findall(code)
    if check in defs:
        return check
    return defs[0] if defs else check


# --------------------------------------------------------------- student edition


@dataclass
class StudentEdition:
    """What :func:`student_edition` wrote."""

    out_dir: Path
    notebooks: list = field(default_factory=list)     # written paths
    exercises: dict = field(default_factory=dict)     # notebook name -> list of labels
    removed: dict = field(default_factory=dict)       # notebook name -> removed cells
    support: list = field(default_factory=list)       # copied files (relative to out_dir)


def _book_notebooks(book_dir: Path) -> list:
    """The chapter notebooks: those listed in ``_toc.yml`` first (reading order), then the rest."""
    found = sorted(book_dir.glob("*.ipynb"))
    toc = book_dir.parent / "_toc.yml"
    order = []
    if toc.is_file():
        try:
            import yaml
            data = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
        except Exception:   # no PyYAML or an unreadable TOC: plain file order
            data = {}

        def walk(node):
            if isinstance(node, dict):
                if "file" in node or "root" in node:
                    order.append(str(node.get("file", node.get("root"))))
                for key in ("parts", "chapters", "sections"):
                    for child in node.get(key) or []:
                        walk(child)
        walk(data)
    ranked = []
    for entry in order:
        p = (book_dir.parent / entry).with_suffix(".ipynb")
        if p in found and p not in ranked:
            ranked.append(p)
    return ranked + [p for p in found if p not in ranked]


def _read(path: Path):
    import nbformat
    return nbformat.read(str(path), as_version=4)


def _strip_solutions(nb, name: str):
    """Remove the solutions of ``nb`` in place; return the number of removed cells."""
    kept, removed, inside = [], 0, None
    for i, cell in enumerate(nb.cells):
        text = _source(cell)
        is_md = cell.cell_type == "markdown"
        if is_md and _has_directive(text, "solution-start"):
            if inside is not None:
                raise ValueError(f"{name}: cell {i} opens a {{solution-start}} block but the one "
                                 f"opened in cell {inside} is not closed by {{solution-end}}")
            inside = i
            removed += 1
            if _has_directive(text, "solution-end"):   # start and end in one cell
                inside = None
            continue
        if inside is not None:
            removed += 1
            if is_md and _has_directive(text, "solution-end"):
                inside = None
            continue
        if is_md and _has_directive(text, "solution-end"):
            raise ValueError(f"{name}: cell {i} holds {{solution-end}} without a "
                             f"{{solution-start}} before it")
        if TAG_SOLUTION in _tags(cell):
            removed += 1
            continue
        if is_md and _has_directive(text, "solution"):
            text = _strip_directive(text, "solution")
            if not text.strip():
                removed += 1
                continue
            cell.source = text
        if TAG_STUB in _tags(cell):
            cell.outputs = []
            cell.execution_count = None
        kept.append(cell)
    if inside is not None:
        raise ValueError(f"{name}: the {{solution-start}} block opened in cell {inside} is "
                         f"never closed by a {{solution-end}} cell")
    nb.cells = kept
    return removed


def _up_references(nb):
    """Literal paths starting with ``../`` in code strings and markdown links."""
    refs = set()
    for cell in nb.cells:
        text = _source(cell)
        rx = _UP_LITERAL_RE if cell.cell_type == "code" else _UP_LINK_RE
        for m in rx.finditer(text):
            refs.add(m.group(2) if cell.cell_type == "code" else m.group(1))
    return refs


def _copy_path(src: Path, dst: Path, copied: list, root: Path):
    if src.is_dir():
        for p in sorted(src.rglob("*")):
            if p.is_file() and not any(part in _SKIP_SUPPORT or part.startswith(".")
                                       for part in p.relative_to(src).parts):
                _copy_path(p, dst / p.relative_to(src), copied, root)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    copied.append(dst.relative_to(root).as_posix())


def _support_files(book_dir: Path, notebooks, out_dir: Path) -> tuple[list, dict]:
    """Copy what the chapters need next to them; return (copied, rewrites of ../ paths).

    * every file under ``book_dir`` except notebooks, Markdown pages and hidden or build
      folders (figures, data files), at the same relative path;
    * files outside ``book_dir`` that a chapter names with a literal ``"../..."`` path
      (e.g. ``"../results/ch9.json"``): copied to ``out_dir/results/ch9.json`` and the
      literal is rewritten to ``"results/ch9.json"``.
    """
    copied, rewrites = [], {}
    for p in sorted(book_dir.iterdir()):
        if p.name.startswith(".") or p.name in _SKIP_SUPPORT:
            continue
        if p.is_file() and p.suffix in (".ipynb", ".md"):
            continue
        _copy_path(p, out_dir / p.name, copied, out_dir)
    root = book_dir.parent.resolve()
    for nb in notebooks:
        for ref in sorted(_up_references(nb)):
            target = (book_dir / ref).resolve()
            try:
                rel = target.relative_to(root)
            except ValueError:
                continue   # outside the repository: leave it alone
            if not target.exists() or rel.parts[:1] == (book_dir.name,):
                continue
            if ref not in rewrites:
                _copy_path(target, out_dir / rel, copied, out_dir)
                rewrites[ref] = rel.as_posix()
    return copied, rewrites


def _rewrite(nb, rewrites: dict):
    if not rewrites:
        return
    for cell in nb.cells:
        text = _source(cell)
        for old, new in rewrites.items():
            if cell.cell_type == "code":
                text = text.replace(f'"{old}"', f'"{new}"').replace(f"'{old}'", f"'{new}'")
            else:
                text = text.replace(f"]({old})", f"]({new})")
        cell.source = text


def student_edition(out_dir, book_dir="book", *, echo=True) -> StudentEdition:
    """Write the student edition of the book: every chapter without its solutions.

    Introduced in the instructor page of the book.  For every chapter
    notebook of ``book_dir`` (those listed in ``_toc.yml`` first, then any
    other ``*.ipynb``) it writes a notebook of the same name to ``out_dir``:

    * cells tagged ``solution`` are removed, and so is everything from a
      ``{solution-start}`` markdown cell to its ``{solution-end}`` cell;
    * ``{solution}`` blocks (pen-and-paper exercises) are cut out of their
      markdown cells;
    * exercise stubs (tag ``exercise-stub``) are kept, with their outputs and
      execution counts cleared;
    * every other cell is kept with its stored outputs.

    Files the chapters need are copied along (see ``book/instructors.md``),
    and a ``README.md`` lists the chapters and their exercises.

    Parameters
    ----------
    out_dir : str or Path
        Where to write; created if needed.  Files of the same name are
        overwritten, other files are left alone.  Must not be ``book_dir``.
    book_dir : str or Path
        The folder of the chapter notebooks (default ``"book"``).
    echo : bool
        Print one line per chapter (to stdout).

    Returns
    -------
    StudentEdition
        The written notebooks, their exercises and the copied files.

    Raises
    ------
    ValueError
        If ``book_dir`` has no notebooks, if ``out_dir`` is ``book_dir``, or if
        a ``{solution-start}`` block is not closed.
    """
    book_dir, out_dir = Path(book_dir), Path(out_dir)
    if not book_dir.is_dir():
        raise ValueError(f"book_dir={str(book_dir)!r} is not a folder; pass the folder of the "
                         f"chapter notebooks (book_dir='book' from the repository root)")
    if out_dir.resolve() == book_dir.resolve():
        raise ValueError("out_dir is the book folder itself: that would overwrite the chapters "
                         "with their solutions removed; choose another folder, e.g. "
                         "_build/student")
    paths = _book_notebooks(book_dir)
    if not paths:
        raise ValueError(f"no chapter notebooks (*.ipynb) in {book_dir}")
    import nbformat

    result = StudentEdition(out_dir)
    notebooks = []
    for path in paths:
        nb = _read(path)
        result.removed[path.name] = _strip_solutions(nb, path.name)
        coding, other = find_exercises(nb)
        result.exercises[path.name] = [e.label for e in coding] + other
        nb.metadata.setdefault("fa_lessons", {})["edition"] = "student"
        notebooks.append((path, nb))
    out_dir.mkdir(parents=True, exist_ok=True)
    result.support, rewrites = _support_files(book_dir, [nb for _, nb in notebooks], out_dir)
    for path, nb in notebooks:
        _rewrite(nb, rewrites)
        nbformat.validate(nb)
        target = out_dir / path.name
        nbformat.write(nb, str(target))
        result.notebooks.append(target)
        if echo:
            ex = result.exercises[path.name]
            print(f"{target}: {len(ex)} exercise{'s' if len(ex) != 1 else ''}, "
                  f"{result.removed[path.name]} solution cell"
                  f"{'s' if result.removed[path.name] != 1 else ''} removed")
    _write_readme(result, book_dir)
    if echo:
        print(f"student edition of {len(paths)} notebook{'s' if len(paths) != 1 else ''} "
              f"written to {out_dir}")
    return result


def _write_readme(result: StudentEdition, book_dir: Path):
    lines = ["# Student edition", "",
             "The chapters of the book without their solutions. Each coding exercise is a code",
             "cell that defines a function and then calls a check on it, for example",
             "`checks.fa_delta(fa_delta)`: replace the `raise NotImplementedError(...)` line",
             "with your code and run the cell. The check prints a line starting with ✓ when",
             "your function is right, and otherwise says what is wrong.", "",
             "Open the notebooks from this folder (they read files next to them).", "",
             "| notebook | exercises |", "|---|---|"]
    for path in result.notebooks:
        ex = result.exercises[path.name]
        lines.append(f"| {path.name} | {', '.join(ex) if ex else '(none)'} |")
    (result.out_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------ grading

_CHECKS_COPY = None


def _grade_in_kernel(label, check, function, namespace):
    """Run inside the learner's kernel, right after an exercise: print one JSON line.

    The check comes from a fresh copy of :mod:`fa_lessons.checks`, so rebinding
    ``checks.<name>`` in the notebook does not change the grade.
    """
    global _CHECKS_COPY
    import importlib.util
    if _CHECKS_COPY is None:
        spec = importlib.util.find_spec("fa_lessons.checks")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _CHECKS_COPY = mod
    record = {"label": label, "check": check, "function": function, "passed": False}
    fn = namespace.get(function)
    if fn is None:
        record["message"] = (f"no function named {function} is defined after the exercise "
                             f"cells")
    else:
        buf = io.StringIO()
        try:
            with redirect_stdout(buf):
                getattr(_CHECKS_COPY, check)(fn)
            record["passed"] = True
            record["message"] = buf.getvalue().strip().splitlines()[0] if buf.getvalue() else ""
        except AssertionError as exc:
            record["message"] = str(exc)
        except BaseException as exc:   # a learner function that exits or loops is graded 0
            record["message"] = f"{type(exc).__name__}: {exc}"
    print(GRADE_MARKER + json.dumps(record, ensure_ascii=False))


def _grading_cell(ex: Exercise):
    import nbformat
    src = ("# inserted by fa_lessons.assignments.grade\n"
           "__import__('fa_lessons.assignments', fromlist=['_grade_in_kernel'])"
           f"._grade_in_kernel({ex.label!r}, {ex.check!r}, {ex.function!r}, globals())")
    cell = nbformat.v4.new_code_cell(src)
    cell.metadata["tags"] = ["fa-lessons-grading"]
    return cell


def _kernel_manager():
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnv(KernelSpecManager):
        """Always the ipykernel of this interpreter, whatever kernelspecs the user has."""

        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnv())


def execute_notebook(nb, cwd, timeout=600):
    """Execute ``nb`` in place on a fresh kernel of this interpreter, errors allowed.

    Introduced in the instructor page of the book (used by :func:`grade` and
    by the tests of the student edition).  Cells that raise keep their error
    output and execution goes on; a cell running longer than ``timeout``
    seconds is interrupted.  Returns ``None`` or the exception that stopped
    the kernel (it died, or could not start).
    """
    try:
        from nbclient import NotebookClient
    except ImportError as exc:   # pragma: no cover - the book's tool chain has it
        raise ImportError("executing notebooks needs nbclient, nbformat and ipykernel: "
                          "pip install nbclient ipykernel") from exc
    env = dict(os.environ, PYTHONHASHSEED="0")   # as tools/refresh_outputs.py and make test
    env.pop("MPLBACKEND", None)                   # inline figures
    client = NotebookClient(nb, km=_kernel_manager(), timeout=timeout, kernel_name="python3",
                            allow_errors=True, interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    try:
        # The kernel process's own stderr (ipykernel's start-up warnings) is not the
        # notebook's: cell output, stderr included, comes back through the client.
        client.execute(env=env, stderr=subprocess.DEVNULL)
    except Exception as exc:   # dead kernel, ...: grade what ran
        return exc
    return None


@dataclass
class GradeReport:
    """The result of :func:`grade`.

    Attributes
    ----------
    columns : list of str
        Exercise labels, in book order.
    scores : dict
        ``scores[submission][label]`` is 1 or 0.
    messages : dict
        ``messages[submission][label]``: the check's message (why it failed,
        or its success line).
    problems : dict
        ``problems[submission]``: why a notebook could not be run to the end.
    """

    columns: list
    scores: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)

    def total(self, submission):
        return sum(self.scores[submission].values())

    def summary(self, width=400) -> str:
        n = len(self.columns)
        lines = []
        for sub in self.scores:
            lines.append(f"{sub}: {self.total(sub)}/{n}")
            if sub in self.problems:
                lines.append(f"    (stopped early: {self.problems[sub]})")
            for label in self.columns:
                if not self.scores[sub][label]:
                    msg = " ".join(self.messages[sub].get(label, "missing").split())
                    msg = _INSPECT_RE.sub("", msg)
                    lines.append(f"    {label}: {msg[:width]}{'…' if len(msg) > width else ''}")
        per = ", ".join(f"{c} {sum(s[c] for s in self.scores.values())}/{len(self.scores)}"
                        for c in self.columns)
        lines.append(f"per exercise: {per}")
        return "\n".join(lines)


def _grade_one(path: Path, support_dir: Path, timeout: int):
    nb = _read(path)
    coding, _ = find_exercises(nb)
    for ex in sorted(coding, key=lambda e: e.end, reverse=True):
        nb.cells.insert(ex.end, _grading_cell(ex))
    with tempfile.TemporaryDirectory(prefix="fa_lessons_grade_") as tmp:
        if support_dir is not None:
            shutil.copytree(support_dir, tmp, dirs_exist_ok=True)
        problem = execute_notebook(nb, tmp, timeout)
    found = {}
    for cell in nb.cells:
        if "fa-lessons-grading" not in _tags(cell):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                for line in out.get("text", "").splitlines():
                    if line.startswith(GRADE_MARKER):
                        rec = json.loads(line[len(GRADE_MARKER):])
                        found[rec["label"]] = rec
    return [e.label for e in coding], found, problem


def grade(submissions_dir, out_csv, book_dir="book", *, timeout=600, echo=True) -> GradeReport:
    """Grade a folder of completed notebooks and write a CSV of scores.

    Introduced in the instructor page of the book.  Every ``*.ipynb`` in
    ``submissions_dir`` is executed top to bottom on a fresh kernel (errors
    allowed, ``timeout`` seconds per cell), in a temporary folder holding the
    files the chapters need (copied from ``book_dir`` as for the student
    edition).  Right after the cells of each coding exercise, the exercise's
    check is run on the learner's function.

    The CSV has a header ``submission,<label>,...,total`` and one row per
    submission file: 1 where the check passes, 0 where it fails or the
    exercise is missing, and the number passed.  The columns are the coding
    exercises of the chapters of ``book_dir`` that the submissions belong to
    (in book order), plus any other checked exercise found in a submission.

    Parameters
    ----------
    submissions_dir : str or Path
        Folder of the completed notebooks (not searched recursively).
    out_csv : str or Path
        The CSV file to write (its folder is created if needed).
    book_dir : str or Path
        The book's chapter folder (default ``"book"``); used for the exercise
        list and the support files.  May be missing: the columns then come
        from the submissions alone.
    timeout : int
        Seconds allowed per cell.
    echo : bool
        Print a summary (to stdout): each submission's total and why each
        failed exercise failed.

    Returns
    -------
    GradeReport
    """
    submissions_dir, out_csv, book_dir = Path(submissions_dir), Path(out_csv), Path(book_dir)
    if not submissions_dir.is_dir():
        raise ValueError(f"submissions_dir={str(submissions_dir)!r} is not a folder")
    subs = sorted(submissions_dir.glob("*.ipynb"))
    if not subs:
        raise ValueError(f"no notebooks (*.ipynb) in {submissions_dir}")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")

    chapters = []   # (labels of the coding exercises) per book chapter
    with tempfile.TemporaryDirectory(prefix="fa_lessons_support_") as support:
        support_dir = None
        if book_dir.is_dir() and _book_notebooks(book_dir):
            nbs = [_read(p) for p in _book_notebooks(book_dir)]
            for nb in nbs:
                chapters.append([e.label for e in find_exercises(nb)[0]])
            _support_files(book_dir, nbs, Path(support))
            support_dir = Path(support)
        results = {}
        for path in subs:
            if echo:
                print(f"grading {path.name} ...", flush=True)
            results[path.name] = _grade_one(path, support_dir, timeout)

    seen = []
    for labels, found, _ in results.values():
        for label in labels + list(found):
            if label not in seen:
                seen.append(label)
    columns = []
    for labels in chapters:
        if set(labels) & set(seen):
            columns += [c for c in labels if c not in columns]
    columns += [c for c in seen if c not in columns]

    report = GradeReport(columns)
    for name, (labels, found, problem) in results.items():
        report.scores[name] = {c: int(bool(found.get(c, {}).get("passed"))) for c in columns}
        report.messages[name] = {
            c: found[c].get("message", "") if c in found else
            ("the notebook stopped before this exercise" if c in labels else
             "this exercise is missing from the notebook")
            for c in columns}
        if problem is not None:
            report.problems[name] = f"{type(problem).__name__}: {problem}".splitlines()[0]

    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["submission"] + columns + ["total"])
        for name in report.scores:
            w.writerow([name] + [report.scores[name][c] for c in columns]
                       + [report.total(name)])
    if echo:
        print(report.summary())
        print(f"scores of {len(subs)} submission{'s' if len(subs) != 1 else ''} written to "
              f"{out_csv}")
    return report


# ---------------------------------------------------------------------------- CLI


def main(argv=None) -> int:
    """Command line: ``student-edition OUT`` and ``grade SUBMISSIONS_DIR --out CSV``."""
    parser = argparse.ArgumentParser(
        prog="python -m fa_lessons.assignments",
        description="Student edition and grading of the exercises of the book.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("student-edition", help="write the chapters without their solutions")
    p.add_argument("out", help="output folder, e.g. _build/student")
    p.add_argument("--book", default="book",
                   help="folder of the chapter notebooks (default: book)")
    g = sub.add_parser("grade", help="run the checks on a folder of completed notebooks")
    g.add_argument("submissions", help="folder of the completed notebooks (*.ipynb)")
    g.add_argument("--out", default="scores.csv", help="CSV file to write (default: scores.csv)")
    g.add_argument("--book", default="book",
                   help="folder of the chapter notebooks (default: book)")
    g.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    args = parser.parse_args(argv)
    try:
        if args.command == "student-edition":
            student_edition(args.out, args.book)
        else:
            grade(args.submissions, args.out, args.book, timeout=args.timeout)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
