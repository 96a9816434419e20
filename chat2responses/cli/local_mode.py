"""What mitmproxy's local mode needs on Linux, checked before it starts, and made to hold where
that is safe.

mitmproxy starts its redirector (an eBPF program on the root of the cgroup v2 hierarchy, which it
opens at /sys/fs/cgroup) through `sudo`. Two things stop it on many machines: no `sudo` (a root
shell in a container or VM) and /sys/fs/cgroup not being cgroup v2 (a hybrid or v1 layout).

Rule 1: as root, a `sudo` of our own (a shell script in a private directory put first on
        mitmdump's PATH) runs the redirector directly, in a mount namespace of its own in which
        cgroup2 is mounted on /sys/fs/cgroup when it is not there; nothing changes outside it.
Rule 2: not root: the real sudo must exist, and cgroup v2 must be on /sys/fs/cgroup already; else
        a CliError says what is missing and how to fix it, before anything starts.
Rule 3: elsewhere than Linux, nothing is checked (mitmproxy's own redirectors apply).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from chat2responses.cli.commands import CliError

CGROUP = "/sys/fs/cgroup"
REDIRECTOR = b"mitmproxy-linux-redirector"  # in the command line of each process running it

# mitmproxy runs `sudo echo -n` (to ask for a password), then
# `sudo --non-interactive --preserve-env REDIRECTOR PIPE_DIR`.
_SHIM = """#!/bin/sh
# chat2responses intercept local: sudo for mitmproxy's redirector, as root (local_mode.py).
while [ $# -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
if [ "$1" = echo ]; then exit 0; fi
{mount}exec "$@"
"""
_MOUNT = (
    'exec unshare --mount --propagation private sh -c "mount -t cgroup2 cgroup2 {cgroup} && '
    'exec \\"\\$@\\"" sh "$@"\n'
)


def cgroup2_mounted(mountinfo: str, where: str = CGROUP) -> bool:
    """Whether `where` is a cgroup2 mount in /proc/self/mountinfo's text."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5 or fields[4] != where:
            continue
        fstype = line.split(" - ", 1)[1].split()[0]
        if fstype == "cgroup2":
            return True
    return False


def shim_script(mount_cgroup2: bool) -> str:
    return _SHIM.format(mount=_MOUNT.format(cgroup=CGROUP) if mount_cgroup2 else "")


def prepare(state: Path) -> dict[str, str]:
    """Check local mode's preconditions (rules 1-3); returns the environment changes mitmdump
    needs (a PATH with the shim first), or {} when it needs none."""
    if not sys.platform.startswith("linux"):
        return {}
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        mountinfo = ""
    has_cgroup2 = cgroup2_mounted(mountinfo)
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise CliError(
                "local mode starts mitmproxy's redirector with sudo, and there is no sudo: "
                "run this command as root, or install sudo"
            )
        if not has_cgroup2:
            raise CliError(
                f"local mode needs cgroup v2 on {CGROUP} (this machine has another layout): "
                "run this command as root (sudo chat2responses intercept local …), which mounts "
                "it for the redirector alone"
            )
        return {}
    if has_cgroup2 and shutil.which("sudo") is not None:
        return {}
    if not has_cgroup2 and shutil.which("unshare") is None:
        raise CliError(
            f"local mode needs cgroup v2 on {CGROUP}, and unshare (util-linux) to mount it for "
            "the redirector alone: apt-get install util-linux"
        )
    shim = state / "bin"
    shim.mkdir(parents=True, exist_ok=True)
    script = shim / "sudo"
    script.write_text(shim_script(not has_cgroup2))
    script.chmod(0o700)
    return {"PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"}
