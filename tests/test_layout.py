"""The package's folders are its architecture, and the imports keep to it.

- ``sandbox/`` is the trust boundary (what runs beside student code, and what talks to it): it imports
  nothing from the rest of ``autograder``, so everything a worker can reach can be read in one folder.
- ``grading/`` grades one submission: it imports the sandbox, never an exercise or the class tools.
- ``exercises/`` holds the catalogues: they import grading and the sandbox, never the class tools.
- ``grade.py`` is the one way in to grading a path (used by the commands, the notebook, a class's
  grading processes); ``class_grading/`` sits above it, and the commands at the top above everything.

No module imports, directly or through others, a module that imports it back.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"
# What each folder may import from ``autograder``, besides itself and the package's ``__version__``.
MAY_IMPORT = {
    "sandbox": set(),
    "grading": {"sandbox"},
    "exercises": {"grading", "sandbox"},
    "grade": {"grading", "sandbox", "exercises"},
    "class_grading": {"grading", "sandbox", "exercises", "grade"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``autograder`` module ``path`` imports, at the top or inside a function (not for type checks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("autograder")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(
                    submodule
                    if (PACKAGE.parent / submodule.replace(".", "/")).with_suffix(".py").is_file()
                    or (PACKAGE.parent / submodule.replace(".", "/")).is_dir()
                    else node.module
                )
    return found


GRAPH = {_module_name(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _folder(module: str) -> str:
    """The layer of ``module``: its folder, or its own name for a module at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_each_folder_imports_only_what_its_layer_may() -> None:
    broken = []
    for module, imported in sorted(GRAPH.items()):
        folder = _folder(module)
        if folder not in MAY_IMPORT:
            continue  # the commands at the top may import anything
        allowed = MAY_IMPORT[folder] | {folder}
        for target in sorted(imported):
            if target != "autograder" and _folder(target) not in allowed:
                broken.append(f"{module} imports {target}")
    assert not broken, "imports across the layers:\n" + "\n".join(broken)


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components: any with two modules or more is a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in GRAPH.get(module, set()):
            if target not in GRAPH:
                continue
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_rule_catches_a_sandbox_module_that_imports_the_grader(tmp_path: Path) -> None:
    """The rule can fail: a sandbox module importing the runner is named."""
    module = tmp_path / "leak.py"
    module.write_text("from autograder.grading.runner import Grader\n", encoding="utf-8")
    assert _imports(module) == {"autograder.grading.runner"}
    assert _folder("autograder.grading.runner") not in MAY_IMPORT["sandbox"]
