import dataclasses
from pathlib import Path
from typing import Annotated

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from exporter.config import (
    Config,
    ConfigError,
    Duration,
    Secret,
    _Loader,
    between,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    summarize,
)
from exporter.sources.rt_api.config import RtApiConfig

EXAMPLE = Path(__file__).resolve().parent.parent / "vigil.example.yml"
SECRET = "sekret-TEST-KEY-123"
ENV = {"RT_API_KEY": SECRET}


def parse(text: str, env: dict[str, str] | None = None, **kwargs) -> Config:
    return parse_config(text, env=ENV if env is None else env, **kwargs)


def error(text: str, env: dict[str, str] | None = None, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text, env, **kwargs)
    return info.value


# --- defaults and the shipped example ------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_config_gives_defaults(text: str) -> None:
    config = parse(text)
    assert config == Config()
    assert config.listen == "0.0.0.0:9830"
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 9830)
    assert config.timezone == "Europe/Moscow"
    assert config.tz.key == "Europe/Moscow"
    assert config.log_level == "info"
    assert config.rt_api is None


def test_rt_api_defaults() -> None:
    rt = parse("rt_api:\n  api_key: ${RT_API_KEY}\n").rt_api
    assert rt is not None
    assert rt.api_key.reveal() == SECRET
    assert rt.url == "https://lk-b2b.camera.rt.ru/api"
    assert rt.inventory_interval == 60
    assert rt.baked_archives_interval == 300
    assert rt.timeout == 30  # authenticated calls, as the original client gave them
    assert rt.health_timeout == 10
    assert rt.max_retries == 3
    assert rt.page_size == 1000
    assert rt.baked_page_size == 50
    assert rt.max_pages == 10_000
    assert rt.concurrency == 4
    assert rt.verify_tls is True


def test_rt_api_null_means_disabled() -> None:
    assert parse("rt_api:\n").rt_api is None
    assert parse("rt_api: null\n").rt_api is None


EXAMPLE_ENV = {
    **ENV,
    "VIGIL_API_TOKEN": "token-123456",
    "GATE1_PASSWORD": "gate-pass",
    "ANALYTICS_DSN": "postgresql://reader:pw@db.example:5432/va",
}


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE, env=EXAMPLE_ENV)
    assert config.rt_api is not None
    assert config.rt_api.api_key.reveal() == SECRET
    assert config.rt_api.api_key.source == "env RT_API_KEY"
    (platform,) = config.analytics.platforms
    assert platform.name == "vap-prod" and platform.dsn.source == "env ANALYTICS_DSN"
    assert [(s.status, s.after) for s in platform.stuck_after_status] == [("init_startup", 300)]


def test_example_file_never_holds_a_literal_secret() -> None:
    for line in EXAMPLE.read_text().splitlines():
        code = line.split("#", 1)[0]
        if "api_key:" in code:
            assert code.split("api_key:", 1)[1].strip() == "${RT_API_KEY}"
        if "api_token:" in code:
            assert code.split("api_token:", 1)[1].strip() == "${VIGIL_API_TOKEN}"
        if "frame_url:" in code:
            assert ":${GATE1_PASSWORD}@" in code


def test_example_file_without_env_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="RT_API_KEY"):
        load_config(EXAMPLE, env={})


def test_full_config() -> None:
    config = parse(
        """\
listen: "[::1]:9100"
timezone: UTC
log_level: DEBUG
rt_api:
  url: http://localhost:8080/api/
  api_key: ${RT_API_KEY}
  inventory_interval: 1h30m
  baked_archives_interval: 1m30s
  timeout: 2s
  max_retries: 0
  page_size: 1000
  concurrency: 1
  verify_tls: false
"""
    )
    assert (config.listen_host, config.listen_port) == ("::1", 9100)
    assert config.timezone == "UTC"
    assert config.log_level == "debug"
    assert config.rt_api == RtApiConfig(
        url="http://localhost:8080/api",
        api_key=Secret(SECRET),
        inventory_interval=5400,
        baked_archives_interval=90,
        timeout=2,
        max_retries=0,
        page_size=1000,
        concurrency=1,
        verify_tls=False,
    )


