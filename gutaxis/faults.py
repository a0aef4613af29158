"""Fault injection points for the fault-tolerance tests: GUTAXIS_INJECT_FAULT=POINT:raise|kill|sleep|enospc
(or POINT:kill-once:MARKER_FILE).

Unset in normal use (a dictionary look-up per point). `kill` sends SIGKILL to this process, the
same as an OOM-kill or a pulled plug; `raise` fails the step like a bug would; `enospc` fails it
as a full disk does (OSError ENOSPC); `kill-once:MARKER_FILE` kills only the first process that
reaches the point (it creates the marker; a retried step then passes), as a worker lost mid-run; `sleep` stalls the step for SLOW_SECONDS, so that a test can
be sure another process meets this one mid-run.
"""
import errno
import os
import signal
import time

SLOW_SECONDS = 15


class InjectedFault(RuntimeError):
    pass


def point(name: str) -> None:
    wanted = os.environ.get("GUTAXIS_INJECT_FAULT")
    if not wanted:
        return
    where, _, action = wanted.partition(":")
    if where != name:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action.startswith("kill-once:"):
        try:
            os.close(os.open(action.partition(":")[2], os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "sleep":
        time.sleep(SLOW_SECONDS)
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {name})")
    raise InjectedFault(f"injected fault at {name}")
