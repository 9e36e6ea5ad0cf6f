"""docs/metrics.md checked against the catalogue of metric families (`exporter.sources.catalogue()`).

A metric table of the doc has the header `| metric | type | labels | unit | meaning |`; each of its rows
documents one family: its backticked name, its type, its labels as backticked names separated by
commas (an empty cell: no labels), its unit and what it means. Checked here:

- every family of the catalogue has exactly one row, under the doc's section of its source ("Self" for
  Vigil's own metrics, a heading naming "source `NAME`" for a source's families);
- every row names a family (a recording rule `vigil:...` is not one, nor a histogram's `_bucket`,
  `_sum` or `_count` samples), and so does every `vigil_...` name mentioned anywhere in the doc, except
  that a histogram's samples may be named in prose and queries;
- the row's type and label set are the family's;
- the unit cell is the family's unit: the base unit its name ends in (`seconds`, `bytes`, `ratio`,
  `pixels`), written as that plain word, and empty for a family without a unit;
- a family only served in the `/probe` answer says so in its meaning ("Only in the `/probe` answer"),
  and no other family does;
- the catalogue's own rules: names start with `vigil_`, counters end in `_total`, no name is declared
  twice.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.catalogue import FamilySpec
from exporter.metrics import SELF_FAMILIES
from exporter.sources import catalogue, plugins

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
DOC_NAME = "docs/metrics.md"
METRIC_HEADER = ("metric", "type", "labels", "unit", "meaning")
SELF_SECTION = "Self"
CELL_SPLIT = re.compile(r"(?<!\\)\|")  # a `\|` inside a cell is not a column boundary
NAME_CELL = re.compile(r"`([^`\s]+)`")
METRIC_NAME = re.compile(r"vigil_[a-z0-9_]*[a-z0-9]")
LABEL = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")
MENTION = re.compile(r"\bvigil_[a-z0-9_]+\*?")
HISTOGRAM_SAMPLES = ("_bucket", "_sum", "_count")
PROBE_ONLY = re.compile(r"\bonly in (?:the |a )?`/probe` answers?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Row:
    line: int
    section: str  # the `## ` heading the row's table is under
    name: str
    type: str
    labels: tuple[str, ...]
    unit: str
    meaning: str

    def where(self) -> str:
        return f"{DOC_NAME}:{self.line}"


@dataclass(frozen=True)
class Doc:
    rows: tuple[Row, ...]
    problems: tuple[str, ...]  # rows and tables that could not be read


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in CELL_SPLIT.split(inner)]


def _labels(cell: str) -> tuple[str, ...] | None:
    """The label names of a labels cell; None when it is not backticked names separated by commas."""
    if not cell:
        return ()
    names = []
    for part in cell.split(","):
        match = LABEL.fullmatch(part.strip())
        if match is None:
            return None
        names.append(match.group(1))
    return tuple(names)


def parse_doc(text: str) -> Doc:
    """Every row of the doc's metric tables, and what could not be read."""
    rows: list[Row] = []
    problems: list[str] = []
    section = ""
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("## "):
            section = line.removeprefix("## ").strip()
        if not line.lstrip().startswith("|"):
            number += 1
            continue
        # a table: header, separator, then rows up to the first line that is not a table line
        start = number
        table = []
        while number < len(lines) and lines[number].lstrip().startswith("|"):
            table.append((number + 1, _cells(lines[number])))
            number += 1
        header = tuple(cell.lower() for cell in table[0][1])
        body = table[2:]
        if header[0] != "metric":
            for at, cells in body:
                if cells[0].startswith("`vigil_"):
                    problems.append(
                        f"{DOC_NAME}:{at}: {cells[0]} is in a table whose header is not "
                        f"{' | '.join(METRIC_HEADER)}"
                    )
            continue
        if header != METRIC_HEADER:
            problems.append(
                f"{DOC_NAME}:{start + 1}: a metric table's header must be "
                f"'| {' | '.join(METRIC_HEADER)} |', not '| {' | '.join(header)} |'"
            )
            continue
        for at, cells in body:
            if len(cells) != len(METRIC_HEADER):
                problems.append(f"{DOC_NAME}:{at}: {len(cells)} cells, a metric row has 5")
                continue
            name_cell, type_cell, labels_cell, unit_cell, meaning = cells
            name = NAME_CELL.fullmatch(name_cell)
            if name is None or not METRIC_NAME.fullmatch(name.group(1)):
                problems.append(
                    f"{DOC_NAME}:{at}: the first cell {name_cell!r} is not one backticked "
                    "metric name vigil_..."
                )
                continue
            labels = _labels(labels_cell)
            if labels is None:
                problems.append(
                    f"{DOC_NAME}:{at}: {name.group(1)}: labels cell {labels_cell!r} is not "
                    "backticked label names separated by commas (empty for none)"
                )
                continue
            rows.append(Row(at, section, name.group(1), type_cell, labels, unit_cell, meaning))
    return Doc(tuple(rows), tuple(problems))


@functools.cache
def doc() -> Doc:
    return parse_doc(DOC.read_text(encoding="utf-8"))


def _section_of() -> dict[str, str]:
    """The doc section each family belongs in: Self, or the one naming its source."""
    sections = {spec.name: SELF_SECTION for spec in SELF_FAMILIES}
    for plugin in plugins():
        for spec in plugin.families:
            sections.setdefault(spec.name, f"source `{plugin.name}`")
    return sections