def test_config_is_frozen() -> None:
    config = parse("")
    with pytest.raises(AttributeError):
        config.listen = "x:1"  # type: ignore[misc]


# --- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("6h", 21600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1m30s", 90),
        ("1.5h", 5400),
        ("0s", 0),
        (" 5m ", 300),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10", "10x", "-5s", "", "s", "5 m", "30m1h", "5s5s", "1.5"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_bare_number_asks_for_a_unit() -> None:
    with pytest.raises(ValueError, match=r"use a unit, e\.g\. 30s"):
        parse_duration("10")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (90, "1m30s"),
        (0, "0s"),
        (0.5, "500ms"),
        (86400 + 3600, "1d1h"),
        (1.25, "1s250ms"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**12))
def test_duration_round_trip_whole_milliseconds(millis: int) -> None:
    seconds = millis / 1000
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert format_duration(parse_duration(text)) == text


@given(
    st.lists(
        st.tuples(st.sampled_from(["d", "h", "m", "s", "ms"]), st.integers(1, 10_000)),
        min_size=1,
    )
)
def test_format_parse_format_is_stable(parts: list[tuple[str, int]]) -> None:
    # Any valid duration text (units largest first, each once) formats to an equivalent text.
    order = ["d", "h", "m", "s", "ms"]
    units = dict(parts)
    text = "".join(f"{units[u]}{u}" for u in order if u in units)
    canonical = format_duration(parse_duration(text))
    assert parse_duration(canonical) == parse_duration(text)
    assert format_duration(parse_duration(canonical)) == canonical


# --- errors: every kind names the key and the line -----------------------------------------

RT = "rt_api:\n  api_key: ${RT_API_KEY}\n"


@pytest.mark.parametrize(
    ("text", "key", "line", "fragment"),
    [
        (RT + "  inventory_interval: 10x\n", "rt_api.inventory_interval", 3, "bad duration '10x'"),
        (RT + "  timeout: 10\n", "rt_api.timeout", 3, "use a unit, e.g. 30s"),
        (RT + "  timeout: -5s\n", "rt_api.timeout", 3, "bad duration '-5s'"),
        (RT + "  timeout: 0s\n", "rt_api.timeout", 3, "between 10ms and 1d"),
        (RT + "  max_retries: -1\n", "rt_api.max_retries", 3, "at least 0"),
        (RT + "  page_size: 1001\n", "rt_api.page_size", 3, "between 1 and 1000"),
        (RT + "  page_size: 0\n", "rt_api.page_size", 3, "between 1 and 1000"),
        (RT + "  concurrency: 0\n", "rt_api.concurrency", 3, "at least 1"),
        (RT + "  max_retries: three\n", "rt_api.max_retries", 3, "expected an integer"),
        (RT + "  max_retries: 1.5\n", "rt_api.max_retries", 3, "got number 1.5"),
        (RT + "  verify_tls: maybe\n", "rt_api.verify_tls", 3, "expected a boolean"),
        (RT + "  url: ftp://example.com\n", "rt_api.url", 3, "http(s) URL"),
        (RT + "  url: [a, b]\n", "rt_api.url", 3, "expected a string, got a list"),
        (RT + "  timeout:\n", "rt_api.timeout", 3, "got null"),
        ("log_level: verbose\n", "log_level", 1, "one of debug, info, warning, error"),
        ("\n\ntimezone: Mars/Olympus\n", "timezone", 3, "unknown timezone 'Mars/Olympus'"),
        ("listen: 9830\n", "listen", 1, "expected a string, got integer 9830"),
        ("listen: localhost\n", "listen", 1, "host:port"),
        ("listen: 'localhost:70000'\n", "listen", 1, "0-65535"),
        ("listen: '::1:9830'\n", "listen", 1, "brackets"),
        ("listen: '[nope]:9830'\n", "listen", 1, "IPv6"),
        ("rt_api: yes\n", "rt_api", 1, "expected a mapping, got boolean"),
        ("rt_api:\n  timeout: 5s\n", "rt_api.api_key", 2, "missing required key 'api_key'"),
        ("listen: 'a:1'\nlisten: 'b:2'\n", "listen", 2, "duplicate key"),
    ],
)
def test_errors_name_key_and_line(text: str, key: str, line: int, fragment: str) -> None:
    err = error(text)
    assert err.key == key
    assert err.line == line
    assert fragment in err.message
    assert str(err).startswith(f"vigil.yml:{line}: {key}: ")


