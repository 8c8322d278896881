"""PulumiProvisioner's wiring, with the Automation API stack replaced by a recording fake."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

import segkit
from segkit.remote import provision
from segkit.remote.provision import (
    ProvisionError,
    PulumiNotFoundError,
    PulumiProvisioner,
    StackSettings,
    caller_install_spec,
)

REPO = Path(__file__).resolve().parents[2]
TOKEN = "dop_v1_NEVER_PRINTED_0123456789"


class FakeStack:
    """The part of ``pulumi.automation.Stack`` the provisioner uses."""

    def __init__(self, config: dict | None = None) -> None:
        self.config = dict(config or {})
        self.calls: list[str] = []

    def set_config(self, key, value):
        self.config[key] = value

    def get_all_config(self):
        return dict(self.config)

    def up(self, **kwargs):
        self.calls.append("up")
        assert kwargs["show_secrets"] is False
        kwargs["on_output"]("Updating (test)\n")
        outputs = {
            "ipv4": "203.0.113.10",
            "droplet_id": "424242",
            "price_hourly": 3.39,
            "ready_marker": "/var/lib/segkit/ready",
            "droplet_name": "segkit-droplet-1",
        }
        return SimpleNamespace(outputs={k: SimpleNamespace(value=v) for k, v in outputs.items()})

    def destroy(self, **kwargs):
        self.calls.append("destroy")
        assert kwargs["show_secrets"] is False


@pytest.fixture
def fake_pulumi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "pulumi_home" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "pulumi"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv("DIGITALOCEAN_TOKEN", raising=False)
    monkeypatch.delenv("DIGITALOCEAN_ACCESS_TOKEN", raising=False)
    return exe


def _provisioner(tmp_path, monkeypatch, stack: FakeStack, **settings) -> PulumiProvisioner:
    p = PulumiProvisioner(
        StackSettings(
            stack="dev",
            infra_dir=str(REPO / "infra_pulumi"),
            state_dir=str(tmp_path / "state"),
            segkit_spec="segkit[gpu,notebooks]==9.9.9",
            **settings,
        )
    )
    monkeypatch.setattr(p, "_stack", lambda: stack)
    return p


def test_up_sets_config_and_returns_the_machine(fake_pulumi, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", TOKEN)
    stack = FakeStack()
    p = _provisioner(
        tmp_path, monkeypatch, stack, size="gpu-l40sx1-48gb", region="atl1", ssh_cidr="1.2.3.4/32"
    )
    lines: list[str] = []
    machine = p.up(lines.append)
    cfg = {k: v.value for k, v in stack.config.items()}
    assert cfg["segkit-gpu:size"] == "gpu-l40sx1-48gb"
    assert cfg["segkit-gpu:region"] == "atl1"
    assert cfg["segkit-gpu:sshCidr"] == "1.2.3.4/32"
    assert cfg["segkit-gpu:segkitSpec"] == "segkit[gpu,notebooks]==9.9.9"
    assert cfg["segkit-gpu:sshPublicKey"].startswith("ssh-rsa ")
    assert "digitalocean:token" not in cfg  # the token stays in the environment / stack secret
    assert TOKEN not in repr(stack.config) + "\n".join(lines)
    key = tmp_path / "state" / "id_rsa"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert machine.target.host == "203.0.113.10" and machine.target.user == "root"
    assert machine.target.identity == str(key)
    assert machine.hourly_price == 3.39
    assert machine.ready_marker == "/var/lib/segkit/ready"
    p.destroy(lines.append)
    assert stack.calls == ["up", "destroy"]


def test_missing_ssh_cidr_and_token_are_explained(fake_pulumi, tmp_path, monkeypatch):
    p = _provisioner(tmp_path, monkeypatch, FakeStack())
    with pytest.raises(ProvisionError, match="--ssh-cidr"):
        p.up(lambda line: None)
    p = _provisioner(tmp_path, monkeypatch, FakeStack(), ssh_cidr="1.2.3.4/32")
    with pytest.raises(ProvisionError, match="pulumi config set --secret digitalocean:token"):
        p.up(lambda line: None)


def test_estimate_uses_the_size_price(fake_pulumi, tmp_path, monkeypatch):
    p = _provisioner(tmp_path, monkeypatch, FakeStack())
    assert p.estimate_hourly() == 3.39  # default gpu-h100x1-80gb
    p = _provisioner(tmp_path, monkeypatch, FakeStack(), size="gpu-4000adax1-20gb")
    assert p.estimate_hourly() == 0.76


def test_no_pulumi_cli_fails_at_construction(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PulumiNotFoundError, match=r"curl -fsSL https://get\.pulumi\.com \| sh"):
        PulumiProvisioner(StackSettings(stack="dev", infra_dir=str(REPO / "infra_pulumi")))


def test_install_spec_of_a_release_and_of_a_commit(monkeypatch):
    monkeypatch.delenv("SEGKIT_REMOTE_SPEC", raising=False)
    monkeypatch.setattr(segkit, "__version__", "1.2.3")
    assert caller_install_spec() == "segkit[gpu,notebooks]==1.2.3"
    monkeypatch.setattr(segkit, "__version__", "0.1.0.dev3+g1234567")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if head:
        spec = caller_install_spec(repo_url="https://github.com/example/segkit.git")
        assert spec == f"segkit[gpu,notebooks] @ git+https://github.com/example/segkit.git@{head}"
    monkeypatch.setattr(provision, "_git", lambda root, *args: "")
    with pytest.raises(ProvisionError, match="--segkit-spec"):
        caller_install_spec()
    monkeypatch.setenv("SEGKIT_REMOTE_SPEC", "segkit @ file:///wheels/segkit.whl")
    assert caller_install_spec() == "segkit @ file:///wheels/segkit.whl"


def test_stack_runs_the_infra_program_with_this_python(fake_pulumi, tmp_path, monkeypatch):
    import sys

    from pulumi import automation as auto

    fake_pulumi.write_text("#!/bin/sh\necho v3.999.0\n")
    seen = {}

    def create_or_select_stack(**kwargs):
        seen.update(kwargs)
        return FakeStack()

    monkeypatch.setattr(auto, "create_or_select_stack", create_or_select_stack)
    p = PulumiProvisioner(StackSettings(stack="org/dev", infra_dir=str(REPO / "infra_pulumi")))
    p._stack()
    assert seen["stack_name"] == "org/dev"
    assert seen["work_dir"] == str(REPO / "infra_pulumi")
    opts = seen["opts"]
    assert opts.env_vars == {"PULUMI_PYTHON_CMD": sys.executable}
    assert opts.pulumi_command.command == str(fake_pulumi)


def test_destroy_command_destroys_the_stack(fake_pulumi, tmp_path, monkeypatch, capsys):
    from segkit.cli import main

    stack = FakeStack()
    monkeypatch.setattr(PulumiProvisioner, "_stack", lambda self: stack)
    code = main(["remote", "destroy", "--stack", "dev", "--infra-dir", str(REPO / "infra_pulumi")])
    assert code == 0
    assert stack.calls == ["destroy"]
    assert "stack dev: destroyed" in capsys.readouterr().out
