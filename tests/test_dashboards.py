"""The Grafana dashboards follow dashboard-linter's rules, link only to dashboards that exist, and
every panel query returns data from a real Prometheus that has scraped `vigil demo`.

No Grafana runs here, so the test does what Grafana would do with each panel: it resolves the
template variables against Prometheus (label_values, query_result with the variable's regex,
custom and text box defaults), substitutes them and Grafana's interval variables, and sends each
target as the instant or range query Grafana would send.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE_DIRS = (ROOT / "dashboards", ROOT / "dashboards" / "ru")
DASHBOARDS = [path for folder in LANGUAGE_DIRS for path in sorted(folder.glob("*.json"))]
ALERT_RULES = sorted((ROOT / "alerting").glob("*.rules.yml"))
EXPECTED = {
    "fleet": "vigil-fleet",
    "cameras": "vigil-cameras",
    "camera": "vigil-camera",
    "archives": "vigil-archives",
    "frames": "vigil-frames",
    "p4": "vigil-p4",
    "analytics": "vigil-analytics",
    "self": "vigil-self",
}

# dashboard-linter's panel-units rule accepts only Grafana's unit ids; these are the ones a Vigil
# panel may reasonably need (extend from Grafana's valueFormats categories when one is missing)
VALID_UNITS = {
    "none",
    "short",
    "string",
    "percent",
    "percentunit",
    "pixel",
    "bytes",
    "decbytes",
    "s",
    "ms",
    "µs",
    "ns",
    "m",
    "h",
    "d",
    "dtdurations",
    "dtdurationms",
    "dthms",
    "dateTimeAsIso",
    "dateTimeAsSystem",
    "dateTimeFromNow",
    "cps",
    "ops",
    "reqps",
    "rps",
    "bool",
    "bool_yes_no",
    "bool_on_off",
}
SCRAPE_INTERVAL = 15  # the demo's (and the provisioned data source's) scrape interval, seconds


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def all_panels(dashboard: dict) -> list[dict]:
    """Every panel, rows included, with the panels of collapsed rows."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        if panel.get("type") == "row":
            out += panel.get("panels") or []
    return out


def query_panels(dashboard: dict) -> list[dict]:
    return [p for p in all_panels(dashboard) if p.get("type") != "row"]


def variable_query(variable: dict) -> str:
    query = variable.get("query", "")
    return query["query"] if isinstance(query, dict) else query


def counter_misuse(expr: str) -> list[str]:
    """Counters (`*_total`) used other than directly inside rate(), irate() or increase()."""
    bad = []
    for match in re.finditer(r"\b(\w+_total)\b(\{[^}]*\})?(\[[^\]]*\])?", expr):
        before = expr[: match.start()].rstrip()
        if not match.group(3) or not re.search(r"\b(?:rate|irate|increase)\($", before):
            bad.append(match.group(1))
    return bad


# ---------------------------------------------------------------- generated from one definition


def test_committed_dashboards_are_what_the_definition_generates():
    """`make dashboards` has been run: every committed file is byte for byte what the Python
    definition renders, in both languages, and nothing else lies beside them."""
    from dashboards.definition.render import render

    files, _ = render()
    stale = [str(p.relative_to(ROOT)) for p, text in files.items() if p.read_text() != text]
    assert not stale, f"differ from dashboards/definition, run `make dashboards`: {stale}"
    on_disk = {p for folder in LANGUAGE_DIRS for p in folder.glob("*.json")}
    on_disk |= {folder / ".lint" for folder in LANGUAGE_DIRS}
    assert on_disk == set(files), "files in dashboards/ that the definition does not write"


