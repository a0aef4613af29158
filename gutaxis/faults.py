"""Fault injection points for the fault-tolerance tests: GUTAXIS_INJECT_FAULT=POINT:raise|kill.

Unset in normal use (a dictionary look-up per point). `kill` sends SIGKILL to this process, the
same as an OOM-kill or a pulled plug; `raise` fails the step like a bug would.
"""
import os
import signal


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
    raise InjectedFault(f"injected fault at {name}")
