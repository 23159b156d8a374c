"""Confining worker processes with the operating system's own mechanisms (docs/SANDBOX.md).

On Linux the zygote calls :func:`seal_zygote` once, after its imports: it moves into fresh mount,
network, IPC and UTS namespaces (and a user namespace when the grader is not root) and pivots into a
new root that shows the system's programs and libraries, Python and its packages, read-only, and
nothing else: no course folder, no solutions, no grader files, no home folders. Each worker then gets
its own PID and mount namespaces (:func:`enter_worker_namespaces`), a fresh ``/proc`` and a private
``/tmp`` of bounded size (:func:`mount_worker_filesystems`), and drops to an unprivileged user with
resource limits (:func:`apply_limits`, :func:`drop_privileges`) before any student code runs.

Everything here is done with the kernel's own calls (``unshare``, ``mount``, ``pivot_root``,
``setrlimit``, ``setresuid``, ``capset``, ``prctl``) through :mod:`ctypes`; no helper program is needed.
Where a mechanism is not available (another operating system, a container that forbids namespaces),
the step is skipped and the protection is reported missing with the reason: grading still works, with
separate processes and the grader's time limits.
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import importlib.util
import os
import platform
import signal
import site
import sys
import sysconfig
import time
from collections.abc import Iterable

# What each protection promises, in the words of the report and docs/SANDBOX.md.
PROTECTIONS: dict[str, str] = {
    "separate_process": "student code runs in its own worker process, never in the grader",
    "wall_time": "every call has a wall-time limit measured by the grader",
    "cpu_time": "a CPU-time limit (RLIMIT_CPU)",
    "memory": "an address-space limit (RLIMIT_AS)",
    "processes": "a limit on the worker's own processes and threads (RLIMIT_NPROC)",
    "file_size": "a file-size limit (RLIMIT_FSIZE)",
    "environment": "a scrubbed environment",
    "network": "no network: a fresh network namespace with no interface up",
    "filesystem": "a read-only view of the system and Python only: no solutions, grader or course files",
    "private_tmp": "a private temporary working directory of bounded size, removed afterwards",
    "unprivileged": "an unprivileged user with no capabilities and no way to gain any",
    "no_leftovers": "a PID namespace per worker: nothing it starts outlives it, and it sees no other process",
    "memory_together": "a memory limit on all of a worker's processes together (heap, shared memory, tmpfs)",
    "cpu_together": "a CPU limit on all of a worker's processes together: one core's share",
}

# Protections that need Linux namespaces (and, for some, root or user namespaces).
NAMESPACE_PROTECTIONS = ("network", "filesystem", "private_tmp", "unprivileged", "no_leftovers", "processes")

# Workers of a grader running as root get a fresh user id each: this base plus the keeper's pid.
WORKER_UID_BASE = 1 << 30

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000

_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_NOATIME = 0x400
_MS_NODIRATIME = 0x800
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_MS_RELATIME = 0x200000
_MS_STRICTATIME = 0x1000000
_MNT_DETACH = 0x2
# Where a worker briefly sees the zygote's /tmp while it covers it with a private one.
_TMP_STASH = "/.zygote-tmp"
# Per-mount options as /proc/self/mountinfo spells them: a remount in a user namespace must repeat them.
_MOUNT_OPTION_FLAGS = {
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "noatime": _MS_NOATIME,
    "nodiratime": _MS_NODIRATIME,
    "relatime": _MS_RELATIME,
    "strictatime": _MS_STRICTATIME,
}

_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522
_LAST_CAPABILITY = 63  # dropping one the kernel does not know is a harmless EINVAL

# pivot_root has no glibc wrapper: its system-call number per architecture (else chroot is used).
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

# The device nodes a Python program expects; the rest of /dev stays hidden.
_DEVICES = ("null", "zero", "full", "random", "urandom")
# System folders the interpreter and its libraries may read at run time.
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_ROOT_OPTIONS = "mode=0755,size=4m"


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def is_linux() -> bool:
    return sys.platform.startswith("linux")


def missing_off_linux() -> dict[str, str]:
    """The protections this operating system cannot give, each with the reason (none on Linux)."""
    if is_linux():
        return {}
    reason = f"needs Linux namespaces, not available on {platform.system() or sys.platform}"
    return {name: reason for name in NAMESPACE_PROTECTIONS}


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    """The C library, through the symbols already loaded (``ctypes.util.find_library`` would fork)."""
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _unshare(flags: int) -> None:
    _check(_libc().unshare(ctypes.c_int(flags)), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    args = [None if text is None else text.encode() for text in (source, target, fstype, data)]
    _check(_libc().mount(args[0], args[1], args[2], ctypes.c_ulong(flags), args[3]), f"mount {target}")


def _prctl(option: int, value: int) -> None:
    _check(_libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def seal_zygote(visible: Iterable[str], hidden: Iterable[str], scratch: str) -> dict[str, str]:
    """Move this process into its own namespaces and a read-only root that shows only ``visible``.

    ``hidden`` are folders to cover with an empty one should a visible folder contain them (a course
    folder used as the Python prefix); ``scratch`` is an empty folder to build the new root on.
    Returns the protections that could not be set up, each with the reason. Call it once, after the
    imports workers need and before any student code runs.
    """
    if not is_linux():
        return missing_off_linux()
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS
    try:
        if uid == 0:
            _unshare(flags)
        else:
            _unshare(flags | _CLONE_NEWUSER)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as error:
        reason = (
            f"the kernel refused new namespaces ({error.strerror}); a grader that is not root needs "
            "unprivileged user namespaces (on Ubuntu: sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
        )
        return {name: reason for name in NAMESPACE_PROTECTIONS}
    try:
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
        _build_root(scratch, list(visible), list(hidden))
    except OSError as error:
        reason = f"the private root could not be built ({error})"
        return {"filesystem": reason, "private_tmp": reason, "no_leftovers": reason}
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    return {}


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _build_root(root: str, visible: list[str], hidden: list[str]) -> None:
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, _ROOT_OPTIONS)
    shown = []
    for path in _outermost(visible):
        inside = root + path
        if os.path.islink(path) and os.path.dirname(path) == "/":
            os.symlink(os.readlink(path), inside)  # /bin -> usr/bin on a merged-/usr system
        elif os.path.isdir(path):
            os.makedirs(inside, exist_ok=True)
            _mount(path, inside, None, _MS_BIND | _MS_REC)
            shown.append(path)
    for path in shown_at(hidden, shown):
        target = root + path
        if os.path.realpath(target) != os.path.realpath(root) + path:  # a mount would follow the link
            raise OSError(errno.ELOOP, f"cannot hide {path}: a symbolic link on the way")
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=4k,mode=0")
    _make_dev(root)
    for folder in ("tmp", "old-root", "proc", _TMP_STASH.lstrip("/")):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    # The host's /proc, for the zygote only: each worker covers it with a fresh one of its own PID
    # namespace (a user namespace may only mount proc where one is already fully visible).
    _mount("/proc", os.path.join(root, "proc"), None, _MS_BIND | _MS_REC)
    _remount_read_only(root)
    os.chdir(root)
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None:
        _check(_libc().syscall(number, b".", b"old-root"), "pivot_root")
        os.chdir("/")
        _check(_libc().umount2(b"/old-root", _MNT_DETACH), "umount old root")
        os.rmdir("/old-root")
    else:
        os.chroot(".")
        os.chdir("/")
    _mount(None, "/", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def shown_at(hidden: list[str], shown: list[str]) -> list[str]:
    """Every path where a folder in ``hidden`` shows through a folder in ``shown`` (each bound whole).

    A folder is found by what it really is: one reached through a link (a venv's ``lib64``, a prefix
    that is a symbolic link) is hidden where each bound folder that holds it shows it.
    """
    places = set()
    for secret in hidden:
        real = os.path.realpath(secret)
        for outer in shown:
            outer_real = os.path.realpath(outer).rstrip("/")
            if real.startswith(outer_real + "/"):
                places.add(outer.rstrip("/") + real[len(outer_real) :])
    return sorted(places)


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` less those inside another one (binding the outer folder shows them already)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == outer or path.startswith(outer.rstrip("/") + "/") for outer in kept):
            kept.append(path)
    return sorted(kept)


def _make_dev(root: str) -> None:
    dev = os.path.join(root, "dev")
    os.makedirs(dev, exist_ok=True)
    _mount("tmpfs", dev, "tmpfs", _MS_NOSUID | _MS_NOEXEC, "mode=0755,size=64k")
    for name in _DEVICES:
        target = os.path.join(dev, name)
        with open(target, "w"):
            pass  # an empty file to bind the device onto
        _mount(f"/dev/{name}", target, None, _MS_BIND)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "fd/0"), ("stdout", "fd/1"), ("stderr", "fd/2")):
        os.symlink(link, os.path.join(dev, name))
    os.makedirs(os.path.join(dev, "shm"))


def _remount_read_only(root: str) -> None:
    """Make every mount under ``root`` read-only, keeping the flags a user namespace locks."""
    prefix = root.rstrip("/") + "/"
    keep = (prefix + "dev/", prefix + "proc")  # device binds stay usable; /proc is covered per worker
    for mount_point, options in _mounts():
        if not mount_point.startswith(prefix) or mount_point.startswith(keep):
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
        for option in options:
            flags |= _MOUNT_OPTION_FLAGS.get(option, 0)
        _mount(None, mount_point, None, flags)
    _mount(None, prefix + "dev", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NOEXEC)


def _mounts() -> list[tuple[str, list[str]]]:
    """``(mount point, per-mount options)`` of this namespace's mounts, parents first."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            fields = line.split()
            point = fields[4]
            for escape, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
                point = point.replace(escape, char)
            found.append((point, fields[5].split(",")))
    return found


