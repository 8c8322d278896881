"""What a remote GPU run costs: list prices of DigitalOcean GPU droplets and the arithmetic.

The prices are DigitalOcean's published on-demand list prices in US dollars per hour at the
time of writing; they change. The provisioner prefers the price the DigitalOcean API reports
for the droplet it created (its ``price_hourly``), and uses this table only for the estimate
shown before anything is created.
"""

from __future__ import annotations

__all__ = ["HOURLY_PRICES_USD", "hourly_price", "run_cost", "format_cost", "cost_summary"]

HOURLY_PRICES_USD: dict[str, float] = {
    "gpu-h100x1-80gb": 3.39,
    "gpu-h100x8-640gb": 23.92,
    "gpu-h200x1-141gb": 3.44,
    "gpu-h200x8-1128gb": 27.52,
    "gpu-l40sx1-48gb": 1.57,
    "gpu-6000adax1-48gb": 1.57,
    "gpu-4000adax1-20gb": 0.76,
    "gpu-mi300x1-192gb": 1.99,
    "gpu-mi300x8-1536gb": 15.92,
}


def hourly_price(size: str) -> float | None:
    """The list price per hour of a droplet ``size`` slug, or ``None`` when not in the table."""
    return HOURLY_PRICES_USD.get(size)


def run_cost(hourly: float | None, seconds: float) -> float | None:
    """Cost of ``seconds`` of a machine at ``hourly`` dollars per hour (``None`` if unknown)."""
    if hourly is None:
        return None
    if seconds < 0:
        raise ValueError(f"run_cost: seconds must be >= 0, got {seconds}")
    return hourly * seconds / 3600.0


def format_cost(dollars: float | None) -> str:
    """``"$1.23"`` (cents below a dollar shown to a tenth of a cent), or ``"unknown"``."""
    if dollars is None:
        return "unknown"
    return f"${dollars:.3f}" if dollars < 1 else f"${dollars:,.2f}"


def cost_summary(hourly: float | None, seconds: float) -> str:
    """One line: machine time, hourly price and the cost it implies."""
    minutes = seconds / 60.0
    if hourly is None:
        return f"machine time {minutes:.1f} min (hourly price unknown)"
    return (
        f"machine time {minutes:.1f} min at {format_cost(hourly)}/h = "
        f"{format_cost(run_cost(hourly, seconds))} (estimate; DigitalOcean's invoice is final)"
    )
