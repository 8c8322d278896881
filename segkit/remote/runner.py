"""Run a notebook on a remote machine with papermill and bring the results home.

:func:`run_remote_notebook` does the whole trip: (provision ->) wait for SSH and the ready
marker -> check the remote python (segkit, papermill, the kernel) -> upload the data set (only
what changed) and the notebook -> run papermill there in the background while streaming its
log -> download the executed notebook and every file the notebook wrote -> (destroy). The
machine is destroyed in a ``finally`` block, so failures and Ctrl-C tear it down too, unless
``keep=True``.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from segkit.files import atomic_write_text
from segkit.remote.config import RemoteConfig, SSHTarget
from segkit.remote.cost import cost_summary, format_cost, run_cost
from segkit.remote.environment import READ_ENV, env_script, mask_env
from segkit.remote.notebook import DATA_PLACEHOLDER, fill_placeholders, notebook_parameters
from segkit.remote.preflight import check_remote_python
from segkit.remote.provision import Machine, Provisioner, ProvisionError
from segkit.remote.report import CellError, find_cell_error, format_cell_error, parse_papermill_log
from segkit.remote.ssh import RemoteCommandError, RemoteError, SSHSession
from segkit.remote.sync import download_tree, upload_tree
from segkit.remote.tail import follow_log
from segkit.runs.reader import find_run_dirs

__all__ = [
    "RemoteRunResult",
    "NotebookFailedError",
    "RunCancelledError",
    "run_remote_notebook",
]


@dataclass(frozen=True)
class RemoteRunResult:
    """What came back from a remote run.

    ``output_dir`` holds the executed notebook, ``papermill.log``, ``remote.json`` and every
    file the notebook wrote in its working directory (e.g. ``runs/<run-id>/``).
    """

    output_dir: Path
    executed_notebook: Path | None
    run_dirs: tuple[Path, ...]
    exit_code: int
    seconds: float
    hourly_price: float | None
    machine: str
    parameters: dict[str, Any] = field(default_factory=dict)
    error: CellError | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.error is None

    @property
    def cost(self) -> float | None:
        return run_cost(self.hourly_price, self.seconds)


class NotebookFailedError(RemoteError):
    """The notebook raised in a cell; ``.result`` holds what was downloaded, ``.error`` the cell."""

    def __init__(self, result: RemoteRunResult) -> None:
        if result.error is not None:
            message = format_cell_error(result.error)
        else:
            message = f"papermill exited with status {result.exit_code}"
        where = result.executed_notebook or result.output_dir
        super().__init__(f"{message}\n(partial executed notebook: {where})")
        self.result = result
        self.error = result.error


class RunCancelledError(RemoteError):
    """The user declined to create paid resources; nothing was created."""


def _find_run_dirs(root: Path) -> tuple[Path, ...]:
    return find_run_dirs(root)


def _stderr_log(line: str) -> None:
    print(f"[remote] {line}", file=sys.stderr, flush=True)


def run_remote_notebook(
    notebook: str | Path,
    output_dir: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    data_dir: str | Path | None = None,
    target: SSHTarget | None = None,
    provisioner: Provisioner | None = None,
    config: RemoteConfig | None = None,
    keep: bool = False,
    confirm: Callable[[str], bool] | None = None,
    log: Callable[[str], None] | None = None,
    stream: TextIO | None = None,
    data_param: str = "data_dir",
) -> RemoteRunResult:
    """Execute ``notebook`` with papermill on a remote machine and download the results.

    Parameters
    ----------
    notebook : path
        The ``.ipynb`` to run (a cell tagged ``parameters`` receives ``parameters``).
    output_dir : path
        Local folder for the executed notebook and every file the notebook wrote.
    parameters : mapping, optional
        Notebook parameters. In string values ``{data}`` becomes the remote data folder and
        ``{output}`` the remote working directory of the notebook.
    data_dir : path, optional
        A local folder uploaded to the machine (only changed files on a repeated run). When
        the notebook has a parameter named ``data_param`` that is not given, it is set to the
        remote copy.
    target : SSHTarget, optional
        An existing machine (nothing is provisioned or destroyed). Exactly one of ``target``
        and ``provisioner`` is required.
    provisioner : Provisioner, optional
        Creates the machine and destroys it afterwards, also after an error or Ctrl-C,
        unless ``keep``.
    config : RemoteConfig, optional
        Remote python command, environment, working directory, time-outs.
    keep : bool
        Leave a provisioned machine running.
    confirm : callable, optional
        Asked ``confirm(question)`` before creating paid resources; ``False`` cancels
        (:class:`RunCancelledError`). ``None`` does not ask.
    log, stream :
        Where progress lines go (default: stderr) and where the remote papermill output is
        written as it arrives (default: stderr).
    data_param : str
        The notebook parameter that receives the remote data folder.

    Returns
    -------
    RemoteRunResult

    Raises
    ------
    NotebookFailedError
        A cell raised; the partial executed notebook has been downloaded (``.result``).
    """
    if (target is None) == (provisioner is None):
        raise ValueError("run_remote_notebook: give exactly one of target= and provisioner=")
    notebook = Path(notebook)
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise FileNotFoundError(f"{notebook}: no such notebook (.ipynb)")
    if data_dir is not None and not Path(data_dir).is_dir():
        raise FileNotFoundError(f"{data_dir}: data folder not found")
    config = config or RemoteConfig()
    log = log or _stderr_log
    stream = stream or sys.stderr
    params = dict(parameters or {})
    job = _Job(notebook, Path(output_dir), params, data_dir, config, log, stream, data_param)

    if provisioner is None:
        assert target is not None
        start = time.monotonic()
        return job.run(Machine(target=target), deadline=None, start=start)

    hourly = provisioner.estimate_hourly()
    log(f"about to create {provisioner.describe()}; estimated {format_cost(hourly)}/h")
    if confirm is not None and not confirm(
        f"Create {provisioner.describe()} at about {format_cost(hourly)} per hour?"
    ):
        raise RunCancelledError("cancelled; nothing was created")
    start = time.monotonic()
    price = hourly
    failed = True
    try:
        machine = provisioner.up(log)
        price = machine.hourly_price if machine.hourly_price is not None else hourly
        log(f"machine up: {machine.target} ({format_cost(price)}/h)")
        result = job.run(machine, deadline=start + config.boot_timeout, start=start)
        failed = False
        return result
    except NotebookFailedError:
        failed = False  # a notebook error is the user's; teardown errors may still be raised
        raise
    finally:
        if keep:
            log(
                f"--keep: {provisioner.describe()} is still running at {format_cost(price)}/h; "
                "destroy it when done (segkit remote destroy --stack NAME)"
            )
        else:
            _destroy(provisioner, log, raise_errors=not failed)
        log(cost_summary(price, time.monotonic() - start))


def _destroy(provisioner: Provisioner, log: Callable[[str], None], *, raise_errors: bool) -> None:
    """Destroy, ignoring up to two Ctrl-C presses: a running GPU machine costs money."""
    for _ in range(3):
        try:
            provisioner.destroy(log)
            log("machine destroyed")
            return
        except KeyboardInterrupt:
            log("interrupt received during teardown: destroying the machine first")
        except Exception as exc:  # noqa: BLE001
            log(f"ERROR: teardown failed, the machine may still be running and billing: {exc}")
            if raise_errors:
                raise ProvisionError(f"teardown failed: {exc}") from exc
            return
    provisioner.destroy(log)


@dataclass
class _Job:
    notebook: Path
    output_dir: Path
    params: dict[str, Any]
    data_dir: str | Path | None
    config: RemoteConfig
    log: Callable[[str], None]
    stream: TextIO
    data_param: str

    def _session(self, machine: Machine) -> SSHSession:
        c = self.config
        return SSHSession(
            machine.target,
            connect_timeout=c.connect_timeout,
            retries=c.retries,
            retry_delay=c.retry_delay,
            log=self.log,
        )

    def run(self, machine: Machine, *, deadline: float | None, start: float) -> RemoteRunResult:
        with self._session(machine) as ssh:
            ssh.connect(deadline=deadline)
            if machine.ready_marker:
                self._wait_ready(ssh, machine.ready_marker, deadline)
            c = self.config
            check_remote_python(ssh, c.python, c.kernel, env=c.env, log=self.log)
            # relative paths start in the login's home; "~/x" means the same (no shell expansion)
            workdir = shlex.quote(self.config.workdir.removeprefix("~/") or ".")
            base = ssh.check(f"mkdir -p {workdir} && cd {workdir} && pwd").strip()
            job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
            job_dir = f"{base}/jobs/{job_id}"
            out_dir = f"{job_dir}/output"
            ssh.makedirs(out_dir)
            params = self._prepare_params(ssh, base, out_dir)
            ssh.put_file(self.notebook, f"{job_dir}/input.ipynb")
            ssh.put_bytes(json.dumps(params, default=str).encode(), f"{job_dir}/parameters.json")
            self.log(f"running {self.notebook.name} on {machine.target} (job {job_id})")
            try:
                code = self._execute(ssh, job_dir)
            except KeyboardInterrupt:
                self._stop(ssh, job_dir)
                raise
            self.output_dir.mkdir(parents=True, exist_ok=True)
            download_tree(ssh, out_dir, self.output_dir, python=self.config.python, log=self.log)
            if ssh.stat(f"{job_dir}/papermill.log") is not None:
                ssh.get_file(f"{job_dir}/papermill.log", self.output_dir / "papermill.log")
        return self._finish(machine, params, code, start, job_id)

    def _wait_ready(self, ssh: SSHSession, marker: str, deadline: float | None) -> None:
        failed = marker + ".failed"
        self.log(f"waiting for set-up to finish ({marker})")
        while True:
            if ssh.stat(marker) is not None:
                return
            if ssh.stat(failed) is not None:
                text = ssh.read_bytes(failed).decode("utf-8", "replace")
                raise RemoteError(f"machine set-up failed ({failed}):\n{text[-3000:]}")
            if deadline is not None and time.monotonic() > deadline:
                raise RemoteError(f"{ssh.target}: set-up did not finish in time ({marker} missing)")
            if deadline is None:
                raise RemoteError(
                    f"{ssh.target}: {marker} does not exist; the machine is not ready"
                )
            time.sleep(min(10.0, self.config.poll_interval * 5))

    def _prepare_params(self, ssh: SSHSession, base: str, out_dir: str) -> dict[str, Any]:
        remote_data = None
        if self.data_dir is not None:
            local = Path(self.data_dir).resolve()
            remote_data = f"{base}/data/{local.name}"
            report = upload_tree(ssh, local, remote_data, python=self.config.python, log=self.log)
            self.log(
                f"data: {len(report.copied)} file(s) uploaded ({report.bytes_copied / 1e6:.1f} MB),"
                f" {len(report.unchanged)} unchanged"
            )
        params = {}
        for name, value in self.params.items():
            params[name] = fill_placeholders(value, data=remote_data, output=out_dir)
        names = notebook_parameters(self.notebook)
        if remote_data is not None and self.data_param not in params:
            if self.data_param in names:
                params[self.data_param] = remote_data
            else:
                self.log(
                    f"note: the notebook has no parameter {self.data_param!r}; the data is at "
                    f"{remote_data} (use {DATA_PLACEHOLDER} in a parameter value)"
                )
        unknown = sorted(set(params) - set(names))
        if unknown and names:
            self.log(f"note: parameter(s) not in the notebook's parameters cell: {unknown}")
        return params

    def _command(self, job_dir: str) -> str:
        """The launch command. It holds no environment value: those arrive on stdin
        (:func:`~segkit.remote.environment.env_script`) and are inherited by papermill."""
        c = self.config
        papermill = (
            f"{c.python} -m papermill input.ipynb output/{shlex.quote(self.notebook.name)} "
            f"-f parameters.json --cwd output -k {shlex.quote(c.kernel)} "
            "--log-output --log-level INFO --no-progress-bar"
        )
        inner = f"{papermill}; echo $? > exit_code.tmp && mv exit_code.tmp exit_code"
        return (
            f"cd {shlex.quote(job_dir)} || exit 1; {READ_ENV} || exit 1; "
            f"setsid sh -c {shlex.quote(inner)} > papermill.log 2>&1 < /dev/null & echo $!"
        )

    def _execute(self, ssh: SSHSession, job_dir: str) -> int:
        pid = ssh.check(self._command(job_dir), stdin=env_script(self.config.env)).strip()
        ssh.put_bytes(pid.encode(), f"{job_dir}/pid")
        return follow_log(
            ssh,
            f"{job_dir}/papermill.log",
            f"{job_dir}/exit_code",
            self.stream,
            poll_interval=self.config.poll_interval,
        )

    def _stop(self, ssh: SSHSession, job_dir: str) -> None:
        self.log("interrupted: stopping the remote notebook")
        try:
            ssh.run(f"kill -TERM -- -$(cat {shlex.quote(job_dir)}/pid) 2>/dev/null", timeout=10)
        except Exception as exc:  # noqa: BLE001 - best effort; teardown follows
            self.log(f"could not stop the remote process: {exc}")

    def _finish(
        self, machine: Machine, params: dict[str, Any], code: int, start: float, job_id: str
    ) -> RemoteRunResult:
        executed = self.output_dir / self.notebook.name
        executed_path = executed if executed.is_file() else None
        error = None
        if code != 0:
            error = find_cell_error(executed) if executed_path else None
            if error is None:
                log_file = self.output_dir / "papermill.log"
                log_text = log_file.read_text("utf-8", "replace") if log_file.is_file() else ""
                error = parse_papermill_log(log_text)
                if error is None and executed_path is None:
                    raise RemoteCommandError("papermill", code, log_text)
        result = RemoteRunResult(
            output_dir=self.output_dir,
            executed_notebook=executed_path,
            run_dirs=_find_run_dirs(self.output_dir),
            exit_code=code,
            seconds=time.monotonic() - start,
            hourly_price=machine.hourly_price,
            machine=str(machine.target),
            parameters=params,
            error=error,
        )
        record = {
            "job": job_id,
            "machine": result.machine,
            "notebook": self.notebook.name,
            "parameters": params,
            "env": mask_env(self.config.env),
            "exit_code": code,
            "seconds": round(result.seconds, 1),
            "hourly_price_usd": machine.hourly_price,
            "error": None
            if error is None
            else {"cell": error.index, "ename": error.ename, "evalue": error.evalue},
        }
        atomic_write_text(
            self.output_dir / "remote.json", json.dumps(record, indent=2, default=str) + "\n"
        )
        if not result.ok:
            raise NotebookFailedError(result)
        self.log(f"done: {executed_path} ({len(result.run_dirs)} run folder(s))")
        return result
