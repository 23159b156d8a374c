"""Reading a submission (a notebook, a ``.py`` module, or a folder holding one) into gradable chunks.

The grader never runs a notebook top to bottom: demonstrations, plots and training runs are not what
is graded. It runs, in file order, every top-level statement a graded function may need:

- imports, ``def`` and ``class`` statements;
- assignments (names, tuples of names, an entry of a table defined before): aliases (``tanh = np.tanh``),
  lambdas, tables, constants. Such a statement runs when every name it reads is defined by a statement
  that runs before it (or is a builtin), and it calls nothing but the builtins, ``functools.partial``,
  ``math`` and NumPy (``np.sqrt(2 / np.pi)``); a function of the notebook, a plot or a data set is never
  called. An UPPER_CASE constant may call anything, as long as the names it reads are defined;
- ``if`` and ``try`` blocks made of such statements (``try: import torch`` / ``except ImportError: ...``).

Everything else (a call for its display, a loop that plots, ``y = x`` where ``x`` came from a line left
out) is left out; every left-out statement that defines a name is kept in :attr:`Submission.left_out`
with why, so that the report names it and a function that needed the name says so. Each top-level
statement group is its own chunk, so a syntax error in one function costs that function alone.

Cells are named as a student finds them: their position among the notebook's code cells and their first
line (``activations.ipynb, code cell 4 `def tanh(z):```), on every route.
"""

from __future__ import annotations

import ast
import builtins
import errno
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox.chunks import Chunk

# Characters without which a cell holds no IPython syntax (magics, shell escapes, help queries).
_MAY_BE_IPYTHON = re.compile(r"[%!?]")
# The largest notebook or module the grader reads (a course's notebooks are a few hundred KiB).
MAX_SUBMISSION_BYTES = 32 << 20
_DEF_NAME = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")
# How much of a cell's first line names it.
_FIRST_LINE_CHARACTERS = 48
# What a top-level statement may call and still run: builtins that build or measure plain values, and
# modules of pure functions (a NumPy call makes an array or a number; it plots, reads or trains nothing).
_CALLABLE_BUILTINS = frozenset(
    {
        "abs", "all", "any", "bool", "bytes", "complex", "dict", "divmod", "enumerate", "float", "frozenset",
        "int", "len", "list", "max", "min", "pow", "range", "reversed", "round", "set", "slice", "sorted",
        "str", "sum", "tuple", "zip",
    }
)  # fmt: skip
_CALLABLE_MODULES = ("numpy", "math", "cmath")
_CALLABLE_FUNCTIONS = frozenset({"functools.partial", "operator.itemgetter", "operator.attrgetter"})
_BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__"}
# The note on statements left out, as the report gives it (once).
LEFT_OUT_NOTE = (
    "the grader runs a notebook's imports, definitions and assignments, not its demonstrations, plots or "
    "training; it left out"
)


class SubmissionError(Exception):
    """The submission cannot be read at all (no such file, not a notebook, no code)."""


@dataclass(frozen=True)
class Problem:
    """Something in the submission that could not be used, with the names it would have defined."""

    origin: str
    message: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class LeftOut:
    """A top-level statement the grader does not run, the names it would have defined, and why."""

    location: str
    line: int
    names: tuple[str, ...]
    reason: str  # e.g. "it calls plt.subplots()"
    text: str  # its first line, for the report

    @property
    def origin(self) -> str:
        return f"{self.location}, line {self.line}"

    def explain(self, name: str) -> str:
        """Why ``name`` is not defined where the grader runs the submission."""
        statement = "" if f"`{self.text}`" in self.location else f" (`{self.text}`)"
        return f"`{name}` is defined only by {self.origin}{statement}, which the grader did not run: {self.reason}"


