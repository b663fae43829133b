"""The outcome of ``check-data``: one :class:`Problem` per finding, gathered in a
:class:`CheckReport` whose ``to_dict`` is the check-data JSON of docs/design.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from tfgridnet.contracts.check_data import MEASURE_FIELDS, ROLES, Measures
from tfgridnet.text import plural

__all__ = ["Problem", "CheckReport", "Measures", "MEASURE_FIELDS", "ROLES"]


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
    measures: list[Measures] = field(default_factory=list)  # one per checked row, in order
    role: str = "pairs"  # a key of ROLES
    cache: dict | None = None  # {"path", "hits", "checked", "note"} when a result cache was used

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "n_pairs": self.n_pairs, "sampled": self.sampled,
                "problems": [asdict(p) for p in self.problems], "stats": self.stats,
                "role": self.role, "cache": self.cache,
                "pairs": [asdict(m) for m in self.measures]}

    @property
    def checked_line(self) -> str:
        """"checked N of M pairs; the rest are unchecked" (sampled) or "checked all M pairs"."""
        what = ROLES[self.role]
        if self.sampled:
            return (f"checked {self.sampled['n']} of {self.sampled['of']} {what} (random sample, "
                    f"seed {self.sampled['seed']}); the rest are unchecked")
        return f"checked all {self.n_pairs} {what}"

    @property
    def cache_line(self) -> str | None:
        """How many results came from the cache, and where it lives (None: no cache used)."""
        if not self.cache:
            return None
        line = (f"{self.cache['hits']} of {self.cache['hits'] + self.cache['checked']} results "
                f"from the cache ({self.cache['checked']} checked now; {self.cache['path']})")
        return line + (f"; {self.cache['note']}" if self.cache.get("note") else "")

    def summary(self, max_listed: int = 10) -> str:
        """A few lines for people: verdict, counts by kind, worst offenders, SNR distribution."""
        checked = self.stats.get("n_checked", self.n_pairs)
        bad = len({p.uttid for p in self.errors})
        what = ROLES[self.role]
        verdict = "OK" if self.ok else f"ERRORS in {bad} of {checked} checked {what}"
        lines = [f"check-data: {verdict} ({plural(len(self.errors), 'error')}, "
                 f"{plural(len(self.warnings), 'warning')}; "
                 f"{checked} of {self.n_pairs} {what} checked)"]
        if self.sampled:
            lines.append(f"SAMPLED: statistics below are from a random sample of "
                         f"{self.sampled['n']} of {self.sampled['of']} {what} (seed "
                         f"{self.sampled['seed']}); the other {what} were not checked")
        if self.cache_line:
            lines.append(self.cache_line)
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
        ref_snr, bandwidth = self.stats.get("ref_snr_db"), self.stats.get("ref_bandwidth_hz")
        if ref_snr and bandwidth:
            share = self.stats.get("ref_speech_share") or {}
            lines.append(f"clean references: own SNR (WADA) p10 {ref_snr['p10']:.1f} / median "
                         f"{ref_snr['median']:.1f} dB, bandwidth median "
                         f"{bandwidth['median']:,.0f} Hz, speech share median "
                         f"{share.get('median', float('nan')):.2f}")
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
