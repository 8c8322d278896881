"""A GPU droplet that only its owner can reach: SSH key, droplet, firewall, as one component."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_digitalocean as digitalocean
from cloud_init import READY_MARKER, build_user_data

__all__ = [
    "DEFAULT_SIZE",
    "DEFAULT_IMAGE",
    "DEFAULT_REGION",
    "DEFAULT_TAGS",
    "GpuMachineArgs",
    "GpuMachine",
    "WIDEST_PREFIX_V4",
    "WIDEST_PREFIX_V6",
    "too_wide_ssh",
]

DEFAULT_SIZE = "gpu-h100x1-80gb"
DEFAULT_IMAGE = "gpu-h100x1-base"
DEFAULT_REGION = "tor1"
DEFAULT_TAGS = ("segkit",)
DEFAULT_TENSORFLOW = "tensorflow[and-cuda]"


# The widest source range one SSH rule may admit without allow_world_ssh: a /16 of IPv4
# (65,536 addresses, a campus) and a /48 of IPv6 (one site).
WIDEST_PREFIX_V4 = 16
WIDEST_PREFIX_V6 = 48


def _cidrs(value: str | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(i.strip() for i in items if i.strip())


def too_wide_ssh(
    cidrs: tuple[str, ...], *, widest_v4: int = WIDEST_PREFIX_V4, widest_v6: int = WIDEST_PREFIX_V6
) -> str | None:
    """Why ``cidrs`` together admit more than one /``widest`` network, or None when they don't.

    Ranges are compared as address sets, not strings: ``0.0.0.0/1,128.0.0.0/1`` is the whole
    IPv4 internet, and so are 65,536 distinct /16s. Each address family is counted apart.
    """
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    for version, widest in ((4, widest_v4), (6, widest_v6)):
        family = [n for n in nets if n.version == version]
        if not family:
            continue
        union = list(ipaddress.collapse_addresses(family))  # type: ignore[type-var]
        total = sum(n.num_addresses for n in union)
        bits = 32 if version == 4 else 128
        if total > 2 ** (bits - widest):
            shown = ", ".join(str(n) for n in union[:4]) + (" ..." if len(union) > 4 else "")
            share = total / 2**bits
            return (
                f"{shown} admit {total:,} IPv{version} addresses ({share:.2%} of all), more than "
                f"one /{widest}"
            )
    return None


@dataclass(frozen=True)
class GpuMachineArgs:
    """Everything the component needs; validated on construction.

    ``ssh_cidrs`` are the only source ranges allowed to reach port 22. Ranges that together
    admit more than one /``widest_prefix_v4`` of IPv4 (or /``widest_prefix_v6`` of IPv6) are
    refused unless ``allow_world_ssh``: ``0.0.0.0/0``, ``::/0`` and also
    ``0.0.0.0/1,128.0.0.0/1`` or ``::/1`` (see :func:`too_wide_ssh`).
    """

    ssh_public_key: str
    ssh_cidrs: tuple[str, ...]
    segkit_spec: str
    size: str = DEFAULT_SIZE
    image: str = DEFAULT_IMAGE
    region: str = DEFAULT_REGION
    tags: tuple[str, ...] = DEFAULT_TAGS
    tensorflow_spec: str = DEFAULT_TENSORFLOW
    allow_world_ssh: bool = False
    widest_prefix_v4: int = WIDEST_PREFIX_V4
    widest_prefix_v6: int = WIDEST_PREFIX_V6

    def __post_init__(self) -> None:
        object.__setattr__(self, "ssh_cidrs", _cidrs(self.ssh_cidrs))
        object.__setattr__(self, "tags", tuple(self.tags))
        if not self.ssh_public_key.startswith(("ssh-", "ecdsa-")):
            raise ValueError(
                f"sshPublicKey: {self.ssh_public_key[:20]!r}... is not an SSH public key"
            )
        if not self.ssh_cidrs:
            raise ValueError(
                "sshCidr: give the address range allowed to reach SSH, e.g. 1.2.3.4/32"
            )
        for cidr in self.ssh_cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"sshCidr: {cidr[:60]!r} is not an address range like 1.2.3.4/32"
                ) from None
        if not (0 <= self.widest_prefix_v4 <= 32 and 0 <= self.widest_prefix_v6 <= 128):
            raise ValueError("sshWidestPrefix: expected 0-32 for IPv4 and 0-128 for IPv6")
        wide = too_wide_ssh(
            self.ssh_cidrs, widest_v4=self.widest_prefix_v4, widest_v6=self.widest_prefix_v6
        )
        if wide and not self.allow_world_ssh:
            raise ValueError(
                f"sshCidr: {wide}: that opens SSH to too much of the internet; use your own "
                "address (e.g. 1.2.3.4/32) or set allowWorldSsh to true to force it"
            )
        for name in ("size", "image", "region", "segkit_spec", "tensorflow_spec"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"{name}: must not be empty")
        if not self.size.startswith("gpu-"):
            pulumi.log.warn(f"size {self.size!r} is not a GPU size; segkit will train on the CPU")


class GpuMachine(pulumi.ComponentResource):
    """An SSH key, a GPU droplet set up by cloud-init, and a firewall that admits SSH only from
    ``args.ssh_cidrs``.

    Outputs: ``ipv4``, ``droplet_id``, ``price_hourly``, ``name``, ``ready_marker``.
    """

    def __init__(
        self, name: str, args: GpuMachineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("segkit:infra:GpuMachine", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.ssh_key = digitalocean.SshKey(
            f"{name}-key", name=f"{name}-key", public_key=args.ssh_public_key, opts=child
        )
        self.droplet = digitalocean.Droplet(
            f"{name}-droplet",
            image=args.image,
            region=args.region,
            size=args.size,
            ssh_keys=[self.ssh_key.fingerprint],
            tags=list(args.tags),
            user_data=build_user_data(args.segkit_spec, tensorflow_spec=args.tensorflow_spec),
            monitoring=True,
            opts=child,
        )
        everywhere = ["0.0.0.0/0", "::/0"]
        self.firewall = digitalocean.Firewall(
            f"{name}-ssh-only",
            droplet_ids=[self.droplet.id.apply(int)],
            inbound_rules=[
                digitalocean.FirewallInboundRuleArgs(
                    protocol="tcp", port_range="22", source_addresses=list(args.ssh_cidrs)
                )
            ],
            outbound_rules=[
                digitalocean.FirewallOutboundRuleArgs(
                    protocol="tcp", port_range="1-65535", destination_addresses=everywhere
                ),
                digitalocean.FirewallOutboundRuleArgs(
                    protocol="udp", port_range="1-65535", destination_addresses=everywhere
                ),
                digitalocean.FirewallOutboundRuleArgs(
                    protocol="icmp", destination_addresses=everywhere
                ),
            ],
            opts=child,
        )
        self.ipv4 = self.droplet.ipv4_address
        self.droplet_id = self.droplet.id
        self.price_hourly = self.droplet.price_hourly
        self.name = self.droplet.name
        self.ready_marker = READY_MARKER
        self.register_outputs(
            {
                "ipv4": self.ipv4,
                "droplet_id": self.droplet_id,
                "price_hourly": self.price_hourly,
            }
        )
