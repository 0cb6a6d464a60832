"""Re-execute notebooks in place, top to bottom, on a fresh kernel, reproducibly.

Usage::

    .venv/bin/python tools/refresh_outputs.py book/03_feedback_alignment.ipynb [...]
    make refresh                      # every book/*.ipynb
    make refresh NB=book/05_dfa.ipynb  # some of them

Why not ``jupyter execute --inplace``: it stores per-cell timing metadata on every run,
so a refresh without any real change would still change the files. This script:

* clears every code cell's outputs and execution count, then runs the notebook with
  nbclient on a new ``python3`` kernel of *this* interpreter (like ``nbval --nbval-current-env``),
  with the notebook's folder as working directory;
* records no timing (``record_timing=False``) and strips ``metadata.execution``;
* fixes the kernel's environment: ``PYTHONHASHSEED=0``, ``SOURCE_DATE_EPOCH`` (SVG/PDF
  metadata), no ``MPLBACKEND`` (so the inline backend draws the figures);
* stops with an error, and leaves the file untouched, if a cell raises, unless the cell is
  tagged ``raises-exception`` (exercise stubs);
* writes the notebook only if it changed.

Two refreshes in a row give byte-identical files (the matplotlib PNGs included).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNEL_ENV = {"PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01
KERNEL_ENV_UNSET = ("MPLBACKEND",)


class CurrentEnvKernelSpecManager(KernelSpecManager):
    """Always hand out the ipykernel of the running interpreter as ``python3``.

    A user-level ``python3`` kernelspec pointing at another Python can then not win.
    """

    def get_kernel_spec(self, kernel_name):
        return self.kernel_spec_class(
            resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict()
        )


def _kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_ENV_UNSET}
    env.update(KERNEL_ENV)
    return env


def refresh(path: Path, timeout: int) -> bool:
    """Execute ``path`` in place. Return True if the file changed."""
    before = path.read_bytes()
    nb = nbformat.reads(before.decode("utf-8"), as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None

    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecManager())
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        allow_errors=False,  # cells tagged raises-exception may still raise (nbclient honours the tag)
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    client.execute(env=_kernel_env())

    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.validate(nb)
    after = nbformat.writes(nb)
    if not after.endswith("\n"):
        after += "\n"  # what nbformat.write() does
    if after.encode("utf-8") == before:
        return False
    path.write_text(after, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="the .ipynb files to refresh")
    parser.add_argument(
        "--timeout", type=int, default=1200, help="seconds allowed per cell (default 1200)"
    )
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.notebooks if not p.is_file() or p.suffix != ".ipynb"]
    if missing:
        parser.error(f"not an existing .ipynb file: {', '.join(missing)}")

    failed = []
    for path in args.notebooks:
        print(f"refreshing {path} ...", flush=True)
        try:
            changed = refresh(path, args.timeout)
        except CellExecutionError as exc:
            # The message holds the cell's source and traceback. The file is left as it was.
            print(f"ERROR in {path}: a cell raised (tag it 'raises-exception' if that is intended)\n{exc}",
                  file=sys.stderr, flush=True)
            failed.append(path)
            continue
        print(f"  {'updated' if changed else 'unchanged'}: {path}", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