@dataclass
class Submission:
    """What the grader takes from one file."""

    path: Path
    chunks: list[Chunk] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    assignment_hint: str | None = None
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def defined_names(self) -> set[str]:
        return {name for chunk in self.chunks for name in chunk.defines}

    def problem_for(self, name: str) -> Problem | None:
        """The problem that stopped ``name`` from being defined, if any."""
        for problem in self.problems:
            if name in problem.names:
                return problem
        return None

    def left_out_for(self, name: str) -> LeftOut | None:
        """The last left-out statement that would have defined ``name``, where nothing the grader runs does."""
        if name in self.defined_names:
            return None
        found = [statement for statement in self.left_out if name in statement.names]
        return found[-1] if found else None

    def left_out_note(self, only: set[str] | None = None) -> str | None:
        """The report's one note on what was left out: each cell once, with the lines that did not run (those
        that define or change a name in ``only``, if given)."""
        lines: dict[str, list[int]] = {}
        for statement in self.left_out:
            if only is not None and not set(statement.names) & only:
                continue
            lines.setdefault(statement.location, []).append(statement.line)
        if not lines:
            return None
        return f"{LEFT_OUT_NOTE} " + "; ".join(f"{where}: {_line_list(numbers)}" for where, numbers in lines.items())

    def reads_of(self, name: str, stop: Iterable[str] = ()) -> set[str]:
        """The global names the function ``name`` reads, and those of the submission's functions it reads,
        in turn (but not through the functions in ``stop``)."""
        stop = set(stop)
        sources = {n: chunk.source for chunk in self.chunks for n in chunk.defines}
        reads: set[str] = set()
        visited: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current in visited or current not in sources:
                continue
            visited.add(current)
            try:
                tree = ast.parse(sources[current])
            except SyntaxError:
                continue
            for node in tree.body:
                if current not in _bound_by(node):
                    continue
                found = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                reads |= found
                todo.extend(n for n in found if n not in stop)
        reads.discard(name)
        return reads


def _line_list(numbers: list[int]) -> str:
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(str(n) for n in numbers)


def first_line_of(text: str) -> str:
    """A cell's first line that is not blank, shortened: how a student finds the cell."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(line) > _FIRST_LINE_CHARACTERS:
        line = line[: _FIRST_LINE_CHARACTERS - 3].rstrip() + "..."
    return line.replace("`", "'")


def code_cell_label(notebook_name: str, position: int, text: str) -> str:
    """``activations.ipynb, code cell 4 `def tanh(z):```: the cell's position among code cells and its first line."""
    return f"{notebook_name}, code cell {position} `{first_line_of(text)}`"


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
        _Reader(submission).add(text, path.name, notebook=False)  # plain Python: nothing removed
        return submission
    raise SubmissionError(f"{path}: expected a .ipynb notebook or a .py module")


def submission_from_cells(path: Path, cells: list[str], locations: list[str] | None = None) -> Submission:
    """Build a submission from code cells already in memory (the notebook's own kernel history).

    ``locations`` names each cell (by default, its position among ``cells``).
    """
    submission = Submission(path=path)
    reader = _Reader(submission)
    for number, cell in enumerate(cells, start=1):
        location = locations[number - 1] if locations is not None else code_cell_label(path.name, number, cell)
        reader.add(cell, location)
    return submission


def notebook_code_cells(notebook: object) -> list[str]:
    """The sources of a notebook's code cells (a notebook as JSON data), in order."""
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return []
    cells = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells


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
    reader = _Reader(submission)
    for position, text in enumerate(notebook_code_cells(notebook), start=1):
        reader.add(text, code_cell_label(path.name, position, text))
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


@dataclass
class _Verdict:
    """Whether a top-level statement runs, the names it binds, and why it does not (empty: it runs)."""

    binds: set[str]
    reason: str = ""

    @property
    def runs(self) -> bool:
        return not self.reason


