"""Remote GPU runs: provision a machine, run a notebook there with papermill, bring the results
home, tear the machine down.

>>> from segkit.remote import SSHTarget, RemoteConfig, run_remote_notebook
>>> result = run_remote_notebook(  # doctest: +SKIP
...     "notebooks/03_train_unet.ipynb", "remote_out",
...     parameters={"epochs": 20}, data_dir="prepared",
...     target=SSHTarget.parse("root@203.0.113.7", identity="~/.ssh/id_ed25519"))

See ``docs/remote.md`` for the cloud workflow (Pulumi + DigitalOcean).
"""

from __future__ import annotations

from segkit.remote.config import RemoteConfig, RemoteConfigError, SSHTarget
from segkit.remote.hostkeys import HostKeyError, UnknownHostKeyError
from segkit.remote.provision import (
    Machine,
    Provisioner,
    ProvisionError,
    PulumiNotFoundError,
    PulumiProvisioner,
    StackSettings,
)
from segkit.remote.report import CellError
from segkit.remote.runner import (
    NotebookFailedError,
    RemoteRunResult,
    RunCancelledError,
    run_remote_notebook,
)
from segkit.remote.ssh import RemoteError

__all__ = [
    "SSHTarget",
    "RemoteConfig",
    "RemoteConfigError",
    "Machine",
    "Provisioner",
    "PulumiProvisioner",
    "StackSettings",
    "ProvisionError",
    "PulumiNotFoundError",
    "RemoteError",
    "HostKeyError",
    "UnknownHostKeyError",
    "CellError",
    "NotebookFailedError",
    "RunCancelledError",
    "RemoteRunResult",
    "run_remote_notebook",
]
