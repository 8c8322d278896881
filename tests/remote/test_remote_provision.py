"""PulumiProvisioner's wiring, with the Automation API stack replaced by a recording fake."""

from __future__ import annotations

import stat
import subprocess
import uuid
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
    stack.up = lambda **kwargs: pytest.fail("pulumi up ran with a credential in segkitSpec")
    monkeypatch.setattr(PulumiProvisioner, "_stack", lambda self: stack)
    code = main(["remote", "destroy", "--stack", "dev", "--infra-dir", str(REPO / "infra_pulumi")])
    assert code == 0
    assert stack.calls == ["destroy"]
    assert "stack dev: destroyed" in capsys.readouterr().out


# -- credentials in the origin URL -------------------------------------------------------------
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _fake_git(origin: str):
    def git(root, *args):
        if args[:2] == ("rev-parse", "HEAD"):
            return COMMIT
        if args[:3] == ("remote", "get-url", "origin"):
            return origin
        return ""  # `git status`: no uncommitted changes

    return git


def _user_data(spec: str) -> str:
    import sys

    sys.path.insert(0, str(REPO / "infra_pulumi"))
    try:
        import cloud_init

        return cloud_init.build_user_data(spec)
    finally:
        sys.path.remove(str(REPO / "infra_pulumi"))
        sys.modules.pop("cloud_init", None)


@pytest.mark.parametrize(
    "origin",
    [
        "https://alice:{secret}@github.com/org/segkit.git",
        "https://{secret}@github.com/org/segkit.git",
        "https://{secret}:x-oauth-basic@gitlab.example.org/org/segkit",
    ],
)
def test_a_credential_in_the_origin_url_goes_nowhere(
    fake_pulumi, tmp_path, monkeypatch, capsys, origin
):
    from segkit.cli import main

    secret = f"SEKRET-{uuid.uuid4()}"
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", TOKEN)
    monkeypatch.delenv("SEGKIT_REMOTE_SPEC", raising=False)
    monkeypatch.setattr(segkit, "__version__", "0.1.0.dev3+g1234567")
    monkeypatch.setattr(provision, "_git", _fake_git(origin.format(secret=secret)))
    stack = FakeStack()
    stack.up = lambda **kwargs: pytest.fail("pulumi up ran with a credential in segkitSpec")
    monkeypatch.setattr(PulumiProvisioner, "_stack", lambda self: stack)
    code = main(
        [
            "remote", "run", str(REPO / "tests" / "remote" / "fixtures" / "divide.ipynb"),
            "--output", str(tmp_path / "out"),
            "--stack", "dev", "--yes", "--ssh-cidr", "1.2.3.4/32",
            "--infra-dir", str(REPO / "infra_pulumi"),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    refusal = [line for line in captured.err.splitlines() if "segkit remote run: error" in line]
    assert len(refusal) == 1, captured.err
    assert "carries a user name or token" in refusal[0] and "--segkit-spec" in refusal[0]
    assert "deploy key" in refusal[0]
    assert "git+https://github.com/org/segkit.git@" in refusal[0] or "gitlab" in refusal[0]
    assert secret not in captured.out + captured.err
    assert secret not in repr(stack.config)  # no Pulumi config holds it
    assert "segkit-gpu:segkitSpec" not in stack.config
    for path in tmp_path.rglob("*"):  # the state dir (~/.segkit/remote/dev), the output folder
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert stack.calls == ["destroy"]  # nothing was brought up


@pytest.mark.parametrize(
    ("origin", "why"),
    [
        ("git@github.com:org/segkit.git", "SSH"),
        ("ssh://git@github.com/org/segkit.git", "SSH"),
        ("/srv/git/segkit", "cannot reach"),
        ("file:///srv/git/segkit", "cannot reach"),
    ],
)
def test_an_origin_the_machine_cannot_clone_is_refused(monkeypatch, origin, why):
    monkeypatch.delenv("SEGKIT_REMOTE_SPEC", raising=False)
    monkeypatch.setattr(segkit, "__version__", "0.1.0.dev3+g1234567")
    monkeypatch.setattr(provision, "_git", _fake_git(origin))
    with pytest.raises(ProvisionError, match=why) as info:
        caller_install_spec()
    message = str(info.value)
    assert "\n" not in message and "--segkit-spec" in message and "deploy key" in message
    assert "git@github" not in message  # the user name is not repeated


def test_a_public_origin_reaches_config_and_user_data_without_user_info(
    fake_pulumi, tmp_path, monkeypatch
):
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", TOKEN)
    monkeypatch.delenv("SEGKIT_REMOTE_SPEC", raising=False)
    monkeypatch.setattr(segkit, "__version__", "0.1.0.dev3+g1234567")
    monkeypatch.setattr(provision, "_git", _fake_git("https://github.com/org/segkit.git"))
    stack = FakeStack()
    p = PulumiProvisioner(
        StackSettings(
            stack="dev",
            infra_dir=str(REPO / "infra_pulumi"),
            state_dir=str(tmp_path / "state"),
            ssh_cidr="1.2.3.4/32",
        )
    )
    monkeypatch.setattr(p, "_stack", lambda: stack)
    p.up(lambda line: None)
    spec = stack.config["segkit-gpu:segkitSpec"].value
    assert spec == f"segkit[gpu,notebooks] @ git+https://github.com/org/segkit.git@{COMMIT}"
    assert spec.replace("'", "") in _user_data(spec).replace("'", "")


def test_a_given_spec_with_a_password_is_refused_without_showing_it(
    fake_pulumi, tmp_path, monkeypatch
):
    secret = f"SEKRET-{uuid.uuid4()}"
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", TOKEN)
    stack = FakeStack()
    p = PulumiProvisioner(
        StackSettings(
            stack="dev",
            infra_dir=str(REPO / "infra_pulumi"),
            state_dir=str(tmp_path / "state"),
            ssh_cidr="1.2.3.4/32",
            segkit_spec=f"segkit @ git+https://bob:{secret}@github.com/org/segkit@{COMMIT}",
        )
    )
    monkeypatch.setattr(p, "_stack", lambda: stack)
    with pytest.raises(ProvisionError, match="--segkit-spec carries a password") as info:
        p.up(lambda line: None)
    assert secret not in str(info.value) and secret not in repr(stack.config)
    for spec in (
        f"segkit @ git+https://bob:{secret}@github.com/org/segkit@{COMMIT}",
        f"segkit @ git+https://{secret}@github.com/org/segkit@{COMMIT}",
    ):
        with pytest.raises(ValueError, match="credentials") as info:
            _user_data(spec)
        assert secret not in str(info.value)
        with pytest.raises(ProvisionError, match="password or token") as info:
            provision.check_no_password(spec, "--segkit-spec")
        assert secret not in str(info.value)
    provision.check_no_password("segkit @ git+ssh://git@github.com/org/segkit@c", "x")  # a key
