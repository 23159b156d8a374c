"""The wire format between the grader and a worker: JSON plus raw array bytes, never pickle.

A message is one frame::

    u32 json_length | u32 blob_count | json bytes | (u64 blob_length | array bytes) * blob_count

Values are encoded as a tree of tagged JSON objects. An array is its dtype and shape in the JSON and its
bytes, in C order, as a blob; the reader checks them (a plain numeric, boolean or string dtype written
as ``"<f8"``, sizes that are plain integers, and exactly as many bytes as the shape needs) before copying
the data into a new array, so whatever a worker sends, the grader only ever gets
plain ``ndarray`` objects (never a subclass), numbers, strings and containers of those, and never
allocates more than the frame's size. Nothing a worker sends can execute code in the grader, and a
worker that trickles bytes cannot hold the grader past the deadline of the answer it waits for.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 1 << 28
# The JSON part of an answer a grader takes from a worker: JSON grows tenfold and more once decoded into
# Python objects, so this is far below the frame's limit (arrays travel as blobs and do not count here).
MAX_ANSWER_HEADER_BYTES = 8 << 20
_READ_CHUNK = 1 << 20
# Array kinds that are plain data: booleans, integers, floats, complex numbers, bytes and text.
_PLAIN_KINDS = "biufcSU"
# A plain dtype as ``dtype.str`` writes it: byte order, kind, item size ("<f8", "|b1", "<U5").
_PLAIN_DESCR = re.compile(r"[<>|=][biufcSU][0-9]{1,6}")
_MAX_DIMENSIONS = 64
_HEADER = struct.Struct("<II")
_BLOB_LENGTH = struct.Struct("<Q")


class ProtocolError(Exception):
    """A frame could not be read: the peer closed the connection or sent something malformed."""


class FrameTooLarge(ProtocolError):
    """A frame, or its JSON part, is larger than the reader takes."""


class NamedCallable:
    """A callable argument that travels by name: the worker rebuilds it from a trusted registry.

    ``NamedCallable("quadratic_grad", A, b)`` stands for ``registry["quadratic_grad"](A, b)``.
    """

    def __init__(self, name: str, *args: Any) -> None:
        self.name = name
        self.args = args

    def __repr__(self) -> str:
        inner = ", ".join(repr(a) for a in self.args)
        return f"{self.name}({inner})" if inner else self.name


class Opaque:
    """A value of a type the protocol does not carry, described by its type name and a short repr."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


