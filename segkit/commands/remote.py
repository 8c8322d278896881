"""``segkit remote``: run a notebook on a GPU machine (a new cloud droplet or an existing host)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from segkit.remote.config import DEFAULT_REMOTE_PYTHON, RemoteConfig, SSHTarget
from segkit.remote.cost import cost_summary, format_cost
from segkit.remote.hostkeys import HostKeyError
from segkit.remote.notebook import parse_parameter
from segkit.remote.provision import (
    Provisioner,
    ProvisionError,
    PulumiProvisioner,
    StackSettings,
)
from segkit.remote.runner import NotebookFailedError, RunCancelledError, run_remote_notebook
from segkit.remote.ssh import RemoteError

__all__ = [
    "register",
    "remote_config_from_args",
    "make_provisioner",
    "run_command",
    "destroy_command",
]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "remote",
        help="run a notebook on a remote GPU machine (DigitalOcean via Pulumi, or any SSH host)",
        description="Run notebooks on a remote GPU machine; see docs/remote.md.",
    )
    rsub = p.add_subparsers(dest="remote_command", metavar="ACTION")
    run = rsub.add_parser(
        "run",
        help="run a notebook remotely with papermill and download the results",
        description=(
            "Upload the data and the notebook, run it with papermill on the machine, download the "
            "executed notebook and every file it wrote into --output. With --stack a DigitalOcean "
            "GPU droplet is created first and destroyed afterwards (also on error or Ctrl-C) "
            "unless --keep; with --host an existing machine is used. In parameter values, {data} "
            "is replaced by the remote data folder."
        ),
    )
    run.add_argument("notebook", type=Path)
    run.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    run.add_argument("--data", type=Path, help="local folder to upload (only changes are sent)")
    run.add_argument("--data-param", default="data_dir", help="notebook parameter for --data")
    run.add_argument("--output", type=Path, required=True, help="local folder for the results")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="Pulumi stack to create and destroy (needs the Pulumi CLI)")
    where.add_argument(
        "--host", metavar="USER@HOST", help="an existing machine; nothing is created"
    )
    run.add_argument("--port", type=int, default=22)
    run.add_argument("--identity", metavar="KEYFILE", help="SSH private key for --host")
    run.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="known-hosts file for --host (default ~/.ssh/known_hosts)",
    )
    run.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="--host: trust a host whose key is not known yet and record the key in the "
        "known-hosts file (a changed key is always refused)",
    )
    run.add_argument("--keep", action="store_true", help="do not destroy the machine afterwards")
    run.add_argument("--yes", action="store_true", help="create paid resources without asking")
    _add_stack_options(run)
    _add_runtime_options(run)
    run.set_defaults(func=run_command)

    destroy = rsub.add_parser("destroy", help="destroy a stack kept with --keep")
    destroy.add_argument("--stack", required=True)
    destroy.add_argument("--infra-dir", help="the infra_pulumi/ folder (default: beside segkit)")
    destroy.set_defaults(func=destroy_command)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _add_stack_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cloud machine (--stack)")
    g.add_argument("--size", help="droplet size slug (default gpu-h100x1-80gb)")
    g.add_argument("--region", help="DigitalOcean region, e.g. tor1, nyc2, atl1")
    g.add_argument("--ssh-cidr", help="the only source range allowed to reach SSH, e.g. 1.2.3.4/32")
    g.add_argument(
        "--allow-world-ssh", action="store_true", help="allow SSH from 0.0.0.0/0 (not advised)"
    )
    g.add_argument("--segkit-spec", help="pip requirement that installs segkit on the machine")
    g.add_argument("--infra-dir", help="the infra_pulumi/ folder (default: beside segkit)")


def _add_runtime_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("remote runtime")
    g.add_argument("--config", type=Path, help="RemoteConfig JSON (python, env, workdir, ...)")
    g.add_argument(
        "--python",
        help=f"remote python command (default: {HOST_PYTHON} with --host, "
        f"{DEFAULT_REMOTE_PYTHON} with --stack)",
    )
    g.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    g.add_argument("--workdir", help="remote working directory (default ~/segkit-remote)")
    g.add_argument("--kernel", help="Jupyter kernel name (default python3)")


# An existing host has no /opt/segkit/venv (only machines segkit provisions do).
HOST_PYTHON = "python3"


def remote_config_from_args(args: argparse.Namespace) -> RemoteConfig:
    """The :class:`RemoteConfig` of ``--config`` with the command-line flags applied.

    Without ``--python`` (nor a ``python`` in ``--config``), ``--host`` runs the remote
    ``python3`` and ``--stack`` the virtual environment the machine's set-up creates.
    """
    text = args.config.read_text() if args.config else None
    base = RemoteConfig.from_json(text) if text is not None else RemoteConfig()
    data = base.to_dict()
    if getattr(args, "host", None) and (text is None or "python" not in json.loads(text)):
        data["python"] = HOST_PYTHON
    for key in ("python", "workdir", "kernel"):
        if getattr(args, key):
            data[key] = getattr(args, key)
    for number, item in enumerate(args.env, 1):
        name, sep, value = item.partition("=")
        if not sep:  # it may be a secret value typed without its name: never shown
            raise ValueError(
                f"--env number {number} (of {len(args.env)}): expected NAME=VALUE; its text is "
                "not shown, since it may be a secret"
            )
        data["env"][name] = value
    return RemoteConfig.from_dict(data)


def make_provisioner(args: argparse.Namespace) -> Provisioner:
    """The provisioner for ``--stack`` (a seam the tests replace with a local fake)."""
    return PulumiProvisioner(
        StackSettings(
            stack=args.stack,
            infra_dir=args.infra_dir,
            size=args.size,
            region=args.region,
            ssh_cidr=args.ssh_cidr,
            allow_world_ssh=args.allow_world_ssh,
            segkit_spec=args.segkit_spec,
        )
    )


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise RunCancelledError(
            f"{question} -- cannot ask (no terminal); pass --yes to create it non-interactively"
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def run_command(args: argparse.Namespace) -> int:
    """``segkit remote run``: run a notebook remotely with papermill; returns the exit code."""
    config = remote_config_from_args(args)
    params = {name: parse_parameter(value) for name, value in args.parameter}
    target = provisioner = None
    try:
        if args.host:
            target = SSHTarget.parse(
                args.host,
                port=args.port,
                identity=args.identity,
                known_hosts=args.known_hosts,
                accept_new_host_key=args.accept_new_host_key,
            )
        else:
            provisioner = make_provisioner(args)  # fails at once when Pulumi is missing
        result = run_remote_notebook(
            args.notebook,
            args.output,
            parameters=params,
            data_dir=args.data,
            target=target,
            provisioner=provisioner,
            config=config,
            keep=args.keep,
            confirm=None if args.yes else _ask,
            data_param=args.data_param,
        )
    except NotebookFailedError as exc:
        print(f"segkit remote run: {exc}", file=sys.stderr)
        return 1
    except (RemoteError, ProvisionError, HostKeyError) as exc:
        print(f"segkit remote run: error: {exc}", file=sys.stderr)
        return 1
    print(f"executed notebook: {result.executed_notebook}")
    for run_dir in result.run_dirs:
        print(f"run: {run_dir}")
    if provisioner is not None:
        print(cost_summary(result.hourly_price, result.seconds))
    elif result.hourly_price is not None:
        print(f"cost: {format_cost(result.cost)}")
    return 0


def destroy_command(args: argparse.Namespace) -> int:
    """``segkit remote destroy``: destroy a stack kept with ``--keep``; returns the exit code."""
    try:
        provisioner = PulumiProvisioner(StackSettings(stack=args.stack, infra_dir=args.infra_dir))
        provisioner.destroy(lambda line: print(line, file=sys.stderr))
    except ProvisionError as exc:
        print(f"segkit remote destroy: error: {exc}", file=sys.stderr)
        return 1
    print(f"stack {args.stack}: destroyed")
    return 0
