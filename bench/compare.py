"""How every benchmark reports: our figure beside its baseline's, and the ratio between them.

A benchmark measures Remit and a baseline on the same machine in the same run (bare ``cedarpy`` for a
decision, a no-op Starlette endpoint for HTTP, a plain SQLite insert for the audit log, ...), then prints one
line per figure, for example::

    decision, in process   ours 46.1 µs   baseline (bare cedarpy) 45.6 µs   ratio 1.01x
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Comparison:
    """One measured figure and the baseline it is judged against."""

    name: str  #: what was measured, e.g. ``"decision, in process"``
    ours: float
    baseline: float
    baseline_name: str  #: e.g. ``"bare cedarpy"``
    unit: str  #: e.g. ``"µs"`` or ``"req/s"``

    @property
    def ratio(self) -> float:
        """``ours / baseline``: above 1 means a larger figure than the baseline's, whatever the unit."""
        return self.ours / self.baseline

    def line(self) -> str:
        return (
            f"{self.name}   ours {self.ours:,.1f} {self.unit}   "
            f"baseline ({self.baseline_name}) {self.baseline:,.1f} {self.unit}   ratio {self.ratio:.2f}x"
        )


def report(*comparisons: Comparison) -> None:
    """Print each comparison on its own line, in the shape every benchmark uses."""
    for comparison in comparisons:
        print(comparison.line())