def test_every_string_is_translated_from_one_table():
    from dashboards.definition.i18n import LANGUAGES, TEXT
    from dashboards.definition.render import render

    _, used = render()
    assert LANGUAGES == ("en", "ru")
    assert set(TEXT["en"]) == set(TEXT["ru"])
    for lang in LANGUAGES:
        assert all(TEXT[lang].values()), f"{lang}: an empty string"
        assert used[lang] == set(TEXT[lang]), (
            f"{lang}: unused strings {set(TEXT[lang]) - used[lang]}"
        )
    # the Russian dashboards say in Russian what the English ones say
    english = {load(p)["uid"]: load(p) for p in DASHBOARDS if p.parent.name == "dashboards"}
    for path in sorted((ROOT / "dashboards" / "ru").glob("*.json")):
        ru = load(path)
        en = english[ru["uid"].removesuffix("-ru")]
        assert ru["uid"] == en["uid"] + "-ru"
        assert re.search("[а-яА-Я]", ru["title"]) and re.search("[а-яА-Я]", ru["description"])
        en_panels, ru_panels = all_panels(en), all_panels(ru)
        assert len(en_panels) == len(ru_panels), path.name
        for a, b in zip(en_panels, ru_panels, strict=True):
            # the same queries and layout, the words translated
            assert [t["expr"] for t in a.get("targets", [])] == [
                t["expr"] for t in b.get("targets", [])
            ]
            assert a["gridPos"] == b["gridPos"]
            assert re.search("[а-яА-Я]", b["title"]) or b["title"] in ("API", "Alive"), b["title"]
            if a.get("description"):
                assert a["description"] != b["description"]
                assert re.search("[а-яА-Я]", b["description"]), b["title"]


# ---------------------------------------------------------------- dashboard-linter's rules

TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<variable>\$\{?\w+(?::\w+)?\}?)
    |(?P<range>\[[^\]]*\])
    |(?P<braces>\{)
    |(?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])*)
    |(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<paren>\()
    |(?P<other>\S)""",
    re.X,
)
MATCHER = re.compile(r"""\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?""")
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "atan2", "nan", "inf",
}  # fmt: skip


def _braces(expr: str, start: int) -> tuple[list[tuple[str, str, str]], int]:
    """The matchers of the `{...}` opening at `start`, and the index after it."""
    end = start + 1
    while expr[end] != "}":
        end = TOKEN.match(expr, end).end() if expr[end] == '"' else end + 1
    body, matchers, pos = expr[start + 1 : end], [], 0
    while pos < len(body):
        found = MATCHER.match(body, pos)
        assert found, f"cannot read the matchers {body!r}"
        matchers.append(found.groups())
        pos = found.end()
    return matchers, end + 1


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric name, matchers) of every vector selector of a PromQL expression (enough PromQL for
    the dashboards: functions, aggregations with by/without, vector matching, offset, strings)."""
    out, pos, skip_labels = [], 0, False
    while pos < len(expr):
        if expr[pos].isspace():
            pos += 1
            continue
        token = TOKEN.match(expr, pos)
        kind, text = token.lastgroup, token.group()
        pos = token.end()
        if kind == "paren" and skip_labels:  # the label list of by/on/group_left (...)
            pos = expr.index(")", pos) + 1
        skip_labels = kind == "name" and text in (
            "by", "without", "on", "ignoring", "group_left", "group_right"
        )  # fmt: skip
        if kind == "braces":
            matchers, pos = _braces(expr, pos - 1)
            out.append(("", matchers))
        elif kind == "name" and text.lower() not in KEYWORDS:
            rest = expr[pos:].lstrip()
            if rest.startswith("("):
                continue  # a function or an aggregation
            if rest.startswith("by") or rest.startswith("without"):
                continue  # an aggregation written as sum by (x) (...)
            matchers = []
            if rest.startswith("{"):
                matchers, pos = _braces(expr, expr.index("{", pos))
            out.append((text, matchers))
    return out


def test_the_selector_reader_finds_every_selector():
    expr = (
        'sum by (camera) (rate(a_total{job=~"$job", x="}"}[$__rate_interval])) '
        "* on (camera) group_left (name) b or vector(0) and "
        'last_over_time(c{window="yesterday"}[1d] offset -172799s) > bool 1 and d $status'
    )
    assert selectors(expr) == [
        ("a_total", [("job", "=~", "$job"), ("x", "=", "}")]),
        ("b", []),
        ("c", [("window", "=", "yesterday")]),
        ("d", []),
    ]


def lint_violations(dash: dict) -> list[tuple[str, str | None, int | None, str]]:
    """(rule, panel title, target index, problem) of every dashboard-linter rule the dashboard
    breaks: the rules of grafana/dashboard-linter, implemented here (the Go linter is not
    installable on this machine)."""
    found = []
    variables = {v["name"]: v for v in dash["templating"]["list"]}

    def add(rule, problem, panel=None, index=None):
        found.append((rule, panel, index, problem))

    datasources = [v for v in variables.values() if v["type"] == "datasource"]
    if not datasources:
        add("template-datasource-rule", "no templated data source")
    for v in datasources:
        if (
            v["name"] != "datasource"
            or v.get("label") != "Data source"
            or v["query"] != "prometheus"
        ):
            add("template-datasource-rule", f"data source variable {v['name']}")
    for name in ("job", "instance"):
        v = variables.get(name)
        rule = f"template-{name}-rule"
        if v is None:
            add(rule, f"no {name} variable")
            continue
        if v["type"] != "query" or v["datasource"]["uid"] not in ("$datasource", "${datasource}"):
            add(rule, f"{name}: not a query on $datasource")
        if not v.get("multi") or v.get("allValue") != ".+" or v.get("label") != name.title():
            add(rule, f"{name}: multi-select, All = .+, label {name.title()}")
    for v in variables.values():
        if v["type"] == "query":
            if not re.fullmatch(r"(label_values|query_result)\(.+\)", variable_query(v), re.S):
                add("template-label-promql-rule", f"variable {v['name']}")
            if v.get("refresh") != 2:
                add("template-on-time-change-reload-rule", f"variable {v['name']}")
    if dash.get("editable"):
        add("uneditable-dashboard", "editable")
    for panel in query_panels(dash):
        title = panel.get("title")
        if panel.get("datasource", {}).get("uid") not in ("$datasource", "${datasource}"):
            add("panel-datasource-rule", "not on $datasource", title)
        if not title or not panel.get("description"):
            add("panel-title-description-rule", "title and description", title)
        if panel["fieldConfig"]["defaults"].get("unit") not in VALID_UNITS:
            add("panel-units-rule", "no valid unit", title)
        if not panel.get("targets"):
            add("panel-no-targets-rule", "no targets", title)
        for index, target in enumerate(panel.get("targets", [])):
            expr = target["expr"]
            for call in re.findall(r"(?:rate|irate|increase)\([^\[]*\[([^\]]+)\]", expr):
                if call != "$__rate_interval":
                    add("target-rate-interval-rule", expr, title, index)
            if counter_misuse(expr):
                add("target-counter-agg-rule", expr, title, index)
            if target.get("datasource", {}).get("uid") != "${datasource}":
                add("panel-datasource-rule", "target not on $datasource", title, index)
            for name, matchers in selectors(expr):
                for label in ("job", "instance"):
                    if (label, "=~", f"${label}") not in matchers:
                        add(f"target-{label}-rule", f"{name or expr}", title, index)
    return found


def test_dashboards_follow_the_linter_rules_or_list_the_exception_with_its_reason():
    """Every violation of a dashboard-linter rule is an exclusion of the `.lint` file beside the
    dashboard (the linter's own format), with its reason; no exclusion is left over."""
    for folder in LANGUAGE_DIRS:
        config = yaml.safe_load((folder / ".lint").read_text()) or {}
        entries = {
            (rule, e["dashboard"], e["panel"], int(e["targetIdx"])): e.get("reason")
            for rule, spec in (config.get("exclusions") or {}).items()
            for e in spec["entries"]
        }
        assert all(entries.values()), f"{folder}/.lint: an exclusion without a reason"
        assert set(config) == {"exclusions"}, "only precise exclusions, no warnings"
        seen = set()
        for path in sorted(folder.glob("*.json")):
            dash = load(path)
            for rule, panel, index, problem in lint_violations(dash):
                key = (rule, dash["title"], panel, index)
                assert key in entries, f"{path.relative_to(ROOT)}: {rule}: {panel}: {problem}"
                seen.add(key)
        assert seen == set(entries), f"{folder}/.lint: stale exclusions {set(entries) - seen}"
        # the exceptions are recording rules and kafka_exporter's series, nothing else
        assert {rule for rule, *_ in entries} <= {"target-job-rule", "target-instance-rule"}


def test_the_linter_rules_catch_what_they_should():
    dash = load(ROOT / "dashboards" / "fleet.json")
    before = {(rule, panel, index) for rule, panel, index, _ in lint_violations(dash)}
    panel = query_panels(dash)[0]
    counter = 'vigil_probe_errors_total{job=~"$job", instance=~"$instance"}'
    panel["targets"][0]["expr"] = (
        f'count(vigil_camera_info{{job=~"$job"}}) + sum(rate({counter}[5m])) + sum({counter})'
    )
    panel["fieldConfig"]["defaults"]["unit"] = "seconds"
    dash["templating"]["list"][1]["allValue"] = ".*"
    after = {(rule, panel, index) for rule, panel, index, _ in lint_violations(dash)}
    assert {rule for rule, *_ in after - before} == {
        "target-instance-rule",
        "target-rate-interval-rule",
        "target-counter-agg-rule",
        "panel-units-rule",
        "template-job-rule",
    }


def test_every_dashboard_shares_the_conventions():
    for path in DASHBOARDS:
        dash = load(path)
        lang = "ru" if path.parent.name == "ru" else "en"
        where = path.relative_to(ROOT)
        assert dash["title"].startswith("Vigil / "), where
        assert dash["uid"] and dash.get("description"), where
        assert dash["schemaVersion"] >= 38, where
        assert dash["graphTooltip"] == 1, f"{where}: shared crosshair"
        assert "vigil" in dash["tags"] and lang in dash["tags"], where
        ids = [p["id"] for p in all_panels(dash)]
        assert len(ids) == len(set(ids)), f"{where}: duplicate panel ids"
        cells = set()
        for panel in all_panels(dash):
            grid = panel["gridPos"]
            assert {"x", "y", "w", "h"} <= set(grid) and grid["x"] + grid["w"] <= 24, where
            area = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not area & cells, f"{where}: {panel['title']} overlaps another panel"
            cells |= area
        for panel in query_panels(dash):
            title = f"{where}: {panel['title']}"
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps and steps[0]["value"] is None, f"{title}: thresholds"
            assert panel["fieldConfig"]["defaults"]["unit"], f"{title}: unit"
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), title
            # every table listing cameras links each row to the camera's detail
            if panel["type"] == "table" and "vigil-camera" not in dash["uid"]:
                exprs = " ".join(t["expr"] for t in panel["targets"])
                if "camera" in exprs:
                    assert "/d/vigil-camera" in json.dumps(panel["fieldConfig"]), title
        text = path.read_text()
        for match in re.findall(r'"uid":\s*"([^"]+)"', text):
            assert match in ("${datasource}", dash["uid"]), f"{where}: hard-coded uid {match}"


