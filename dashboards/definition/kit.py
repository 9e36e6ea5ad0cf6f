"""The conventions every Vigil dashboard shares, on top of grafana-foundation-sdk's builders.

A dashboard module describes its panels through a `Board`: titles, descriptions, legends and value
texts are keys of `i18n.TEXT`, so the same definition renders in every language. The board adds what
every dashboard must have (data source, `job` and `instance` variables, the title prefix, shared
crosshair, links to the other dashboards, a unit and thresholds on every panel) and records the
dashboard-linter exceptions declared next to the targets that need them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    piechart,
    prometheus,
    stat,
    statetimeline,
    statushistory,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import piechart as pm
from grafana_foundation_sdk.models import prometheus as prom

from dashboards.definition.i18n import Text

DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
# the matchers of the `job` and `instance` variables, in every selector (dashboard-linter's
# target-job-rule and target-instance-rule)
JI = 'job=~"$job", instance=~"$instance"'
TITLE_PREFIX = "Vigil / "

# (key, uid, file name) of every dashboard, in the order of the links at the top of each
DASHBOARDS = (
    ("fleet", "vigil-fleet", "fleet.json"),
    ("cameras", "vigil-cameras", "cameras.json"),
    ("camera", "vigil-camera", "camera.json"),
    ("archives", "vigil-archives", "archives.json"),
    ("frames", "vigil-frames", "frames.json"),
    ("p4", "vigil-p4", "p4.json"),
    ("analytics", "vigil-analytics", "analytics.json"),
    ("self", "vigil-self", "self.json"),
)

# threshold steps: (color, from) with the first step from -infinity
Steps = list[tuple[str, float | None]]
BASE: Steps = [("green", None)]
ANY_IS_BAD: Steps = [("green", None), ("red", 1)]
ANY_IS_WARNING: Steps = [("green", None), ("orange", 1)]
COVERAGE: Steps = [("red", None), ("yellow", 0.5), ("green", 0.9)]
ONLINE_SHARE: Steps = [("red", None), ("yellow", 0.9), ("green", 0.98)]
UP: Steps = [("red", None), ("green", 1)]


def sel(metric: str, *matchers: str) -> str:
    """A selector with the job and instance matchers first: sel("up", 'camera="$camera"')."""
    return f"{metric}{{{', '.join((JI, *matchers))}}}"


def uid_of(key: str, lang: str) -> str:
    uid = dict((k, u) for k, u, _ in DASHBOARDS)[key]
    return uid if lang == "en" else f"{uid}-{lang}"


@dataclass
class Q:
    """One target: PromQL, legend (already in the board's language), instant or range, table."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False
    # dashboard-linter exceptions of this target: rule name -> key of the reason in i18n
    lint: dict[str, str] = field(default_factory=dict)


def _steps(steps: Steps) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for c, v in steps])
    )


def mapping(options: dict[str, tuple[str, str]]) -> list[dm.ValueMap]:
    """Value mappings {value: (text, color)}, texts already translated."""
    return [
        dm.ValueMap(
            options={
                value: dm.ValueMappingResult(text=text, color=color, index=i)
                for i, (value, (text, color)) in enumerate(options.items())
            }
        )
    ]


def prop(id_: str, value: Any) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val=id_, value=value)


def fixed(color: str) -> dm.DynamicConfigValue:
    return prop("color", {"mode": "fixed", "fixedColor": color})


def colored_values(options: dict[str, tuple[str, str]]) -> list[dm.DynamicConfigValue]:
    """A table column whose values are shown as coloured texts {value: (text, color)}."""
    texts = {
        value: {"text": text, "color": color, "index": i}
        for i, (value, (text, color)) in enumerate(options.items())
    }
    return [
        prop("mappings", [{"type": "value", "options": texts}]),
        prop("custom.cellOptions", {"type": "color-text"}),
    ]


# series colours: {series name: colour} or {series name: (colour, name shown instead)}, the latter
# to translate label values (e.g. the quality bands good, degraded...) in legends
Colors = dict[str, str | tuple[str, str]]


def color_overrides(panel, colors: Colors | None) -> None:
    for name, spec in (colors or {}).items():
        color, shown = (spec, "") if isinstance(spec, str) else spec
        props = [fixed(color)]
        if shown and shown != name:
            props.append(prop("displayName", shown))
        panel.override_by_name(name, props)


