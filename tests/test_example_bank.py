"""The example bank: examples drawn once replay exactly, and nothing written into it is trusted.

The attacks write into the bank what a student's kernel or notebook could (empty example lists, changed
values, another property's file, links, FIFOs, huge files) and then grade an untouched stub and a correct
submission: each must get exactly what a fresh bank gives, and every poisoned file must be drawn again
and rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import runpy
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

import autograder
from autograder import shipped_examples
from autograder.exercises import load_assignment
from autograder.grading import example_bank
from autograder.grading.calls import GraderError
from autograder.grading.catalogue import Property
from autograder.grading.references import load_references
from autograder.grading.runner import (
    CHECK,
    GRADING_SEED,
    PUBLIC_SEED,
    Grader,
    Mode,
    examples_of,
    examples_per_property,
    property_seed,
)
from autograder.grading.submission import load_submission
from autograder.sandbox import locations
from autograder.sandbox.protocol import NamedCallable, decode, encode

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = load_assignment("02_activations")
SOFTMAX_AXIS = next(p for p in ASSIGNMENT.properties if p.key == "softmax.respects_axis")
STUB = ROOT / "assignments" / "02_activations" / "activations.ipynb"
CORRECT = ROOT / "tests" / "submissions" / "02_activations" / "correct.py"
# Fewer examples than a real grade: no attack on the bank depends on how many there are.
BANK_MODE = Mode("grade", include_hidden=True, max_examples=10, function_seconds=60.0)
# Points are counted over the drawn properties, the ones the bank feeds: timed properties draw nothing
# from it, and on a busy machine their verdict measures the machine. A fresh bank gives these.
DRAWN = {p.key for p in ASSIGNMENT.properties if p.strategy is not None}
FRESH_POINTS = {"stub": 0.0, "correct": sum(p.points for p in ASSIGNMENT.properties if p.key in DRAWN)}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(locations.CACHE_VARIABLE, str(tmp_path))
    return tmp_path


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, NamedCallable):
        return isinstance(b, NamedCallable) and a.name == b.name and same(list(a.args), list(b.args))
    return type(a) is type(b) and a == b


def test_replayed_examples_are_exactly_those_hypothesis_draws(cache: Path) -> None:
    drawn = example_bank.drawn_examples(SOFTMAX_AXIS, 123, 20)
    assert len(list(cache.rglob("*.json"))) == 1
    replayed = example_bank.drawn_examples(SOFTMAX_AXIS, 123, 20)
    assert same(drawn, replayed)
    assert same(drawn, example_bank._draw(SOFTMAX_AXIS, 123, 20))
    assert all(example["z"].dtype in (np.float32, np.float64) for example in replayed)


def test_seed_and_number_of_examples_are_part_of_the_key(cache: Path) -> None:
    example_bank.drawn_examples(SOFTMAX_AXIS, 1, 10)
    example_bank.drawn_examples(SOFTMAX_AXIS, 2, 10)
    example_bank.drawn_examples(SOFTMAX_AXIS, 1, 11)
    assert len(list(cache.rglob("*.json"))) == 3


def test_named_objects_survive_the_cache(cache: Path) -> None:
    examples = [{"x": np.arange(3.0), "rng": NamedCallable("rng", 5), "scale": np.float32(2.0)}]
    key = example_bank.bank_key()
    example_bank._write(cache, "one.json", b'["binding"]', key, examples)
    assert same(example_bank._read(cache, "one.json", b'["binding"]', key), examples)


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        json.dumps({"examples": {"t": "list", "v": [{"t": "ndarray", "i": 3}]}, "blobs": []}).encode(),
        # a pickle planted where the cache lives is never unpickled: it is not even JSON
        b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.",
    ],
)
def test_a_cache_file_that_cannot_be_read_is_drawn_again(cache: Path, content: bytes) -> None:
    drawn = example_bank.drawn_examples(SOFTMAX_AXIS, 9, 5)
    (path,) = cache.rglob("*.json")
    path.write_bytes(content)
    assert same(example_bank.drawn_examples(SOFTMAX_AXIS, 9, 5), drawn)
    assert same(read_back(path, SOFTMAX_AXIS, 9, 5), drawn)  # and the good examples were written back


def read_back(path: Path, prop: Property, seed: int, max_examples: int) -> list[Any] | None:
    """The examples of the bank file at ``path`` if it is sealed for this draw, else ``None``."""
    binding = example_bank._binding(prop, seed, max_examples)
    return example_bank._read(path.parent, path.name, binding, example_bank.bank_key())


def test_a_file_says_what_it_is_for_and_is_sealed_with_a_private_key(cache: Path) -> None:
    example_bank.drawn_examples(SOFTMAX_AXIS, 4, 6)
    key = cache / example_bank.KEY_NAME
    status = key.lstat()
    assert stat.S_ISREG(status.st_mode) and stat.S_IMODE(status.st_mode) == 0o600 and status.st_size == 32
    assert key.read_bytes() == example_bank.bank_key()
    (path,) = (cache / "examples").glob("*.json")
    header = json.loads(path.read_bytes().partition(b"\n")[0])
    assert header["for"][1:4] == [SOFTMAX_AXIS.key, 4, 6] and header["count"] == 6 and len(header["mac"]) == 64


@pytest.mark.parametrize("plant", ["readable_by_others", "symbolic_link", "too_short"])
def test_a_key_file_that_is_not_private_is_never_used(cache: Path, tmp_path: Path, plant: str) -> None:
    planted = b"k" * 32
    key = cache / example_bank.KEY_NAME
    if plant == "symbolic_link":
        (tmp_path / "elsewhere").write_bytes(planted)
        (tmp_path / "elsewhere").chmod(0o600)
        key.symlink_to(tmp_path / "elsewhere")
    else:
        key.write_bytes(planted if plant == "readable_by_others" else planted[:8])
        key.chmod(0o644 if plant == "readable_by_others" else 0o600)
    example_bank._keys.pop(str(cache), None)
    used = example_bank.bank_key()
    assert used != planted and len(used) == 32
    assert not key.is_symlink() and key.read_bytes() == used and stat.S_IMODE(key.stat().st_mode) == 0o600


def test_too_few_examples_is_a_grader_error_never_a_pass(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis drawing fewer than a property's minimum is refused; so is a drawn property run on none."""
    one_value = Property(
        function="softmax",
        name="one_value",
        says="one value",
        hint="",
        points=1.0,
        strategy=st.just(1.0),
        min_examples=3,
    )
    with pytest.raises(example_bank.ExampleBankError, match="drew 1 examples, fewer than the 3 it needs"):
        example_bank.drawn_examples(one_value, 1, 10)
    with pytest.raises(GraderError, match="softmax.one_value"):
        examples_of(one_value, 1, 10)
    assert example_bank.drawn_examples(
        Property(function="softmax", name="any", says="", hint="", points=1.0, strategy=st.just(1.0)), 1, 10
    ) == [1.0]
    # The runner refuses to check a drawn property on no example, wherever the list came from.
    monkeypatch.setattr("autograder.grading.runner.drawn_examples", lambda prop, seed, max_examples: [])
    with pytest.raises(GraderError, match="would be checked on 0 examples"):
        grade_points(CORRECT)


