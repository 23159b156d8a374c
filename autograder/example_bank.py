"""The examples a drawn property is checked on: drawn once by Hypothesis, then kept on disk.

Drawing costs far more than checking: Hypothesis spends milliseconds building each array, while a check
of one example takes microseconds. For one property, seed and number of examples Hypothesis draws the same
examples every time as long as they pass, so they are drawn once per machine and kept in a cache folder.
Later runs (a student's next ``autograder check``, the next submission of a class) replay them, and only a
failure goes back to Hypothesis, to shrink it to the smallest failing input.

The cache holds the wire format of :mod:`autograder.protocol` (JSON and ``.npy`` read with
``allow_pickle=False``), so nothing in it can execute code, whoever wrote the file. A file that cannot be
read is drawn again. The key covers everything that changes the examples: the property, the seed, the
number of examples, the versions of Hypothesis and NumPy, and the source of the catalogues and strategies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from autograder.protocol import NamedCallable, ProtocolError, decode, encode

if TYPE_CHECKING:
    from autograder.catalogue import Property

CACHE_VARIABLE = "AUTOGRADER_CACHE"
_FORMAT = 1


def hypothesis_settings(max_examples: int) -> settings:
    """The settings of every drawn property: no example database, no deadline, no health checks, quiet.

    The explain phase is left out: it reruns many variants of a shrunk failure to annotate a report the
    grader never prints, and made a failing property ten times slower.
    """
    return settings(
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )


def cache_folder() -> Path:
    """``$AUTOGRADER_CACHE``, else ``$XDG_CACHE_HOME/autograder``, else ``~/.cache/autograder``."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autograder"


def drawn_examples(prop: Property, seed: int, max_examples: int) -> list[Any]:
    """The examples Hypothesis draws for ``prop`` with ``seed`` while every one of them passes."""
    path = cache_folder() / "examples" / f"{_key(prop, seed, max_examples)}.json"
    kept = _read(path)
    if kept is not None:
        return kept
    examples = _draw(prop, seed, max_examples)
    _write(path, examples)
    return examples


def _draw(prop: Property, seed: int, max_examples: int) -> list[Any]:
    assert prop.strategy is not None
    examples: list[Any] = []

    def keep(example: Any) -> None:
        examples.append(example)

    hypothesis_seed(seed)(hypothesis_settings(max_examples)(given(prop.strategy)(keep)))()
    return examples


def _key(prop: Property, seed: int, max_examples: int) -> str:
    text = json.dumps([_FORMAT, prop.key, seed, max_examples, _sources_digest()])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@cache
def _sources_digest() -> str:
    """What the examples depend on besides the seed: library versions and the catalogues' source."""
    import hypothesis
    import numpy

    digest = hashlib.sha256(f"{hypothesis.__version__} {numpy.__version__}".encode())
    package = Path(__file__).resolve().parent
    for source in sorted([package / "strategies.py", *package.glob("properties/*.py")]):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _read(path: Path) -> list[Any] | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        blobs = [base64.b64decode(blob) for blob in stored["blobs"]]
        examples = decode(stored["examples"], blobs, lambda name, args: NamedCallable(name, *args))
    except (OSError, ValueError, KeyError, TypeError, ProtocolError, RecursionError):
        return None
    return examples if isinstance(examples, list) else None


def _has_opaque(tree: Any) -> bool:
    if isinstance(tree, dict):
        return tree.get("t") == "opaque" or any(_has_opaque(value) for value in tree.values())
    if isinstance(tree, list):
        return any(_has_opaque(item) for item in tree)
    return False


def _write(path: Path, examples: list[Any]) -> None:
    """Keep ``examples`` when the wire format carries them exactly; a cache that cannot be written is skipped."""
    blobs: list[bytes] = []
    try:
        tree = encode(examples, blobs)
    except (TypeError, ValueError):
        return
    if _has_opaque(tree):
        return  # an example the wire format cannot carry: draw it afresh each time
    text = json.dumps({"examples": tree, "blobs": [base64.b64encode(b).decode() for b in blobs]})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as handle:
            handle.write(text)
        os.replace(handle.name, path)  # atomic: parallel graders never read half a file
    except OSError:
        return