# gathered here rather than through catalogue(), which refuses a name declared twice: that is a test
DECLARED = [(spec, "exporter/metrics.py") for spec in SELF_FAMILIES] + [
    (spec, f"exporter/sources/{plugin.name}/metrics.py")
    for plugin in plugins()
    for spec in plugin.families
]
FAMILIES = tuple(spec for spec, _ in DECLARED)


def test_catalogue_follows_the_naming_rules() -> None:
    wrong = []
    for spec in FAMILIES:
        if not spec.name.startswith("vigil_"):
            wrong.append(f"{spec.name}: a family name starts with vigil_")
        if not METRIC_NAME.fullmatch(spec.name):
            wrong.append(f"{spec.name}: a family name is lower case letters, digits and _")
        if spec.type == "counter" and not spec.name.endswith("_total"):
            wrong.append(f"{spec.name}: a counter's name ends in _total")
        if spec.type != "counter" and spec.name.endswith("_total"):
            wrong.append(f"{spec.name}: only a counter's name ends in _total ({spec.type})")
    assert not wrong, "\n".join(wrong)


def test_no_family_is_declared_twice() -> None:
    declared: dict[str, list[str]] = defaultdict(list)
    for spec, origin in DECLARED:
        declared[spec.name].append(origin)
    twice = [f"{name}: in {', '.join(at)}" for name, at in declared.items() if len(at) > 1]
    assert not twice, "families declared more than once:\n" + "\n".join(twice)


def test_catalogue_is_every_declared_family() -> None:
    assert catalogue() == FAMILIES, (
        "catalogue() is not the self-metrics and every source's families"
    )


def test_metric_tables_are_readable() -> None:
    problems = doc().problems
    assert not problems, "\n".join(problems)


def test_every_row_names_a_family() -> None:
    specs = {spec.name: spec for spec in FAMILIES}
    unknown = []
    for row in doc().rows:
        if row.name in specs:
            continue
        hint = ""
        for suffix in HISTOGRAM_SAMPLES:
            base = row.name.removesuffix(suffix)
            if base != row.name and base in specs and specs[base].type == "histogram":
                hint = f" (samples of the histogram {base}: document {base} itself)"
        unknown.append(f"{row.where()}: {row.name} is no family of the catalogue{hint}")
    assert not unknown, "documented metrics that do not exist:\n" + "\n".join(unknown)


def test_every_metric_the_doc_mentions_exists() -> None:
    """Prose and queries too: a histogram's samples may be named there, nothing that is not exposed."""
    specs = {spec.name: spec for spec in FAMILIES}
    histograms = {spec.name for spec in FAMILIES if spec.type == "histogram"}
    unknown = []
    for number, line in enumerate(DOC.read_text(encoding="utf-8").splitlines(), start=1):
        for mention in MENTION.findall(line):
            if mention.endswith("*"):  # a pattern: vigil_camera_archive_*
                if not any(name.startswith(mention[:-1]) for name in specs):
                    unknown.append(f"{DOC_NAME}:{number}: {mention} matches no family")
                continue
            if mention in specs:
                continue
            if any(mention.removesuffix(s) in histograms for s in HISTOGRAM_SAMPLES):
                continue
            unknown.append(f"{DOC_NAME}:{number}: {mention} is no family of the catalogue")
    assert not unknown, "\n".join(unknown)


@pytest.mark.parametrize("spec", FAMILIES, ids=[spec.name for spec in FAMILIES])
def test_family_is_documented_as_declared(spec: FamilySpec) -> None:
    rows = [row for row in doc().rows if row.name == spec.name]
    assert rows, (
        f"{spec.name} ({spec.type}, labels {list(spec.labels)}) has no row in a metric table "
        f"of {DOC_NAME}"
    )
    assert len(rows) == 1, f"{spec.name} has {len(rows)} rows: " + ", ".join(
        row.where() for row in rows
    )
    row = rows[0]
    wrong = []
    section = _section_of()[spec.name]
    if section == SELF_SECTION and row.section != SELF_SECTION:
        wrong.append(f"is a self-metric but documented under '## {row.section}'")
    if section != SELF_SECTION and section not in row.section:
        wrong.append(f"is a family of {section} but documented under '## {row.section}'")
    if row.type != spec.type:
        wrong.append(f"type {row.type!r} in the doc, {spec.type!r} in the catalogue")
    if set(row.labels) != set(spec.labels) or len(row.labels) != len(spec.labels):
        missing = [label for label in spec.labels if label not in row.labels]
        extra = [label for label in row.labels if label not in spec.labels]
        wrong.append(
            f"labels {list(row.labels)} in the doc, {list(spec.labels)} in the catalogue "
            f"(missing {missing}, not a label {extra})"
        )
    if row.unit != spec.unit:
        expected = repr(spec.unit) if spec.unit else "an empty cell (the name carries no unit)"
        wrong.append(f"unit {row.unit!r} in the doc, the family's unit is {expected}")
    probe_only = PROBE_ONLY.search(row.meaning) is not None
    if spec.endpoint == "probe" and not probe_only:
        wrong.append(
            "is only in the /probe answer, never on /metrics: its meaning must say "
            "'Only in the `/probe` answer'"
        )
    if spec.endpoint != "probe" and probe_only:
        wrong.append(f"is on /{spec.endpoint}, but its meaning says it is only in /probe")
    assert not wrong, f"{row.where()}: {spec.name} " + f"\n{row.where()}: {spec.name} ".join(wrong)
