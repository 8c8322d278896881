"""A GPU droplet for segkit: reads the stack configuration and wires the component.

Configuration (``pulumi config set KEY VALUE``; see Pulumi.example.yaml): ``sshPublicKey``,
``sshCidr`` (required), ``segkitSpec`` (required), ``size``, ``image``, ``region``, ``tags``,
``tensorflowSpec``, ``allowWorldSsh``, ``sshWidestPrefixV4`` (16), ``sshWidestPrefixV6`` (48);
the secret ``digitalocean:token`` (or ``$DIGITALOCEAN_TOKEN``).
"""

import pulumi
import pulumi_digitalocean as digitalocean
from gpu_machine import (
    DEFAULT_IMAGE,
    DEFAULT_REGION,
    DEFAULT_SIZE,
    DEFAULT_TAGS,
    DEFAULT_TENSORFLOW,
    WIDEST_PREFIX_V4,
    WIDEST_PREFIX_V6,
    GpuMachine,
    GpuMachineArgs,
)

config = pulumi.Config()
token = pulumi.Config("digitalocean").get_secret("token")  # None: the provider reads the env

args = GpuMachineArgs(
    ssh_public_key=config.require("sshPublicKey"),
    ssh_cidrs=config.require("sshCidr"),
    segkit_spec=config.require("segkitSpec"),
    size=config.get("size") or DEFAULT_SIZE,
    image=config.get("image") or DEFAULT_IMAGE,
    region=config.get("region") or DEFAULT_REGION,
    tags=tuple(config.get_object("tags") or DEFAULT_TAGS),
    tensorflow_spec=config.get("tensorflowSpec") or DEFAULT_TENSORFLOW,
    allow_world_ssh=config.get_bool("allowWorldSsh") or False,
    widest_prefix_v4=config.get_int("sshWidestPrefixV4") or WIDEST_PREFIX_V4,
    widest_prefix_v6=config.get_int("sshWidestPrefixV6") or WIDEST_PREFIX_V6,
)
provider = digitalocean.Provider("digitalocean", token=token) if token is not None else None
machine = GpuMachine(
    "segkit",
    args,
    opts=pulumi.ResourceOptions(providers=[provider]) if provider is not None else None,
)

pulumi.export("ipv4", machine.ipv4)
pulumi.export("droplet_id", machine.droplet_id)
pulumi.export("droplet_name", machine.name)
pulumi.export("price_hourly", machine.price_hourly)
pulumi.export("ready_marker", machine.ready_marker)
