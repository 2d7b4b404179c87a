"""The single-writer lock of a results store: ``RUN/results.lock``, safe under PID reuse and races.

The writer holds a kernel lock (``flock``) on the lock file for as long as it lives, so a writer
killed in any way (``kill -9``, a container restart that gives the next process the same PID)
leaves no lock behind that counts, and two processes meeting a stale lock file cannot both take
it: the kernel grants the ``flock`` to one of them. The file also records who holds it (host,
PID, process start time, boot id and a random token) for the messages, and for filesystems
without ``flock``, where the lock is the file itself, created with ``O_CREAT | O_EXCL`` and
judged stale from that record.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
import time
from pathlib import Path

from curriculens.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the record alone decides
    fcntl = None  # type: ignore[assignment]

#: Tokens of the locks this process holds (a second Store in one process must not take over).
_HELD: set[str] = set()


class WriteLock:
    """The lock file ``path`` guarding the store ``store`` (taken by :meth:`acquire`).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> lock = WriteLock(d / "results.lock", d / "results.sqlite").acquire()
    >>> (d / "results.lock").exists(), lock.release(), (d / "results.lock").exists()
    (True, None, False)
    """

    def __init__(self, path: str | Path, store: str | Path):
        self.path = Path(path)
        self.store = Path(store)
        self.owner = _owner()
        self.fd: int | None = None
        self.taken_over: dict | None = None  # the record of a stale lock this one replaced

    # ------------------------------------------------------------------ taking it
    def acquire(self) -> WriteLock:
        """Take the lock or raise :class:`StoreError` naming the holder (and the file)."""
        if fcntl is None:
            return self._acquire_exclusive()
        for _ in range(20):  # retried only when the file is replaced under us
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                got = _flock(fd)
            except BaseException:
                os.close(fd)
                raise
            if got is None:  # this filesystem has no flock: the file itself is the lock
                empty = os.fstat(fd).st_size == 0
                os.close(fd)
                if empty:  # the file this attempt created, not someone's record
                    self.path.unlink(missing_ok=True)
                return self._acquire_exclusive()
            if not got:
                holder = _read_fd(fd)
                os.close(fd)
                raise StoreError(self._busy(holder))
            if not _names(fd, self.path):  # its last holder removed it as we opened it
                os.close(fd)
                continue
            try:
                previous = _read_fd(fd)
                if _legacy_alive(previous):
                    raise StoreError(self._busy(previous, legacy=True))
                _write_fd(fd, self.owner)
            except BaseException:
                os.close(fd)
                raise
            self.fd, self.taken_over = fd, previous
            _HELD.add(self.owner["token"])
            return self
        raise StoreError(f"Could not take the lock {str(self.path)!r}: it kept changing.")

    def _acquire_exclusive(self) -> WriteLock:
        """The lock as an ``O_CREAT | O_EXCL`` file, for filesystems without ``flock``."""
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = _read_path(self.path)
                verdict = judge(holder)
                if verdict == "stale" and self._remove_stale(holder):
                    self.taken_over = holder
                    continue
                raise StoreError(self._busy(holder, unsure=verdict != "live")) from None
            try:
                _write_fd(fd, self.owner)
            except BaseException:
                os.close(fd)
                self.path.unlink(missing_ok=True)
                raise
            self.fd = fd
            _HELD.add(self.owner["token"])
            return self
        raise StoreError(f"Could not take the lock {str(self.path)!r}: it kept changing.")

    def _remove_stale(self, holder: dict | None) -> bool:
        """Move a stale lock file aside atomically; False if another process was faster."""
        grave = self.path.with_name(f"{self.path.name}.stale-{self.owner['token']}")
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return True  # someone removed it; race for the O_EXCL create
        if _read_path(grave) != holder:  # we moved a fresh lock: give it back
            os.rename(grave, self.path)
            return False
        grave.unlink(missing_ok=True)
        return True

    # ------------------------------------------------------------------ letting go
    def release(self) -> None:
        """Remove the file and drop the lock; safe to call twice."""
        if self.fd is None:
            return
        try:
            if (
                _names(self.fd, self.path)
                and (_read_path(self.path) or {}).get("token") == self.owner["token"]
            ):
                self.path.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(self.fd)  # closing drops the flock
            self.fd = None
            _HELD.discard(self.owner["token"])

    # ------------------------------------------------------------------ messages
    def _busy(self, holder: dict | None, *, legacy: bool = False, unsure: bool = False) -> str:
        store, lock = str(self.store), str(self.path)
        if holder and holder.get("token") in _HELD:
            return (
                f"Store {store!r} is already open for writing in this process. Only one writer "
                "is allowed: close the other Store (or use `with Store(...)`) first, or open "
                "this one with readonly=True."
            )
        who = _describe(holder)
        if legacy:
            return (
                f"Store {store!r} is being written by {who} (a lock of an older curriculens). "
                f"Only one writer is allowed: wait for it to finish. If no sweep is running on "
                f"this store, the lock is stale: remove {lock!r} and re-run."
            )
        if unsure:
            return (
                f"Store {store!r} is locked by {who}, which cannot be checked from here. Only "
                f"one writer is allowed. If no sweep is running on this store, the lock is "
                f"stale: remove {lock!r} and re-run."
            )
        return (
            f"Store {store!r} is being written by {who}. Only one writer is allowed: wait for "
            f"it to finish, or open the store with readonly=True. (The lock is {lock!r}; it "
            "is released when that process ends, however it ends.)"
        )


def judge(holder: dict | None) -> str:
    """``"live"``, ``"stale"`` or ``"unknown"``: is the recorded holder still running?

    Stale means provably gone: same host and boot, and its PID is free or now belongs to a
    process that started at another time (PID reuse, e.g. PID 1 after a container restart).
    """
    if not holder or "pid" not in holder:
        return "unknown"
    if holder.get("token") in _HELD:
        return "live"
    me = _owner()
    if holder.get("host") not in (None, me["host"]):
        return "unknown"
    if holder.get("boot") and me["boot"] and holder["boot"] != me["boot"]:
        return "stale"  # rebooted since
    pid = int(holder["pid"])
    if pid == os.getpid():
        return "stale"  # our PID, but not a lock this process holds
    if not _alive(pid):
        return "stale"
    start = holder.get("start")
    if start is not None and _process_start(pid) not in (None, start):
        return "stale"  # the PID was reused
    return "live"


def _flock(fd: int) -> bool | None:
    """True if taken, False if held elsewhere, None if the filesystem does not support it."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return False
        return None  # ENOLCK, EOPNOTSUPP, EINVAL: no flock here
    return True


