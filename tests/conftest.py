"""Shared helpers and fixtures of the test suite (keep this file small).

``REPO_ROOT``, ``toc_files()`` and ``IN_CI`` are plain names so that test modules can
use them at collection time (for parametrisation) via ``from conftest import ...``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = REPO_ROOT / "book"
SITE_DIR = REPO_ROOT / "_build" / "html"

# CI runs `bash .ci/run` with CI=true: there, tests that would be skipped locally for a
# missing tool (Chromium, the built site) must fail instead.
IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def toc_files(toc_path: Path = REPO_ROOT / "_toc.yml") -> list[str]:
    """Every ``file:`` entry of the Jupyter Book TOC, root first, in reading order.

    Entries are paths relative to the repository root without extension,
    e.g. ``"book/intro"``.
    """
    import yaml  # PyYAML comes with jupyter-book

    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    found: list[str] = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return found


def book_notebooks() -> list[Path]:
    """The chapters: every ``book/*.ipynb``, sorted."""
    return sorted(BOOK_DIR.glob("*.ipynb"))


def skip_or_fail(message: str):
    """Skip locally, fail under CI=true (where every test must really run)."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: this must not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