def test_error_format_matches_docs() -> None:
    err = error(RT + "  inventory_interval: 10x\n")
    assert str(err) == (
        "vigil.yml:3: rt_api.inventory_interval: bad duration '10x' (use e.g. 30s, 10m, 6h)"
    )


def test_unknown_top_level_key_lists_allowed_keys() -> None:
    err = error("listen: 'a:1'\nlog_levle: info\n")
    assert (err.key, err.line) == ("log_levle", 2)
    assert "unknown key 'log_levle'" in err.message
    assert "did you mean 'log_level'" in err.message
    assert "allowed: listen, timezone, log_level, log_format, rt_api" in err.message


def test_unknown_key_in_nested_section() -> None:
    err = error(RT + "  inventory_intervall: 5m\n")
    assert (err.key, err.line) == ("rt_api.inventory_intervall", 3)
    assert "api_key_file" in err.message
    assert "page_size" in err.message


def test_wrong_type_found_in_nested_section_with_custom_source_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(RT + "  page_size: lots\n", source_name="/etc/vigil.yml", env=ENV)
    assert str(info.value).startswith("/etc/vigil.yml:3: rt_api.page_size: expected an integer")


def test_top_level_must_be_a_mapping() -> None:
    err = error("- listen\n")
    assert err.line == 1
    assert "top level" in str(err)


def test_yaml_syntax_error_has_line() -> None:
    err = error("listen: 'a:1'\nrt_api:\n  api_key: [unclosed\n  timeout: 5s\n")
    assert err.key is None
    assert err.line is not None and err.line >= 3
    assert "YAML syntax error" in str(err)


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load_config(path)
    assert info.value.source == str(path)
    assert info.value.line is None


def test_empty_config_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yml"
    path.write_text("")
    assert load_config(path, env={}) == Config()


def test_dollar_is_not_expanded_outside_secrets() -> None:
    err = error("timezone: ${TZ}\n", env={"TZ": "UTC"})
    assert err.key == "timezone"
    assert "unknown timezone '${TZ}'" in err.message


def test_yaml_merge_keys_work() -> None:
    config = parse("rt_api:\n  <<: {timeout: 3s, max_retries: 1}\n  api_key: x\n  timeout: 4s\n")
    assert config.rt_api is not None
    assert (config.rt_api.timeout, config.rt_api.max_retries) == (4, 1)


# --- secrets -------------------------------------------------------------------------------


def test_secret_from_env() -> None:
    rt = parse(RT).rt_api
    assert rt is not None and rt.api_key.reveal() == SECRET


def test_secret_embedded_env_reference() -> None:
    rt = parse("rt_api:\n  api_key: Bearer-${A}-${B}\n", env={"A": "x", "B": "y"}).rt_api
    assert rt is not None
    assert rt.api_key.reveal() == "Bearer-x-y"
    assert rt.api_key.source == "env A, B"


def test_literal_secret_is_allowed() -> None:
    rt = parse(f"rt_api:\n  api_key: {SECRET}\n", env={}).rt_api
    assert rt is not None and rt.api_key.reveal() == SECRET