def enter_worker_namespaces() -> bool:
    """Give this process mount and IPC namespaces of its own, and its next child a PID namespace of its own.

    Called by a worker's keeper, which stays outside: the child it forks next is process 1 of the new
    PID namespace, and when that child ends the kernel kills everything left in it.
    """
    if not is_linux():
        return False
    try:
        # An IPC namespace of its own too: SysV shared memory dies with the worker, not with the grader.
        _unshare(_CLONE_NEWPID | _CLONE_NEWNS | _CLONE_NEWIPC)
    except OSError:
        return False
    return True


def processes_sharing_pid_namespace(pid: int) -> set[int]:
    """Every process (as this namespace numbers them) in the PID namespace that ``pid`` is in.

    Empty when that namespace cannot be read (no ``/proc``, or ``pid`` has ended).
    """
    try:
        target = os.stat(f"/proc/{pid}/ns/pid")
    except OSError:
        return set()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            namespace = os.stat(f"/proc/{entry}/ns/pid")
        except OSError:
            continue  # ended while we looked, or not ours to read
        if (namespace.st_ino, namespace.st_dev) == (target.st_ino, target.st_dev):
            found.add(int(entry))
    return found


def wait_until_stopped(pids: Iterable[int], limit: float = 0.1) -> bool:
    """Wait (up to ``limit`` seconds) until every process in ``pids`` has stopped or ended.

    A stop signal takes effect when the process is next scheduled: one running on another core may run
    on for a moment after ``kill`` returns. False when some process was still running at the limit.
    """
    waiting = set(pids)
    deadline = time.monotonic() + limit
    while waiting:
        waiting = {pid for pid in waiting if _state(f"/proc/{pid}/stat") not in ("T", "t", "Z", "X", "")}
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.0002)
    return not waiting


