"""`gutaxis ui`: `dagster dev` on this project, and every process it starts stopped with it.

`dagster dev` starts a webserver, the daemon (schedules, sensors, the run queue) and code servers,
and those start run workers. Stopping only `dagster dev` can leave some of them running (an orphaned
daemon keeps launching runs on the warehouse), so this wrapper runs it in a session of its own,
keeps a list of every process of that session and their descendants, and on Ctrl-C, SIGTERM or
SIGHUP interrupts `dagster dev` (which shuts its processes down in order), waits, then ends whatever
of the list is still there.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gutaxis import PROJECT_ROOT

GRACE_SECONDS = 30  # for dagster dev to stop its processes itself after the interrupt
KILL_AFTER_SECONDS = 5  # between SIGTERM and SIGKILL for processes still left
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

Process = tuple[int, int]  # (pid, start time in clock ticks): a pid alone may be reused


def _processes() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, session id, start time) of every process (Linux /proc)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read().decode("ascii", "replace")
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (command) "; the command may hold spaces
        found[int(entry.name)] = (int(fields[1]), int(fields[3]), int(fields[19]))
    return found


def started_by(root: int) -> set[Process]:
    """The processes of root's session and every descendant of root (also those that left the session)."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found = {pid for pid, (_, session, _) in table.items() if session == root}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.add(root)
    return {(pid, table[pid][2]) for pid in found if pid in table}


def alive(processes: set[Process]) -> set[Process]:
    table = _processes()
    return {(pid, start) for pid, start in processes if pid in table and table[pid][2] == start}


def _signal_all(processes: set[Process], signum: int) -> None:
    for pid, _ in alive(processes):
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(processes: set[Process], seconds: float) -> set[Process]:
    deadline = time.monotonic() + seconds
    left = alive(processes)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = alive(left)
    return left


def serve(host: str | None, port: int | None, extra: list[str]) -> int:
    """Run dagster dev until it exits or a stop signal comes; return its exit code, or 128 + the signal."""
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-m", "pipelines.definitions"]
    command += ["--host", host] if host else []
    command += ["--port", str(port)] if port else []
    extra = extra[1:] if extra[:1] == ["--"] else extra  # `gutaxis ui -- --option` passes options on as they are
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in STOP_SIGNALS}
    try:
        # A session of its own: the terminal's Ctrl-C reaches only this process, which stops the rest in order.
        dev = subprocess.Popen([*command, *extra], cwd=PROJECT_ROOT, start_new_session=True)
        known: set[Process] = set()
        last_look = 0.0
        while dev.poll() is None and not received:
            if time.monotonic() - last_look > 2:  # the list is refreshed while the processes are children of dev
                known |= started_by(dev.pid)
                last_look = time.monotonic()
            time.sleep(0.2)
        known |= started_by(dev.pid)
        if dev.poll() is None:
            print("gutaxis: stopping the Dagster UI, its daemon and code servers ...", file=sys.stderr, flush=True)
            dev.send_signal(signal.SIGINT)  # what dagster dev expects from a terminal: it stops its processes
            try:
                dev.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        known |= started_by(dev.pid) if dev.poll() is None else set()
        left = alive(known)
        if left:
            _signal_all(left, signal.SIGTERM)
            left = _wait_gone(left, KILL_AFTER_SECONDS)
            _signal_all(left, signal.SIGKILL)
            left = _wait_gone(left, KILL_AFTER_SECONDS)
        dev.wait()
        if left:
            print(f"gutaxis: could not stop processes {sorted(pid for pid, _ in left)}", file=sys.stderr)
            return 1
        if received:
            print("gutaxis: ui stopped; every process it started has ended", file=sys.stderr)
            return 128 + received[0]
        return dev.returncode
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
