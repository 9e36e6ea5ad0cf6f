"""Network targets: validation, redaction and the persisted target store."""

import json
import os
import stat
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import targets as targets_module
from exporter.config import format_duration
from exporter.targets import (
    CameraTarget,
    StateFileError,
    TargetError,
    TargetStore,
    redact_url,
    target_from_json,
)

PASSWORD = "s3cr3t-Pw"
CAM_URL = f"rtsp://admin:{PASSWORD}@10.0.0.5:554/Streaming/Channels/101"


def config_target(id: str, host: str = "10.1.0.1") -> CameraTarget:
    return CameraTarget(id=id, host=host, icmp=30.0, origin="config")


def api_target(id: str, **kwargs) -> CameraTarget:
    return target_from_json({"id": id, "host": "cam-" + id.lower().replace(":", "-"), **kwargs})


def leftovers(directory: Path, name: str = "targets.json") -> list[str]:
    """Files other than the state file and its aside copies (temp files, mostly)."""
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name != name and not p.name.startswith(f"{name}.corrupt-")
    )


def aside_copies(directory: Path, name: str = "targets.json") -> list[Path]:
    return sorted(directory.glob(f"{name}.corrupt-*"))


# --- validation -------------------------------------------------------------------------------


def test_minimal_body_gets_defaults():
    t = target_from_json({"id": "cam-1", "host": "10.0.0.5"})
    assert t == CameraTarget(id="cam-1", host="10.0.0.5", port=554, origin="api")
    assert t.icmp is t.tcp is t.frame is t.frame_url is t.rtsp_options is None


def test_full_body():
    t = target_from_json(
        {
            "id": "Lobby.Cam_2:a",
            "host": "cam2.site-a.example.org",
            "port": 8554,
            "icmp": "30s",
            "tcp": 90,
            "frame": "0s",
            "frame_url": CAM_URL,
            "rtsp_options": True,
        },
        origin="config",
    )
    assert t == CameraTarget(
        id="Lobby.Cam_2:a",
        host="cam2.site-a.example.org",
        port=8554,
        icmp=30.0,
        tcp=90.0,
        frame=0.0,
        frame_url=CAM_URL,
        rtsp_options=True,
        origin="config",
    )
    assert isinstance(t.tcp, float)


@pytest.mark.parametrize(
    ("body_extra", "field", "expected"),
    [
        ({"icmp": "1m30s"}, "icmp", 90.0),
        ({"icmp": "1s"}, "icmp", 1.0),
        ({"icmp": "1d"}, "icmp", 86400.0),
        ({"tcp": 0}, "tcp", 0.0),
        ({"tcp": 0.0}, "tcp", 0.0),
        ({"tcp": "0ms"}, "tcp", 0.0),
        ({"frame": 2.5}, "frame", 2.5),
        ({"frame": 1.00049}, "frame", 1.0),  # whole milliseconds
        ({"frame": "1500ms"}, "frame", 1.5),
        ({"frame": None}, "frame", None),
        ({"host": "fe80::1"}, "host", "fe80::1"),
        ({"host": "2001:db8::7"}, "host", "2001:db8::7"),
        ({"host": "192.168.1.20"}, "host", "192.168.1.20"),
        ({"host": "cam7"}, "host", "cam7"),
        ({"host": "cam7.example.com."}, "host", "cam7.example.com."),
        ({"host": "1st-floor.example"}, "host", "1st-floor.example"),
        ({"port": 1}, "port", 1),
        ({"port": 65535}, "port", 65535),
        ({"rtsp_options": False}, "rtsp_options", False),
        ({"frame_url": "https://cam/snap.jpg?channel=1"}, "frame_url", None),
        ({"frame_url": "rtsps://u:p%40ss@cam:7441/live"}, "frame_url", None),
        ({"frame_url": "http://[2001:db8::7]:8080/jpg"}, "frame_url", None),
        ({"origin": "api"}, "origin", "api"),  # as echoed by public()
    ],
)
def test_good_bodies(body_extra, field, expected):
    body = {"id": "c1", "host": "10.0.0.1", **body_extra}
    t = target_from_json(body)
    if field == "frame_url":
        expected = body["frame_url"]
    assert getattr(t, field) == expected


