"""The bundle a course hands its students (``autograder student-bundle [--out FOLDER | FILE.zip]``).

It holds what a student needs to work and to run ``autograder check``: the student notebooks of
``assignments/`` (as nbgrader generated them), ``course_lib``, and the grader with its public checks
only, with ``pyproject.toml`` and ``constraints/`` so that it installs as the course does. It never holds
``solutions/``, the tests, or anything of a hidden property: its code, its strategy, its promise, its
hint. Without references ``autograde.points`` says that points come from the instructor.

How hidden properties are left out. The catalogues are not rewritten by hand or edited as text: each
catalogue module is loaded, and its syntax tree is rewritten from what was loaded. Every module-level
tuple or list whose loaded value holds properties loses the entries that are hidden (entry for entry:
a literal whose entries do not map one to one onto its loaded value is refused). Then every module-level
definition that nothing kept uses any more (the helpers, strategies and hints of hidden properties, and
the builders of ``exercises/common.py`` that only hidden properties used) is dropped, and the module is
written back from the tree, without its comments. The result is checked before the bundle is put in
place: loaded from the bundle alone by a separate Python, each catalogue must hold exactly the public
properties of the course's, with the same promises, hints and points, and no file of the bundle may
contain a hidden property's name, promise or hint (where no public property shares it). A notebook of
``assignments/`` that still holds nbgrader's solution markers is refused.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Collection, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from autograder.exercises import catalogue_module, known_assignments, load_assignment
from autograder.grading.catalogue import Assignment, Property

COMMON_MODULE = "autograder.exercises.common"
PACKAGE_PATTERNS = ("autograder/**/*.py", "course_lib/**/*.py", "pyproject.toml", "constraints/*.txt")
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS")
GENERATED = (
    "# Written by `autograder student-bundle` from the course's {name}: its public properties only.\n"
    "# Hidden properties, and whatever only they used, are left out; so are comments.\n"
)

README = """# {title}: the student bundle

The course's notebooks, in `assignments/`, with the grader's public checks.

