"""Ctrl-C and SIGTERM: which signal stopped a command, and short sections that finish before it does.

Dagster installs its own SIGINT/SIGTERM handler while it executes a job (it records the signal, or
raises inside a step) and forgets a signal that arrived between steps when the job ends. Python
also writes every handled signal's number to a wake-up file descriptor, whoever's handler runs:
`watched()` reads the signal from there, so a command can stop however the library handled it.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_watch: dict = {"fd": None, "seen": None}


class Interrupted(KeyboardInterrupt):
    """The command was stopped by SIGINT or SIGTERM; exit with 128 + the signal's number."""

    def __init__(self, signum: int, published: list[str] | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.published = published or []  # cohorts this command published before the signal

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def watched() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise Interrupted, and received() tells whether either arrived,
    also while another handler (Dagster's) was installed."""
    if not _in_main_thread():
        yield
        return
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    previous = {s: signal.getsignal(s) for s in SIGNALS}

    def interrupt(signum, _frame):
        raise Interrupted(signum)

    for s in SIGNALS:
        signal.signal(s, interrupt)
    _watch.update(fd=read, seen=None)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(previous_fd)
        _watch.update(fd=None, seen=None)
        os.close(read)
        os.close(write)


def received() -> int | None:
    """The first SIGINT or SIGTERM that arrived inside watched(), or None."""
    fd = _watch["fd"]
    if fd is None:
        return None
    while True:
        try:
            data = os.read(fd, 512)
        except BlockingIOError:
            break
        if not data:
            break
        for signum in data:
            if signum in SIGNALS and _watch["seen"] is None:
                _watch["seen"] = signum
    return _watch["seen"]


def stop_if_received(published: list[str] | None = None) -> None:
    signum = received()
    if signum is not None:
        raise Interrupted(signum, published)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done, then deliver them to the handler in place
    before it: for steps that must not stop halfway (undoing or completing a publish)."""
    if not _in_main_thread():
        yield
        return
    held: list[int] = []
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if held:
            signal.raise_signal(held[0])