def test_missing_env_var_names_key_and_variable() -> None:
    err = error("rt_api:\n  api_key: ${RT_API_KEY}\n", env={"OTHER": SECRET})
    assert (err.key, err.line) == ("rt_api.api_key", 2)
    assert "RT_API_KEY" in err.message
    assert "not set" in err.message


def test_empty_env_var_is_an_error() -> None:
    err = error(RT, env={"RT_API_KEY": ""})
    assert "RT_API_KEY is empty" in err.message


def test_malformed_env_reference() -> None:
    err = error("rt_api:\n  api_key: ${RT_API_KEY\n")
    assert err.key == "rt_api.api_key"
    assert "malformed" in err.message


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_KEY", SECRET)
    rt = parse_config("rt_api:\n  api_key: ${VIGIL_TEST_KEY}\n").rt_api
    assert rt is not None and rt.api_key.reveal() == SECRET


def test_secret_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "rt_key"
    key_file.write_text(SECRET + "\n\n")
    rt = parse(f"rt_api:\n  api_key_file: {key_file}\n", env={}).rt_api
    assert rt is not None
    assert rt.api_key.reveal() == SECRET
    assert rt.api_key.source == f"file {key_file}"


def test_relative_secret_file_is_next_to_config(tmp_path: Path) -> None:
    (tmp_path / "rt_key").write_text(SECRET)
    (tmp_path / "vigil.yml").write_text("rt_api:\n  api_key_file: rt_key\n")
    rt = load_config(tmp_path / "vigil.yml", env={}).rt_api
    assert rt is not None and rt.api_key.reveal() == SECRET


def test_secret_file_missing(tmp_path: Path) -> None:
    err = error(f"rt_api:\n  timeout: 5s\n  api_key_file: {tmp_path / 'nope'}\n")
    assert (err.key, err.line) == ("rt_api.api_key_file", 3)
    assert "cannot read secret file" in err.message


