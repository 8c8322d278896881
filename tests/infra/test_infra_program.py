"""The Pulumi program in infra_pulumi/, run against mocks (no cloud, no Pulumi CLI)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
from support import require_module

pulumi = require_module("pulumi", "the infra extra: pip install -e '.[infra]'")
require_module("pulumi_digitalocean", "the infra extra: pip install -e '.[infra]'")

INFRA = Path(__file__).resolve().parents[2] / "infra_pulumi"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests segkit-test"
TOKEN = "dop_v1_SECRET_TOKEN_FOR_TESTS_0123456789"
SPEC = "segkit[gpu,notebooks] @ git+https://github.com/example/segkit@0123456789abcdef0123456789abcdef01234567"
DROPLET = "digitalocean:index/droplet:Droplet"
FIREWALL = "digitalocean:index/firewall:Firewall"
PROVIDER = "pulumi:providers:digitalocean"
# Pulumi's wire marker of a secret value (pulumi.runtime.rpc._special_sig_key / _secret_sig).
SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


class Mocks(pulumi.runtime.Mocks):
    """Records every resource; a droplet gets an IP address and a price as DigitalOcean would."""

    def __init__(self) -> None:
        self.resources: list = []

    def new_resource(self, args):
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ == DROPLET:
            outputs.update(ipv4Address="203.0.113.10", priceHourly=3.39, name=args.name)
            return ["424242", outputs]
        if args.typ == "digitalocean:index/sshKey:SshKey":
            outputs["fingerprint"] = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"
        return [f"{args.name}-id", outputs]

    def call(self, args):
        return {}

    def of_type(self, typ: str) -> list:
        return [r for r in self.resources if r.typ == typ]


def _config(**overrides: str) -> dict[str, str]:
    config = {
        "segkit-gpu:sshPublicKey": PUBLIC_KEY,
        "segkit-gpu:sshCidr": "198.51.100.7/32",
        "segkit-gpu:segkitSpec": SPEC,
        "segkit-gpu:size": "gpu-l40sx1-48gb",
        "segkit-gpu:image": "gpu-l40sx1-base",
        "segkit-gpu:region": "atl1",
        "segkit-gpu:tags": json.dumps(["segkit", "lab-a"]),
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


@pytest.fixture
def program(monkeypatch):
    """``program(config, secret_keys)`` runs infra_pulumi/__main__.py under mocks and returns
    ``(mocks, module namespace, exports)``."""
    monkeypatch.syspath_prepend(str(INFRA))
    for name in ("cloud_init", "gpu_machine"):
        sys.modules.pop(name, None)

    def run(config: dict[str, str], secret_keys: tuple[str, ...] = ()):
        mocks = Mocks()
        pulumi.runtime.set_mocks(mocks, project="segkit-gpu", stack="test", preview=False)
        pulumi.runtime.set_all_config(config, list(secret_keys))
        exports: dict = {}
        monkeypatch.setattr(pulumi, "export", lambda name, value: exports.__setitem__(name, value))
        namespace = runpy.run_path(str(INFRA / "__main__.py"), run_name="__main__")
        return mocks, namespace, exports

    yield run
    for name in ("cloud_init", "gpu_machine"):
        sys.modules.pop(name, None)


@pulumi.runtime.test
def test_size_image_region_tags_and_user_data_come_from_config(program):
    mocks, ns, exports = program(_config())
    machine = ns["machine"]

    def check(_):
        (droplet,) = mocks.of_type(DROPLET)
        assert droplet.inputs["size"] == "gpu-l40sx1-48gb"
        assert droplet.inputs["image"] == "gpu-l40sx1-base"
        assert droplet.inputs["region"] == "atl1"
        assert droplet.inputs["tags"] == ["segkit", "lab-a"]
        user_data = droplet.inputs["userData"]
        assert user_data.startswith("#!/bin/bash")
        assert f"'{SPEC}'" in user_data  # the caller's exact commit, quoted for the shell
        assert "'tensorflow[and-cuda]'" in user_data
        assert "/var/lib/segkit/ready" in user_data
        assert set(exports) >= {"ipv4", "droplet_id", "price_hourly"}

    return pulumi.Output.all(machine.firewall.id, machine.droplet.id).apply(check)


@pulumi.runtime.test
def test_outputs_ip_droplet_id_and_hourly_price(program):
    _, _, exports = program(_config())

    def check(values):
        ipv4, droplet_id, price = values
        assert ipv4 == "203.0.113.10"
        assert droplet_id == "424242"
        assert price == 3.39

    return pulumi.Output.all(exports["ipv4"], exports["droplet_id"], exports["price_hourly"]).apply(
        check
    )


@pulumi.runtime.test
def test_defaults_are_the_h100_droplet(program):
    config = _config(
        **{"segkit-gpu:size": None, "segkit-gpu:image": None, "segkit-gpu:region": None}
    )
    mocks, ns, _ = program(config)

    def check(_):
        (droplet,) = mocks.of_type(DROPLET)
        assert droplet.inputs["size"] == "gpu-h100x1-80gb"
        assert droplet.inputs["image"] == "gpu-h100x1-base"

    return ns["machine"].droplet.id.apply(check)


@pulumi.runtime.test
def test_firewall_opens_only_port_22_and_only_to_the_configured_cidr(program):
    mocks, ns, _ = program(_config(**{"segkit-gpu:sshCidr": "198.51.100.7/32, 192.0.2.0/28"}))

    def check(_):
        (firewall,) = mocks.of_type(FIREWALL)
        rules = firewall.inputs["inboundRules"]
        assert len(rules) == 1
        (rule,) = rules
        assert rule["protocol"] == "tcp" and rule["portRange"] == "22"
        assert rule["sourceAddresses"] == ["198.51.100.7/32", "192.0.2.0/28"]
        assert firewall.inputs["dropletIds"] == [424242]

    return ns["machine"].firewall.id.apply(check)


@pytest.mark.parametrize(
    "cidr",
    [
        "0.0.0.0/0",
        "::/0",
        "198.51.100.7/32,0.0.0.0/0",
        "0.0.0.0/1,128.0.0.0/1",  # the whole internet in two halves
        "::/1",
        "10.0.0.0/8",
        "198.51.0.0/16,198.52.0.0/16",  # two /16s together exceed one /16
    ],
)
def test_world_open_ssh_is_refused(program, cidr):
    with pytest.raises(ValueError, match="too much of the internet"):
        program(_config(**{"segkit-gpu:sshCidr": cidr}))


@pytest.mark.parametrize("cidr", ["198.51.0.0/16", "2001:db8:1::/48", "198.51.100.7/32,::1/128"])
def test_ranges_up_to_the_widest_prefix_are_accepted(program, cidr):
    program(_config(**{"segkit-gpu:sshCidr": cidr}))


def test_widest_prefix_is_configurable(program):
    narrow = {"segkit-gpu:sshCidr": "198.51.100.0/24", "segkit-gpu:sshWidestPrefixV4": "28"}
    with pytest.raises(ValueError, match="more than one /28"):
        program(_config(**narrow))


def test_too_wide_ssh_counts_address_sets(program):
    from gpu_machine import too_wide_ssh  # importable once the program fixture set the path

    assert too_wide_ssh(("0.0.0.0/1", "128.0.0.0/1")) is not None
    assert too_wide_ssh(("198.51.100.0/24", "198.51.100.0/24")) is None  # duplicates count once
    assert too_wide_ssh(("::/1",)) is not None and too_wide_ssh(("::/0",), widest_v6=0) is None


def test_invalid_cidr_names_the_setting(program):
    with pytest.raises(ValueError, match="sshCidr: 'my-laptop'"):
        program(_config(**{"segkit-gpu:sshCidr": "my-laptop"}))


@pulumi.runtime.test
def test_world_open_ssh_only_when_forced(program):
    mocks, ns, _ = program(
        _config(**{"segkit-gpu:sshCidr": "0.0.0.0/0", "segkit-gpu:allowWorldSsh": "true"})
    )

    def check(_):
        (firewall,) = mocks.of_type(FIREWALL)
        assert firewall.inputs["inboundRules"][0]["sourceAddresses"] == ["0.0.0.0/0"]

    return ns["machine"].firewall.id.apply(check)


def test_missing_segkit_spec_is_an_error(program):
    with pytest.raises(pulumi.ConfigMissingError, match="segkitSpec"):
        program(_config(**{"segkit-gpu:segkitSpec": None}))


@pulumi.runtime.test
def test_token_is_a_secret_and_never_in_outputs_or_user_data(program):
    config = _config(**{"digitalocean:token": TOKEN})
    mocks, ns, exports = program(config, secret_keys=("digitalocean:token",))
    token = ns["token"]
    assert isinstance(token, pulumi.Output)

    async def check(_):
        assert await token.is_secret()
        (provider,) = mocks.of_type(PROVIDER)
        # It reaches the engine wrapped as a secret: {SIG_KEY: SECRET_SIG, "value": ...}.
        wrapped = provider.inputs["token"]
        assert wrapped == {SIG_KEY: SECRET_SIG, "value": TOKEN}
        for resource in mocks.resources:
            if resource.typ != PROVIDER:
                assert TOKEN not in json.dumps(resource.inputs, default=str), resource.typ
        values = [await pulumi.Output.from_input(v).future() for v in exports.values()]
        assert TOKEN not in json.dumps(values, default=str)

    return ns["machine"].firewall.id.apply(check)


@pulumi.runtime.test
def test_without_a_token_config_the_provider_reads_the_environment(program):
    mocks, ns, _ = program(_config())

    def check(_):
        assert mocks.of_type(PROVIDER) == [] or all(
            "token" not in p.inputs for p in mocks.of_type(PROVIDER)
        )
        assert ns["token"] is None

    return ns["machine"].droplet.id.apply(check)