def _state(path: str) -> str:
    """The scheduler state in a ``/proc/.../stat`` file (``R``, ``S``, ``T`` ...), empty when it has ended."""
    try:
        with open(path, "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


def thread_times(pids: Iterable[int]) -> dict[int, tuple[int, int, bool]]:
    """Every thread of ``pids``: ``(ns run on a CPU, ns waited for one, whether it is runnable now)``.

    The kernel's own accounting (``/proc/PID/task/TID/schedstat``), which no process can change. Empty
    where it cannot be read (another operating system, a kernel without scheduler statistics).
    """
    found: dict[int, tuple[int, int, bool]] = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            task = f"/proc/{pid}/task/{tid}"
            try:
                with open(f"{task}/schedstat", "rb") as stat:
                    run, wait = (int(field) for field in stat.read().split()[:2])
            except (OSError, ValueError):
                continue
            state = _state(f"{task}/stat")
            if state:
                found[int(tid)] = (run, wait, state == "R")
    return found


def own_thread_wait() -> int | None:
    """Nanoseconds this thread has waited for a CPU while runnable, or None where that is not kept."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as stat:
            return int(stat.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def mount_worker_filesystems(tmp_bytes: int, uid: int, gid: int) -> dict[str, str]:
    """For process 1 of a worker's PID namespace: its own ``/proc``, a private ``/tmp`` and ``/dev/shm``.

    Returns the protections that could not be set up. If no ``/proc`` of its own can be mounted, the
    zygote's is covered with an empty folder: a worker must never see the grader's processes.
    """
    missing = {}
    try:
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    except OSError as error:
        _mount("tmpfs", "/proc", "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=4k,mode=0555")
        missing["no_leftovers"] = f"no /proc of its own ({error.strerror}); /proc is empty instead"
    # A course checked out under /tmp (a CI clone) has its Python environment there: keep those folders
    # visible through the private /tmp, read-only as they were.
    under_tmp = _outermost([point for point, _ in _mounts() if point.startswith("/tmp/")])
    if under_tmp:
        _mount("/tmp", _TMP_STASH, None, _MS_BIND | _MS_REC)
    owner = f"uid={uid},gid={gid}"
    for folder in ("/tmp", "/dev/shm"):
        _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={tmp_bytes},mode=0700,{owner}")
    for point in under_tmp:
        os.makedirs(point, exist_ok=True)
        _mount(_TMP_STASH + point.removeprefix("/tmp"), point, None, _MS_BIND | _MS_REC)
        if not os.statvfs(point).f_flag & os.ST_RDONLY:
            raise OSError(errno.EROFS, f"{point} would be writable in the worker")
    if under_tmp:
        _check(_libc().umount2(_TMP_STASH.encode(), _MNT_DETACH), "umount the stash of /tmp")
    return missing


def worker_ids(keeper_pid: int) -> tuple[int, int]:
    """The user and group a worker runs as: a fresh unprivileged id under root, else the grader's own."""
    if os.getuid() == 0:
        return WORKER_UID_BASE + keeper_pid, WORKER_UID_BASE + keeper_pid
    return os.getuid(), os.getgid()


def apply_limits(limits: dict[str, int], count_processes: bool) -> dict[str, str]:
    """Set the resource limits in ``limits``; returns the protections that could not be set, with why.

    ``count_processes``: whether RLIMIT_NPROC counts this worker's processes alone (a fresh user id,
    or a user namespace of its own). Where it would count all of the user's processes it is not set.
    """
    try:
        import resource
    except ImportError:
        return {name: "no resource limits on this system" for name in ("cpu_time", "memory", "processes", "file_size")}
    names = {
        "cpu_seconds": ("cpu_time", resource.RLIMIT_CPU),
        "address_space_bytes": ("memory", resource.RLIMIT_AS),
        "file_size_bytes": ("file_size", resource.RLIMIT_FSIZE),
        "open_files": ("file_size", resource.RLIMIT_NOFILE),
        "core_bytes": ("file_size", resource.RLIMIT_CORE),
    }
    if count_processes and hasattr(resource, "RLIMIT_NPROC"):
        names["processes"] = ("processes", resource.RLIMIT_NPROC)
    missing = {}
    if "processes" not in names:
        missing["processes"] = "RLIMIT_NPROC would count every process of the grader's user here"
    for key, value in limits.items():
        if key not in names:
            continue
        protection, which = names[key]
        try:
            resource.setrlimit(which, (value, value))
        except (OSError, ValueError) as error:
            missing[protection] = f"setrlimit refused ({error})"
    return missing


def drop_privileges(uid: int, gid: int) -> dict[str, str]:
    """Become ``uid``/``gid`` with no capabilities, and no way to gain any (``no_new_privs``)."""
    if not is_linux():
        return {"unprivileged": "needs Linux"}
    try:
        libc = _libc()
        for capability in range(_LAST_CAPABILITY + 1):
            libc.prctl(_PR_CAPBSET_DROP, ctypes.c_ulong(capability), 0, 0, 0)
        if os.getuid() == 0:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        header = _CapHeader(_CAPABILITY_VERSION_3, 0)
        _check(libc.capset(ctypes.byref(header), (_CapData * 2)()), "capset")
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    except OSError as error:
        return {"unprivileged": f"could not drop privileges ({error})"}
    if os.getuid() == 0:
        return {"unprivileged": "still root"}
    return {}


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent ends (Linux; elsewhere nothing happens)."""
    if is_linux():
        try:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass


def visible_paths(packages: Iterable[str] = ()) -> list[str]:
    """What a worker may see: system folders, the interpreter and its packages, and ``packages``.

    Only the folders of the named top-level packages are added (``course_lib``, which notebooks
    import), never a folder holding them, so a course checkout's ``solutions/`` stays out of view.
    """
    paths = {path for path in _SYSTEM_PATHS if os.path.lexists(path)}
    python = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    python |= {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    python |= set(site.getsitepackages()) | {os.path.dirname(sys.executable)}
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            python |= set(spec.submodule_search_locations)
    # A folder is shown where Python looks for it and where it really is (they differ through symlinks).
    paths |= {p for p in python if os.path.isdir(p)} | {os.path.realpath(p) for p in python if os.path.isdir(p)}
    return sorted(paths)