Install it once, in a virtual environment (on Linux or Windows without an NVIDIA GPU, install PyTorch's
CPU build first, from PyTorch's CPU wheel index):

```bash
python3 -m venv .venv
.venv/bin/pip install -c constraints/ci.txt torch --index-url https://download.pytorch.org/whl/cpu
.venv/bin/pip install -c constraints/ci.txt -e .
```

Then open a notebook (`.venv/bin/jupyter lab`, or any Jupyter), fill in each function between the lines
that say `# YOUR CODE HERE`, and run the cell below it, `autograde.check(sigmoid)`, for feedback. From a
terminal, `.venv/bin/autograder check assignments/02_activations/activations.ipynb` checks a whole notebook.

`check` runs the public properties: for each function, the smallest input it fails on, what was
expected, what came back, and a hint. Your instructor grades with more properties, hidden ones and
timing among them, so passing every public check is not yet full points; a points cell
(`autograde.points(...)`) says that the points are given by your instructor.
"""


class BundleError(Exception):
    """The student bundle cannot be built without a risk of leaking what it must not hold."""


def write_student_bundle(course_root: Path, out: Path) -> Path:
    """Write the student bundle of the course at ``course_root`` to ``out`` (a folder, or a ``.zip``)."""
    if out.exists() and (out.is_file() or any(out.iterdir())):
        raise BundleError(f"{out} already exists: remove it, or choose another --out")
    notebooks = _student_notebooks(course_root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".student-bundle-", dir=out.parent) as scratch:
        staging = Path(scratch) / "bundle"
        _build(course_root, notebooks, staging)
        verify_bundle(staging)
        if out.suffix == ".zip":
            _zip(staging, out)
        else:
            if out.exists():
                out.rmdir()  # empty, checked above
            shutil.move(str(staging), out)
    return out


def _student_notebooks(course_root: Path) -> list[Path]:
    notebooks = []
    for assignment_id in known_assignments():
        path = course_root / "assignments" / assignment_id / load_assignment(assignment_id).notebook
        if not path.is_file():
            raise BundleError(f"{path} is missing: run `nbgrader generate_assignment {assignment_id}` first")
        text = path.read_text(encoding="utf-8")
        if any(marker in text for marker in SOLUTION_MARKERS):
            raise BundleError(f"{path} holds nbgrader's solution markers: it is not a student notebook")
        notebooks.append(path)
    return notebooks


def _build(course_root: Path, notebooks: list[Path], staging: Path) -> None:
    files = {
        path
        for pattern in PACKAGE_PATTERNS
        for path in course_root.glob(pattern)
        if "__pycache__" not in path.parts and path.is_file()
    }
    sources = {path: path.read_text(encoding="utf-8") for path in files if path.suffix == ".py"}
    catalogues = {
        _source_file(module, course_root): module
        for module in (importlib.import_module(catalogue_module(a)) for a in known_assignments())
    }
    rewritten: dict[Path, str] = {}
    for path, module in catalogues.items():
        others = [text for other, text in sources.items() if other != path]
        rewritten[path] = public_catalogue(module, names_imported_from(module.__name__, others))
    # The builders of exercises/common.py that no kept catalogue uses (those of hidden properties) go too.
    common = importlib.import_module(COMMON_MODULE)
    common_path = _source_file(common, course_root)
    others = [rewritten.get(path, text) for path, text in sources.items() if path != common_path]
    used = names_imported_from(COMMON_MODULE, others)
    if used is not None:
        rewritten[common_path] = _written(common, keep_used(ast.parse(inspect.getsource(common)), used), set())
    for path in sorted(files | set(notebooks)):
        target = staging / path.relative_to(course_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path in rewritten:
            target.write_text(rewritten[path], encoding="utf-8")
        else:
            shutil.copyfile(path, target)
    title = "Deep learning from the neuron up"
    (staging / "README.md").write_text(README.format(title=title), encoding="utf-8")


def _source_file(module: ModuleType, course_root: Path) -> Path:
    """The file ``module`` was loaded from, which must be the course's own."""
    source = Path(inspect.getsourcefile(module) or "").resolve()
    expected = (course_root / Path(*module.__name__.split("."))).with_suffix(".py")
    if source != expected.resolve():
        raise BundleError(
            f"the grader runs {module.__name__} from {source}, not from the course at {course_root}: "
            "build the bundle with the grader installed from the course's checkout"
        )
    return expected


# Rewriting a catalogue


def public_catalogue(module: ModuleType, imported: Collection[str] | None = ()) -> str:
    """The source of catalogue ``module`` with its hidden properties, and all that only they used, left out.

    ``imported``: the names other modules import from it, kept with ``ASSIGNMENT`` (``None``: another module
    imports the module itself, so every name is kept; a hidden property's text left so fails the check).
    """
    tree = ast.parse(inspect.getsource(module))
    listed: set[int] = set()  # the statements that list properties, written one property per line
    for statement in tree.body:
        target, value = _assigned(statement)
        if target is None or not isinstance(value, (ast.Tuple, ast.List)):
            continue
        loaded = getattr(module, target, None)
        if not isinstance(loaded, (tuple, list)) or not any(isinstance(item, Property) for item in loaded):
            continue
        if len(value.elts) != len(loaded) or any(isinstance(element, ast.Starred) for element in value.elts):
            raise BundleError(
                f"{module.__name__}.{target}: its entries do not map one to one onto its properties, so its "
                "hidden properties cannot be left out safely; write it as one property per entry"
            )
        value.elts = [
            e
            for e, item in zip(value.elts, loaded, strict=True)
            if not (isinstance(item, Property) and not item.public)
        ]
        listed.add(id(statement))
    roots = {"ASSIGNMENT", *imported} if imported is not None else set().union(*map(_defined, tree.body))
    return _written(module, keep_used(tree, roots), listed)


def _written(module: ModuleType, tree: ast.Module, listed: set[int]) -> str:
    text = GENERATED.format(name=module.__name__)
    previous: ast.stmt | None = None
    for statement in tree.body:
        if previous is None:  # the docstring, written as one
            text += ast.unparse(ast.Module(body=[statement], type_ignores=[]))
        else:
            spacious = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If)
            apart = id(statement) in listed or isinstance(statement, spacious) or isinstance(previous, spacious)
            text += ("\n\n\n" if apart else "\n") + (
                _one_per_line(statement) if id(statement) in listed else ast.unparse(statement)
            )
        previous = statement
    return text + "\n"