def test_dashboards_link_to_each_other_and_only_to_dashboards_that_exist():
    for folder, suffix in ((LANGUAGE_DIRS[0], ""), (LANGUAGE_DIRS[1], "-ru")):
        dashboards = {path.name: load(path) for path in sorted(folder.glob("*.json"))}
        uids = {d["uid"] for d in dashboards.values()}
        assert uids == {uid + suffix for uid in EXPECTED.values()}, folder
        assert dashboards["fleet.json"]["refresh"] == "1m"
        for name, dash in dashboards.items():
            linked = {re.match(r"/d/([\w-]+)", link["url"]).group(1) for link in dash["links"]}
            assert linked == uids - {dash["uid"]}, f"{name}: links to every other dashboard"
            assert all(link["keepTime"] for link in dash["links"]), name
            for uid in re.findall(r"/d/([\w-]+)", json.dumps(dash)):
                assert uid in uids, f"{name} links to a dashboard that does not exist: {uid}"
    # the alerts' dashboard_url annotations link to the English dashboards
    uids = set(EXPECTED.values())
    for path in ALERT_RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                url = rule.get("annotations", {}).get("dashboard_url")
                if url:  # after the Grafana base URL Prometheus may have as an external label
                    tail = url.removeprefix("{{ $externalLabels.vigil_grafana_url }}")
                    uid = re.match(r"/d/([\w-]+)", tail)
                    assert uid and uid.group(1) in uids, f"{path.name}: {rule['alert']}: {url}"


