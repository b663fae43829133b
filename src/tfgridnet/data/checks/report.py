"""The outcome of ``check-data``: one :class:`Problem` per finding, gathered in a
:class:`CheckReport` whose ``to_dict`` is the check-data JSON of docs/design.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from tfgridnet.text import plural

__all__ = ["Problem", "CheckReport"]


@dataclass
class Problem:
    """One finding on one pair."""

    uttid: str
    kind: str
    severity: str
    message: str


@dataclass
class CheckReport:
    """Result of :func:`check_data`; ``to_dict`` is the check-data JSON of docs/design.md."""

    ok: bool
    n_pairs: int
    problems: list[Problem] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    sampled: dict | None = None  # {"n", "of", "seed"} when only a random sample was checked

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "n_pairs": self.n_pairs, "sampled": self.sampled,
                "problems": [asdict(p) for p in self.problems], "stats": self.stats}

    def summary(self, max_listed: int = 10) -> str:
        """A few lines for people: verdict, counts by kind, worst offenders, SNR distribution."""
        checked = self.stats.get("n_checked", self.n_pairs)
        bad = len({p.uttid for p in self.errors})
        verdict = "OK" if self.ok else f"ERRORS in {bad} of {checked} checked pairs"
        lines = [f"check-data: {verdict} ({plural(len(self.errors), 'error')}, "
                 f"{plural(len(self.warnings), 'warning')}; "
                 f"{checked} of {self.n_pairs} pairs checked)"]
        if self.sampled:
            lines.append(f"SAMPLED: statistics below are from a random sample of "
                         f"{self.sampled['n']} of {self.sampled['of']} pairs (seed "
                         f"{self.sampled['seed']}); the other pairs were not checked")
        by_kind = Counter((p.severity, p.kind) for p in self.problems)
        for (severity, kind), count in sorted(by_kind.items()):
            lines.append(f"  {severity:7s} {kind:22s} {count}")
        listed = self.errors[:max_listed] + self.warnings[:max(0, max_listed - len(self.errors))]
        if listed:
            lines.append("first problems:")
            lines += [f"  [{p.severity}] {p.uttid}: {p.kind}: {p.message}" for p in listed]
            if len(self.problems) > len(listed):
                lines.append(f"  ... {len(self.problems) - len(listed)} more (see --json)")
        snr = self.stats.get("sisnr_db")
        if snr:
            lines.append("estimated input SI-SNR (dB): " + ", ".join(
                f"{k} {snr[k]:.1f}" for k in ("min", "p10", "median", "p90", "max") if k in snr))
        durations = self.stats.get("duration_s")
        if durations:
            lines.append(f"durations (s): min {durations['min']:.2f}, median "
                         f"{durations['median']:.2f}, max {durations['max']:.2f}; total "
                         f"{durations['total_hours']:.2f} h")
        if self.stats.get("sample_rates"):
            lines.append("sample rates: " + ", ".join(
                f"{rate} Hz x{n}" for rate, n in self.stats["sample_rates"].items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
