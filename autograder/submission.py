"""Reading a submission (a notebook, a ``.py`` module, or a folder holding one) into gradable chunks.

The grader never runs a notebook top to bottom: demonstrations, plots and training runs are not what
is graded. It keeps, from every code cell, the top-level statements a module needs: imports,
``def`` and ``class`` statements, and constants (names in UPPER_CASE, or literals). Each top-level
statement group is its own chunk, so a syntax error in one function costs that function alone.
"""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

# Characters without which a cell holds no IPython syntax (magics, shell escapes, help queries).
_MAY_BE_IPYTHON = re.compile(r"[%!?]")
# The largest notebook or module the grader reads (a course's notebooks are a few hundred KiB).
MAX_SUBMISSION_BYTES = 32 << 20
_DEF_NAME = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")


class SubmissionError(Exception):
    """The submission cannot be read at all (no such file, not a notebook, no code)."""


@dataclass(frozen=True)
class Chunk:
    """A top-level statement group: its source, where it came from, and the names it defines."""

    source: str
    location: str  # e.g. "activations.ipynb, cell 7"
    line: int  # the line of the chunk's first line within its location
    defines: tuple[str, ...]

    @property
    def origin(self) -> str:
        return f"{self.location}, line {self.line}"


@dataclass(frozen=True)
class Problem:
    """Something in the submission that could not be used, with the names it would have defined."""

    origin: str
    message: str
    names: tuple[str, ...]


@dataclass
class Submission:
    """What the grader takes from one file."""

    path: Path
    chunks: list[Chunk] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    assignment_hint: str | None = None

    @property
    def defined_names(self) -> set[str]:
        return {name for chunk in self.chunks for name in chunk.defines}

    def problem_for(self, name: str) -> Problem | None:
        """The problem that stopped ``name`` from being defined, if any."""
        for problem in self.problems:
            if name in problem.names:
                return problem
        return None