# Attacks on the bank, graded


def grade_points(path: Path) -> float:
    """The points ``path`` earns on the drawn properties."""
    references = load_references(ASSIGNMENT)
    report = Grader(ASSIGNMENT, references, BANK_MODE, GRADING_SEED).grade(load_submission(path))
    return sum(p.points for f in report.functions for p in f.properties if f"{p.function}.{p.property}" in DRAWN)


def bank_files() -> dict[str, tuple[Property, int, int]]:
    """The bank file of each drawn property in BANK_MODE, by name: the property, its seed and count."""
    count = examples_per_property(ASSIGNMENT, BANK_MODE)
    files = {}
    for prop in ASSIGNMENT.properties:
        if prop.strategy is not None:
            seed = property_seed(GRADING_SEED, prop)
            name = hashlib.sha256(example_bank._binding(prop, seed, count)).hexdigest()[:32] + ".json"
            files[name] = (prop, seed, count)
    return files


@pytest.fixture(scope="module")
def fresh_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank filled by grading the stub and the correct submission, which get FRESH_POINTS from it."""
    folder = tmp_path_factory.mktemp("fresh-bank")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(locations.CACHE_VARIABLE, str(folder))
        assert {"stub": grade_points(STUB), "correct": grade_points(CORRECT)} == FRESH_POINTS
    assert {p.name for p in (folder / "examples").iterdir()} == set(bank_files())
    return folder


@pytest.fixture
def bank(fresh_bank: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fresh bank (its key included) that this test may poison; its examples folder."""
    shutil.copytree(fresh_bank, tmp_path / "cache")
    monkeypatch.setenv(locations.CACHE_VARIABLE, str(tmp_path / "cache"))
    return tmp_path / "cache" / "examples"