def test_secret_file_empty(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("\n")
    err = error(f"rt_api:\n  api_key_file: {tmp_path / 'key'}\n")
    assert (err.key, err.line) == ("rt_api.api_key_file", 2)
    assert "is empty" in err.message


def test_secret_and_secret_file_both_given(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(SECRET)
    err = error(f"rt_api:\n  api_key: ${{RT_API_KEY}}\n  api_key_file: {tmp_path / 'key'}\n")
    assert (err.key, err.line) == ("rt_api.api_key", 3)
    assert "either 'api_key' or 'api_key_file'" in err.message


def test_missing_secret_mentions_file_alternative() -> None:
    err = error("rt_api:\n  timeout: 5s\n")
    assert "'api_key_file'" in err.message


def test_secret_is_masked() -> None:
    secret = Secret(SECRET)
    assert repr(secret) == "***"
    assert str(secret) == "***"
    assert f"{secret}" == "***"
    assert secret.reveal() == SECRET


@pytest.mark.parametrize(
    "text",
    [
        f"rt_api:\n  api_key: {SECRET}\n  timeout: 10x\n",
        f"rt_api:\n  api_key: {SECRET}\n  api_kye: {SECRET}\n",
        f"rt_api:\n  api_key: [{SECRET}]\n",
        f"rt_api:\n  api_key: {{k: {SECRET}}}\n",
        f"rt_api:\n  api_key: {SECRET}: oops\n",
        f"rt_api:\n  api_key: '{SECRET}\n",
        f"rt_api:\n  api_key: {SECRET}\n  api_key: {SECRET}\n",
        f"rt_api:\n  api_key: {SECRET}\n  api_key_file: /nonexistent\n",
        f"rt_api:\n  api_key: {SECRET}-${{MISSING}}\n",
        f"rt_api:\n  api_key: {SECRET}-${{BROKEN\n",
        "rt_api:\n  api_key: ${RT_API_KEY}\n  max_retries: -1\n",
    ],
)
def test_secret_never_in_error_messages(text: str) -> None:
    err = error(text)
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert SECRET not in err.message


def test_secret_never_in_repr_or_summary(tmp_path: Path) -> None:
    config = parse(RT)
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in summarize(config)
    (tmp_path / "key").write_text(SECRET)
    from_file = parse(f"rt_api:\n  api_key_file: {tmp_path / 'key'}\n")
    assert SECRET not in repr(from_file)
    assert SECRET not in summarize(from_file)


# --- summary -------------------------------------------------------------------------------


def test_summarize_enabled_source() -> None:
    text = summarize(parse(RT + "  inventory_interval: 90s\n"))
    assert "listen: 0.0.0.0:9830" in text
    assert "timezone: Europe/Moscow" in text
    assert "log_level: info" in text
    assert "url: https://lk-b2b.camera.rt.ru/api" in text
    assert "api_key: set (from env RT_API_KEY)" in text
    assert "inventory_interval: 1m30s" in text
    assert "baked_archives_interval: 5m" in text
    assert "verify_tls: true" in text


def test_summarize_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(SECRET)
    text = summarize(parse(f"rt_api:\n  api_key_file: {tmp_path / 'key'}\n"))
    assert f"api_key: set (from file {tmp_path / 'key'})" in text


def test_summarize_disabled_source() -> None:
    assert "rt_api: disabled" in summarize(Config())


# --- the generic loader, exercised with a schema that has lists and optionals --------------


def _load_schema(text: str, schema: type, env: dict[str, str] | None = None):
    return _Loader("test.yml", env or {}, None).load(yaml.compose(text), schema, "")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Camera:
    host: str
    port: Annotated[int, between(1, 65535)] = 80
    password: Secret | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    poll: Duration | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Fleet:
    cameras: list[_Camera] = dataclasses.field(default_factory=list)
    ratio: float = 1.0


def test_lists_of_sections_and_optionals() -> None:
    fleet = _load_schema(
        "ratio: 2\ncameras:\n  - host: a\n    tags: [x, y]\n  - host: b\n    password: ${P}\n"
        "    poll: 30s\n",
        _Fleet,
        env={"P": SECRET},
    )
    assert fleet.ratio == 2.0
    assert [c.host for c in fleet.cameras] == ["a", "b"]
    assert fleet.cameras[0].tags == ["x", "y"]
    assert fleet.cameras[0].password is None
    assert fleet.cameras[1].password.reveal() == SECRET
    assert fleet.cameras[1].poll == 30
    assert "cameras:\n  [0]:\n    host: a" in summarize(fleet)
    assert "poll: 30s" in summarize(fleet)
    assert SECRET not in summarize(fleet)


@pytest.mark.parametrize(
    ("text", "key", "line", "fragment"),
    [
        ("cameras:\n  - host: a\n  - host: b\n  - port: 1\n", "cameras[2].host", 4, "missing"),
        ("cameras:\n  - host: a\n  - {host: b, port: 0}\n", "cameras[1].port", 3, "between"),
        ("cameras:\n  - host: a\n    tags: [x, [y]]\n", "cameras[0].tags[1]", 3, "a string"),
        ("cameras:\n  - host: a\n    colour: red\n", "cameras[0].colour", 3, "unknown key"),
        ("cameras: {host: a}\n", "cameras", 1, "expected a list, got a mapping"),
    ],
)
def test_generic_loader_errors(text: str, key: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load_schema(text, _Fleet)
    assert (info.value.key, info.value.line) == (key, line)
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("yaml_text", "key", "message"),
    [
        # a check that would run thousands of times a second
        (
            "rt_api:\n  inventory_interval: 0.0000001ms",
            "rt_api.inventory_interval",
            "shorter than 1ms",
        ),
        ("rt_api:\n  inventory_interval: 500ms", "rt_api.inventory_interval", "between 1s and 30d"),
        (
            "rt_api:\n  archive_interval: 99999999999999999999999d",
            "rt_api.archive_interval",
            "ten years",
        ),
        ("rt_api:\n  timeout: 1ms", "rt_api.timeout", "between 10ms and 1d"),
        ("cameras:\n  icmp: 1ms", "cameras.icmp", "between 1s and 1d, or 0s (off)"),
        ("cameras:\n  tcp: 2d", "cameras.tcp", "between 1s and 1d, or 0s (off)"),
        (
            "p4:\n  servers:\n    - {name: a, p4port: 'x:1666', p4user: u, stream_mask: '//d/*',"
            " interval: 0s}",
            "p4.servers[0].interval",
            "between 1s and 30d",
        ),
    ],
)
def test_absurd_durations_are_refused_naming_the_key_and_the_range(yaml_text, key, message):
    text = yaml_text.replace("rt_api:\n", f'rt_api:\n  url: http://x/\n  api_key: "{SECRET}"\n', 1)
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.key == key
    assert message in str(info.value)


def test_zero_turns_a_probe_off_and_one_second_is_the_shortest_interval():
    config = parse("cameras:\n  icmp: 0s\n  tcp: 1s\n")
    assert (config.cameras.icmp, config.cameras.tcp) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: " + "[" * 100_000 + "]" * 100_000, "YAML nested too deeply"),
        ("rt_api:\n  api_key: k\n  page_size: " + "9" * 5000, "a number far too long"),
        ("rt_api:\n  api_key: k\n  max_retries: " + "9" * 40, "out of range"),
    ],
)
def test_hostile_yaml_is_a_config_error_not_a_traceback(text, message):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)


