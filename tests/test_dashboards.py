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
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
ALERT_RULES = sorted((ROOT / "alerting").glob("*.rules.yml"))

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


def test_dashboards_follow_the_linter_rules():
    assert DASHBOARDS
    for path in DASHBOARDS:
        dash = load(path)
        assert dash["uid"] and dash["title"] and dash.get("description"), path.name
        assert dash["schemaVersion"] >= 38, path.name
        assert "vigil" in dash["tags"], path.name
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", path.name
        assert variables["datasource"]["query"] == "prometheus", path.name
        assert variables["datasource"]["label"] == "Data source", path.name
        for variable in variables.values():
            if variable["type"] == "query":
                where = f"{path.name}: variable {variable['name']}"
                assert variable["datasource"]["uid"] == "${datasource}", where
                assert variable["refresh"] == 2, f"{where}: refresh on time range change"
                assert re.fullmatch(
                    r"(label_values|query_result)\(.+\)", variable_query(variable), re.S
                ), where

        ids = [p["id"] for p in all_panels(dash)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in all_panels(dash):
            where = f"{path.name}: {panel.get('title')}"
            grid = panel["gridPos"]
            assert {"x", "y", "w", "h"} <= set(grid) and grid["x"] + grid["w"] <= 24, where
        for panel in query_panels(dash):
            where = f"{path.name}: {panel.get('title')}"
            assert panel["title"] and panel["description"], where
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            assert panel["fieldConfig"]["defaults"].get("unit") in VALID_UNITS, where
            assert panel["targets"], where
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", where
                expr = target["expr"]
                for call in re.findall(r"(?:rate|irate|increase)\([^\[]*\[([^\]]+)\]", expr):
                    assert call == "$__rate_interval", f"{where}: use $__rate_interval"
                assert not counter_misuse(expr), f"{where}: counters need rate/increase"
        text = path.read_text()
        assert '"uid": "${datasource}"' in text
        for match in re.findall(r'"uid":\s*"([^"]+)"', text):
            assert match in ("${datasource}", dash["uid"]), f"{path.name}: hard-coded uid {match}"


def test_dashboards_link_only_to_dashboards_that_exist():
    dashboards = {path.name: load(path) for path in DASHBOARDS}
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids)), "duplicate dashboard uids"
    assert {
        "vigil-fleet",
        "vigil-cameras",
        "vigil-camera",
        "vigil-archives",
        "vigil-frames",
        "vigil-self",
        "vigil-p4",
        "vigil-analytics",
    } <= set(uids)
    assert dashboards["fleet.json"]["refresh"] == "1m"
    for name, dash in dashboards.items():
        assert any(
            link["type"] == "dashboards" and "vigil" in link["tags"] for link in dash["links"]
        ), f"{name}: no links to the other Vigil dashboards"
        for uid in re.findall(r"/d/([\w-]+)", json.dumps(dash)):
            assert uid in uids, f"{name} links to a dashboard that does not exist: {uid}"
    # the alerts' dashboard_url annotations too
    for path in ALERT_RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                url = rule.get("annotations", {}).get("dashboard_url")
                if url:  # after the Grafana base URL Prometheus may have as an external label
                    path = url.removeprefix("{{ $externalLabels.vigil_grafana_url }}")
                    uid = re.match(r"/d/([\w-]+)", path)
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
    """`vigil demo` as a user runs it; yields its Prometheus once that has scraped the exporter."""
    require_binary("prometheus")
    log_path = tmp_path_factory.mktemp("demo") / "demo.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "demo", "--cameras", "60"],
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
        elif kind == "custom":
            options = [v.strip() for v in raw["query"].split(",")]
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
    names = {s["metric"]["camera"]: s["metric"]["name"] for s in inventory}
    assert len(names) == 60

    # the detail's camera picker: the inventory, plus the cameras only checked on the network
    camera = load(ROOT / "dashboards" / "camera.json")
    variable = next(v for v in camera["templating"]["list"] if v["name"] == "camera")
    options = poll(
        lambda: (o := variable_options(variable, prom, {}, time.time())) and "lan-cam-10" in o and o
    )
    assert set(names) <= set(options)
    assert {f"lan-cam-{i:02d}" for i in range(1, 11)} <= set(options)

    # the camera list: the name box finds a camera by any part of its name, in any case
    cameras = load(ROOT / "dashboards" / "cameras.json")
    listing = next(p for p in query_panels(cameras) if p["type"] == "table")
    expr = listing["targets"][0]["expr"]
    everything = {"datacenter": ".*", "vendor": ".*"}
    wanted = names[sorted(names)[0]]  # e.g. "Cam 0042 · ул. Ленина, 6 — въезд"
    part = wanted.split(" · ")[1].upper()
    rows = prom.instant(substitute(expr, {**everything, "search": part}), time.time())
    assert wanted in {r["metric"]["name"] for r in rows}
    assert all(part.lower() in r["metric"]["name"].lower() for r in rows)
    all_rows = prom.instant(substitute(expr, {**everything, "search": ""}), time.time())
    assert {r["metric"]["camera"] for r in all_rows} == set(names)
    # every camera gets a status: 1 online, 0 offline, -1 when its record has no online flag
    statuses = {r["value"][1] for r in all_rows}
    assert statuses <= {"1", "0", "-1"} and {"1", "0"} <= statuses