class Board:
    """One dashboard being defined in one language."""

    def __init__(self, text: Text, key: str, *, time: str, refresh: str, tags: list[str]) -> None:
        self.t = text
        self.lang = text.lang
        self.key = key
        self.uid = uid_of(key, self.lang)
        self.title = TITLE_PREFIX + text(f"{key}.title")
        self.exceptions: list[dict[str, str]] = []  # (rule, panel, target index, reason)
        self._panel_titles: set[str] = set()
        self.builder = (
            db.Dashboard(self.title)
            .uid(self.uid)
            .description(text(f"{key}.description"))
            .tags(["vigil", self.lang, *tags])
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .time(f"now-{time}", "now")
            .refresh(refresh)
            .timezone("browser")
            .readonly()
            .with_variable(
                db.DatasourceVariable("datasource").label("Data source").type("prometheus")
            )
            .with_variable(self._scrape_variable("job", "label_values(vigil_build_info, job)"))
            .with_variable(
                self._scrape_variable(
                    "instance", 'label_values(vigil_build_info{job=~"$job"}, instance)'
                )
            )
        )
        for other, _, _ in DASHBOARDS:
            if other != key:
                self.builder.link(
                    db.DashboardLink(text(f"{other}.title"))
                    .type(dm.DashboardLinkType.LINK)
                    .url(
                        f"/d/{uid_of(other, self.lang)}?${{datasource:queryparam}}"
                        "&${job:queryparam}&${instance:queryparam}"
                    )
                    .tooltip(text(f"{other}.description"))
                    .icon("dashboard")
                    .keep_time(True)
                )

    @staticmethod
    def _scrape_variable(name: str, query: str) -> db.QueryVariable:
        """`job` and `instance` as dashboard-linter wants them: multi, All = .+, on $datasource."""
        return (
            db.QueryVariable(name)
            .label(name.title())
            .datasource(DS)
            .query(query)
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".+")
            .current(dm.VariableOption(selected=True, text="All", value="$__all"))
        )

    # -- variables ------------------------------------------------------------------------------
    def query_variable(
        self, name: str, query: str, *, multi: bool = True, regex: str = "", sort: bool = True
    ) -> None:
        v = (
            db.QueryVariable(name)
            .label(self.t(f"var.{name}"))
            .datasource(DS)
            .query(query)
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
        if sort:
            v.sort(dm.VariableSort.ALPHABETICAL_ASC)
        if regex:
            v.regex(regex)
        if multi:
            v.multi(True).include_all(True).all_value(".*").current(
                dm.VariableOption(selected=True, text="All", value="$__all")
            )
        self.builder.with_variable(v)

    def custom_variable(self, name: str, options: list[tuple[str, str]], *, multi: bool) -> None:
        """Options (text, value); a multi-select one gets All (= .*)."""
        query = ", ".join(
            value if text == value else f"{text} : {value}" for text, value in options
        )
        v = db.CustomVariable(name).label(self.t(f"var.{name}")).values(query)
        if multi:
            v.multi(True).include_all(True).all_value(".*").current(
                dm.VariableOption(selected=True, text="All", value="$__all")
            )
        else:
            text, value = options[0]
            v.current(dm.VariableOption(selected=True, text=text, value=value))
        self.builder.with_variable(v)

    def textbox(self, name: str) -> None:
        self.builder.with_variable(
            db.TextBoxVariable(name)
            .label(self.t(f"var.{name}"))
            .description(self.t(f"var.{name}.d"))
            .default_value("")
        )

    # -- panels ---------------------------------------------------------------------------------
    def row(self, key: str, title_suffix: str = "") -> None:
        self.builder.with_row(db.Row(self.t(key) + title_suffix))

    def _common(self, panel, key: str, targets: list[Q], unit: str, steps: Steps, w: int, h: int):
        title = self.t(key)
        assert title not in self._panel_titles, f"{self.key}: two panels titled {title}"
        self._panel_titles.add(title)
        panel.title(title).description(self.t(f"{key}.d")).datasource(DS).span(w).height(h)
        panel.unit(unit).thresholds(_steps(steps))
        for index, (ref, q) in enumerate(zip("ABCDEFGHIJ", targets, strict=False)):
            target = prometheus.Dataquery().expr(q.expr).ref_id(ref).datasource(DS)
            target.legend_format(q.legend or "__auto")
            if q.instant:
                target.instant()
            else:
                target.range()
            if q.table:
                target.format(prom.PromQueryFormat.TABLE)
            panel.with_target(target)
            for rule, reason in q.lint.items():
                self.exceptions.append(
                    {
                        "rule": rule,
                        "panel": title,
                        "targetIdx": str(index),
                        "reason": self.t(reason),
                    }
                )
        self.builder.with_panel(panel)
        return panel

    def stat(
        self,
        key: str,
        *targets: Q,
        unit: str = "none",
        steps: Steps = BASE,
        w: int = 4,
        h: int = 4,
        colored: bool | None = None,
        mappings: dict[str, tuple[str, str]] | None = None,
        text_mode: str = "auto",
        decimals: int | None = None,
        no_value: str = "",
    ) -> stat.Panel:
        p = stat.Panel()
        p.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        colored = len(steps) > 1 or bool(mappings) if colored is None else colored
        p.color_mode(cm.BigValueColorMode.VALUE if colored else cm.BigValueColorMode.NONE)
        p.graph_mode(cm.BigValueGraphMode.NONE).text_mode(cm.BigValueTextMode(text_mode))
        p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        if mappings:
            p.mappings(mapping(mappings))
        if decimals is not None:
            p.decimals(decimals)
        if no_value:
            p.no_value(no_value)
        return self._common(p, key, list(targets), unit, steps, w, h)

    def bars(
        self,
        key: str,
        *targets: Q,
        unit: str = "none",
        steps: Steps = BASE,
        w: int = 8,
        h: int = 8,
        palette: bool = False,
        colors: Colors | None = None,
        decimals: int | None = None,
        minmax: tuple[float, float] | None = None,
    ) -> bargauge.Panel:
        p = bargauge.Panel()
        p.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        p.display_mode(cm.BarGaugeDisplayMode.GRADIENT).orientation(cm.VizOrientation.HORIZONTAL)
        p.show_unfilled(True).value_mode(cm.BarGaugeValueMode.COLOR)
        p.color_scheme(
            db.FieldColor().mode(
                dm.FieldColorModeId.PALETTE_CLASSIC if palette else dm.FieldColorModeId.THRESHOLDS
            )
        )
        color_overrides(p, colors)
        if decimals is not None:
            p.decimals(decimals)
        if minmax:
            p.min(minmax[0]).max(minmax[1])
        return self._common(p, key, list(targets), unit, steps, w, h)

    def pie(self, key: str, *targets: Q, colors: Colors, w: int = 8, h: int = 8) -> piechart.Panel:
        p = piechart.Panel()
        p.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        p.pie_type(pm.PieChartType.DONUT).display_labels([pm.PieChartLabels.PERCENT])
        p.legend(
            piechart.PieChartLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.RIGHT)
            .show_legend(True)
            .values([pm.PieChartLegendValues.VALUE, pm.PieChartLegendValues.PERCENT])
        )
        p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        color_overrides(p, colors)
        return self._common(p, key, list(targets), "none", BASE, w, h)

    def graph(
        self,
        key: str,
        *targets: Q,
        unit: str = "none",
        steps: Steps = BASE,
        w: int = 12,
        h: int = 8,
        stacked: bool = False,
        bars: bool = False,
        colors: Colors | None = None,
        max_: float | None = None,
        camera_link: bool = False,
        legend_table: bool = False,
        daily: bool = False,
        max_points: int | None = None,
    ) -> timeseries.Panel:
        p = timeseries.Panel()
        p.draw_style(cm.GraphDrawStyle.BARS if bars else cm.GraphDrawStyle.LINE)
        p.line_width(1).fill_opacity(80 if bars else 60 if stacked else 10)
        p.show_points(cm.VisibilityMode.NEVER).span_nulls(False).axis_soft_min(0)
        p.stacking(
            common.StackingConfig().mode(
                cm.StackingMode.NORMAL if stacked else cm.StackingMode.NONE
            )
        )
        p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.PALETTE_CLASSIC))
        legend = common.VizLegendOptions().show_legend(True).placement(cm.LegendPlacement.BOTTOM)
        if legend_table:
            legend.display_mode(cm.LegendDisplayMode.TABLE).calcs(["lastNotNull", "max"])
        else:
            legend.display_mode(cm.LegendDisplayMode.LIST).calcs([])
        p.legend(legend)
        p.tooltip(
            common.VizTooltipOptions()
            .mode(cm.TooltipDisplayMode.MULTI)
            .sort(cm.SortOrder.DESCENDING)
        )
        color_overrides(p, colors)
        if max_ is not None:
            p.max(max_)
        if camera_link:
            p.data_links([self.series_camera_link()])
        if daily:
            self._daily(p)
        if max_points:
            p.max_data_points(max_points)
        return self._common(p, key, list(targets), unit, steps, w, h)

    def timeline(
        self,
        key: str,
        *targets: Q,
        mappings: dict[str, tuple[str, str]],
        w: int = 24,
        h: int = 5,
    ) -> statetimeline.Panel:
        p = statetimeline.Panel()
        p.merge_values(True).show_value(cm.VisibilityMode.AUTO).align_value(
            cm.TimelineValueAlignment.LEFT
        )
        p.row_height(0.9).line_width(0).fill_opacity(80)
        _list_legend_and_threshold_colours(p)
        p.mappings(mapping(mappings))
        return self._common(p, key, list(targets), "none", BASE, w, h)

    def history(self, key: str, *targets: Q, unit: str, steps: Steps, w: int = 24, h: int = 4):
        p = statushistory.Panel()
        p.show_value(cm.VisibilityMode.NEVER).row_height(0.9).col_width(0.9)
        p.line_width(1).fill_opacity(80).decimals(1)
        _list_legend_and_threshold_colours(p)
        self._daily(p)
        return self._common(p, key, list(targets), unit, steps, w, h)

    @staticmethod
    def _daily(p) -> None:
        """The 90-day daily history: one point per day (docs/metrics.md, "Daily history")."""
        p.interval("1d").time_from("90d").max_data_points(100).hide_time_override(False)

    def table(
        self,
        key: str,
        *targets: Q,
        unit: str = "none",
        steps: Steps = BASE,
        w: int = 24,
        h: int = 10,
        columns: dict[str, str],
        hidden: tuple[str, ...] = (),
        camera_column: str | None = None,
        sort: tuple[str, bool] | None = None,
        merge: bool = False,
        overrides: dict[str, list[dm.DynamicConfigValue]] | None = None,
        decimals: int | None = None,
        mappings: dict[str, tuple[str, str]] | None = None,
    ) -> table.Panel:
        """A table of one or more instant queries. `columns` maps fields (labels, Value, Value #A)
        to keys of their header text, in display order; `camera_column` (a field of `columns`)
        links each row to its camera's detail through the row's `camera` field."""
        p = table.Panel()
        p.show_header(True).cell_height(cm.TableCellHeight.SM).filterable(True)
        p.cell_options(cm.TableAutoCellOptions())
        p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        if decimals is not None:
            p.decimals(decimals)
        if mappings:
            p.mappings(mapping(mappings))
        headers = {field_: self.t(text) for field_, text in columns.items()}
        if merge:
            p.with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        excluded = {"Time": True, "__name__": True, "job": True}
        excluded.update({name: True for name in hidden})
        if "instance" not in columns:
            excluded["instance"] = True
        p.with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": excluded,
                    "renameByName": headers,
                    "indexByName": {name: i for i, name in enumerate(columns)},
                    "includeByName": {},
                },
            )
        )
        if camera_column:
            p.override_by_name(headers[camera_column], [prop("links", [self.row_camera_link()])])
        for field_, props in (overrides or {}).items():
            p.override_by_name(headers[field_], props)
        if sort:
            p.sort_by([common.TableSortByFieldState().display_name(headers[sort[0]]).desc(sort[1])])
        return self._common(p, key, list(targets), unit, steps, w, h)

    # -- links ----------------------------------------------------------------------------------
    def _camera_url(self, camera: str) -> str:
        return (
            f"/d/{uid_of('camera', self.lang)}?var-camera={camera}"
            "&${datasource:queryparam}&${job:queryparam}&${instance:queryparam}"
        )

    def row_camera_link(self) -> dict[str, Any]:
        return {
            "title": self.t("link.camera"),
            "url": self._camera_url("${__data.fields.camera}"),
            "targetBlank": False,
        }

    def series_camera_link(self) -> db.DashboardLink:
        return (
            db.DashboardLink(self.t("link.camera"))
            .url(self._camera_url("${__field.labels.camera}") + "&${__url_time_range}")
            .target_blank(False)
        )

    # -- output ---------------------------------------------------------------------------------
    def json(self) -> dict[str, Any]:
        built = json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))
        for number, panel in enumerate(built["panels"], start=1):
            panel["id"] = number
        return built


def _list_legend_and_threshold_colours(p: Any) -> None:
    """The look state timelines and status histories share: a list legend below, a single-series
    tooltip, cells coloured by the thresholds."""
    p.legend(
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
    )
    p.tooltip(common.VizTooltipOptions().mode(cm.TooltipDisplayMode.SINGLE).sort(cm.SortOrder.NONE))
    p.color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
