"""Counters and latency histograms exposed at /metrics in the Prometheus text format."""

from __future__ import annotations

from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.counters: dict[str, float] = defaultdict(float)
        self.gauges: dict[str, float] = {}
        self.hist: dict[str, list[int]] = {}
        self.hist_sum: dict[str, float] = defaultdict(float)
        self.hist_count: dict[str, int] = defaultdict(int)

    def inc(self, name: str, value: float = 1.0) -> None:
        self.counters[name] += value

    def set(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def observe(self, name: str, seconds: float) -> None:
        counts = self.hist.setdefault(name, [0] * len(BUCKETS))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        self.hist_sum[name] += seconds
        self.hist_count[name] += 1

    def render(self) -> str:
        lines: list[str] = []
        typed: set[str] = set()
        for kind, values in (("counter", self.counters), ("gauge", self.gauges)):
            for name, value in sorted(values.items()):
                base = name.split("{", 1)[0]  # a labelled series: one TYPE line for its name
                if base not in typed:
                    typed.add(base)
                    lines.append(f"# TYPE {base} {kind}")
                lines.append(f"{name} {value:g}")
        for name, counts in sorted(self.hist.items()):
            lines.append(f"# TYPE {name} histogram")
            for bound, count in zip(BUCKETS, counts, strict=True):
                lines.append(f'{name}_bucket{{le="{bound}"}} {count}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {self.hist_count[name]}')
            lines.append(f"{name}_sum {self.hist_sum[name]:g}")
            lines.append(f"{name}_count {self.hist_count[name]}")
        return "\n".join(lines) + "\n"
