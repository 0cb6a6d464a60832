"""Static checks of the stored chapters (book/*.ipynb) and of the table of contents.

nbval re-executes the notebooks and compares outputs, but it silently skips cells that were
never executed and cannot tell whether the stored outputs came from one clean top-to-bottom
run. These checks read the files only (fast, no kernel):

* every notebook was executed top to bottom on a fresh kernel (execution counts 1, 2, 3, ...
  over the non-empty code cells, none missing) and refreshed with tools/refresh_outputs.py
  (no per-cell timing metadata);
* no stored stderr stream, no stored error except in cells tagged ``raises-exception``
  (and such a cell does hold its error);
* every chapter imports fa_lessons;
* a cell tagged ``nbval-ignore-output`` still asserts what matters;
* _toc.yml and book/ agree: every listed file exists, every notebook is listed.

Fix a failure with ``make refresh NB=book/<chapter>.ipynb`` (or by editing _toc.yml).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import BOOK_DIR, REPO_ROOT, book_notebooks, toc_files

NOTEBOOKS = book_notebooks()
IMPORT_RE = re.compile(r"^\s*(import\s+fa_lessons\b|from\s+fa_lessons\b)", re.MULTILINE)
ASSERT_RE = re.compile(r"\bassert\b|\b(np|numpy)\.testing\.")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _code_cells(nb: dict) -> list[tuple[int, dict]]:
    """(index of the cell in the notebook, cell) for every code cell."""
    return [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def _ids(path: Path) -> str:
    return path.name


# --------------------------------------------------------------------------- TOC


def test_toc_entries_exist():
    """Every file listed in _toc.yml exists (as .md or .ipynb) and is listed once."""
    entries = toc_files()
    assert entries, "_toc.yml lists no files"
    assert entries[0] == "book/intro", "the landing page book/intro must be the TOC root"
    missing = [
        e for e in entries if not any((REPO_ROOT / f"{e}{ext}").is_file() for ext in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"
    duplicates = sorted({e for e in entries if entries.count(e) > 1})
    assert not duplicates, f"_toc.yml lists these files more than once: {duplicates}"


def test_toc_has_no_empty_part():
    """Jupyter Book cannot build a part without chapters."""
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc.get("parts") or []:
        assert part.get("chapters"), f"part {part.get('caption')!r} has no chapters"


def test_every_notebook_is_in_toc():
    """A notebook missing from _toc.yml would silently not be on the site."""
    listed = set(toc_files())
    unlisted = [p.name for p in NOTEBOOKS if f"book/{p.stem}" not in listed]
    assert not unlisted, f"add these notebooks to _toc.yml: {unlisted}"


def test_book_markdown_pages_are_in_toc():
    """Same for the Markdown pages of book/ (only_build_toc_files would drop them silently)."""
    listed = set(toc_files())
    unlisted = [p.name for p in sorted(BOOK_DIR.glob("*.md")) if f"book/{p.stem}" not in listed]
    assert not unlisted, f"add these pages to _toc.yml (or delete them): {unlisted}"


# ----------------------------------------------------------------------- notebooks

pytestmark_nb = pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)


@pytestmark_nb
def test_executed_top_to_bottom(path):
    nb = _load(path)
    counts, unexecuted = [], []
    for i, cell in _code_cells(nb):
        if not _source(cell).strip():
            assert cell.get("execution_count") is None and not cell.get("outputs"), (
                f"{path.name}: empty code cell {i} has an execution count or outputs"
            )
            continue
        if cell.get("execution_count") is None:
            unexecuted.append(i)
        else:
            counts.append(cell["execution_count"])
    assert not unexecuted, (
        f"{path.name}: code cells {unexecuted} were never executed (nbval would skip them); "
        f"run make refresh NB=book/{path.name}"
    )
    expected = list(range(1, len(counts) + 1))
    assert counts == expected, (
        f"{path.name}: execution counts {counts} are not 1, 2, 3, ...: the stored outputs do not "
        f"come from one top-to-bottom run on a fresh kernel; run make refresh NB=book/{path.name}"
    )


@pytestmark_nb
def test_refreshed_without_timing_metadata(path):
    """tools/refresh_outputs.py stores no per-cell timing, so a refresh is byte-stable."""
    nb = _load(path)
    timed = [i for i, c in enumerate(nb["cells"]) if "execution" in c.get("metadata", {})]
    assert not timed, (
        f"{path.name}: cells {timed} carry metadata.execution timestamps (executed with another "
        f"tool?); run make refresh NB=book/{path.name}"
    )
    assert nb.get("metadata", {}).get("kernelspec", {}).get("name") == "python3", (
        f"{path.name}: the kernelspec must be 'python3' (Binder, Colab and nbval rely on it)"
    )


@pytestmark_nb
def test_no_stderr_and_no_unexpected_errors(path):
    nb = _load(path)
    for i, cell in _code_cells(nb):
        outputs = cell.get("outputs", [])
        stderr = [o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
        assert not stderr, (
            f"{path.name}: cell {i} stored a stderr stream (warnings, logging or progress bars "
            f"on stderr): {''.join(''.join(o.get('text', '')) for o in stderr)[:300]!r}"
        )
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if "raises-exception" in _tags(cell):
            assert errors, (
                f"{path.name}: cell {i} is tagged raises-exception but stored no error; "
                f"remove the tag or make the stub raise"
            )
        else:
            assert not errors, (
                f"{path.name}: cell {i} stored an error "
                f"({errors[0].get('ename')}: {errors[0].get('evalue')}); fix it, or tag the cell "
                f"raises-exception if the error is the point (exercise stubs)"
            )


@pytestmark_nb
def test_imports_fa_lessons(path):
    nb = _load(path)
    code = "\n".join(_source(c) for _, c in _code_cells(nb))
    assert IMPORT_RE.search(code), f"{path.name}: every chapter imports the fa_lessons package"


@pytestmark_nb
def test_ignored_outputs_still_assert(path):
    """nbval-ignore-output hides the output from nbval; the cell must still check its result."""
    nb = _load(path)
    bad = [
        i
        for i, c in _code_cells(nb)
        if "nbval-ignore-output" in _tags(c) and not ASSERT_RE.search(_source(c))
    ]
    assert not bad, (
        f"{path.name}: cells {bad} are tagged nbval-ignore-output but contain no assert or "
        f"np.testing call"
    )
