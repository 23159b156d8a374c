"""The examples a drawn property is checked on: drawn once by Hypothesis, then kept on disk, sealed.

Drawing costs far more than checking: Hypothesis spends milliseconds building each array, while a check
of one example takes microseconds. For one property, seed and number of examples Hypothesis draws the same
examples every time as long as they pass, so they are drawn once per machine and kept in a cache folder.
Later runs (a student's next ``autograder check``, the next submission of a class) replay them, and only a
failure goes back to Hypothesis, to shrink it to the smallest failing input.

Nothing in the bank is trusted because of where it lies. Each file is sealed with a keyed MAC
(HMAC-SHA256) over what it is for (the property, the seed, the number of examples, the grader's version
and the digest of its catalogues and strategies), the checksum of its examples and their count. The key
is 32 random bytes in ``bank.key`` in the cache folder, created mode 0600 on first use and read only if it
is a regular file of this user that no one else may read; the workers never see the cache folder (the
sandbox hides it, :func:`autograder.sandbox.launcher._secrets`). A file is read as data (a regular file only,
never through a symbolic link, at most :data:`MAX_BANK_FILE_BYTES`), its seal checked before anything in
it is decoded, and its examples decoded from the wire format of :mod:`autograder.sandbox.protocol` (JSON and
raw array bytes whose dtype and shape are checked), which cannot execute code. A file that fails any check (empty
lists, changed values, a file copied from another property, a link, a FIFO, a huge file) is drawn again
and rewritten, never used. Fewer examples than a property's minimum is a grader error, never a pass.

Before the bank, a read-only shipped layer: the public checks' examples, drawn when the package was built
(:mod:`autograder.shipped_examples` says why there and how), in ``shipped/`` beside this module, which no
worker can see (the sandbox hides the whole package). Its manifest lists, by file name, what each file is
for (the same binding as a bank file), its number of examples, its size and its SHA-256; a file is used
only when the manifest lists it for exactly the draw asked for and it is a regular file (read as bank
files are) whose checksum matches. Anything else (another grader version or catalogue, a changed, linked
or huge file, a manifest that cannot be read) is ignored: the examples are drawn and kept in the bank.
Nothing in that layer is keyed: it is as trusted as the package's own code, beside which it lies.

What the seal cannot stop: a process that runs as the grader's own user outside the sandbox can read the
key, as it can read everything else of that user (docs/SANDBOX.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.configuration import set_hypothesis_home_dir

from autograder import __version__
from autograder.sandbox.locations import cache_folder
from autograder.sandbox.protocol import NamedCallable, ProtocolError, decode, encode

if TYPE_CHECKING:
    from collections.abc import Callable

    from autograder.grading.catalogue import Assignment, Property

# Hypothesis' own storage, inside the cache folder (see keep_hypothesis_home).
HYPOTHESIS_HOME = "hypothesis"
_FORMAT = 3  # 3: arrays as dtype and shape in the JSON, not .npy headers
KEY_NAME = "bank.key"
_KEY_BYTES = 32
# The largest bank file read or written (a course's largest is about 5 MiB).
MAX_BANK_FILE_BYTES = 64 << 20
_MAC_CONTEXT = b"autograder example bank\0"
# Bank files and the key are read as data: never through a symbolic link, never blocking on a FIFO.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# Keys read or made by this process, by cache folder: one key per folder for the process's life.
_keys: dict[str, bytes] = {}
# The shipped layer: a folder of the package, written when the package is built (autograder.shipped_examples).
SHIPPED_FOLDER = "shipped"
MANIFEST_NAME = "MANIFEST.json"
MANIFEST_FORMAT = 1
# The manifest of a course's public examples is about 100 KiB.
MAX_MANIFEST_BYTES = 4 << 20
# The manifest last read, by the (device, inode, size, mtime) of its file: read once per process, in effect.
_manifests: dict[tuple[str, int, int, int, int], dict[str, Any]] = {}


class ExampleBankError(Exception):
    """Hypothesis drew fewer examples than the property needs: a grader error, never a pass."""


def hypothesis_settings(max_examples: int) -> settings:
    """The settings of every drawn property: no example database, no deadline, no health checks, quiet.

    The explain phase is left out: it reruns many variants of a shrunk failure to annotate a report the
    grader never prints, and made a failing property ten times slower. Whatever Hypothesis stores goes
    to the grader's cache folder (:func:`keep_hypothesis_home`).
    """
    keep_hypothesis_home()
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


def keep_hypothesis_home() -> Path:
    """Point Hypothesis' storage at ``hypothesis/`` in the cache folder, and return that folder.

    Even with no example database Hypothesis writes: it keeps the constants it collects from the source
    files of the modules loaded (the grader's own, when it is installed from a checkout) in
    ``.hypothesis/constants/``, by default in the working folder. That is a course folder, or the folder
    of the notebook being checked, where ``nbgrader generate_assignment`` would copy it into the release
    and ``autograde`` into ``autograded/``. In the cache folder it is also out of the workers' sight, as
    the example bank is, and nothing a student left in a working folder can change what is drawn.
    Set on every use (it is one setting for the whole process), so that ``$AUTOGRADER_CACHE`` is read
    when Hypothesis runs, as the bank reads it.
    """
    home = cache_folder() / HYPOTHESIS_HOME
    set_hypothesis_home_dir(home)
    return home


def fewest_examples(prop: Property, max_examples: int) -> int:
    """The fewest examples a verdict on ``prop`` may rest on: its minimum, and never fewer than one."""
    return max(1, min(prop.min_examples, max_examples))


def drawn_examples(prop: Property, seed: int, max_examples: int) -> list[Any]:
    """The examples Hypothesis draws for ``prop`` with ``seed`` while every one of them passes.

    Replayed from the bank when its file there is sealed for exactly this draw and holds enough examples;
    otherwise drawn again and the file rewritten. Raises :class:`ExampleBankError` when Hypothesis itself
    draws fewer examples than :func:`fewest_examples`.
    """
    shipped = shipped_examples(prop, seed, max_examples)
    if shipped is not None:
        return shipped
    binding = _binding(prop, seed, max_examples)
    name = bank_name(binding)
    fewest = fewest_examples(prop, max_examples)
    folder = cache_folder()
    key = bank_key(folder)
    kept = _read(folder / "examples", name, binding, key)
    if kept is not None and len(kept) >= fewest:
        return kept
    examples = _draw(prop, seed, max_examples)
    if len(examples) < fewest:
        raise ExampleBankError(
            f"property {prop.key}: Hypothesis drew {len(examples)} examples, fewer than the {fewest} it needs"
        )
    _write(folder / "examples", name, binding, key, examples)
    return examples


def shipped_examples(prop: Property, seed: int, max_examples: int) -> list[Any] | None:
    """The shipped layer's examples of this draw, if it holds enough of them unchanged; else ``None``."""
    binding = _binding(prop, seed, max_examples)
    shipped = read_shipped(bank_name(binding), binding)
    return shipped if shipped is not None and len(shipped) >= fewest_examples(prop, max_examples) else None


def shipped_folder() -> Path:
    """The shipped layer: ``shipped/`` in the ``autograder`` package, where the build writes it (``setup.py``;
    hidden from every worker)."""
    return Path(__file__).resolve().parents[1] / SHIPPED_FOLDER


def read_shipped(name: str, binding: bytes) -> list[Any] | None:
    """The shipped examples of ``binding`` if the manifest lists them for exactly it and their file is
    unchanged; ``None`` for anything else (then they are drawn, as without a shipped layer)."""
    folder = shipped_folder()
    entry = _manifest(folder).get(name)
    if not isinstance(entry, dict):
        return None
    checksum, count, size = entry.get("sha256"), entry.get("count"), entry.get("bytes")
    if not (isinstance(checksum, str) and type(count) is int and type(size) is int and 0 <= size):
        return None
    if json.dumps(entry.get("for")).encode() != binding:
        return None  # drawn for another grader, catalogue or library version: stale
    data = read_regular(folder, name, min(size, MAX_BANK_FILE_BYTES))
    if data is None or not hmac.compare_digest(checksum.encode(errors="replace"), _sha256(data)):
        return None
    return decoded_payload(data, count)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode()


def _manifest(folder: Path) -> dict[str, Any]:
    """The shipped layer's manifest (file name: what it is for, its count, size and SHA-256), or nothing."""
    try:
        status = os.stat(folder / MANIFEST_NAME, follow_symlinks=False)
    except OSError:
        return {}
    signature = (str(folder), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
    if signature not in _manifests:
        _manifests.clear()
        data = read_regular(folder, MANIFEST_NAME, MAX_MANIFEST_BYTES)
        try:
            manifest = json.loads(data) if data is not None else {}
        except (ValueError, RecursionError):
            manifest = {}
        valid = isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT
        files = manifest.get("files") if valid else None
        _manifests[signature] = files if isinstance(files, dict) else {}
    return _manifests[signature]


def ship_public_examples(
    assignment: Assignment, count: int, seed_of: Callable[[Property], int], folder: Path
) -> dict[str, dict[str, Any]]:
    """Draw ``count`` examples of every public drawn property of ``assignment`` (each with ``seed_of(it)``)
    into ``folder``, as a check would draw them.

    What :mod:`autograder.shipped_examples` runs when the package is built, in an interpreter that has
    loaded what a check loads. Returns the manifest entries of the files written, by file name. A property
    whose examples the wire format cannot carry, or of which Hypothesis draws fewer than its minimum, is
    left out (a check draws it).
    """
    entries: dict[str, dict[str, Any]] = {}
    for prop in assignment.properties:
        if not prop.public or prop.strategy is None:
            continue
        seed = seed_of(prop)
        binding = _binding(prop, seed, count)
        examples = _draw(prop, seed, count)
        payload = encoded_payload(examples)
        if payload is None or len(examples) < fewest_examples(prop, count):
            continue
        if len(payload) > MAX_BANK_FILE_BYTES:
            continue
        name = bank_name(binding)
        (folder / name).write_bytes(payload)
        entries[name] = {
            "for": json.loads(binding),
            "count": len(examples),
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
    return entries


def _draw(prop: Property, seed: int, max_examples: int) -> list[Any]:
    assert prop.strategy is not None
    examples: list[Any] = []

    def keep(example: Any) -> None:
        examples.append(example)

    hypothesis_seed(seed)(hypothesis_settings(max_examples)(given(prop.strategy)(keep)))()
    return examples


def bank_name(binding: bytes) -> str:
    """The file name of the examples of ``binding``, in the bank and in the shipped layer."""
    return hashlib.sha256(binding).hexdigest()[:32] + ".json"


def _binding(prop: Property, seed: int, max_examples: int) -> bytes:
    """What a bank file is for: everything that changes the examples, and the grader that drew them."""
    return json.dumps([_FORMAT, prop.key, seed, max_examples, __version__, _sources_digest()]).encode()


@cache
def _sources_digest() -> str:
    """What the examples depend on besides the seed: library versions and the catalogues' source."""
    import hypothesis
    import numpy

    digest = hashlib.sha256(f"{hypothesis.__version__} {numpy.__version__}".encode())
    exercises = Path(__file__).resolve().parents[1] / "exercises"
    for source in sorted(exercises.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _seal(key: bytes, binding: bytes, checksum: str, count: int) -> bytes:
    """The MAC of a bank file: its binding, its payload's checksum and its number of examples."""
    message = _MAC_CONTEXT + binding + b"\0" + checksum.encode() + b"\0" + str(count).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest().encode()


def bank_key(folder: Path | None = None) -> bytes:
    """The bank's key: ``bank.key`` in the cache folder, made there (mode 0600) on first use.

    A key file that is not a regular file of this user, private to it and of the right size is never
    used: a fresh key replaces it. Where no key can be stored (a read-only cache folder) this process
    keeps a key of its own, so that what it writes is trusted by no other process.
    """
    folder = cache_folder() if folder is None else folder
    if str(folder) not in _keys:
        _keys[str(folder)] = _stored_key(folder) or secrets.token_bytes(_KEY_BYTES)
    return _keys[str(folder)]


def _stored_key(folder: Path) -> bytes | None:
    path = folder / KEY_NAME
    key = _read_key(path)
    if key is not None:
        return key
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".bank-key-")  # mode 0600
    except OSError:
        return None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(secrets.token_bytes(_KEY_BYTES))
        try:
            os.link(temporary, path)  # never over a key another grader has just made
        except FileExistsError:
            if _read_key(path) is None:
                os.replace(temporary, path)  # something untrusted where the key belongs
        return _read_key(path)
    except OSError:
        return None
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _read_key(path: Path) -> bytes | None:
    """The key in ``path`` if it is a regular file of this user that no one else may read or write."""
    try:
        handle = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        status = os.fstat(handle)
        owner = os.geteuid() if hasattr(os, "geteuid") else status.st_uid
        if not stat.S_ISREG(status.st_mode) or status.st_mode & 0o077 or status.st_uid != owner:
            return None
        key = os.read(handle, _KEY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(handle)
    return key if len(key) == _KEY_BYTES else None


def _read(folder: Path, name: str, binding: bytes, key: bytes) -> list[Any] | None:
    """The examples of a bank file sealed for ``binding`` with ``key``; ``None`` for anything else.

    The seal and the checksum are checked before anything in the payload is decoded.
    """
    data = read_regular(folder, name)
    if data is None:
        return None
    first_line, _, payload = data.partition(b"\n")
    try:
        header = json.loads(first_line)
        checksum, count, mac = header["checksum"], header["count"], header["mac"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not (isinstance(checksum, str) and isinstance(mac, str) and type(count) is int):
        return None
    if not hmac.compare_digest(mac.encode(errors="replace"), _seal(key, binding, checksum, count)):
        return None
    if not hmac.compare_digest(checksum.encode(errors="replace"), hashlib.sha256(payload).hexdigest().encode()):
        return None
    return decoded_payload(payload, count)


def decoded_payload(payload: bytes, count: int) -> list[Any] | None:
    """The ``count`` examples of a payload of :func:`encoded_payload`; ``None`` for anything else.

    Decoded from the wire format of :mod:`autograder.sandbox.protocol` (JSON and raw array bytes whose dtype and
    shape are checked), which builds data and never runs code.
    """
    try:
        stored = json.loads(payload)
        blobs = [base64.b64decode(blob) for blob in stored["blobs"]]
        examples = decode(stored["examples"], blobs, lambda name, args: NamedCallable(name, *args))
    except (ValueError, KeyError, TypeError, ProtocolError, RecursionError):
        return None
    return examples if isinstance(examples, list) and len(examples) == count else None


def encoded_payload(examples: list[Any]) -> bytes | None:
    """``examples`` in the wire format, as JSON; ``None`` when it cannot carry one of them exactly."""
    blobs: list[bytes] = []
    try:
        tree = encode(examples, blobs)
    except (TypeError, ValueError):
        return None
    if _has_opaque(tree):
        return None  # an example the wire format cannot carry: draw it afresh each time
    return json.dumps({"examples": tree, "blobs": [base64.b64encode(b).decode() for b in blobs]}).encode()


def read_regular(folder: Path, name: str, cap: int = MAX_BANK_FILE_BYTES) -> bytes | None:
    """``folder/name`` read as data: a regular file, never through a link, at most ``cap`` bytes."""
    try:
        directory = os.open(folder, _FOLDER_FLAGS)
    except OSError:
        return None
    try:
        handle = os.open(name, _READ_FLAGS, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode) or status.st_size > cap:
            return None
        with os.fdopen(handle, "rb", closefd=False) as stream:
            data = stream.read(cap + 1)
    except OSError:
        return None
    finally:
        os.close(handle)
    return data if len(data) <= cap else None


def _has_opaque(tree: Any) -> bool:
    if isinstance(tree, dict):
        return tree.get("t") == "opaque" or any(_has_opaque(value) for value in tree.values())
    if isinstance(tree, list):
        return any(_has_opaque(item) for item in tree)
    return False


def _write(folder: Path, name: str, binding: bytes, key: bytes, examples: list[Any]) -> None:
    """Keep ``examples``, sealed, when the wire format carries them exactly; a bank that cannot be written
    is skipped (the examples are drawn again next time)."""
    payload = encoded_payload(examples)
    if payload is None:
        return
    checksum = hashlib.sha256(payload).hexdigest()
    seal = _seal(key, binding, checksum, len(examples)).decode()
    header = {"format": _FORMAT, "for": json.loads(binding), "count": len(examples), "checksum": checksum}
    data = json.dumps({**header, "mac": seal}).encode() + b"\n" + payload
    if len(data) > MAX_BANK_FILE_BYTES:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = os.open(folder, _FOLDER_FLAGS)
    except OSError:
        return
    temporary = f".{name}.{secrets.token_hex(8)}.tmp"
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=directory)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # Atomic, and over whatever lies there (a link is replaced, not followed): parallel graders
        # never read half a file.
        os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        try:
            os.unlink(temporary, dir_fd=directory)
        except OSError:
            pass
    finally:
        os.close(directory)