class _Reader:
    """Reads cells in order into a submission, keeping track of what the statements kept so far define."""

    def __init__(self, submission: Submission) -> None:
        self.submission = submission
        self.defined: set[str] = set(_BUILTIN_NAMES)
        self.modules: dict[str, str] = {}  # a name bound by an import: the module or object it stands for
        # Names a statement left out binds or changes: from there on the grader's value is not the notebook's.
        self.changed: dict[str, LeftOut] = {}
        self.star = False  # after ``from module import *`` any name may be defined
        self.location = ""  # the cell being read
        # What a notebook's first cell binds from the grader itself (``autograde = AssignmentChecks(...)``): the
        # course's harness, not the student's code, and out of a worker's reach; passed over without a word.
        self.harness: set[str] = set()

    def add(self, text: str, location: str, notebook: bool = True) -> None:
        lines = _python_lines(text) if notebook else text.splitlines()
        self.location = location
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            self._add_groups_separately(lines, location)
            return
        for node in tree.body:
            self._take(node, lines, location, 0)

    def _take(self, node: ast.stmt, lines: list[str], location: str, offset: int) -> None:
        """Keep ``node`` as a chunk, or note it as left out (lines and line numbers count from ``offset``)."""
        if self._is_harness(node):
            self.harness |= _bound_by(node) | set(
                _imported(node) if isinstance(node, (ast.Import, ast.ImportFrom)) else ()
            )
            return
        start = _first_line_with_decorators(node)
        modules, defined = dict(self.modules), set(self.defined)
        verdict = self._judge(node, modules, defined)
        if verdict.runs:
            segment = "\n".join(lines[offset + start - 1 : offset + (node.end_lineno or start)])
            self.submission.chunks.append(Chunk(segment, location, start + offset, tuple(sorted(verdict.binds))))
            self.modules, self.defined = modules, defined | verdict.binds
            for name in verdict.binds:
                self.changed.pop(name, None)
            self.star |= any(
                isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(node)
            )
            return
        changes = _changed_by(node, self.modules) & (self.defined - _BUILTIN_NAMES)
        if verdict.binds or changes:
            text = first_line_of(lines[offset + start - 1]) if offset + start - 1 < len(lines) else ""
            statement = LeftOut(location, start + offset, tuple(sorted(verdict.binds)), verdict.reason, text)
            self.submission.left_out.append(statement)
            self.changed.update(dict.fromkeys(verdict.binds | changes, statement))

    def _is_harness(self, node: ast.stmt) -> bool:
        """An import from the grader, or an assignment that reads nothing but what such imports bound."""
        if isinstance(node, ast.ImportFrom):
            return (node.module or "").split(".")[0] == "autograder"
        if isinstance(node, ast.Import):
            return all(alias.name.split(".")[0] == "autograder" for alias in node.names)
        if isinstance(node, ast.Assign) and self.harness:
            reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            return bool(reads) and reads <= self.harness and all(_target_names(t) for t in node.targets)
        return False

    def _judge(self, node: ast.stmt, modules: dict[str, str], defined: set[str]) -> _Verdict:
        """Whether ``node`` runs, given the names defined and imported before it (both updated in place)."""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            binds = set(_imported(node)) - {"*"}
            modules.update(_imported(node))
            defined |= binds
            return _Verdict(binds)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
            return _Verdict({node.name})
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self._judge_assignment(node, modules, defined)
        if isinstance(node, (ast.If, ast.Try)):
            return self._judge_block(node, modules, defined)
        binds = _bound_by(node)
        kind = {ast.Expr: "an expression shown for its value", ast.For: "a for loop", ast.While: "a while loop"}
        return _Verdict(binds, f"it is {kind.get(type(node), 'a ' + type(node).__name__.lower() + ' statement')}")

    def _judge_assignment(
        self, node: ast.Assign | ast.AnnAssign | ast.AugAssign, modules: dict[str, str], defined: set[str]
    ) -> _Verdict:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        binds: set[str] = set()
        scan = _Scan()
        for target in targets:
            names = _target_names(target)
            if names is not None:
                binds |= names
            elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                scan.visit(target.value)  # an entry of a table defined before
                scan.visit(target.slice)
            else:
                return _Verdict(binds, f"it assigns to {ast.unparse(target)}")
        if isinstance(node, ast.AugAssign):  # reads the name it changes
            scan.reads |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        if node.value is None:  # ``x: int`` binds nothing
            return _Verdict(set(), "it only annotates a name")
        scan.visit(node.value)
        reason = self._unmet(scan, modules, defined, constant=bool(binds) and all(n.isupper() for n in binds))
        if not reason:
            defined |= binds
            for name in binds:
                modules.pop(name, None)
        return _Verdict(binds, reason)

    def _judge_block(self, node: ast.If | ast.Try, modules: dict[str, str], defined: set[str]) -> _Verdict:
        """An ``if`` or ``try`` block runs when its condition or handlers' types do, and every statement in it."""
        scan = _Scan()
        parts: list[list[ast.stmt]]
        if isinstance(node, ast.If):
            scan.visit(node.test)
            parts = [node.body, node.orelse]
        else:
            for handler in node.handlers:
                if handler.type is not None:
                    scan.visit(handler.type)
            parts = [node.body, *[h.body for h in node.handlers], node.orelse, node.finalbody]
        binds = _bound_by(node)
        reason = self._unmet(scan, modules, defined, constant=False)
        if reason:
            return _Verdict(binds, reason)
        for part in parts:
            for statement in part:
                verdict = self._judge(statement, modules, defined)
                if not verdict.runs:
                    return _Verdict(binds, f"{verdict.reason} (line {statement.lineno})")
        defined |= binds
        for inner in _walk_outside_functions(node):  # ``except ImportError: special = None`` keeps a module a module
            modules.update(_imported(inner) if isinstance(inner, (ast.Import, ast.ImportFrom)) else {})
        return _Verdict(binds)

    def _unmet(self, scan: _Scan, modules: dict[str, str], defined: set[str], constant: bool) -> str:
        """Why a statement that reads and calls what ``scan`` found cannot run (empty: it can)."""
        changed = sorted(scan.reads & set(self.changed))
        if changed:
            statement = self.changed[changed[0]]
            verb = "defines" if changed[0] in statement.names else "changes"
            where = f"line {statement.line}" if statement.location == self.location else statement.origin
            return f"it uses {changed[0]}, which {where} {verb}, and the grader did not run that"
        undefined = sorted(scan.reads - defined) if not self.star else []
        if undefined:
            return f"it uses {', '.join(undefined)}, which nothing before it defines"
        if constant:  # an UPPER_CASE constant may compute its value with any call
            return ""
        for call in scan.calls:
            if not _may_call(call.func, modules):
                return f"it calls {ast.unparse(call.func)}()"
        return ""

    def _add_groups_separately(self, lines: list[str], location: str) -> None:
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
            group = lines[start:end]
            try:
                tree = ast.parse("\n".join(group))
            except SyntaxError as error:
                names = tuple(_DEF_NAME.findall(lines[start].lstrip("@").strip()))
                if lines[start].startswith("@"):
                    names = tuple(n for line in group for n in _DEF_NAME.findall(line))
                line = (error.lineno or 1) + start
                self.submission.problems.append(Problem(f"{location}, line {line}", f"SyntaxError: {error.msg}", names))
                continue
            for node in tree.body:
                self._take(node, lines, location, start)