def split(path: Path) -> tuple[dict[str, Any], bytes]:
    first_line, _, payload = path.read_bytes().partition(b"\n")
    return json.loads(first_line), payload


def payload_of(examples: list[Any]) -> bytes:
    blobs: list[bytes] = []
    tree = encode(examples, blobs)
    return json.dumps({"examples": tree, "blobs": [base64.b64encode(b).decode() for b in blobs]}).encode()


def zeroed(payload: bytes) -> bytes:
    """The same examples with every array's values replaced by zeros (shapes and dtypes kept)."""
    stored = json.loads(payload)
    examples = decode(stored["examples"], [base64.b64decode(b) for b in stored["blobs"]], lambda n, a: n)

    def zero(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return np.zeros_like(value)
        if isinstance(value, dict):
            return {k: zero(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(zero(v) for v in value)
        return getattr(value, "value", value)  # a NumPy scalar arrives wrapped

    return payload_of([zero(example) for example in examples])


def write(path: Path, header: dict[str, Any], payload: bytes) -> None:
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)


def empty_lists_in_the_old_format(path: Path) -> None:
    path.write_text(json.dumps({"examples": {"t": "list", "v": []}, "blobs": []}))


def empty_lists_under_the_old_seal(path: Path) -> None:
    header, _ = split(path)
    write(path, header, payload_of([]))


def empty_lists_sealed_with(path: Path, key: bytes) -> None:
    header, _ = split(path)
    payload = payload_of([])
    checksum = hashlib.sha256(payload).hexdigest()
    mac = example_bank._seal(key, json.dumps(header["for"]).encode(), checksum, 0).decode()
    write(path, {**header, "count": 0, "checksum": checksum, "mac": mac}, payload)


def empty_lists_sealed_with_a_guessed_key(path: Path) -> None:
    empty_lists_sealed_with(path, b"\0" * 32)


def empty_lists_sealed_with_the_key(path: Path) -> None:
    """What only a process holding the key could write: still fewer examples than any property needs."""
    empty_lists_sealed_with(path, example_bank.bank_key())


def tampered_values_with_the_old_checksum(path: Path) -> None:
    header, payload = split(path)
    write(path, header, zeroed(payload))


def tampered_values_with_their_own_checksum(path: Path) -> None:
    header, payload = split(path)
    payload = zeroed(payload)
    write(path, {**header, "checksum": hashlib.sha256(payload).hexdigest()}, payload)


def copied_from_another_property(path: Path) -> None:
    others = sorted(p for p in path.parent.glob("*.json") if p.name != path.name)
    path.write_bytes(others[0].read_bytes())


def symbolic_link_to_a_sealed_copy(path: Path) -> None:
    """A link to a file that would pass every check: a link is refused, not followed."""
    outside = path.parent.parent.parent / "outside"
    outside.mkdir(exist_ok=True)
    shutil.move(path, outside / path.name)
    path.symlink_to(outside / path.name)


def fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def huge_file(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(example_bank.MAX_BANK_FILE_BYTES + 1)  # sparse: nothing is ever read of it


POISONS: list[Callable[[Path], None]] = [
    empty_lists_in_the_old_format,
    empty_lists_under_the_old_seal,
    empty_lists_sealed_with_a_guessed_key,
    empty_lists_sealed_with_the_key,
    tampered_values_with_the_old_checksum,
    tampered_values_with_their_own_checksum,
    copied_from_another_property,
    symbolic_link_to_a_sealed_copy,
    fifo,
    huge_file,
]


@pytest.mark.parametrize("poison", POISONS, ids=lambda poison: poison.__name__)
def test_a_poisoned_bank_changes_no_grade_and_is_drawn_again(bank: Path, poison: Callable[[Path], None]) -> None:
    files = bank_files()
    for name in sorted(files):
        poison(bank / name)
    assert {"stub": grade_points(STUB), "correct": grade_points(CORRECT)} == FRESH_POINTS
    for name, (prop, seed, count) in files.items():
        path = bank / name
        assert stat.S_ISREG(path.lstat().st_mode), f"{name} was not rewritten"
        assert read_back(path, prop, seed, count) is not None, f"{name} was not rewritten"
        assert same(read_back(path, prop, seed, count), example_bank._draw(prop, seed, count))
    assert sorted(p.name for p in bank.iterdir()) == sorted(files)  # no temporary file is left behind


def test_an_examples_folder_that_is_a_link_is_neither_read_nor_written(bank: Path) -> None:
    forged = bank.parent / "forged"
    bank.rename(forged)
    for path in forged.iterdir():
        empty_lists_sealed_with_a_guessed_key(path)
    before = {p.name: p.read_bytes() for p in forged.iterdir()}
    bank.symlink_to(forged, target_is_directory=True)
    assert {"stub": grade_points(STUB), "correct": grade_points(CORRECT)} == FRESH_POINTS
    assert {p.name: p.read_bytes() for p in forged.iterdir()} == before


# The shipped layer: the public checks' examples, drawn when the package is built (autograder.shipped_examples)

PUBLIC_DRAWN = [p for p in ASSIGNMENT.properties if p.public and p.strategy is not None]


def check_points(path: Path) -> dict[str, str]:
    """The verdict of each public drawn property when ``path`` is checked (as ``autograder check`` does)."""
    report = Grader(ASSIGNMENT, load_references(ASSIGNMENT), CHECK, PUBLIC_SEED).grade(load_submission(path))
    drawn = {p.key for p in PUBLIC_DRAWN}
    return {
        f"{p.function}.{p.property}": p.verdict
        for f in report.functions
        for p in f.properties
        if f"{p.function}.{p.property}" in drawn
    }


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, str]]]:
    """02's shipped layer as the build makes it (its own interpreters), and the verdicts a fresh bank gives."""
    folder = tmp_path_factory.mktemp("built") / "shipped"
    assert shipped_examples.build(folder, assignments=[ASSIGNMENT.id]) == len(PUBLIC_DRAWN)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(locations.CACHE_VARIABLE, str(tmp_path_factory.mktemp("no-shipped-layer")))
        patch.setattr(example_bank, "shipped_folder", lambda: folder.parent / "none")
        verdicts = {"stub": check_points(STUB), "correct": check_points(CORRECT)}
    assert set(verdicts["correct"].values()) == {"passed"} and "passed" not in verdicts["stub"].values()
    return folder, verdicts