def _names(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev)


def _owner() -> dict:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "start": _process_start(pid),
        "boot": _boot_id(),
        "token": secrets.token_hex(8),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another process"
    who = f"process {holder.get('pid', '?')}"
    if holder.get("host"):
        who += f" on {holder['host']}"
    if holder.get("since"):
        who += f" (since {holder['since']})"
    return who


def _read_fd(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 4096, 0)
    except OSError:
        return None
    return _parse(data)


def _read_path(path: Path) -> dict | None:
    try:
        return _parse(path.read_bytes()[:4096])
    except OSError:
        return None


def _parse(data: bytes) -> dict | None:
    text = data.decode("utf-8", "replace").strip()
    if not text:
        return None
    if text.isdigit():  # the bare PID written by curriculens before schema 2
        return {"pid": int(text), "legacy": True}
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


def _write_fd(fd: int, owner: dict) -> None:
    data = json.dumps(owner, sort_keys=True).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _legacy_alive(holder: dict | None) -> bool:
    """A bare-PID lock of an older curriculens (which took no flock) whose process runs."""
    if not holder or not holder.get("legacy"):
        return False
    pid = int(holder["pid"])
    return pid != os.getpid() and _alive(pid)


def _process_start(pid: int) -> int | None:
    """Start time of a process in clock ticks after boot (Linux ``/proc``), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