class NumpyScalar:
    """Marks a 0-d array that arrived as a NumPy scalar (``np.float64(1.0)``) rather than an array."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"{self.value.dtype.type.__name__}({self.value.item()!r})"


def _array_node(tag: str, array: np.ndarray, blobs: list[bytes]) -> dict[str, Any]:
    """An array as its dtype and shape in the JSON, and its bytes (C order) as a blob.

    Our own header rather than ``.npy``'s: NumPy parses that one with ``ast.literal_eval``, which cost
    more than the rest of decoding a small array, and this one has nothing in it to evaluate.
    """
    plain = np.ndarray.view(np.asarray(array), np.ndarray)  # subclasses' overrides never run here
    blobs.append(np.ascontiguousarray(plain).tobytes())
    return {"t": tag, "i": len(blobs) - 1, "d": plain.dtype.str, "s": [int(side) for side in plain.shape]}


def _array_of(node: dict[str, Any], blobs: list[bytes]) -> np.ndarray:
    """A new plain array from a node and its blob, after checking the dtype and shape against the bytes."""
    index, descr, shape = node.get("i"), node.get("d"), node.get("s")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(blobs):
        raise ProtocolError("array index out of range")
    if not isinstance(descr, str) or not _PLAIN_DESCR.fullmatch(descr):
        raise ProtocolError(f"an array of dtype {str(descr)[:40]!r} is not plain data")
    if not isinstance(shape, list) or len(shape) > _MAX_DIMENSIONS:
        raise ProtocolError("an array's shape is not a list of at most 64 sizes")
    if not all(isinstance(side, int) and not isinstance(side, bool) and side >= 0 for side in shape):
        raise ProtocolError("an array's shape holds something that is not a size")
    try:
        dtype = np.dtype(descr)
    except TypeError as error:
        raise ProtocolError(f"an array of dtype {descr!r} is not plain data ({error})") from None
    if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"an array of dtype {dtype} is not plain data")
    if dtype.itemsize == 0:  # zero bytes per element: a shape of any size would pass the size check below
        raise ProtocolError(f"an array of dtype {dtype} has elements of no size")
    count = 1
    for side in shape:
        count *= side
    data = blobs[index]
    if count * dtype.itemsize != len(data):
        raise ProtocolError("an array's data does not match its shape")
    if count == 0:
        return np.zeros(tuple(shape), dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=count).reshape(tuple(shape)).copy()


def encode(value: Any, blobs: list[bytes], depth: int = 0) -> Any:
    """Encode ``value`` as tagged JSON, appending array payloads to ``blobs``."""
    if depth > 50:
        raise TypeError("value is nested too deeply")
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)) and not isinstance(value, np.ndarray):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, np.generic):
        return _array_node("npscalar", np.asarray(value), blobs)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("an array of Python objects (dtype=object) cannot be sent")
        return _array_node("ndarray", value, blobs)
    if isinstance(value, int):
        return {"t": "int", "v": str(int(value))}
    if isinstance(value, float):
        return {"t": "float", "v": float.__repr__(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": str.__str__(value)}
    if isinstance(value, NamedCallable):
        return {"t": "callable", "name": value.name, "args": [encode(a, blobs, depth + 1) for a in value.args]}
    if isinstance(value, (list, tuple)):
        tag = "list" if isinstance(value, list) else "tuple"
        return {"t": tag, "v": [encode(item, blobs, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": {str(k): encode(v, blobs, depth + 1) for k, v in value.items()}}
    return {"t": "opaque", "type": _type_name(value), "repr": _short_repr(value)}


def decode(node: Any, blobs: list[bytes], resolve_callable: Any = None) -> Any:
    """Decode a tagged JSON tree.

    On the worker's side ``resolve_callable(name, args)`` rebuilds callables, and NumPy scalars arrive
    as NumPy scalars. On the grader's side a scalar arrives wrapped in :class:`NumpyScalar`, so the
    grader can tell a 0-d array from a scalar, and callables are refused.
    """
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise ProtocolError("malformed value")
    tag = node["t"]
    if tag == "none":
        return None
    if tag == "bool":
        return bool(node["v"])
    if tag == "int":
        return int(str(node["v"]))
    if tag == "float":
        return float(str(node["v"]))
    if tag == "str":
        return str(node["v"])
    if tag in ("ndarray", "npscalar"):
        array = _array_of(node, blobs)
        if tag == "ndarray":
            return array
        return array[()] if resolve_callable is not None else NumpyScalar(array)
    if tag in ("list", "tuple"):
        items = [decode(item, blobs, resolve_callable) for item in node["v"]]
        return items if tag == "list" else tuple(items)
    if tag == "dict":
        return {str(k): decode(v, blobs, resolve_callable) for k, v in dict(node["v"]).items()}
    if tag == "callable":
        if resolve_callable is None:
            raise ProtocolError("callables only travel from the grader to a worker")
        return resolve_callable(str(node["name"]), [decode(a, blobs, resolve_callable) for a in node["args"]])
    if tag == "opaque":
        return Opaque(str(node["type"])[:200], str(node["repr"])[:200])
    raise ProtocolError(f"unknown value tag {tag!r}")


def send_message(sock: socket.socket, header: dict[str, Any], blobs: list[bytes]) -> None:
    """Send one frame: a JSON header and its array blobs."""
    text = json.dumps(header, allow_nan=False).encode()
    parts = [_HEADER.pack(len(text), len(blobs)), text]
    for blob in blobs:
        parts.append(_BLOB_LENGTH.pack(len(blob)))
        parts.append(blob)
    sock.sendall(b"".join(parts))


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    """``size`` bytes, read as they arrive (never allocated ahead), by ``deadline`` (monotonic)."""
    parts = []
    received = 0
    while received < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete answer before the deadline")
            sock.settimeout(left)
        part = sock.recv(min(size - received, _READ_CHUNK))
        if not part:
            raise ProtocolError("connection closed")
        parts.append(part)
        received += len(part)
    return b"".join(parts)


def recv_message(
    sock: socket.socket, deadline: float | None = None, max_header_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[dict[str, Any], list[bytes]]:
    """Receive one frame by ``deadline`` (``time.monotonic()``; none: the socket's own timeout).

    Raises :class:`FrameTooLarge` for a frame over :data:`MAX_MESSAGE_BYTES` or a JSON part over
    ``max_header_bytes``, :class:`ProtocolError` on EOF or a malformed frame, and ``TimeoutError`` when
    the whole frame has not arrived by the deadline, however the bytes trickle in.
    """
    text_length, blob_count = _HEADER.unpack(_recv_exactly(sock, _HEADER.size, deadline))
    if text_length > min(max_header_bytes, MAX_MESSAGE_BYTES) or blob_count > 1_000_000:
        raise FrameTooLarge(f"a message of more than {min(max_header_bytes, MAX_MESSAGE_BYTES) >> 20} MiB of JSON")
    raw = _recv_exactly(sock, text_length, deadline)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"malformed header: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not an object")
    if _MAY_HOLD_SURROGATE.search(raw):
        header = _without_lone_surrogates(header)
    blobs = []
    total = text_length
    for _ in range(blob_count):
        (length,) = _BLOB_LENGTH.unpack(_recv_exactly(sock, _BLOB_LENGTH.size, deadline))
        total += length
        if total > MAX_MESSAGE_BYTES:
            raise FrameTooLarge(f"a message of more than {MAX_MESSAGE_BYTES >> 20} MiB")
        blobs.append(_recv_exactly(sock, length, deadline))
    return header, blobs


# A lone surrogate reaches a decoded header only as a \\uD800-\\uDFFF escape or as raw surrogate bytes.
_MAY_HOLD_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _without_lone_surrogates(node: Any) -> Any:
    """``node`` with every lone surrogate (``"\\ud800"``, which JSON can carry but UTF-8 cannot) escaped.

    A worker's text reaches reports, terminals and exports; one such character in an exception message
    would make each of them fail. Nesting is already bounded by the JSON decoder's recursion limit.
    """
    if isinstance(node, str):
        return node.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(node, list):
        return [_without_lone_surrogates(item) for item in node]
    if isinstance(node, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(value) for key, value in node.items()}
    return node


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _short_repr(value: Any) -> str:
    try:
        text = object.__repr__(value) if not isinstance(value, (set, frozenset, complex)) else repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not stop encoding
        text = "?"
    return text[:200]
