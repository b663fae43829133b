"""The outcome of the leakage check: file matches grouped per pair of manifest rows, each named
by what leaked (:data:`LEAK_KINDS`); ``LeakageReport.to_dict`` is the ``leakage`` JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from tfgridnet.text import plural

__all__ = ["LEAK_KINDS", "FileMatch", "Leak", "LeakageReport", "SplitSummary", "leak_kind"]

# Every leak is an error: a validation or test figure measured on audio the model trained on.
LEAK_KINDS = {
    "same_pair": "the same pair (noisy and clean) is in both splits",
    "same_clean": "the same clean speech is in both splits",
    "clean_in_noisy": "one split's clean speech is in the other split's noisy file",
    "same_noisy": "the noisy files share audio but their clean references do not (the same "
                  "recording with other references, or the same noise)",
    "same_noise": "the same noise recording is in both splits",
}
UNDER_OTHER_NOISE = "the same clean speech under different noise in both splits"
# Noisy sides matching at this share of the clean sides' match (or more) carry the same noise.
# Demo corpus (bench/leakage.py, RESULTS §50): the same clean under another noise kind reaches
# 0.75 at most (median 0.11); whole pairs resampled reach 1.00, re-encoded as Vorbis 0.34-1.60
# (median 0.88: 40 of 60 named same_pair, the rest same_clean; both are errors).
SAME_NOISE_SHARE = 0.8


@dataclass
class FileMatch:
    """Two files, one per split, that hold the same audio; ``how`` is ``identical`` (the decoded
    samples are equal) or ``fingerprint`` (``landmarks`` agree at one time offset: ``share`` of
    the smaller file's, the second file ``offset_s`` seconds later)."""

    side_a: str
    path_a: str
    side_b: str
    path_b: str
    how: str
    landmarks: int = 0
    share: float = 0.0
    offset_s: float = 0.0

    def describe(self) -> str:
        evidence = ("identical samples" if self.how == "identical" else
                    f"fingerprint: {self.landmarks} landmarks, {self.share:.0%} of the shorter "
                    f"file's, at offset {self.offset_s:+.2f} s")
        return f"{self.side_a} {self.path_a} = {self.side_b} {self.path_b} ({evidence})"


@dataclass
class Leak:
    """One row of split A and one row of split B that share audio, and every file match."""

    kind: str
    split_a: str
    manifest_a: str
    uttid_a: str
    split_b: str
    manifest_b: str
    uttid_b: str
    matches: list[FileMatch] = field(default_factory=list)
    message: str = ""


def leak_kind(matches: list[FileMatch], noisy_a: bool, noisy_b: bool) -> tuple[str, str]:
    """What leaked (a :data:`LEAK_KINDS` key) and the sentence that names it, from which sides
    matched. ``noisy_a``/``noisy_b``: whether each row has a noisy file at all.

    Two noisy files that hold the same speech match through it even under different noise, so
    a pair counts as the same pair only when its noisy files match about as well as its clean
    ones (:data:`SAME_NOISE_SHARE` of the clean match's share, or identical samples).
    """
    share = {(m.side_a, m.side_b): m.share for m in matches}
    clean, noisy = share.get(("clean", "clean")), share.get(("noisy", "noisy"))
    if clean is not None:
        if noisy is not None and noisy >= SAME_NOISE_SHARE * clean:
            kind = "same_pair"
        elif noisy_a and noisy_b:
            return "same_clean", UNDER_OTHER_NOISE
        else:
            kind = "same_clean"
    elif any("noise" in pair for pair in share):
        kind = "same_noise"
    elif ("clean", "noisy") in share or ("noisy", "clean") in share:
        kind = "clean_in_noisy"
    else:
        kind = "same_noisy"
    return kind, LEAK_KINDS[kind]


@dataclass
class SplitSummary:
    name: str
    manifests: list[str]
    n_rows: int
    n_files: int


@dataclass
class LeakageReport:
    """Result of :func:`tfgridnet.data.leakage.check_leakage`; ``ok`` when no audio is shared."""

    splits: list[SplitSummary]
    leaks: list[Leak] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.leaks

    @property
    def by_kind(self) -> dict[str, int]:
        return dict(Counter(leak.kind for leak in self.leaks))

    def to_dict(self) -> dict:
        return {"ok": self.ok, "splits": [asdict(s) for s in self.splits],
                "leaks": [asdict(leak) for leak in self.leaks], "stats": self.stats}

    def lines(self, max_listed: int = 10) -> list[str]:
        """Each leak in one line: both rows, what leaked, the first file match with both paths."""
        out = []
        for leak in self.leaks[:max_listed]:
            out.append(f"  [error] {leak.uttid_a} ({leak.split_a}) and {leak.uttid_b} "
                       f"({leak.split_b}): {leak.kind}: {leak.message}: "
                       + "; ".join(m.describe() for m in leak.matches))
        if len(self.leaks) > max_listed:
            out.append(f"  ... {len(self.leaks) - max_listed} more (see --json)")
        return out

    def summary(self, max_listed: int = 10) -> str:
        names = " / ".join(s.name for s in self.splits)
        n_files = sum(s.n_files for s in self.splits)
        seconds = self.stats.get("seconds")
        timing = f" in {seconds:.1f} s" if seconds is not None else ""
        if self.ok:
            return (f"leakage: OK, no audio shared between {names} "
                    f"({n_files} files compared by content{timing})")
        head = [f"leakage: ERRORS: {plural(len(self.leaks), 'pair')} of rows share audio "
                f"between {names} ({n_files} files compared by content{timing})"]
        head += [f"  error   {kind:22s} {count}" for kind, count in sorted(self.by_kind.items())]
        return "\n".join(head + self.lines(max_listed))