def load_submission(path: Path) -> Submission:
    """Read a ``.ipynb`` or ``.py`` file, or the one such file in a folder."""
    path = Path(path)
    if path.is_symlink():
        raise SubmissionError(f"{path}: a symbolic link; the grader reads only regular files")
    if path.is_dir():
        path = _single_file_in(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such file")
    if path.suffix == ".ipynb":
        return _load_notebook(path)
    if path.suffix == ".py":
        text = read_text(path)
        submission = Submission(path=path)
        _add_cell(submission, text, path.name, first_line=1, notebook=False)  # plain Python: nothing removed
        return submission
    raise SubmissionError(f"{path}: expected a .ipynb notebook or a .py module")


def submission_from_cells(path: Path, cells: list[str]) -> Submission:
    """Build a submission from code cells already in memory (the notebook's own kernel history)."""
    submission = Submission(path=path)
    for number, cell in enumerate(cells, start=1):
        _add_cell(submission, cell, f"{path.name}, cell {number}", first_line=1)
    return submission


def _single_file_in(folder: Path) -> Path:
    candidates = sorted(p for p in folder.iterdir() if p.suffix in (".ipynb", ".py") and not p.name.startswith("."))
    notebooks = [p for p in candidates if p.suffix == ".ipynb"]
    chosen = notebooks or candidates
    if len(chosen) != 1:
        found = ", ".join(p.name for p in chosen) or "none"
        raise SubmissionError(f"{folder}: expected exactly one notebook or .py file, found {found}")
    return chosen[0]


def read_text(path: Path) -> str:
    """The file's text, read as data (:func:`read_bytes`), decoded as UTF-8."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{path}: not UTF-8 text ({error.reason})") from None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, read as data: a regular file only, never through a symbolic link, size-capped.

    A submission is hostile: a link to the solutions or a classmate's notebook would be graded as the
    instructor sees it, and a link to a device (``/proc/kmsg``) would hang the grader.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP or path.is_symlink():
            raise SubmissionError(f"{path}: a symbolic link; the grader reads only regular files") from None
        raise SubmissionError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            raise SubmissionError(f"{path}: not a regular file; the grader reads only regular files")
        if status.st_size > MAX_SUBMISSION_BYTES:
            raise SubmissionError(f"{path}: {status.st_size} bytes, over the limit of {MAX_SUBMISSION_BYTES}")
        with os.fdopen(handle, "rb", closefd=False) as stream:
            data = stream.read(MAX_SUBMISSION_BYTES + 1)
    except OSError as error:
        raise SubmissionError(f"{path}: cannot be read ({error.strerror})") from None
    finally:
        os.close(handle)
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{path}: over the limit of {MAX_SUBMISSION_BYTES} bytes")
    return data


def _load_notebook(path: Path) -> Submission:
    try:
        notebook = json.loads(read_text(path))
    except RecursionError:
        raise SubmissionError(f"{path}: not a valid notebook (nested too deeply)") from None
    except json.JSONDecodeError as error:
        raise SubmissionError(
            f"{path}: not a valid notebook (JSON error at line {error.lineno}, column {error.colno}: "
            f"{error.msg}); open it in Jupyter and save it again, or restore it from a checkpoint"
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise SubmissionError(f"{path}: not a valid notebook (no list of cells)")
    metadata = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
    hint = (metadata.get("autograder") or {}).get("assignment") if isinstance(metadata, dict) else None
    submission = Submission(path=path, assignment_hint=hint if isinstance(hint, str) else None)
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        _add_cell(submission, text, f"{path.name}, cell {number}", first_line=1)
    return submission


def _python_lines(text: str) -> list[str]:
    """A notebook cell's lines with IPython's own syntax blanked, found by IPython's input transformer.

    Only what IPython itself would rewrite is blanked (a ``%magic``, ``!shell``, ``name?``), never a
    comment or a string that happens to end in ``?``. A cell magic's body is kept as Python.
    """
    lines = text.splitlines()
    if not _MAY_BE_IPYTHON.search(text):
        return lines
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        transformed = TransformerManager().transform_cell(text).splitlines()  # type: ignore[no-untyped-call]
    except Exception:  # IPython cannot read it either: leave it to the Python parser to report
        return lines
    if len(transformed) == len(lines):
        return ["" if before != after else before for before, after in zip(lines, transformed, strict=True)]
    return ["" if number == 0 and line.lstrip().startswith("%%") else line for number, line in enumerate(lines)]


def _add_cell(submission: Submission, text: str, origin: str, first_line: int, notebook: bool = True) -> None:
    lines = _python_lines(text) if notebook else text.splitlines()
    cleaned = "\n".join(lines)
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        _add_groups_separately(submission, lines, origin, first_line)
        return
    for node in tree.body:
        if _is_kept(node):
            start = _first_line_with_decorators(node)
            segment = "\n".join(lines[start - 1 : node.end_lineno])
            submission.chunks.append(Chunk(segment, origin, start + first_line - 1, _names_defined(node)))


def _add_groups_separately(submission: Submission, lines: list[str], origin: str, first_line: int) -> None:
    """A cell that does not parse: parse each top-level group alone so the rest still counts."""
    starts = [
        i
        for i, line in enumerate(lines)
        if line and not line[0].isspace() and not line.startswith(("#", ")", "]", "}"))
    ]
    merged: list[int] = []
    for index in starts:
        # Decorators belong to the definition below them.
        if merged and lines[merged[-1]].startswith("@"):
            continue
        merged.append(index)
    bounds = list(zip(merged, merged[1:] + [len(lines)], strict=True))
    for start, end in bounds:
        group = "\n".join(lines[start:end])
        try:
            tree = ast.parse(group)
        except SyntaxError as error:
            names = tuple(_DEF_NAME.findall(lines[start].lstrip("@").strip()))
            if lines[start].startswith("@"):
                names = tuple(n for line in lines[start:end] for n in _DEF_NAME.findall(line))
            line = (error.lineno or 1) + start + first_line - 1
            submission.problems.append(Problem(f"{origin}, line {line}", f"SyntaxError: {error.msg}", names))
            continue
        for node in tree.body:
            if _is_kept(node):
                first = _first_line_with_decorators(node)
                segment = "\n".join(group.splitlines()[first - 1 : node.end_lineno])
                line = start + first_line + first - 1
                submission.chunks.append(Chunk(segment, origin, line, _names_defined(node)))


def _first_line_with_decorators(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return int(min([node.lineno] + [d.lineno for d in decorators]))


def _is_kept(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if len(names) != len(targets) or node.value is None:
            return False
        if all(name.isupper() for name in names):
            return True
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True
    return False


def _names_defined(node: ast.stmt) -> tuple[str, ...]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    if isinstance(node, ast.Assign):
        return tuple(t.id for t in node.targets if isinstance(t, ast.Name))
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return (node.target.id,)
    return ()
