"""The single-writer lock (issue 15, case 3): PID reuse, races, failed opens, stale-lock messages.

The kill -9 of a sweep running as PID 1 is in tests/pipeline/test_reliability.py.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import time

import pytest

import curriculens.writelock as wl
from curriculens.errors import StoreError
from curriculens.store import Store


def _record(**kw) -> str:
    me = wl._owner()
    return json.dumps({**me, "token": "0123456789abcdef", **kw})


def test_lock_records_host_pid_start_and_token_and_is_removed_on_close(tmp_path):
    with Store(tmp_path):
        rec = json.loads((tmp_path / "results.lock").read_text())
        assert rec["host"] == socket.gethostname() and rec["pid"] == os.getpid()
        assert rec["start"] == wl._process_start(os.getpid()) and len(rec["token"]) == 16
    assert not (tmp_path / "results.lock").exists()


def test_a_lock_naming_our_own_pid_is_taken_over(tmp_path):
    # a container restart gives the new process the PID of the killed writer (often 1)
    (tmp_path / "results.lock").write_text(_record(start=1))
    Store(tmp_path).close()
    (tmp_path / "results.lock").write_text(str(os.getpid()))  # an older curriculens' lock
    Store(tmp_path).close()


def test_a_second_writer_in_this_process_is_told_to_close_the_first(tmp_path):
    with Store(tmp_path):
        with pytest.raises(StoreError, match="already open for writing in this process"):
            Store(tmp_path)
        Store(tmp_path, readonly=True).close()
    Store(tmp_path).close()


def _hold(path, ready, release) -> None:
    with Store(path):
        ready.set()
        release.wait(20)


def test_a_live_writer_elsewhere_is_named_with_its_lock_file(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(tmp_path, ready, release))
    p.start()
    try:
        assert ready.wait(20)
        with pytest.raises(StoreError, match=rf"process {p.pid} on .*Only one writer") as e:
            Store(tmp_path)
        assert str(tmp_path / "results.lock") in str(e.value)
    finally:
        release.set()
        p.join(20)
    Store(tmp_path).close()  # released when the holder ended


def test_a_failed_open_releases_the_lock(tmp_path):
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"not a database at all" * 100)
    for _ in range(2):  # the same process, again: no leaked lock in the way
        with pytest.raises(StoreError, match="corrupt"):
            Store(tmp_path)
        assert not (tmp_path / "results.lock").exists()
    db.unlink()
    Store(tmp_path).close()


def _race(path, barrier, wins, hold: float) -> None:
    barrier.wait()
    try:
        s = Store(path)
    except StoreError:
        return
    with wins.get_lock():
        wins.value += 1
    time.sleep(hold)
    s.close()


@pytest.mark.parametrize("trial", range(5))
def test_resumers_meeting_a_stale_lock_at_once_give_one_writer(tmp_path, trial):
    (tmp_path / "results.lock").write_text(_record(pid=999_999_999))  # a dead writer's lock
    Store(tmp_path).close()  # the store exists; leave a stale lock again
    (tmp_path / "results.lock").write_text(_record(pid=999_999_999))
    ctx = mp.get_context("fork")
    n = 6
    barrier, wins = ctx.Barrier(n), ctx.Value("i", 0)
    procs = [ctx.Process(target=_race, args=(tmp_path, barrier, wins, 1.0)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert wins.value == 1


# ------------------------------------------------------------------ filesystems without flock
@pytest.fixture(params=["no fcntl", "ENOLCK"])
def no_flock(request, monkeypatch):
    """No fcntl module (Windows), or a filesystem whose flock fails (some network mounts)."""
    if request.param == "no fcntl":
        monkeypatch.setattr(wl, "fcntl", None)
    else:
        monkeypatch.setattr(wl, "_flock", lambda fd: None)


def test_without_flock_a_dead_or_reused_pid_is_stale(tmp_path, no_flock):
    lock = tmp_path / "results.lock"
    lock.write_text(_record(pid=999_999_999))
    Store(tmp_path).close()
    lock.write_text(_record(pid=os.getpid()))  # our PID, a lock this process does not hold
    Store(tmp_path).close()
    parent = os.getppid()
    start = wl._process_start(parent)
    if start is not None:  # the parent runs, but started at another time: its PID was reused
        lock.write_text(_record(pid=parent, start=start + 1))
        Store(tmp_path).close()
    assert not lock.exists()


def test_without_flock_a_live_or_unknown_holder_is_refused_and_named(tmp_path, no_flock):
    lock = tmp_path / "results.lock"
    parent = os.getppid()
    lock.write_text(_record(pid=parent, start=wl._process_start(parent)))
    with pytest.raises(StoreError, match=f"being written by process {parent}"):
        Store(tmp_path)
    lock.write_text(_record(host="another-host"))
    with pytest.raises(StoreError, match="cannot be checked from here") as e:
        Store(tmp_path)
    assert f"the lock is stale: remove {str(lock)!r}" in str(e.value)
    lock.unlink()
    with Store(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with pytest.raises(StoreError, match="already open for writing in this process"):
            Store(tmp_path)
    assert not lock.exists()