def test_id_of_128_characters():
    assert target_from_json({"id": "a" * 128, "host": "h"}).id == "a" * 128


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "body: must be a JSON object (got an array)"),
        ("cam", "body: must be a JSON object (got a string)"),
        (None, "body: must be a JSON object (got null)"),
        ({"host": "h"}, "id: is required"),
        ({"id": "c"}, "host: is required"),
        ({"id": "c", "host": "h", "hots": "x"}, "unknown field 'hots' (allowed: id, host, port,"),
        ({"id": "c", "host": "h", "origin": "config"}, "origin: is read-only"),
        ({"id": 5, "host": "h"}, "id: must be a string (got the number 5)"),
        ({"id": "", "host": "h"}, "id: must be 1-128 characters"),
        ({"id": "-cam", "host": "h"}, "id: must be 1-128 characters"),
        ({"id": "cam 1", "host": "h"}, "id: must be 1-128 characters"),
        ({"id": "cam/1", "host": "h"}, "id: must be 1-128 characters"),
        ({"id": "a" * 129, "host": "h"}, "id: must be 1-128 characters"),
        ({"id": "c", "host": ""}, "host: must not be empty"),
        ({"id": "c", "host": ["h"]}, "host: must be a string (got an array)"),
        ({"id": "c", "host": "cam 1"}, "host: must not contain spaces"),
        ({"id": "c", "host": "cam1\n"}, "host: must not contain spaces"),
        ({"id": "c", "host": "rtsp://cam1"}, "host: must be a bare IP address or DNS name"),
        ({"id": "c", "host": "cam1/x"}, "host: must be a bare IP address or DNS name"),
        ({"id": "c", "host": "admin@cam1"}, "host: must be a bare IP address or DNS name"),
        ({"id": "c", "host": "cam1:554"}, "host: not an IPv6 address; a port goes in the port"),
        ({"id": "c", "host": "[::1]"}, "host: write IPv6 addresses without brackets"),
        ({"id": "c", "host": "cam_1.example"}, "host: not an IP address or a valid DNS name"),
        ({"id": "c", "host": "-cam.example"}, "host: not an IP address or a valid DNS name"),
        ({"id": "c", "host": "cam..example"}, "host: not an IP address or a valid DNS name"),
        ({"id": "c", "host": "a" * 64 + ".example"}, "host: not an IP address or a valid DNS"),
        ({"id": "c", "host": "kamera.bücher.de"}, "host: use the ASCII (xn--) form"),
        ({"id": "c", "host": "10.0.0.256"}, "host: not a valid IP address"),
        ({"id": "c", "host": "010.0.0.1"}, "host: not a valid IP address"),
        ({"id": "c", "host": "h", "port": 70000}, "port: must be 1-65535 (got 70000)"),
        ({"id": "c", "host": "h", "port": 0}, "port: must be 1-65535 (got 0)"),
        ({"id": "c", "host": "h", "port": True}, "port: must be an integer (got a boolean)"),
        ({"id": "c", "host": "h", "port": "554"}, "port: must be an integer (got a string)"),
        (
            {"id": "c", "host": "h", "port": 554.0},
            "port: must be an integer (got the number 554.0)",
        ),
        ({"id": "c", "host": "h", "icmp": "30"}, "icmp: bad duration '30' (use a unit"),
        ({"id": "c", "host": "h", "icmp": "soon"}, "icmp: bad duration 'soon'"),
        ({"id": "c", "host": "h", "icmp": "500ms"}, "icmp: must be between 1s and 1d, or 0s"),
        ({"id": "c", "host": "h", "tcp": 0.5}, "tcp: must be between 1s and 1d, or 0s"),
        ({"id": "c", "host": "h", "tcp": 86401}, "tcp: must be between 1s and 1d, or 0s"),
        ({"id": "c", "host": "h", "tcp": -5}, "tcp: must be a non-negative duration"),
        ({"id": "c", "host": "h", "tcp": float("nan")}, "tcp: must be a non-negative duration"),
        ({"id": "c", "host": "h", "tcp": float("inf")}, "tcp: must be a non-negative duration"),
        ({"id": "c", "host": "h", "tcp": 10**400}, "tcp: must be at most 1d"),
        ({"id": "c", "host": "h", "frame": True}, 'frame: must be a duration like "30s"'),
        ({"id": "c", "host": "h", "frame": {"s": 1}}, 'frame: must be a duration like "30s"'),
        ({"id": "c", "host": "h", "frame_url": 7}, "frame_url: must be a string"),
        ({"id": "c", "host": "h", "frame_url": ""}, "frame_url: must be an http(s):// or rtsp"),
        ({"id": "c", "host": "h", "frame_url": "ftp://cam/x"}, "frame_url: must be an http(s)://"),
        ({"id": "c", "host": "h", "frame_url": "cam/x.jpg"}, "frame_url: must be an http(s)://"),
        ({"id": "c", "host": "h", "frame_url": "http:///x"}, "frame_url: must be an http(s)://"),
        ({"id": "c", "host": "h", "frame_url": "http://cam:99999/"}, "frame_url: not a valid URL"),
        ({"id": "c", "host": "h", "frame_url": "http://[::1/x"}, "frame_url: not a valid URL"),
        ({"id": "c", "host": "h", "frame_url": "http://cam/a b"}, "frame_url: must not contain"),
        (
            {"id": "c", "host": "h", "frame_url": "http://cam/" + "x" * 2048},
            "frame_url: must be at most 2048 characters",
        ),
        (
            {"id": "c", "host": "h", "frame_url": "rtsp://u:pa/ss@cam/x"},
            "frame_url: '@' outside the user:password part",
        ),
        (
            {"id": "c", "host": "h", "frame_url": "rtsp://***@cam/x"},
            "frame_url: still has the *** placeholder",
        ),
        (
            {"id": "c", "host": "h", "frame_url": "http://cam/x?token=***"},
            "frame_url: still has the *** placeholder",
        ),
        ({"id": "c", "host": "h", "rtsp_options": "yes"}, "rtsp_options: must be true or false"),
        ({"id": "c", "host": "h", "rtsp_options": 1}, "rtsp_options: must be true or false"),
    ],
)
def test_bad_bodies_name_the_field(body, message):
    with pytest.raises(TargetError) as info:
        target_from_json(body)
    assert str(info.value).startswith(message), str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_origin_argument_is_a_programming_error():
    with pytest.raises(ValueError, match="origin must be one of"):
        target_from_json({"id": "c", "host": "h"}, origin="yaml")


