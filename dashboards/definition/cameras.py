"""Camera list: find a camera by any part of its name, address, serial number or UID, filter by
data center, vendor, status and memory-card state, and open its detail."""

from __future__ import annotations

from dashboards.definition.kit import ANY_IS_BAD, Board, Q, colored_values, sel

SEARCH = '"(?i).*$search.*"'  # a case-insensitive part (RE2 folds Cyrillic case too)
SEARCHED = ("name", "address", "sn", "camera")
IN_DATACENTER = 'datacenter=~"$datacenter"'


def matching() -> str:
    """Cameras of the inventory whose name, address, SN or UID contains the search, in the chosen
    data centers and vendors. One `or` branch per label: each is a plain regex matcher."""
    where = ('datacenter=~"$datacenter"', 'vendor=~"$vendor"')
    branches = "\n    or ".join(
        sel("vigil_camera_info", *where, f"{label}=~{SEARCH}") for label in SEARCHED
    )
    return f"group by (camera) (\n    {branches}\n  )"


def status() -> str:
    """1 online, 0 offline, -1 when the camera's record has no online flag."""
    every = f"group by (camera) ({sel('vigil_camera_info')})"
    return f"({sel('vigil_camera_online')} or on (camera) ({every} * -1))"


def card() -> str:
    """Cameras whose memory-card state is one of $card; cameras reporting no card state only when
    every state is chosen (All), so that they are never hidden from the unfiltered list."""
    chosen = sel("vigil_camera_memory_card_state", 'state=~"$card"')
    states = sel("vigil_camera_memory_card_state")
    every = f"group by (camera) ({sel('vigil_camera_info')})"
    return (
        f"(\n    ({chosen} == 1)\n"
        f"    or on (camera) (\n"
        f"      ({every} unless on (camera) {states})\n"
        f"      and on () ((count({chosen}) or vector(0)) == (count({states}) or vector(0)))\n"
        f"    )\n  )"
    )


def selected() -> str:
    """Every filter of the dashboard at once: the cameras the list shows."""
    return (
        f"(\n  {matching()}\n  and on (camera) ({status()} $status)\n  and on (camera) {card()}\n)"
    )


def build(b: Board) -> None:
    b.textbox("search")
    b.query_variable("datacenter", f"label_values({sel('vigil_camera_info')}, datacenter)")
    b.query_variable("vendor", f"label_values({sel('vigil_camera_info', IN_DATACENTER)}, vendor)")
    b.custom_variable(
        "status",
        [
            (b.t("status.any"), ">= -1"),
            (b.t("status.online"), "== 1"),
            (b.t("status.offline"), "== 0"),
            (b.t("status.unknown"), "== -1"),
        ],
        multi=False,
    )
    b.query_variable("card", f"label_values({sel('vigil_camera_memory_card_state')}, state)")

    cameras = selected()
    b.stat("cameras.matching", Q(f"count({cameras}) or vector(0)", b.t("lg.cameras"), True), w=6)
    b.stat(
        "cameras.online",
        Q(
            f"sum({sel('vigil_camera_online')} and on (camera) {cameras}) or vector(0)",
            b.t("lg.online"),
            True,
        ),
        w=6,
    )
    b.stat(
        "cameras.offline",
        Q(
            f"count(({sel('vigil_camera_online')} == 0) and on (camera) {cameras}) or vector(0)",
            b.t("lg.offline"),
            True,
        ),
        steps=ANY_IS_BAD,
        w=6,
    )
    b.stat(
        "cameras.card_problems",
        Q(
            f"sum({sel('vigil_camera_memory_card_problem')} and on (camera) {cameras})"
            " or vector(0)",
            b.t("lg.problems"),
            True,
        ),
        steps=ANY_IS_BAD,
        w=6,
    )
    b.table(
        "cameras.list",
        Q(
            f"(\n  {status()} $status\n  and on (camera) {matching()}\n  and on (camera) {card()}\n)\n"
            "* on (camera) group_left (name, address, sn, vendor, datacenter)\n  "
            + sel("vigil_camera_info"),
            instant=True,
            table=True,
        ),
        h=18,
        columns={
            "name": "col.name",
            "address": "col.address",
            "sn": "col.sn",
            "Value": "col.status",
            "vendor": "col.vendor",
            "datacenter": "col.datacenter",
            "camera": "col.uid",
        },
        camera_column="name",
        sort=("name", False),
        overrides={
            "Value": colored_values(
                {
                    "1": (b.t("val.online"), "green"),
                    "0": (b.t("val.offline"), "red"),
                    "-1": (b.t("val.unknown"), "text"),
                }
            )
        },
    )
    targets = sel("vigil_camera_target_info")
    b.table(
        "cameras.network",
        Q(
            f"(\n  min by (camera) ({sel('vigil_camera_probe_success')})\n"
            f"  or on (camera) (group by (camera) ({targets}) * -1)\n)\n"
            "* on (camera) group_left (host, port)\n  ("
            + sel("vigil_camera_target_info", f"camera=~{SEARCH}")
            + " or "
            + sel("vigil_camera_target_info", f"host=~{SEARCH}")
            + ")",
            instant=True,
            table=True,
        ),
        h=8,
        columns={
            "camera": "col.camera",
            "host": "col.host",
            "port": "col.port",
            "Value": "col.status",
        },
        camera_column="camera",
        sort=("camera", False),
        overrides={
            "Value": colored_values(
                {
                    "1": (b.t("val.checks_pass"), "green"),
                    "0": (b.t("val.failing"), "red"),
                    "-1": (b.t("val.not_checked"), "text"),
                }
            )
        },
    )