# ---------------------------------------------------------------- a real Prometheus and the demo


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def get(self, path: str, **params) -> object:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as resp:
                return json.load(resp)["data"]
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            # the API's JSON error; a Prometheus still starting answers plain text
            with contextlib.suppress(ValueError):
                text = json.loads(text).get("error", text)
            raise AssertionError(f"HTTP {exc.code}: {text}") from None

    def instant(self, expr: str, at: float) -> list:
        return self.get("/api/v1/query", query=expr, time=f"{at:.3f}")["result"]

    def range(self, expr: str, start: float, end: float, step: int) -> list:
        return self.get("/api/v1/query_range", query=expr, start=start, end=end, step=step)[
            "result"
        ]


@pytest.fixture(scope="module")
def demo_prometheus(tmp_path_factory):
    """`vigil demo` as a user runs it; yields its Prometheus once that has scraped the exporter.

    Without the demo's login (`--no-login`): the VictoriaMetrics test's agent scrapes the same targets
    with the scrape jobs read back from this Prometheus, whose API shows passwords as `<secret>`."""
    require_binary("prometheus")
    log_path = tmp_path_factory.mktemp("demo") / "demo.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "demo", "--cameras", "60", "--no-login"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        url = re.search(r"^\s+Prometheus\s+(http://\S+)", log_path.read_text(), re.M)
        assert url, log_path.read_text()
        prom = Prometheus(url.group(1))
        deadline = time.monotonic() + 60
        while True:
            try:
                if prom.instant('up{job="vigil"} == 1', time.time()):
                    break
            except (OSError, AssertionError):
                pass
            assert time.monotonic() < deadline, "Prometheus never scraped the demo"
            time.sleep(1)
        yield prom
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # it stops its own Prometheus and Alertmanager
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------- Grafana's side of a query

ALL = object()  # the "All" option of a variable
VARIABLE = re.compile(r"\$\{(\w+)(?::([\w]+))?\}|\[\[(\w+)\]\]|\$(\w+)")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(?:now-)?(\d+)([smhdw])", duration)
    assert match, duration
    return int(match.group(1)) * UNITS[match.group(2)]


def regex_escape(value: str) -> str:
    """Grafana's escaping of a multi-value or All-capable variable inside a PromQL regex."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)


def grafana_regex(pattern: str) -> re.Pattern:
    match = re.fullmatch(r"/(.*)/([a-z]*)", pattern, re.S)
    body, flags = (match.group(1), match.group(2)) if match else (pattern, "")
    body = re.sub(r"\(\?<(?![=!])", "(?P<", body)  # JavaScript named groups
    return re.compile(body, re.I if "i" in flags else 0)


@dataclass
class Variable:
    name: str
    options: list[str]  # real values, as Grafana lists them
    default: object  # ALL or one of the options (or the text box's text)
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    candidates: list[object] = field(default_factory=list)

    def format(self, value: object) -> str:
        if value is ALL:
            return self.all_value or "(" + "|".join(map(regex_escape, self.options)) + ")"
        if self.multi or self.include_all:
            return regex_escape(str(value))
        return str(value).replace("\\", "\\\\").replace("'", "\\\\'")


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        assert not match.group(2), f"format {match.group(2)} in a query: {text}"
        return values.get(name, match.group(0))  # unknown: Prometheus will reject it

    return VARIABLE.sub(replace, text)


def variable_options(variable: dict, prom: Prometheus, known: dict[str, str], now: float) -> list:
    query = substitute(variable_query(variable), known).strip()
    texts: list[str]
    if match := re.fullmatch(r"label_values\((?:(.+),\s*)?([a-zA-Z_]\w*)\)", query, re.S):
        expr, label = match.groups()
        params = {"start": now - 86400, "end": now}
        if expr:
            params["match[]"] = expr
        texts = prom.get(f"/api/v1/label/{label}/values", **params)
    elif match := re.fullmatch(r"query_result\((.+)\)", query, re.S):
        texts = []
        for sample in prom.instant(match.group(1), now):
            labels = {k: v for k, v in sample["metric"].items() if k != "__name__"}
            inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
            texts.append(
                f"{sample['metric'].get('__name__', '')}{{{inner}}} {sample['value'][1]} "
                f"{int(sample['value'][0] * 1000)}"
            )
    else:
        raise AssertionError(f"variable {variable['name']}: unsupported query {query}")
    options = []  # (text, value)
    pattern = grafana_regex(variable["regex"]) if variable.get("regex") else None
    for text in texts:
        value = text
        if pattern:
            found = pattern.search(text)
            if not found:
                continue
            groups = found.groupdict()
            if groups.get("value") or groups.get("text"):
                value = groups.get("value") or groups.get("text")
                text = groups.get("text") or value
            elif found.groups():
                text = value = found.group(1)
        options.append((text, value))
    if variable.get("sort"):
        options.sort(key=lambda option: option[0])
    return list(dict.fromkeys(value for _, value in options))


class NoValues(AssertionError):
    """A query variable lists nothing (yet): the dashboard cannot show data."""


def resolve_variables(dash: dict, prom: Prometheus, now: float) -> list[Variable]:
    resolved: list[Variable] = []
    known: dict[str, str] = {}
    for raw in dash["templating"]["list"]:
        kind = raw["type"]
        if kind == "datasource":
            continue
        if kind == "query":
            options = variable_options(raw, prom, known, now)
            if not options:
                raise NoValues(f"{dash['uid']}: variable {raw['name']} has no values")
        elif kind == "custom":  # "value" or "text : value", comma-separated
            options = [v.split(" : ", 1)[-1].strip() for v in raw["query"].split(",")]
        elif kind == "textbox":
            options = [raw.get("query", "")]
        else:
            raise AssertionError(f"{dash['uid']}: variable type {kind} not handled")
        var = Variable(
            raw["name"],
            options,
            default=None,
            multi=raw.get("multi", False),
            include_all=raw.get("includeAll", False),
            all_value=raw.get("allValue") or None,
        )
        current = (raw.get("current") or {}).get("value")
        if var.include_all:
            var.default = ALL
        elif current in options:
            var.default = current
        else:
            var.default = options[0]
        var.candidates = [var.default] + [o for o in options if o != var.default]
        if var.include_all and var.default is not ALL:
            var.candidates.append(ALL)
        resolved.append(var)
        known[var.name] = var.format(var.default)
    return resolved


def substitutions(variables: list[Variable]):
    """The defaults first, then each variable through its other values, the others at default."""
    defaults = {v.name: v.format(v.default) for v in variables}
    yield defaults
    for var in variables:
        for value in var.candidates[1:]:
            yield {**defaults, var.name: var.format(value)}


@dataclass
class Query:
    expr: str
    instant: bool
    start: float
    end: float
    step: int
    builtins: dict[str, str]


def grafana_query(dash: dict, panel: dict, target: dict, now: float) -> Query:
    """The time range, step and interval variables Grafana would use for a panel's target."""
    span = seconds(panel.get("timeFrom") or dash["time"]["from"])
    min_step = seconds(panel["interval"]) if panel.get("interval") else SCRAPE_INTERVAL
    step = max(min_step, math.ceil(span / panel.get("maxDataPoints", 1000)))
    end = now
    if panel.get("interval"):
        # Grafana aligns the range to the step; with the 1-day steps of the daily history the
        # points fall on midnights (UTC here), which the daily queries are written for
        end = now // step * step
    builtins = {
        "__interval": f"{step}s",
        "__interval_ms": str(step * 1000),
        "__rate_interval": f"{max(step + SCRAPE_INTERVAL, 4 * SCRAPE_INTERVAL)}s",
        "__range": f"{span}s",
        "__range_s": str(span),
        "__range_ms": str(span * 1000),
    }
    # the last point is at the end, as Grafana's last point is the newest one it can show
    start = end - span // step * step
    return Query(target["expr"], bool(target.get("instant")), start, end, step, builtins)


def run(prom: Prometheus, query: Query, values: dict[str, str]) -> list:
    expr = substitute(query.expr, {**query.builtins, **values})
    if query.instant:
        return prom.instant(expr, query.end)
    return prom.range(expr, query.start, query.end, query.step)


def check_links(where: str, panel: dict, target: dict, result: list) -> list[str]:
    """Data links name fields (table columns) or series labels that the query really returns."""
    problems = []
    config = json.dumps(panel["fieldConfig"])
    labels = {name for series in result for name in series["metric"]}
    excluded = set()
    for step in panel.get("transformations", []):
        if step["id"] == "organize":
            excluded = {k for k, v in step["options"].get("excludeByName", {}).items() if v}
    if target.get("format") == "table":
        for name in re.findall(r"\$\{__data\.fields\.(\w+)\}", config):
            if name not in labels or name in excluded:
                problems.append(f"{where}: a data link uses field {name}, not in the table")
    else:
        for name in re.findall(r"\$\{__field\.labels\.(\w+)\}", config):
            if name not in labels:
                problems.append(f"{where}: a data link uses label {name}, not in the series")
    return problems


def check_dashboard(path: Path, prom: Prometheus) -> tuple[list[str], list[str]]:
    """(panels without data, broken data links) of one dashboard; query errors raise."""
    dash = load(path)
    now = time.time()
    try:
        variables = resolve_variables(dash, prom, now)
    except NoValues as exc:  # like an empty panel: the demo has not measured it yet
        return [str(exc)], []
    empty, broken = [], []
    for panel in query_panels(dash):
        for target in panel["targets"]:
            where = f"{path.name}: {panel['title']} [{target['refId']}]"
            query = grafana_query(dash, panel, target, now)
            for values in substitutions(variables):
                try:
                    result = run(prom, query, values)
                except AssertionError as exc:
                    raise AssertionError(
                        f"{where}: {exc}\n{substitute(query.expr, values)}"
                    ) from None
                if result:
                    broken += check_links(where, panel, target, result)
                    break
            else:
                empty.append(f"{where}: no data for any variable value:\n  {query.expr}")
    return empty, broken


def every_dashboard_has_data(prom: Prometheus, wait: float = 150) -> None:
    # until the demo's checks have run a few times and the recording rules have been evaluated,
    # some panels are empty; query errors fail at once
    deadline = time.monotonic() + wait
    while True:
        empty, broken = [], []
        for path in DASHBOARDS:
            e, b = check_dashboard(path, prom)
            empty += e
            broken += b
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert not empty, "\n".join(empty)
    assert not broken, "\n".join(broken)


def test_every_panel_query_returns_data_from_the_demo(demo_prometheus):
    every_dashboard_has_data(demo_prometheus)


def test_every_panel_query_returns_data_from_victoria_metrics(demo_prometheus, tmp_path):
    """The sharded layout's global view (docs/scaling.md): the demo's targets scraped by a
    Prometheus agent into VictoriaMetrics, the project's rules evaluated there by vmalert, and
    every panel queried from VictoriaMetrics as Grafana would."""
    from tests.victoria import prometheus_agent, victoria_metrics, vmalert

    config = yaml.safe_load(demo_prometheus.get("/api/v1/status/config")["yaml"])
    jobs = [
        {k: v for k, v in job.items() if k in ("job_name", "metrics_path", "static_configs")}
        for job in config["scrape_configs"]
    ]
    with (
        victoria_metrics(tmp_path) as vm,
        prometheus_agent(tmp_path, "agent", jobs, f"{vm}/api/v1/write"),
        vmalert(tmp_path, vm, notifier_url=f"http://127.0.0.1:{free_port()}"),
    ):
        every_dashboard_has_data(Prometheus(vm))


def poll(predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(1)
    return result


def test_camera_list_and_detail_cover_every_kind_of_camera(demo_prometheus):
    prom = demo_prometheus
    inventory = poll(lambda: prom.instant("vigil_camera_info", time.time()))
    cameras = {s["metric"]["camera"]: s["metric"] for s in inventory}
    assert len(cameras) == 60

    for folder in LANGUAGE_DIRS:
        # the detail's camera picker: the inventory, plus the cameras only checked on the network
        camera = load(folder / "camera.json")
        variables = {v.name: v for v in resolve_variables(camera, prom, time.time())}
        raw = next(v for v in camera["templating"]["list"] if v["name"] == "camera")
        known = {name: v.format(v.default) for name, v in variables.items() if name != "camera"}
        options = poll(
            lambda raw=raw, known=known: (
                (o := variable_options(raw, prom, known, time.time())) and "lan-cam-10" in o and o
            )
        )
        assert set(cameras) <= set(options)
        assert {f"lan-cam-{i:02d}" for i in range(1, 11)} <= set(options)


def camera_list(prom: Prometheus, folder: Path, **chosen: str) -> list[dict]:
    """The camera list's rows as Grafana would get them, with the variables at their defaults
    but for `chosen` (already formatted as Grafana would)."""
    dash = load(folder / "cameras.json")
    listing = next(p for p in query_panels(dash) if p["type"] == "table")
    variables = resolve_variables(dash, prom, time.time())
    values = {v.name: v.format(v.default) for v in variables} | chosen
    return prom.instant(substitute(listing["targets"][0]["expr"], values), time.time())


def test_the_camera_list_search_finds_a_camera_by_address_or_serial_number(demo_prometheus):
    """One search box: any part of the name, the address or the serial number, in any case
    (Cyrillic included), in both languages; the status and memory-card filters narrow it."""
    prom = demo_prometheus
    inventory = poll(lambda: prom.instant("vigil_camera_info", time.time()))
    cameras = {s["metric"]["camera"]: s["metric"] for s in inventory}
    wanted = next(
        c for _, c in sorted(cameras.items()) if re.search("[а-я]", c["address"]) and c["sn"]
    )
    address_part = wanted["address"][2:12].upper()  # e.g. "ЛЕНИНА, 6" of "ул. Ленина, 6"
    sn_part = wanted["sn"][3:9].lower()
    for folder in LANGUAGE_DIRS:
        every = camera_list(prom, folder)
        assert {r["metric"]["camera"] for r in every} == set(cameras)
        # every camera gets a status: 1 online, 0 offline, -1 when its record has no online flag
        statuses = {r["value"][1] for r in every}
        assert statuses <= {"1", "0", "-1"} and {"1", "0"} <= statuses

        for part, label in ((address_part, "address"), (sn_part, "sn")):
            rows = camera_list(prom, folder, search=part)
            assert wanted["camera"] in {r["metric"]["camera"] for r in rows}, (part, label)
            assert len(rows) < len(every), part
            for row in rows:
                fields = [row["metric"].get(k, "") for k in ("name", "address", "sn", "camera")]
                assert any(part.lower() in f.lower() for f in fields), (part, row["metric"])
        nothing = camera_list(prom, folder, search="нет такой камеры")
        assert nothing == []

        offline = camera_list(prom, folder, status="== 0")
        assert offline and {r["value"][1] for r in offline} == {"0"}
        card_states = prom.instant("vigil_camera_memory_card_state == 1", time.time())
        state = sorted({s["metric"]["state"] for s in card_states})[0]
        with_state = {s["metric"]["camera"] for s in card_states if s["metric"]["state"] == state}
        rows = camera_list(prom, folder, card=regex_escape(state))
        assert {r["metric"]["camera"] for r in rows} == with_state


def test_grafana_provisions_the_english_and_the_russian_folder():
    """Each provider of dashboards/provisioning/dashboards.yml reads, in docker-compose.yml's
    Grafana, the dashboards of one language and only those (Grafana reads a path recursively)."""
    providers = yaml.safe_load(
        (ROOT / "dashboards" / "provisioning" / "dashboards.yml").read_text()
    )["providers"]
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    masked = set(grafana.get("tmpfs", []))
    seen = {}
    for provider in providers:
        path = provider["options"]["path"]
        source = ROOT / mounts[path]
        # what Grafana walks: the mounted directory, minus what another mount hides in it
        files = {
            p.name
            for p in source.rglob("*.json")
            if not any(f"{path}/{p.relative_to(source).parent}".startswith(m) for m in masked)
        }
        uids = {load(source / name)["uid"] for name in files}
        seen[provider["folder"]] = uids
    assert seen == {
        "Vigil": set(EXPECTED.values()),
        "Vigil (русский)": {uid + "-ru" for uid in EXPECTED.values()},
    }
