"""Every parser of outside input, fed random and hostile input: each answers with its own clean
error (a ConfigError, a CheckFailed, a malformed-entry reason, a state file moved aside, None) and
never with anything else: no traceback reaches a user."""

from __future__ import annotations

import contextlib
import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import parse_config
from exporter.configkit import ConfigError
from exporter.errors import CheckFailed
from exporter.sources.frames.redis_stream import Frame, _Malformed, _parse_entry
from exporter.sources.rt_api.payloads import (
    parse_baked_archives,
    parse_camera,
    parse_camera_page,
    parse_fragments,
)
from exporter.targets import CameraTarget, TargetStore
from reporter.prom import parse_matrix

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
# keys the parsers look for, so random values land where they are read
CAMERA_KEYS = ["uid", "name", "online", "status", "vendor", "datacenter", "archive", "created_at"]
structured = st.dictionaries(
    st.sampled_from(
        [
            "cameras",
            "total_pages",
            "page",
            "fragments",
            "baked_archives",
            "camera",
            "ts",
            "meta",
            *CAMERA_KEYS,
        ]
    ),
    json_values,
    max_size=6,
)
hostile_bytes = st.one_of(
    st.binary(max_size=200),
    st.just(b"[" * 50_000 + b"]" * 50_000),
    st.just(b'{"n": ' + b"9" * 5000 + b"}"),
    st.just(b'{"version": 1, "cameras": [], "cameras": [{}]}'),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
)

SECTIONS = ["rt_api", "cameras", "frames", "p4", "analytics", "shard", "listen", "timezone"]


@FUZZ
@given(st.dictionaries(st.sampled_from(SECTIONS), json_values, max_size=4))
def test_the_config_loader_answers_every_document_with_a_config_or_a_config_error(doc):
    try:
        text = yaml.safe_dump(doc)
    except yaml.YAMLError:
        return
    with contextlib.suppress(ConfigError):
        parse_config(text, env={})


@FUZZ
@given(st.text(max_size=300))
def test_the_config_loader_answers_any_text_with_a_config_or_a_config_error(text):
    with contextlib.suppress(ConfigError):
        parse_config(text, env={})


@FUZZ
@given(
    hostile_bytes
    | st.builds(lambda v: json.dumps({"version": 1, "cameras": v}).encode(), json_values)
)
def test_a_state_file_of_anything_loads_or_is_moved_aside(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("state") / "targets.json"
    path.write_bytes(data)
    config = CameraTarget(id="cfg", host="10.0.0.1", origin="config")
    store = TargetStore([config], path)
    problems = store.load()
    assert all(isinstance(p, str) for p in problems)
    assert "cfg" in {t.id for t in store.all()}  # the config's own cameras are always there


@FUZZ
@given(json_values | structured)
def test_rt_api_payloads_parse_or_fail_as_bad_payload(payload):
    for parse in (parse_camera_page, parse_baked_archives, parse_fragments):
        try:
            parse(payload)
        except CheckFailed as exc:
            assert exc.reason == "bad_payload"
    parse_camera(payload)  # a record it cannot use is None, never an exception


@FUZZ
@given(
    st.dictionaries(st.sampled_from([b"meta", b"frame", b"jpeg", b"x"]), hostile_bytes, max_size=3)
    | st.none()
)
def test_redis_frame_entries_parse_or_are_malformed(fields):
    with contextlib.suppress(_Malformed):
        assert isinstance(_parse_entry("1-0", fields), Frame)


MATRIX = (
    b'{"status":"success","data":{"resultType":"matrix","result":['
    b'{"metric":{"__name__":"up","camera":"c1"},"values":[[1700000000,"1"],[1700000060,"0"]]}]}}'
)


@FUZZ
@given(st.integers(0, len(MATRIX)), st.binary(max_size=20), st.integers(0, len(MATRIX)))
def test_prometheus_matrix_answers_parse_or_fall_back(cut, insert, drop):
    """The reporter's fast reader: a body it cannot read whole is None (the JSON path then
    decides), never an exception."""
    body = MATRIX[:cut] + insert + MATRIX[cut + drop :]
    result = parse_matrix(body)
    assert result is None or isinstance(result, list)