def _one_per_line(statement: ast.stmt) -> str:
    """``NAME: annotation = (`` then one entry per line: a catalogue's properties, readable."""
    target, value = _assigned(statement)
    assert target is not None and isinstance(value, (ast.Tuple, ast.List))
    annotation = f": {ast.unparse(statement.annotation)}" if isinstance(statement, ast.AnnAssign) else ""
    opening, closing = ("(", ")") if isinstance(value, ast.Tuple) else ("[", "]")
    entries = "".join(f"    {ast.unparse(element)},\n" for element in value.elts)
    return f"{target}{annotation} = {opening}\n{entries}{closing}"


def _assigned(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target.id, statement.value
    return None, None


def keep_used(tree: ast.Module, roots: set[str]) -> ast.Module:
    """``tree`` with the module-level definitions and imports that neither ``roots`` nor anything kept uses
    left out. A statement that defines nothing (a docstring, an ``if TYPE_CHECKING:`` block) is kept."""
    defines = [_defined(statement) for statement in tree.body]
    needed = set(roots)
    for statement, names in zip(tree.body, defines, strict=True):
        if not names:
            needed |= _used(statement)
    kept: set[int] = set()
    changed = True
    while changed:
        changed = False
        for index, (statement, names) in enumerate(zip(tree.body, defines, strict=True)):
            if index not in kept and names & needed:
                kept.add(index)
                needed |= _used(statement)
                changed = True
    body = []
    for index, (statement, names) in enumerate(zip(tree.body, defines, strict=True)):
        if not names:
            body.append(statement)
        elif index in kept:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                statement.names = [alias for alias in statement.names if _alias_name(alias) in needed]
            body.append(statement)
    tree.body = body
    return tree


def _defined(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            return set()
        return {_alias_name(alias) for alias in statement.names}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}
    return set()


def _used(statement: ast.stmt) -> set[str]:
    return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}


def _alias_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def names_imported_from(module: str, sources: Iterable[str]) -> set[str] | None:
    """The names ``sources`` import from ``module``; ``None`` when one imports the module itself (then
    any of its names may be used)."""
    package, _, leaf = module.rpartition(".")
    names: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import) and any(alias.name == module for alias in node.names):
                return None
            if isinstance(node, ast.ImportFrom):
                if node.module == package and any(alias.name == leaf for alias in node.names):
                    return None
                if node.module == module:
                    names |= {alias.name for alias in node.names}
    return names


# Checking the bundle


_LOAD_CATALOGUES = """
import json, sys
sys.path.insert(0, sys.argv[1])
import autograder
from autograder.exercises import known_assignments, load_assignment
catalogues = {
    id: [[p.key, p.says, p.hint, p.points, p.public] for p in load_assignment(id).properties]
    for id in known_assignments()
}
print(json.dumps({"package": autograder.__file__, "catalogues": catalogues}))
"""


def _described(assignment: Assignment) -> list[list[Any]]:
    return [[p.key, p.says, p.hint, p.points, p.public] for p in assignment.properties if p.public]


def verify_bundle(bundle: Path) -> None:
    """Raise :class:`BundleError` unless ``bundle`` holds the course's public properties and nothing hidden."""
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _LOAD_CATALOGUES, str(bundle)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=bundle,
        env={key: value for key, value in os.environ.items() if not key.startswith("AUTOGRADER_")},
    )
    if done.returncode != 0:
        raise BundleError(f"the bundle's grader does not load: {done.stderr.strip()[-2000:]}")
    loaded = json.loads(done.stdout)
    if not Path(loaded["package"]).resolve().is_relative_to(bundle.resolve()):
        raise BundleError(f"the check loaded the grader from {loaded['package']}, not from the bundle")
    for assignment_id, properties in loaded["catalogues"].items():
        expected = _described(load_assignment(assignment_id))
        if properties != json.loads(json.dumps(expected)):
            raise BundleError(f"the bundle's catalogue of {assignment_id} is not the course's public properties")
    secrets = hidden_texts()
    for path in sorted(bundle.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            found = next((secret for secret in secrets if secret in text), None)
            if found is not None:
                raise BundleError(f"{path.relative_to(bundle)} holds what only a hidden property says: {found!r}")


def hidden_texts() -> set[str]:
    """What only hidden properties say: their names, promises and hints that no public property shares."""
    hidden: set[str] = set()
    public: set[str] = set()
    for assignment_id in known_assignments():
        for prop in load_assignment(assignment_id).properties:
            (public if prop.public else hidden).update((prop.name, prop.says, prop.hint))
    return hidden - public


def _zip(folder: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
