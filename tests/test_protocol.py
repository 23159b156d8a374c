"""The wire format: plain data round-trips, and nothing a worker sends can run code in the grader."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from autograder.grading.batching import Answers
from autograder.sandbox.launcher import CallOutcome, WorkerFailure
from autograder.sandbox.protocol import (
    FrameTooLarge,
    NumpyScalar,
    Opaque,
    ProtocolError,
    decode,
    encode,
    recv_message,
    send_message,
)


def round_trip(value: object, worker_side: bool = False) -> object:
    blobs: list[bytes] = []
    node = encode(value, blobs)
    left, right = socket.socketpair()
    with left, right:
        send_message(left, {"v": node}, blobs)
        header, received = recv_message(right)
    return decode(header["v"], received, (lambda name, args: None) if worker_side else None)


def test_arrays_numbers_and_containers_round_trip() -> None:
    value = {"a": [np.arange(3.0), (1, 2.5, "x", None, True)], "b": np.zeros((0, 2), dtype=np.float32)}
    back = round_trip(value)
    assert isinstance(back, dict)
    np.testing.assert_array_equal(back["a"][0], np.arange(3.0))
    assert back["a"][1] == (1, 2.5, "x", None, True)
    assert back["b"].dtype == np.float32 and back["b"].shape == (0, 2)


def test_a_numpy_scalar_is_marked_for_the_grader_and_plain_for_the_worker() -> None:
    grader_side = round_trip(np.float32(1.5))
    assert isinstance(grader_side, NumpyScalar) and grader_side.value.dtype == np.float32
    assert type(round_trip(np.float32(1.5), worker_side=True)) is np.float32


def test_an_ndarray_subclass_arrives_as_a_plain_ndarray() -> None:
    class Liar(np.ndarray):
        def __eq__(self, other: object) -> bool:  # type: ignore[override]
            return True

    back = round_trip(np.arange(3.0).view(Liar))
    assert type(back) is np.ndarray


def test_objects_the_protocol_does_not_carry_become_opaque_descriptions() -> None:
    class Anything:
        def __repr__(self) -> str:
            raise RuntimeError("hostile repr")

    back = round_trip(Anything())
    assert isinstance(back, Opaque) and back.type_name.endswith("Anything")


def test_object_arrays_are_refused() -> None:
    with pytest.raises(TypeError):
        encode(np.array([object()]), [])


def test_callables_never_travel_from_a_worker_to_the_grader() -> None:
    with pytest.raises(ProtocolError):
        decode({"t": "callable", "name": "identity", "args": []}, [])


def test_a_closed_connection_is_a_protocol_error() -> None:
    left, right = socket.socketpair()
    left.close()
    with right, pytest.raises(ProtocolError):
        recv_message(right)


def array_node(array: np.ndarray) -> tuple[dict[str, object], bytes]:
    blobs: list[bytes] = []
    return encode(array, blobs), blobs[0]


@pytest.mark.parametrize("change", [lambda b: b[:-8], lambda b: b + b"\0" * 8, lambda b: b""])
def test_an_array_whose_header_lies_about_its_data_is_refused(change: Callable[[bytes], bytes]) -> None:
    """Less data than the shape needs, more, or none: the bytes must be exactly what the shape says."""
    node, blob = array_node(np.arange(4.0))
    with pytest.raises(ProtocolError, match="does not match its shape"):
        decode(node, [change(blob)])


def test_a_peer_that_trickles_bytes_cannot_hold_the_reader_past_its_deadline() -> None:
    left, right = socket.socketpair()
    stop = threading.Event()

    def trickle() -> None:  # a valid frame, one byte every 0.2 s
        for byte in b"\x10\x00\x00\x00\x00\x00\x00\x00" + b'{"t": "none"}   ':
            if stop.wait(0.2):
                return
            left.send(bytes([byte]))

    thread = threading.Thread(target=trickle)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            recv_message(right, time.monotonic() + 1.0)
        assert time.monotonic() - started < 2.0
    finally:
        stop.set()
        thread.join()
        left.close()
        right.close()


def test_an_array_of_elements_of_no_size_is_refused_whatever_its_shape() -> None:
    """``|S0`` with shape (10**13,) has no bytes to check against: a reader that trusted it would allocate."""
    with pytest.raises(ProtocolError, match="no size"):
        decode({"t": "ndarray", "i": 0, "d": "|S0", "s": [10**13]}, [b""])


@pytest.mark.parametrize(
    "node",
    [
        {"t": "ndarray", "i": 0, "d": "O", "s": [1]},  # objects: pickled Python values
        {"t": "ndarray", "i": 0, "d": "<f8,<i4", "s": [1]},  # a structured dtype
        {"t": "ndarray", "i": 0, "d": "<f8", "s": [1.5]},  # a size that is not an integer
        {"t": "ndarray", "i": 0, "d": "<f8", "s": [-1]},
        {"t": "ndarray", "i": 0, "d": "<f8", "s": [1] * 65},  # more dimensions than NumPy has
        {"t": "ndarray", "i": True, "d": "<f8", "s": [1]},
        {"t": "ndarray", "i": 0, "d": "__import__('os')", "s": [1]},  # nothing here is ever evaluated
    ],
)
def test_an_array_header_that_is_not_plain_data_is_refused(node: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        decode(node, [b"\0" * 8])


def test_a_json_part_over_the_reader_s_limit_is_refused_before_it_is_read() -> None:
    left, right = socket.socketpair()
    with left, right:

        def send() -> None:
            with contextlib.suppress(OSError):  # the reader stops reading, and the socket closes under us
                send_message(left, {"v": "x" * (2 << 20)}, [])

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        with pytest.raises(FrameTooLarge):
            recv_message(right, time.monotonic() + 10, max_header_bytes=1 << 20)
        right.close()
        sender.join()


def test_answers_over_a_property_s_budget_are_kept_as_a_memory_failure() -> None:
    """The grader keeps a property's answers for replay; what they hold together is bounded."""
    answers = Answers(budget=3 << 20)
    for key in ("a", "b", "c"):
        answers.put(key, CallOutcome(np.zeros(1 << 17)))  # 1 MiB each
    answers.put("d", CallOutcome([np.zeros(1 << 17)], args_after=[np.zeros(1)]))
    assert isinstance(answers.get("c"), CallOutcome)
    refused = answers.get("d")
    assert isinstance(refused, WorkerFailure) and refused.verdict == "memory"
    assert "more than 3 MiB" in refused.message
