"""Is the process that started a run still alive?

A run row records the host name, the kernel boot id and the pid of the process that
runs it. The row is stale when it was written on this host and either the machine has
rebooted since (different boot id) or no live process has that pid. A pid that was
reused by an unrelated live process makes a dead run look alive; that is an accepted
risk (the row then stays ``running`` until the pid disappears), as checking the process'
start time portably is not possible. Rows written on another host (a shared network
folder) are never declared stale from here.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class HostIdentity:
    """The machine and boot a process runs on.

    Attributes:
        host: the host name.
        boot_id: the kernel's boot id (empty where unknown).
    """

    host: str
    boot_id: str


def current_host() -> HostIdentity:
    """The host name and boot id of this machine (boot id is empty where unknown).

    Returns:
        The :class:`HostIdentity` of this machine.
    """
    try:
        boot = _BOOT_ID_FILE.read_text().strip()
    except OSError:
        boot = ""
    return HostIdentity(socket.gethostname(), boot)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie.

    Args:
        pid: a process id (<= 0 is never alive).

    Returns:
        True if it exists (also when owned by another user) and is not a zombie.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return not _is_zombie(pid)


def owner_is_dead(host: str, boot_id: str, pid: int) -> bool:
    """Whether the process recorded as (host, boot_id, pid) can be known to be gone.

    A process of another host is never known to be dead; one of an earlier boot of this host
    always is.

    Args:
        host: the recorded host name.
        boot_id: the recorded boot id (may be empty).
        pid: the recorded process id.

    Returns:
        True only when the process is certainly gone.
    """
    here = current_host()
    if host != here.host:
        return False
    if boot_id and here.boot_id and boot_id != here.boot_id:
        return True
    return not pid_alive(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the state letter follows the parenthesised command name
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "Z"