class _Scan(ast.NodeVisitor):
    """The names an expression reads and the calls it makes when it is evaluated (a lambda's body is not)."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.calls: list[ast.Call] = []
        self._local: list[set[str]] = []

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not any(node.id in scope for scope in self._local):
            self.reads.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        self.calls.append(node)
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self._local.append({n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)})
        try:
            for generator in node.generators:
                self.visit(generator.iter)
                for condition in generator.ifs:
                    self.visit(condition)
            for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
                self.visit(part)
        finally:
            self._local.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def _may_call(function: ast.expr, modules: dict[str, str]) -> bool:
    """Whether a top-level statement may call ``function``: a builtin that builds a value, or a function of
    a module of pure functions (NumPy, math), reached through the name an import gave it."""
    path: list[str] = []
    node = function
    while isinstance(node, ast.Attribute):
        path.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return False
    if not path and node.id in _CALLABLE_BUILTINS and node.id not in modules:
        return True
    if node.id not in modules:
        return False
    dotted = ".".join([modules[node.id], *reversed(path)])
    return dotted in _CALLABLE_FUNCTIONS or dotted.split(".")[0] in _CALLABLE_MODULES


def _changed_by(node: ast.stmt, modules: dict[str, str]) -> set[str]:
    """The names whose values a statement may change in place: a method called on them, an entry or an
    attribute stored (``hist.append(x)``, ``table[k] = v``), outside functions; imported modules aside."""
    found: set[str] = set()
    for current in _walk_outside_functions(node):
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            if isinstance(current.func.value, ast.Name):
                found.add(current.func.value.id)
        if isinstance(current, (ast.Subscript, ast.Attribute)) and isinstance(current.ctx, (ast.Store, ast.Del)):
            root = current.value
            while isinstance(root, (ast.Subscript, ast.Attribute)):
                root = root.value
            if isinstance(root, ast.Name):
                found.add(root.id)
    return found - set(modules)


def _walk_outside_functions(node: ast.AST) -> list[ast.AST]:
    found = [node]
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            found.extend(_walk_outside_functions(child))
    return found


def _imported(node: ast.stmt) -> dict[str, str]:
    """The names an import binds, each with the dotted name of what it stands for."""
    if isinstance(node, ast.Import):
        found = {}
        for alias in node.names:
            if alias.asname:
                found[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                found[root] = root
        return found
    if isinstance(node, ast.ImportFrom):
        module = "." * node.level + (node.module or "")
        return {alias.asname or alias.name: f"{module}.{alias.name}" for alias in node.names}
    return {}


def _target_names(target: ast.expr) -> set[str] | None:
    """The names an assignment target binds, where it binds names only (``a``, ``a, *b``)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        names: set[str] = set()
        for element in target.elts:
            inner = _target_names(element)
            if inner is None:
                return None
            names |= inner
        return names
    return None


def _bound_by(node: ast.stmt) -> set[str]:
    """Every global name a top-level statement binds (including inside its blocks, not inside functions)."""
    names: set[str] = set()

    def visit(current: ast.AST) -> None:
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(current.name)
            return
        if isinstance(current, (ast.Import, ast.ImportFrom)):
            names.update(set(_imported(current)) - {"*"})
            return
        if isinstance(current, (ast.Lambda, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return  # their variables are their own
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Store):
            names.add(current.id)
        if isinstance(current, ast.ExceptHandler) and current.name:
            names.add(current.name)
        for child in ast.iter_child_nodes(current):
            visit(child)

    visit(node)
    return names


def _first_line_with_decorators(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return int(min([node.lineno] + [d.lineno for d in decorators]))
