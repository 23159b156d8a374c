"""The example bank: examples drawn once replay exactly, and a bad cache file is never trusted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autograder import example_bank
from autograder.catalogue import load_assignment
from autograder.protocol import NamedCallable

ASSIGNMENT = load_assignment("02_activations")
SOFTMAX_AXIS = next(p for p in ASSIGNMENT.properties if p.key == "softmax.respects_axis")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(example_bank.CACHE_VARIABLE, str(tmp_path))
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
    path = cache / "one.json"
    example_bank._write(path, examples)
    assert same(example_bank._read(path), examples)


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
    assert same(example_bank._read(path), drawn)  # and the good examples were written back
