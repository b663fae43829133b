"""bench/RESULTS.md's experiment numbers name one experiment each, every "§N" cited in the
repository exists there, and every link of docs/benchmarks.md into it lands on a heading."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
BENCHMARKS = REPO / "docs" / "benchmarks.md"
NUMBERED = re.compile(r"^### (\d+[a-z]?)\. (.*)$")
# "§38", "§6a", and both ends of "§14-22"
CITED = re.compile(r"§(\d+[a-z]?)(?:-(\d+[a-z]?))?")
CITING_FILES = ("README.md", "docs/*.md", "bench/*.md", "bench/*.py", "bench/*.sh",
                "src/**/*.py", "src/**/*.yaml", "tests/**/*.py")


def _headings() -> list[str]:
    return [line[3:].strip() for line in RESULTS.read_text(encoding="utf-8").splitlines()
            if line.startswith("### ")]


def _experiments() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for line in RESULTS.read_text(encoding="utf-8").splitlines():
        match = NUMBERED.match(line)
        if match:
            found[match.group(1)].append(match.group(2))
    return found


def test_each_number_is_one_experiment() -> None:
    """A number has one prediction (or stand-alone) heading and at most one result heading."""
    clashes = {}
    for number, titles in _experiments().items():
        results = [t for t in titles if re.search(r"\bresult\b", t, re.IGNORECASE)]
        if len(results) > 1 or len(titles) - len(results) > 1:
            clashes[number] = titles
    assert not clashes, f"RESULTS.md numbers used by more than one experiment: {clashes}"


def test_every_cited_section_exists() -> None:
    numbers = set(_experiments())
    missing = []
    for pattern in CITING_FILES:
        for path in sorted(REPO.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            for line_no, line in enumerate(text.splitlines(), 1):
                for match in CITED.finditer(line):
                    for number in filter(None, match.groups()):
                        if number not in numbers:
                            missing.append(f"{path.relative_to(REPO)}:{line_no}: §{number}")
    missing += [f"bench/RESULTS.md: §{number}" for line in _headings()
                for match in CITED.finditer(line) for number in filter(None, match.groups())
                if number not in numbers]
    assert not missing, "no such section in bench/RESULTS.md:\n" + "\n".join(missing)


def github_anchor(title: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#+ (.*)$", line)
        if match:
            anchor = github_anchor(match.group(1))
            anchors.add(anchor if not seen[anchor] else f"{anchor}-{seen[anchor]}")
            seen[anchor] += 1
    return anchors


def test_github_anchor_matches_githubs_rule() -> None:
    assert github_anchor("38. Result (written after the run above)") == \
        "38-result-written-after-the-run-above"
    assert github_anchor("model (CPU, fp32) — 2026-11-24 21:25") == "model-cpu-fp32--2026-11-24-2125"


def test_benchmarks_page_links_land_on_log_sections() -> None:
    text = BENCHMARKS.read_text(encoding="utf-8")
    links = re.findall(r"\]\(\.\./bench/RESULTS\.md#([^)]+)\)", text)
    assert len(links) >= 20
    anchors = _anchors(RESULTS)
    broken = sorted({link for link in links if link not in anchors})
    assert not broken, f"docs/benchmarks.md links to no heading of bench/RESULTS.md: {broken}"