@pytest.fixture
def layer(built_layer: tuple[Path, Any], cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the built layer that this test may poison, in use; the cache folder is empty."""
    folder = tmp_path / "package" / "shipped"
    shutil.copytree(built_layer[0], folder)
    monkeypatch.setattr(example_bank, "shipped_folder", lambda: folder)
    return folder


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The property of each draw Hypothesis makes for the bank from now on."""
    drawn: list[str] = []
    draw = example_bank._draw

    def counted(prop: Property, seed: int, max_examples: int) -> list[Any]:
        drawn.append(prop.key)
        return draw(prop, seed, max_examples)

    monkeypatch.setattr(example_bank, "_draw", counted)
    return drawn


def test_a_check_uses_the_shipped_examples_and_draws_nothing(
    built_layer: tuple[Path, Any], layer: Path, cache: Path, draws: list[str]
) -> None:
    assert {"stub": check_points(STUB), "correct": check_points(CORRECT)} == built_layer[1]
    assert draws == [] and not (cache / "examples").exists()


def test_the_build_writes_the_shipped_layer_where_the_grader_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``setup.py``'s build step and the example bank name the same folder: the layer is only worth shipping
    if a check finds it (a move of the bank's module once left it unread, every check drawing again)."""
    import setuptools

    monkeypatch.setattr(setuptools, "setup", lambda **_: None)
    build = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_under_test")
    assert ROOT / build["SHIPPED"] == example_bank.shipped_folder()
    assert example_bank.shipped_folder() == Path(autograder.__file__).resolve().parent / "shipped"


def test_the_build_lists_each_public_draw_by_what_it_is_for(built_layer: tuple[Path, Any], cache: Path) -> None:
    """One file per public drawn property, listed under the bank's name for its draw, with that binding."""
    manifest = json.loads((built_layer[0] / example_bank.MANIFEST_NAME).read_text())
    count = examples_per_property(ASSIGNMENT, CHECK)
    for prop in PUBLIC_DRAWN:
        binding = example_bank._binding(prop, property_seed(PUBLIC_SEED, prop), count)
        entry = manifest["files"][example_bank.bank_name(binding)]
        assert entry["for"] == json.loads(binding) and entry["count"] == count
    assert len(manifest["files"]) == len(PUBLIC_DRAWN) == len(list(built_layer[0].glob("*.json"))) - 1


def zeroed_in_place(path: Path) -> None:
    path.write_bytes(zeroed(path.read_bytes()))


def empty_list_in_place(path: Path) -> None:
    path.write_bytes(payload_of([]))


def symbolic_link_to_the_shipped_copy(path: Path) -> None:
    """A link to the very bytes the manifest lists: a link is refused, not followed."""
    outside = path.parent.parent / "outside"
    outside.mkdir(exist_ok=True)
    shutil.move(path, outside / path.name)
    path.symlink_to(outside / path.name)


def removed(path: Path) -> None:
    path.unlink()


SHIPPED_POISONS: list[Callable[[Path], None]] = [
    zeroed_in_place,
    empty_list_in_place,
    symbolic_link_to_the_shipped_copy,
    fifo,
    huge_file,
    removed,
]


@pytest.mark.parametrize("poison", SHIPPED_POISONS, ids=lambda poison: poison.__name__)
def test_a_tampered_shipped_file_is_refused_and_drawn_again(
    built_layer: tuple[Path, Any], layer: Path, cache: Path, draws: list[str], poison: Callable[[Path], None]
) -> None:
    for path in layer.glob("*.json"):
        if path.name != example_bank.MANIFEST_NAME:
            poison(path)
    assert {"stub": check_points(STUB), "correct": check_points(CORRECT)} == built_layer[1]
    assert sorted(set(draws)) == sorted(p.key for p in PUBLIC_DRAWN)  # each drawn again, once
    assert len(list((cache / "examples").glob("*.json"))) == len(PUBLIC_DRAWN)  # and kept in the user's bank


def another_grader_version(monkeypatch: pytest.MonkeyPatch, layer: Path) -> None:
    monkeypatch.setattr(example_bank, "__version__", "99.0")


def another_catalogue(monkeypatch: pytest.MonkeyPatch, layer: Path) -> None:
    monkeypatch.setattr(example_bank, "_sources_digest", lambda: "0" * 64)


def entries_swapped_between_properties(monkeypatch: pytest.MonkeyPatch, layer: Path) -> None:
    """Each file listed, checksum and all, under another property's name: its binding is another's."""
    manifest = json.loads((layer / example_bank.MANIFEST_NAME).read_text())
    names = sorted(manifest["files"])
    manifest["files"] = {name: manifest["files"][names[i - 1]] for i, name in enumerate(names)}
    for name in names:
        (layer / name).write_bytes((layer.parent / "shipped-copy" / name).read_bytes())
    (layer / example_bank.MANIFEST_NAME).write_text(json.dumps(manifest))


def manifest_that_is_not_json(monkeypatch: pytest.MonkeyPatch, layer: Path) -> None:
    (layer / example_bank.MANIFEST_NAME).write_text("not json")


def manifest_too_large(monkeypatch: pytest.MonkeyPatch, layer: Path) -> None:
    with (layer / example_bank.MANIFEST_NAME).open("r+b") as handle:
        handle.truncate(example_bank.MAX_MANIFEST_BYTES + 1)


def manifest_behind_a_link(monkeypatch: pytest.MonkeyPatch, layer: Path) -> None:
    manifest = layer / example_bank.MANIFEST_NAME
    shutil.move(manifest, layer.parent / "manifest-elsewhere")
    manifest.symlink_to(layer.parent / "manifest-elsewhere")


IGNORED: list[Callable[[pytest.MonkeyPatch, Path], None]] = [
    another_grader_version,
    another_catalogue,
    entries_swapped_between_properties,
    manifest_that_is_not_json,
    manifest_too_large,
    manifest_behind_a_link,
]


@pytest.mark.parametrize("change", IGNORED, ids=lambda change: change.__name__)
def test_shipped_examples_for_another_draw_are_ignored(
    layer: Path, cache: Path, draws: list[str], monkeypatch: pytest.MonkeyPatch, change: Callable[..., None]
) -> None:
    """A changed grader or catalogue, or a manifest that is not the build's, never uses the shipped files."""
    shutil.copytree(layer, layer.parent / "shipped-copy")
    change(monkeypatch, layer)
    count = examples_per_property(ASSIGNMENT, CHECK)
    for prop in PUBLIC_DRAWN[:3]:
        seed = property_seed(PUBLIC_SEED, prop)
        binding = example_bank._binding(prop, seed, count)
        assert example_bank.read_shipped(example_bank.bank_name(binding), binding) is None
        assert same(examples_of(prop, PUBLIC_SEED, count), example_bank._draw(prop, seed, count))
    assert draws.count(PUBLIC_DRAWN[0].key) == 2  # drawn by the bank, then by this test