def test_errors_about_frame_url_never_show_the_password():
    for url in (
        f"ftp://admin:{PASSWORD}@cam/x",
        f"rtsp://admin:{PASSWORD}@cam:99999/x",
        f"rtsp://admin:{PASSWORD}@cam/a b",
        f"rtsp://admin:{PASSWORD}/x@cam/",
        f"http://cam/x?password={PASSWORD}&user=a b",
    ):
        with pytest.raises(TargetError) as info:
            target_from_json({"id": "c", "host": "h", "frame_url": url})
        assert PASSWORD not in str(info.value), str(info.value)


# --- redaction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://user:pass@cam/x", "rtsp://***@cam/x"),
        ("rtsp://user@cam:554/x", "rtsp://***@cam:554/x"),
        ("rtsp://u:p@ss@cam/x", "rtsp://***@cam/x"),
        ("http://u:p@[2001:db8::1]:8080/a", "http://***@[2001:db8::1]:8080/a"),
        ("rtsp://cam/x", "rtsp://cam/x"),
        ("http://cam/snap.jpg?channel=1&res=hd#top", "http://cam/snap.jpg?channel=1&res=hd#top"),
        ("http://cam/a?password=hunter2&channel=1", "http://cam/a?password=***&channel=1"),
        ("http://cam/a?channel=1&pass=x&pwd=y", "http://cam/a?channel=1&pass=***&pwd=***"),
        ("http://cam/a?token=t&key=k&auth=a", "http://cam/a?token=***&key=***&auth=***"),
        ("http://cam/a?sig=s&signature=s2", "http://cam/a?sig=***&signature=***"),
        ("http://cam/a?api_key=k&access_token=t", "http://cam/a?api_key=***&access_token=***"),
        (
            "http://cam/a?X-Amz-Signature=abc&X-Amz-Date=1",
            "http://cam/a?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        ("http://cam/a?apiKey=k&authToken=t", "http://cam/a?apiKey=***&authToken=***"),
        ("http://cam/a?PASSWORD=x", "http://cam/a?PASSWORD=***"),
        ("http://cam/a?usr=admin&pw=x", "http://cam/a?usr=admin&pw=***"),
        ("http://cam/cgi?loginuse=admin&loginpas=x", "http://cam/cgi?loginuse=admin&loginpas=***"),
        ("http://cam/a?author=me&monkey=1", "http://cam/a?author=***&monkey=***"),  # errs safe
        # names nobody listed as secret are as secret as `password` (issue 15)
        ("http://cam/a?passwort=x&psw=y&channel=2", "http://cam/a?passwort=***&psw=***&channel=2"),
        (
            "http://cam/a?passphrase=x&sessionid=y&sid=z",
            "http://cam/a?passphrase=***&sessionid=***&sid=***",
        ),
        ("http://cam/a?user=admin;psw=x;stream=1", "http://cam/a?user=admin;psw=***;stream=1"),
        ("rtsp://cam/live;user=admin;password=x", "rtsp://cam/live;user=admin;password=***"),
        (
            "rtsp://cam/Streaming/Channels/101?transportmode=unicast&tz=3",
            "rtsp://cam/Streaming/Channels/101?transportmode=unicast&tz=***",
        ),
        ("http://cam/a?token", "http://cam/a?token"),  # a bare flag has no value to hide
        ("http://cam/a?token=", "http://cam/a?token=***"),
        ("https://u:p@cam/a?token=t", "https://***@cam/a?token=***"),
        ("", ""),
        ("not a url", "not a url"),
        # unparsable or ambiguous: all of it goes
        ("http://[::1/x", "***"),
        ("user:pass@cam/x", "***"),
        ("rtsp://u:pa/ss@cam/x", "***"),
        ("rtsp://u:pa?ss@cam/x", "***"),
        ("rtsp://u:pa#ss@cam/x", "***"),
        (None, "***"),
        (b"rtsp://u:p@cam", "***"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redacted_query_keeps_other_parameters_byte_for_byte():
    url = "http://cam/a?size=a%20b&token=x&name=%E2%9C%93"
    assert redact_url(url) == "http://cam/a?size=a%20b&token=***&name=%E2%9C%93"


def test_public_form():
    t = target_from_json(
        {"id": "c1", "host": "cam1", "icmp": 90, "tcp": "0s", "frame_url": CAM_URL}
    )
    assert t.public() == {
        "id": "c1",
        "host": "cam1",
        "port": 554,
        "icmp": "1m30s",
        "tcp": "0s",
        "frame_url": "rtsp://***@10.0.0.5:554/Streaming/Channels/101",
        "origin": "api",
    }
    assert json.loads(json.dumps(t.public())) == t.public()


def test_repr_hides_credentials():
    t = target_from_json({"id": "c1", "host": "cam1", "frame_url": CAM_URL})
    assert PASSWORD not in repr(t)
    assert PASSWORD not in str(t)
    assert "rtsp://***@10.0.0.5" in repr(t)


# --- the store: basics ------------------------------------------------------------------------


def test_in_memory_store_without_state_file():
    store = TargetStore([config_target("cfg-1")], None)
    assert store.load() == []
    assert store.version == 0
    assert store.put(api_target("a1")) is True
    assert store.put(api_target("a1", port=8554)) is False
    assert store.get("a1").port == 8554
    assert [t.id for t in store.all()] == ["cfg-1", "a1"]
    assert store.delete("a1") is True
    assert store.delete("a1") is False
    assert store.version == 3


def test_all_lists_config_first_then_api_in_insertion_order(tmp_path):
    store = TargetStore([config_target("z"), config_target("a")], tmp_path / "targets.json")
    store.load()
    for id in ("m", "b", "x"):
        store.put(api_target(id))
    store.put(api_target("b", port=1))  # a replace keeps its place
    assert [t.id for t in store.all()] == ["z", "a", "m", "b", "x"]
    assert [t.origin for t in store.all()] == ["config"] * 2 + ["api"] * 3
    assert store.get("b").port == 1
    assert store.get("z").origin == "config"
    assert store.get("nope") is None
    assert len(store) == 5
    assert store.is_config("z") and not store.is_config("m")


def test_config_targets_are_marked_config_and_must_be_unique():
    store = TargetStore([CameraTarget(id="c", host="h")], None)
    assert store.get("c").origin == "config"
    with pytest.raises(ValueError, match="duplicate config target id 'c'"):
        TargetStore([config_target("c"), config_target("c")], None)


def test_version_counts_changes_only(tmp_path):
    store = TargetStore([], tmp_path / "targets.json")
    store.load()
    assert store.version == 0
    store.put(api_target("a"))
    assert store.version == 1
    store.put(api_target("a"))  # same target again: nothing changes, nothing written
    assert store.version == 1
    store.put(api_target("a", tcp="10s"))
    assert store.version == 2
    store.delete("missing")
    assert store.version == 2
    store.delete("a")
    assert store.version == 3


def test_put_stores_an_api_copy_and_validates_again():
    store = TargetStore([], None)
    store.put(CameraTarget(id="c", host="h", tcp=1.23456, origin="config"))
    assert store.get("c") == CameraTarget(id="c", host="h", tcp=1.235, origin="api")
    with pytest.raises(TargetError, match="port: must be 1-65535"):
        store.put(CameraTarget(id="d", host="h", port=0))
    with pytest.raises(TargetError, match="host: must not contain spaces"):
        store.put(CameraTarget(id="d", host="h h"))
    assert store.get("d") is None


def test_config_targets_cannot_be_changed_through_the_store(tmp_path):
    path = tmp_path / "targets.json"
    cfg = config_target("cfg-1")
    store = TargetStore([cfg], path)
    store.load()
    with pytest.raises(TargetError, match="id: 'cfg-1' is defined in the config file; edit it"):
        store.put(api_target("cfg-1"))
    with pytest.raises(TargetError, match="id: 'cfg-1' is defined in the config file; edit it"):
        store.delete("cfg-1")
    assert store.get("cfg-1") == cfg
    assert store.version == 0
    assert not path.exists()


# --- the store: persistence -------------------------------------------------------------------


def test_round_trip_through_a_restart(tmp_path):
    path = tmp_path / "targets.json"
    store = TargetStore([config_target("cfg-1")], path)
    assert store.load() == []  # a missing file is not a problem
    a = api_target("a", icmp="30s", tcp=0, frame=2.5, frame_url=CAM_URL, rtsp_options=False)
    b = api_target("b", port=8554)
    assert store.put(a) is True
    assert store.put(b) is True
    assert store.put(api_target("gone")) is True
    assert store.delete("gone") is True

    doc = json.loads(path.read_text())
    assert doc == {
        "version": 1,
        "cameras": [
            {
                "id": "a",
                "host": "cam-a",
                "port": 554,
                "icmp": 30,
                "tcp": 0,
                "frame": 2.5,
                "frame_url": CAM_URL,  # in clear: it has to work after a restart
                "rtsp_options": False,
            },
            {"id": "b", "host": "cam-b", "port": 8554},
        ],
    }

    again = TargetStore([config_target("cfg-1")], path)
    assert again.load() == []
    assert again.all() == store.all()
    assert again.get("a") == a
    assert again.version == 1


def test_state_file_is_private_and_no_temp_files_remain(tmp_path):
    path = tmp_path / "targets.json"
    path.write_text('{"version": 1, "cameras": []}')
    path.chmod(0o644)
    store = TargetStore([], path)
    assert store.load() == []
    old_umask = os.umask(0)
    try:
        store.put(api_target("a", frame_url=CAM_URL))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store.put(api_target("b"))
    store.delete("a")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []
    assert [c["id"] for c in json.loads(path.read_text())["cameras"]] == ["b"]


def test_load_removes_temp_files_of_interrupted_saves(tmp_path):
    path = tmp_path / "targets.json"
    stale = tmp_path / ".targets.json.k3j2h1.tmp"
    stale.write_text('{"version": 1, "cameras": [')
    other = tmp_path / ".other.json.k3j2h1.tmp"
    other.write_text("not ours")
    assert TargetStore([], path).load() == []
    assert not stale.exists()
    assert other.exists()


def test_delete_of_the_last_target_writes_an_empty_list(tmp_path):
    path = tmp_path / "targets.json"
    store = TargetStore([], path)
    store.load()
    store.put(api_target("a"))
    store.delete("a")
    assert json.loads(path.read_text()) == {"version": 1, "cameras": []}


def test_missing_directory_is_reported_at_load(tmp_path):
    store = TargetStore([], tmp_path / "nope" / "targets.json")
    problems = store.load()
    assert len(problems) == 1
    assert "does not exist; registering targets will fail" in problems[0]
    with pytest.raises(StateFileError, match="cannot save the state file"):
        store.put(api_target("a"))
    assert store.all() == []


def test_unreadable_state_file_is_an_error_not_an_empty_start(tmp_path):
    path = tmp_path / "targets.json"
    path.mkdir()  # reading a directory fails with an OSError other than "missing"
    store = TargetStore([], path)
    with pytest.raises(StateFileError, match="cannot read the state file"):
        store.load()
    assert path.is_dir()
    with pytest.raises(RuntimeError, match=r"load\(\) must succeed"):
        store.put(api_target("a"))


def test_changes_before_load_are_refused(tmp_path):
    path = tmp_path / "targets.json"
    path.write_text(json.dumps({"version": 1, "cameras": [{"id": "old", "host": "h"}]}))
    store = TargetStore([], path)
    with pytest.raises(RuntimeError, match=r"load\(\) must succeed"):
        store.put(api_target("a"))
    with pytest.raises(RuntimeError, match=r"load\(\) must succeed"):
        store.delete("old")
    assert "old" in path.read_text()
    store.load()
    store.put(api_target("a"))
    assert [t.id for t in TargetStore([], path).all()] == []
    again = TargetStore([], path)
    again.load()
    assert [t.id for t in again.all()] == ["old", "a"]


# --- the store: corrupt and partly bad files --------------------------------------------------

GARBAGE = b'{"version": 1, "cameras": [{"id": "a", "host'


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (GARBAGE, "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"", "not valid JSON"),
        # what crashed the start with a traceback, every restart
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"version": 1, "cameras": [], "n": ' + b"9" * 5000 + b"}", "a number longer than"),
        (b'{"version": 1, "cameras": [], "cameras": []}', "duplicate key 'cameras'"),
        (b'[{"id": "a", "host": "h"}]', "wrong shape: expected an object"),
        (b'{"cameras": []}', "wrong shape: unsupported version None"),
        (b'{"version": 2, "cameras": []}', "wrong shape: unsupported version 2"),
        (b'{"version": true, "cameras": []}', "wrong shape: unsupported version True"),
        (b'{"version": 1, "cameras": {"a": {}}}', "wrong shape: 'cameras' must be an array"),
        (b'{"version": 1}', "wrong shape: 'cameras' must be an array"),
    ],
)
def test_corrupt_file_is_moved_aside_and_reported(tmp_path, content, reason):
    path = tmp_path / "targets.json"
    path.write_bytes(content)
    store = TargetStore([config_target("cfg-1")], path)
    problems = store.load()
    assert len(problems) == 1
    assert reason in problems[0]
    assert "moved it to targets.json.corrupt-" in problems[0]
    assert not path.exists()
    [aside] = aside_copies(tmp_path)
    assert aside.read_bytes() == content
    assert [t.id for t in store.all()] == ["cfg-1"]

    # a later put writes a fresh file, and the copy aside stays as it was
    store.put(api_target("a"))
    assert json.loads(path.read_text())["cameras"][0]["id"] == "a"
    assert aside_copies(tmp_path) == [aside]
    assert aside.read_bytes() == content
    assert leftovers(tmp_path) == []


def test_aside_copies_are_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.setattr(targets_module, "_utc_stamp", lambda: "20260921T141320Z")
    path = tmp_path / "targets.json"
    for n in range(3):
        path.write_bytes(b"garbage %d" % n)
        assert TargetStore([], path).load()
    asides = aside_copies(tmp_path)
    assert [p.name for p in asides] == [
        "targets.json.corrupt-20260921T141320Z",
        "targets.json.corrupt-20260921T141320Z-1",
        "targets.json.corrupt-20260921T141320Z-2",
    ]
    assert [p.read_bytes() for p in asides] == [b"garbage 0", b"garbage 1", b"garbage 2"]


def test_partly_bad_file_keeps_the_good_entries_and_a_copy(tmp_path):
    path = tmp_path / "targets.json"
    content = json.dumps(
        {
            "version": 1,
            "cameras": [
                {"id": "good-1", "host": "10.0.0.1", "tcp": 30},
                {"id": "bad-port", "host": "10.0.0.2", "port": 70000},
                "not an object",
                {"id": "good-2", "host": "10.0.0.3", "frame_url": CAM_URL},
                {"id": "good-1", "host": "10.0.0.9"},
                {"id": "cfg-1", "host": "10.0.0.4"},
                {"id": "weird", "host": "h", "colour": "red"},
            ],
        }
    ).encode()
    path.write_bytes(content)
    store = TargetStore([config_target("cfg-1")], path)
    problems = store.load()
    assert len(problems) == 6, problems
    assert "cameras[1]: skipped: port: must be 1-65535 (got 70000)" in problems[0]
    assert "cameras[2]: skipped: body: must be a JSON object (got a string)" in problems[1]
    assert "cameras[4]: skipped: duplicate id 'good-1' (first at cameras[0])" in problems[2]
    assert (
        "cameras[5]: skipped: id 'cfg-1' is defined in the config file, which wins" in problems[3]
    )
    assert "cameras[6]: skipped: unknown field 'colour'" in problems[4]
    assert "loaded 2 target(s); copied the file to targets.json.corrupt-" in problems[5]
    assert all(PASSWORD not in p for p in problems)

    assert [t.id for t in store.all()] == ["cfg-1", "good-1", "good-2"]
    assert store.get("cfg-1").host == "10.1.0.1"  # config wins
    assert store.get("good-2").frame_url == CAM_URL
    assert path.read_bytes() == content  # the original stays until the next save
    [copy] = aside_copies(tmp_path)
    assert copy.read_bytes() == content
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    # loading the same file again does not pile up identical copies
    again = TargetStore([config_target("cfg-1")], path)
    problems = again.load()
    assert "an identical copy of the file is already kept aside" in problems[-1]
    assert aside_copies(tmp_path) == [copy]

    # the next save drops the bad entries; the copy keeps them
    store.put(api_target("new"))
    assert [c["id"] for c in json.loads(path.read_text())["cameras"]] == ["good-1", "good-2", "new"]
    assert copy.read_bytes() == content
    assert TargetStore([config_target("cfg-1")], path).load() == []


def test_load_replaces_what_was_in_memory(tmp_path):
    path = tmp_path / "targets.json"
    store = TargetStore([], path)
    store.load()
    store.put(api_target("a"))
    other = TargetStore([], path)
    other.load()
    other.put(api_target("b"))
    version = store.version
    assert store.load() == []
    assert [t.id for t in store.all()] == ["a", "b"]
    assert store.version == version + 1
    assert store.load() == []
    assert store.version == version + 1  # nothing changed


# --- the store: failing saves -----------------------------------------------------------------


def test_failed_save_leaves_memory_and_file_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "targets.json"
    store = TargetStore([], path)
    store.load()
    a = api_target("a")
    store.put(a)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(targets_module.os, "replace", broken_replace)
    with pytest.raises(StateFileError, match=r"cannot save the state file: .*No space left"):
        store.put(api_target("b"))
    with pytest.raises(StateFileError):
        store.put(api_target("a", port=8554))
    with pytest.raises(StateFileError):
        store.delete("a")
    assert store.all() == [a]
    assert store.version == 1
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []  # the temp files were removed


def test_failed_save_when_the_directory_became_a_file(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir()
    store = TargetStore([], directory / "targets.json")
    assert store.load() == []
    directory.rmdir()
    directory.write_text("not a directory")
    with pytest.raises(StateFileError, match="cannot save the state file"):
        store.put(api_target("a"))
    assert store.all() == []
    assert store.version == 0


def test_failed_save_error_message_has_no_secrets(tmp_path, monkeypatch):
    store = TargetStore([], tmp_path / "targets.json")
    store.load()

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(targets_module.os, "fsync", broken_fsync)
    with pytest.raises(StateFileError) as info:
        store.put(api_target("a", frame_url=CAM_URL))
    assert PASSWORD not in str(info.value)
    assert store.get("a") is None
    assert leftovers(tmp_path) == []


# --- properties -------------------------------------------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", fullmatch=True)
labels = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", fullmatch=True)
top_labels = st.from_regex(r"[A-Za-z](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?", fullmatch=True)
dns_names = st.builds(
    lambda head, top, dot: ".".join([*head, top]) + dot,
    st.lists(labels, max_size=3),
    top_labels,
    st.sampled_from(["", "."]),
)
hosts = st.one_of(st.ip_addresses().map(str), dns_names)
seconds = st.one_of(
    st.just(0),
    st.integers(1, 86_400),
    st.integers(1000, 86_400_000).map(lambda ms: ms / 1000),
    st.floats(1, 86_400),
)
intervals = st.one_of(
    st.none(),
    seconds,
    st.integers(0, 86_400_000)
    .filter(lambda ms: ms == 0 or ms >= 1000)
    .map(lambda ms: format_duration(ms / 1000)),
)
url_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
frame_urls = st.one_of(
    st.none(),
    st.builds(
        lambda scheme, user, host, port, path, query: (
            f"{scheme}://{user}{host}{port}/{quote(path)}{query}"
        ),
        st.sampled_from(["http", "https", "rtsp", "rtsps"]),
        st.one_of(
            st.just(""),
            st.builds(lambda u, p: f"{quote(u, safe='')}:{quote(p, safe='')}@", url_text, url_text),
        ),
        st.sampled_from(["cam", "10.0.0.5", "[2001:db8::5]", "cam.example.org"]),
        st.sampled_from(["", ":554", ":8080"]),
        url_text,
        st.sampled_from(["", "?channel=1", "?token=abc&channel=2", "?user=a&pwd=b"]),
    ),
)
bodies = st.fixed_dictionaries(
    {"id": ids, "host": hosts},
    optional={
        "port": st.integers(1, 65535),
        "icmp": intervals,
        "tcp": intervals,
        "frame": intervals,
        "frame_url": frame_urls,
        "rtsp_options": st.one_of(st.none(), st.booleans()),
    },
)


@given(bodies, st.sampled_from(["api", "config"]))
def test_valid_targets_round_trip_through_public_and_stored_forms(body, origin):
    t = target_from_json(body, origin=origin)
    assert target_from_json(t.stored(), origin=origin) == t
    assert target_from_json(json.loads(json.dumps(t.stored())), origin=origin) == t
    public = json.loads(json.dumps(t.public()))
    if t.frame_url is None or redact_url(t.frame_url) == t.frame_url:
        assert target_from_json(public, origin=origin) == t
    else:
        assert public["frame_url"] != t.frame_url
        assert "***" in public["frame_url"]
        assert target_from_json({**public, "frame_url": t.frame_url}, origin=origin) == t
    for name in ("icmp", "tcp", "frame"):
        assert (name in public) == (getattr(t, name) is not None)


@given(url_text, st.sampled_from(["rtsp", "https"]))
def test_redacted_urls_do_not_show_the_password(tail, scheme):
    password = "Zq!" + tail
    encoded = quote(password, safe="")
    for url in (
        f"{scheme}://admin:{encoded}@cam/x",
        f"{scheme}://admin:{password}@cam/x",  # even unencoded
        f"{scheme}://cam/x?password={encoded}&a=1",
        f"{scheme}://cam/x?a=1&access_token={password}",
    ):
        shown = redact_url(url)
        assert password not in shown
        assert encoded not in shown


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bodies, max_size=5, unique_by=lambda b: b["id"]))
def test_valid_targets_survive_a_restart_unchanged(body_list):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "targets.json"
        store = TargetStore([], path)
        assert store.load() == []
        wanted = [target_from_json(b) for b in body_list]
        for t in wanted:
            assert store.put(t) is True
        again = TargetStore([], path)
        assert again.load() == []
        assert again.all() == wanted
        assert leftovers(Path(directory)) == []
