"""What ``segkit prepare`` did: :class:`PrepareReport`, its summary and its JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.dataset.manifest import Manifest, SkippedFile
from segkit.dataset.walk import describe_links_outside

__all__ = ["PrepareReport"]


@dataclass(frozen=True)
class PrepareReport:
    """What :func:`prepare_dataset` did.

    Attributes
    ----------
    dst : Path
    manifest : Manifest
        The manifest of the data set now at ``dst``.
    layout : str
        Source layout used (detected or named).
    encoded, reused : int
        Source pairs converted now, and source pairs whose earlier outputs were kept.
    skipped : tuple of SkippedFile
        Files that did not decode, mismatched sizes, unpaired and unrelated files.
    up_to_date : bool
        ``dst`` already held exactly this data set; nothing was written.
    seconds : float
    workers : int
        Worker processes used (fewer than asked when the largest image needs the memory).
    repaired : tuple of str
        Earlier outputs (paths in ``dst``) that no longer had the SHA-256 their manifest
        listed, or were missing, and were encoded again.
    links_outside : tuple of str
        Links in the source whose target lies outside it: not followed.
    """

    dst: Path
    manifest: Manifest
    layout: str
    encoded: int
    reused: int
    skipped: tuple[SkippedFile, ...] = ()
    up_to_date: bool = False
    seconds: float = 0.0
    workers: int = 1
    repaired: tuple[str, ...] = ()
    links_outside: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return self.manifest.counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "dst": str(self.dst),
            "layout": self.layout,
            "fingerprint": self.manifest.fingerprint,
            "counts": self.counts,
            "pairs": len(self.manifest.pairs),
            "encoded": self.encoded,
            "reused": self.reused,
            "up_to_date": self.up_to_date,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "repaired": list(self.repaired),
            "links_outside": list(self.links_outside),
            "skipped": [s.to_dict() for s in self.skipped],
        }

    def format(self, *, max_items: int = 20) -> str:
        """A short human-readable summary."""
        c = self.counts
        lines = [
            f"prepared data set: {self.dst}",
            f"  source layout: {self.layout}",
            f"  pairs: {len(self.manifest.pairs)} (train {c['train']}, val {c['val']}, "
            f"test {c['test']})",
            f"  template: {self.manifest.template.height}x{self.manifest.template.width} "
            f"{self.manifest.template.image_type} {self.manifest.template.color_model}, "
            f"fit {self.manifest.template.fit}, {self.manifest.template.num_classes} classes",
            f"  fingerprint: {self.manifest.fingerprint}",
        ]
        if self.up_to_date:
            lines.append("  already up to date: nothing written")
        else:
            lines.append(
                f"  source pairs encoded: {self.encoded}, reused unchanged: {self.reused} "
                f"({self.seconds:.1f} s, {self.workers} worker(s))"
            )
        if self.repaired:
            lines.append(
                f"  outputs that no longer matched the manifest, encoded again: "
                f"{len(self.repaired)} ({', '.join(self.repaired[:max_items])}"
                + (" ..." if len(self.repaired) > max_items else "")
                + ")"
            )
        links = set(self.links_outside)
        skipped = [s for s in self.skipped if s.file not in links]  # named on their own line
        if skipped:
            lines.append(f"  skipped files: {len(skipped)}")
            for s in skipped[:max_items]:
                lines.append(f"    {s.file}: {s.reason}")
            if len(skipped) > max_items:
                lines.append(f"    ... and {len(skipped) - max_items} more (see manifest)")
        if self.links_outside:
            lines.append("  " + describe_links_outside(self.links_outside, max_items=max_items))
        return "\n".join(lines)
