"""Child processes of the process target: start times from /proc, process groups, reaping, stopping, logs.

A server is recognised by its pid *and* its start time, so a reused pid is never
mistaken for it after a kernel restart; stopping waits for its whole process group
(the shell that records the exit code, the supervisor and its workers), because the
supervisor holds the listening socket until it has exited.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

#: How long a stopping server gets after SIGTERM before SIGKILL.
STOP_GRACE_S = 10.0
#: A service's log is rotated (one previous file kept) when it is larger than this at a (re)start.
LOG_ROTATE_BYTES = 20 * 1024 * 1024

#: Server processes started by this process, kept so they are reaped (no zombies) and never
#: garbage-collected while they run.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def adopt_child(proc: subprocess.Popen[bytes]) -> None:
    """Keep ``proc`` until it has exited and been reaped."""
    reap_children()
    _CHILDREN[proc.pid] = proc


def reap_children() -> None:
    """Collect the exit status of finished server processes started here."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


def process_start_time(pid: int) -> str | None:
    """The start time of ``pid`` from /proc (``None`` if it does not run, or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def is_running(pid: int | None, start_time: str | None) -> bool:
    """Whether ``pid`` runs and is the process that started at ``start_time``."""
    if not pid:
        return False
    reap_children()
    start = process_start_time(pid)
    return start is not None and start == start_time


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def stop_group(pgid: int) -> None:
    """SIGTERM process group ``pgid``, wait for all of it, SIGKILL what is left after the grace period."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for sig, grace in ((None, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        if sig is not None:
            if not group_members(pgid):
                break
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while group_members(pgid) and time.monotonic() < deadline:
            reap_children()
            time.sleep(0.02)
    reap_children()


def rotate_log(path: Path) -> None:
    """Keep one previous log: move ``server.log`` to ``server.log.1`` once it passes the limit."""
    try:
        if path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def tail_file(path: Path, num_lines: int) -> str:
    """The last ``num_lines`` lines of a log file ("" when it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * max(num_lines, 1)))
            data = handle.read()
    except FileNotFoundError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-num_lines:])
