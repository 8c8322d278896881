"""Check, before anything is uploaded, that the remote python can run a notebook with segkit.

A machine segkit provisioned has them in ``/opt/segkit/venv``; any other host may have a bare
``python3``. :func:`check_remote_python` asks the remote interpreter, in one SSH command, whether
it can import segkit and papermill and whether papermill would find the Jupyter kernel, and
raises :class:`RemoteEnvironmentError` with the host and the pip command that fixes it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from segkit.remote.environment import READ_ENV, env_script
from segkit.remote.ssh import RemoteError, SSHSession

__all__ = ["RemoteEnvironmentError", "RemotePython", "check_remote_python"]

# Runs on the remote machine with any python3; prints one JSON line. find_spec does not import
# segkit (and with it TensorFlow), so the check takes a fraction of a second.
_PROBE = """\
import importlib.util, json, sys
def has(name):
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False
found = {n: has(n) for n in ("segkit", "papermill", "ipykernel")}
kernel = False
if found["papermill"]:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        KernelSpecManager().get_kernel_spec(sys.argv[1])
        kernel = True
    except Exception:
        pass
print(json.dumps({"version": sys.version.split()[0], "found": found, "kernel": kernel}))
"""


def _segkit_requirement() -> str:
    """The pip requirement of this segkit with the notebook extras (as a machine gets it)."""
    from segkit.remote.provision import ProvisionError, caller_install_spec

    try:
        return caller_install_spec(extras="gpu,notebooks")
    except ProvisionError:
        return "segkit[gpu,notebooks]"


class RemoteEnvironmentError(RemoteError):
    """The remote python cannot run the notebook (missing interpreter, package or kernel)."""


@dataclass(frozen=True)
class RemotePython:
    """What the remote interpreter reported: its version and which pieces were found."""

    version: str
    segkit: bool
    papermill: bool
    ipykernel: bool
    kernel: bool


def _probe(ssh: SSHSession, python: str, kernel: str, env: Mapping[str, str]) -> RemotePython:
    # ``python`` may be a command with a prefix ("conda run -n seg python"): not quoted. The
    # run's environment applies, so a PYTHONPATH there counts as it will for papermill; its
    # values come on stdin, never on the command line (see segkit.remote.environment).
    command = f"{READ_ENV} || exit 1; {python} -c {shlex.quote(_PROBE)} {shlex.quote(kernel)}"
    res = ssh.run(command, timeout=120, stdin=env_script(env))
    where = f"{ssh.target}: remote python {python!r}"
    if res.exit_code == 127:
        raise RemoteEnvironmentError(
            f"{where} not found; install Python 3 there or pass --python with the remote "
            "command that starts it"
        )
    lines = res.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
        found = data["found"]
        return RemotePython(
            version=str(data["version"]),
            segkit=bool(found["segkit"]),
            papermill=bool(found["papermill"]),
            ipykernel=bool(found["ipykernel"]),
            kernel=bool(data["kernel"]),
        )
    except (IndexError, ValueError, KeyError, TypeError):
        said = (res.stderr.strip() or res.stdout.strip()).splitlines()
        raise RemoteEnvironmentError(
            f"{where} did not run (exit {res.exit_code}): {said[-1] if said else 'no output'}"
        ) from None


def check_remote_python(
    ssh: SSHSession,
    python: str,
    kernel: str,
    *,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
) -> RemotePython:
    """Make sure ``python`` on the machine of ``ssh`` has segkit, papermill and the Jupyter
    kernel ``kernel`` (with the extra environment variables ``env`` of the run).

    Returns
    -------
    RemotePython
        What was found (when everything is there).

    Raises
    ------
    RemoteEnvironmentError
        One line naming the host, what is missing and the command that installs it.
    """
    info = _probe(ssh, python, kernel, env or {})
    missing = [name for name in ("segkit", "papermill") if not getattr(info, name)]
    if not info.kernel:
        missing.append(f"the Jupyter kernel {kernel!r}")
    if missing:
        if not info.segkit:
            fix = f"{python} -m pip install {shlex.quote(_segkit_requirement())}"
        elif not (info.papermill and info.ipykernel):
            fix = f"{python} -m pip install papermill ipykernel"
        else:
            fix = f"{python} -m ipykernel install --user --name {kernel}"
        if not info.kernel and kernel != "python3" and "ipykernel install" not in fix:
            fix += f" && {python} -m ipykernel install --user --name {kernel}"
        raise RemoteEnvironmentError(
            f"{ssh.target}: remote python {python!r} (Python {info.version}) lacks "
            f"{', '.join(missing)}; install there with: {fix} "
            "(or pass --python with an interpreter that has them)"
        )
    if log is not None:
        log(f"remote python: {python} (Python {info.version}, segkit and papermill found)")
    return info
