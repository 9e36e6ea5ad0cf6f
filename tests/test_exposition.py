"""The text exposition: what Prometheus reads must be exactly what the sources stored."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from exporter.exposition import Registry, format_value


def parse(body: bytes) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_gauge_with_labels_renders_help_type_and_escaped_values():
    r = Registry()
    g = r.gauge("vigil_test_value", "A test\nvalue.", ["camera", "name"])
    g.set(["c1", 'Cam "1" \\ back\nyard'], 1.5)
    body = r.render().decode()
    assert "# HELP vigil_test_value A test\\nvalue.\n" in body
    assert "# TYPE vigil_test_value gauge\n" in body
    assert 'vigil_test_value{camera="c1",name="Cam \\"1\\" \\\\ back\\nyard"} 1.5\n' in body
    parsed = parse(r.render())
    assert (
        parsed[("vigil_test_value", (("camera", "c1"), ("name", 'Cam "1" \\ back\nyard')))] == 1.5
    )


def test_replace_makes_partition_complete_and_drop_removes_it():
    r = Registry()
    g = r.gauge("vigil_x", "x", ["camera"])
    g.replace([(["a"], 1), (["b"], 0)], "inv")
    g.set(["z"], 5, "other")
    g.replace([(["b"], 1)], "inv")
    assert parse(r.render()) == {
        ("vigil_x", (("camera", "b"),)): 1,
        ("vigil_x", (("camera", "z"),)): 5,
    }
    g.drop("inv")
    assert parse(r.render()) == {("vigil_x", (("camera", "z"),)): 5}
    g.set(["y"], 2, "other")
    g.remove(["z"], "other")
    g.remove(["never-there"], "other")
    assert parse(r.render()) == {("vigil_x", (("camera", "y"),)): 2}
    g.drop("other")
    assert r.render() == b""  # an empty family is left out entirely


def test_render_is_cached_until_something_changes():
    r = Registry()
    g = r.gauge("vigil_x", "x", ["camera"])
    g.set(["a"], 1)
    first = r.render()
    assert r.render() is first
    g.set(["a"], 1)  # same value: no change
    assert r.render() is first
    g.set(["a"], 2)
    assert r.render() is not first
    assert parse(r.render())[("vigil_x", (("camera", "a"),))] == 2


def test_counter_requires_total_suffix_and_increments():
    r = Registry()
    c = r.counter("vigil_errors_total", "errors", ["reason"])
    c.inc(["timeout"])
    c.inc(["timeout"], 2)
    assert c.get(["timeout"]) == 3
    assert "# TYPE vigil_errors_total counter" in r.render().decode()
    try:
        r.counter("vigil_errors", "bad")
    except ValueError as exc:
        assert "_total" in str(exc)
    else:
        raise AssertionError("a counter without _total was accepted")


def test_histogram_buckets_are_cumulative():
    r = Registry()
    h = r.histogram("vigil_probe_seconds", "d", ["check"], buckets=(0.1, 1.0))
    for v in (0.05, 0.5, 0.5, 3.0):
        h.observe(["inv"], v)
    parsed = parse(r.render())
    assert parsed[("vigil_probe_seconds_bucket", (("check", "inv"), ("le", "0.1")))] == 1
    assert parsed[("vigil_probe_seconds_bucket", (("check", "inv"), ("le", "1.0")))] == 3
    assert parsed[("vigil_probe_seconds_bucket", (("check", "inv"), ("le", "+Inf")))] == 4
    assert parsed[("vigil_probe_seconds_count", (("check", "inv"),))] == 4
    assert parsed[("vigil_probe_seconds_sum", (("check", "inv"),))] == 4.05


def test_special_values():
    assert format_value(float("nan")) == "NaN"
    assert format_value(float("inf")) == "+Inf"
    assert format_value(float("-inf")) == "-Inf"
    assert format_value(3.0) == "3"
    assert format_value(1700000000.5) == "1700000000.5"


label_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
values = st.floats(allow_nan=False) | st.integers(-(10**12), 10**12).map(float)


@given(st.dictionaries(st.tuples(label_text, label_text), values, max_size=20))
def test_any_labels_and_values_round_trip_through_the_prometheus_parser(series):
    r = Registry()
    g = r.gauge("vigil_prop", "property", ["camera", "name"])
    for (cam, name), value in series.items():
        g.set([cam, name], value)
    parsed = parse(r.render())
    expected = {
        ("vigil_prop", tuple(sorted({"camera": c, "name": n}.items()))): v
        for (c, n), v in series.items()
    }
    assert parsed.keys() == expected.keys()
    for key, value in expected.items():
        got = parsed[key]
        assert got == value or (math.isinf(got) and math.isinf(value) and got == value)


@given(
    st.dictionaries(st.tuples(label_text, label_text), values, max_size=20),
    st.tuples(label_text, label_text),
)
def test_a_replaced_partition_reads_back_exactly_as_stored(series, absent):
    """A partition stored as text only still answers get(), samples(), inc() and remove()."""
    r = Registry()
    g = r.gauge("vigil_prop", "property", ["camera", "name"])
    g.replace(list(series.items()), "bulk")
    assert dict(g.samples()) == series
    assert dict(g.samples("bulk")) == series and len(g) == len(series)
    for key, value in series.items():
        assert g.get(key) == value and g.get(key, "bulk") == value
    if absent not in series:
        assert g.get(absent) is None
        g.inc(absent, 2, "bulk")  # turning the text back into series keeps every one of them
        assert dict(g.samples()) == {**series, absent: 2}
        g.remove(absent, "bulk")
    assert parse(r.render()) == parse(_rendered_by_set(series))


def _rendered_by_set(series) -> bytes:
    r = Registry()
    g = r.gauge("vigil_prop", "property", ["camera", "name"])
    for key, value in series.items():
        g.set(key, value, "bulk")
    return r.render()


def test_republishing_the_same_partition_keeps_the_rendered_body():
    r = Registry()
    g = r.gauge("vigil_x", "x", ["camera"])
    g.replace([(["a"], 1), (["b"], 2)], "inv")
    first = r.render()
    g.replace([(["a"], 1), (["b"], 2)], "inv")
    assert r.render() is first
    g.replace([(["a"], 1), (["b"], 3)], "inv")
    assert b'vigil_x{camera="b"} 3\n' in r.render()


def test_a_partition_moves_between_text_and_series_and_the_family_empties_cleanly():
    r = Registry()
    g = r.gauge("vigil_x", "x", ["camera"])
    g.replace([(["a"], 1)], "p")
    g.replace([(["b"], 2)], "q")
    g.set(["c"], 3, "p")  # p becomes single series
    assert parse(r.render()) == {
        ("vigil_x", (("camera", "a"),)): 1,
        ("vigil_x", (("camera", "c"),)): 3,
        ("vigil_x", (("camera", "b"),)): 2,
    }
    g.replace([(["d"], 4)], "p")  # and text again
    g.drop("q")
    assert parse(r.render()) == {("vigil_x", (("camera", "d"),)): 4}
    g.replace([], "p")  # an empty partition leaves no header behind
    assert r.render() == b"" and len(g) == 0
    g.set(["e"], 5, "p")
    g.remove(["e"], "p")
    assert r.render() == b""


def test_generation_moves_only_on_change_and_a_released_body_renders_the_same():
    r = Registry()
    g = r.gauge("vigil_x", "x", ["camera"])
    g.replace([(["a"], 1)], "p")
    first, generation = r.render(), r.generation
    r.release()
    assert r.generation == generation  # releasing is not a change: the web layer's gzip stays
    again = r.render()
    assert again == first and again is not first
    g.replace([(["a"], 1)], "p")  # the same text again: no change
    assert r.generation == generation
    g.replace([(["a"], 2)], "p")
    assert r.generation == generation + 1
    assert b'vigil_x{camera="a"} 2\n' in r.render()