def test_a_bad_url_error_never_echoes_a_password_written_in_it():
    text = 'rt_api:\n  api_key: k\n  url: "ftp://admin:hunter2-secret@vms.example/api"\n'
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.key == "rt_api.url"
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("mask", "says"),
    [
        ("//", "//DEPOT/NAME, e.g. //depot/*"),
        ("//depot", "//DEPOT/NAME, e.g. //depot/*"),
        ("/depot/*", "starts with a single '/'"),
        ("  ", "must not be empty"),
    ],
)
def test_a_stream_mask_of_neither_form_is_refused_naming_the_forms(mask, says):
    text = (
        f"p4:\n  servers:\n    - {{name: a, p4port: 'x:1666', p4user: u, stream_mask: '{mask}'}}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.key == "p4.servers[0].stream_mask"
    assert says in str(info.value)


@pytest.mark.parametrize("mask", ["//depot/*role*", "*role*", "role", "*dev*"])
def test_a_stream_mask_is_a_path_or_a_name_pattern(mask):
    text = (
        f"p4:\n  servers:\n    - {{name: a, p4port: 'x:1666', p4user: u, stream_mask: '{mask}'}}\n"
    )
    assert parse(text).p4.servers[0].stream_mask == mask


def test_a_cross_key_error_names_the_file_and_the_line_of_the_key(tmp_path):
    """Config cameras are checked after loading, like registrations; the error still points
    at the file and line (it said "vigil.yml" without a line, whatever the file)."""
    path = tmp_path / "site-a.yml"
    path.write_text(
        "cameras:\n  targets:\n    - id: a\n      host: 10.0.0.1\n"
        "    - id: a\n      host: 10.0.0.2\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == "cameras.targets[1].id"
    assert str(info.value).startswith(f"{path}:5: cameras.targets[1].id: duplicate camera id")


def test_status_page_links_are_urls_without_credentials():
    config = parse_config(
        "links:\n  prometheus: http://127.0.0.1:9090/\n  grafana: https://grafana.example.org/d/x\n"
    )
    assert config.links.urls() == {
        "prometheus": "http://127.0.0.1:9090",
        "grafana": "https://grafana.example.org/d/x",
    }
    for bad, why in (
        ("grafana: https://admin:hunter2@grafana.example.org", "user or password"),
        ("prometheus: ftp://prometheus", "http(s) URL"),
    ):
        with pytest.raises(ConfigError) as refused:
            parse_config(f"links:\n  {bad}\n")
        assert why in str(refused.value) and "hunter2" not in str(refused.value)
