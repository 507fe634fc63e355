"""Processes seen from this machine's /proc: a server's workers (also those in a container, for root)."""

from __future__ import annotations

import os


def children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc), zombies left out."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out
