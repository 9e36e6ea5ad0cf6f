"""Perforce streams: sizes and growth on the servers Vigil measures, searchable by stream."""

from __future__ import annotations

from dashboards.definition.kit import UP, Board, Q, prop, sel

WHERE = ('server=~"$server"', 'stream=~"(?i).*$stream.*"')


def build(b: Board) -> None:
    b.query_variable("server", f"label_values({sel('vigil_p4_server_up')}, server)")
    b.textbox("stream")
    server = 'server=~"$server"'
    size = sel("vigil_p4_stream_size_bytes", *WHERE)
    growth = sel("vigil:p4_stream_growth_bytes_per_day", *WHERE)
    b.stat(
        "p4.up",
        Q(sel("vigil_p4_server_up", server), "{{server}}", True),
        steps=UP,
        mappings={"0": (b.t("val.down"), "red"), "1": (b.t("val.up"), "green")},
        w=8,
        h=5,
    )
    b.stat(
        "p4.ticket",
        Q(sel("vigil_p4_ticket_expiry_seconds", server), "{{server}}", True),
        unit="s",
        steps=[("red", None), ("orange", 86400), ("green", 3 * 86400)],
        w=8,
        h=5,
    )
    b.stat(
        "p4.streams",
        Q(f"count by (server) ({size})", "{{server}}", True),
        w=8,
        h=5,
    )
    b.graph("p4.size", Q(size, "{{server}} {{stream}}"), unit="bytes", w=24, h=9)
    b.graph("p4.growth", Q(growth, "{{server}} {{stream}}"), unit="bytes", h=9)
    b.bars(
        "p4.top",
        Q(f"topk(10, {growth})", "{{server}} {{stream}}", True),
        unit="bytes",
        palette=True,
        w=12,
        h=9,
    )
    b.table(
        "p4.list",
        Q(size, instant=True, table=True),
        Q(growth, instant=True, table=True),
        Q(sel("vigil_p4_stream_files", *WHERE), instant=True, table=True),
        unit="bytes",
        merge=True,
        columns={
            "server": "col.server",
            "stream": "col.stream",
            "Value #A": "col.size",
            "Value #B": "col.growth",
            "Value #C": "col.files",
        },
        sort=("Value #A", True),
        overrides={"Value #C": [prop("unit", "none")]},
    )
