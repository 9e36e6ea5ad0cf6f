"""Stale predictions with deferred hashing: the same answers as hashing every rewritten row at
every poll, never an alert the every-poll way would not raise, and a fraction of the hashing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.sources.analytics.tracking import PredictionWatch

ACTIVE = "active"
INTERVAL = 30.0
STALE_AFTER = 300.0


class EveryPoll:
    """The reference: hashes every rewritten active scenario at every poll."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, float]] = {}

    def poll(self, content: dict[str, int], rewritten: set[str], now: float) -> set[str]:
        new = {}
        for scenario, digest in content.items():
            old = self.seen.get(scenario)
            changed = old is None or (scenario in rewritten and digest != old[0])
            new[scenario] = (digest, now) if changed else old
        self.seen = new
        return {s for s, (_, when) in new.items() if now - when > STALE_AFTER}


def run_watch(watch: PredictionWatch, content: dict[str, int], rewritten: set[str], now: float):
    rows = [(s, ACTIVE, s in rewritten) for s in content]
    due = watch.observe(rows, active=ACTIVE, now=now)
    watch.record({s: content[s] for s in due})
    _, listed = watch.stale(now, 10_000)
    return {s for s, _ in listed}, due


# per scenario and poll: 0 untouched, 1 rewritten with new predictions, 2 rewritten unchanged
histories = st.lists(
    st.lists(st.sampled_from([0, 1, 2]), min_size=30, max_size=30), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(histories)
def test_never_an_alert_the_every_poll_way_would_not_raise(history):
    watch, reference = PredictionWatch(STALE_AFTER, INTERVAL), EveryPoll()
    content = {f"s{i}": 0 for i in range(len(history))}
    for poll in range(30):
        now = 1000.0 + poll * INTERVAL
        rewritten = set()
        for i, events in enumerate(history):
            if poll and events[poll]:
                rewritten.add(f"s{i}")
                content[f"s{i}"] += events[poll] == 1
        got, _ = run_watch(watch, content, rewritten if poll else set(content), now)
        expected = reference.poll(content, rewritten, now)
        assert got <= expected, f"poll {poll}: invented {got - expected}"


@settings(max_examples=150, deadline=None)
@given(histories.map(lambda h: [[min(e, 1) for e in events] for events in h]))
def test_the_same_stale_scenarios_when_every_rewrite_changes_the_predictions(history):
    watch, reference = PredictionWatch(STALE_AFTER, INTERVAL), EveryPoll()
    content = {f"s{i}": 0 for i in range(len(history))}
    for poll in range(30):
        now = 1000.0 + poll * INTERVAL
        rewritten = {f"s{i}" for i, events in enumerate(history) if poll and events[poll]}
        for s in rewritten:
            content[s] += 1
        got, _ = run_watch(watch, content, rewritten if poll else set(content), now)
        assert got == reference.poll(content, rewritten, now), f"poll {poll}"


def test_a_platform_that_keeps_predicting_is_hashed_a_cycle_at_a_time():
    watch = PredictionWatch(STALE_AFTER, INTERVAL)
    assert watch.cycle == 8  # (300 s - 2 x 30 s) / 30 s
    content = {f"s{i}": 0 for i in range(8000)}
    hashed = []
    for poll in range(20):
        now = poll * INTERVAL
        rewritten = set(content)
        for s in content:
            content[s] += 1
        got, due = run_watch(watch, content, rewritten, now)
        assert got == set()
        hashed.append(len(due))
    assert hashed[0] == 8000  # the first poll: every hash to compare with later
    assert all(800 <= n <= 1200 for n in hashed[1:]), hashed  # about 1/8 each poll after


def test_a_runner_rewriting_the_same_predictions_goes_stale_without_a_poll_of_delay():
    watch = PredictionWatch(STALE_AFTER, INTERVAL)
    content = {"stuck-runner": 7, "frozen": 1}
    stale_at = {}
    for poll in range(15):
        now = poll * INTERVAL
        got, _ = run_watch(watch, content, {"stuck-runner"} if poll else set(content), now)
        for s in got:
            stale_at.setdefault(s, now)
    assert stale_at == {"stuck-runner": 330.0, "frozen": 330.0}  # first poll past 300 s


def test_a_short_stale_after_hashes_every_rewritten_row_every_poll():
    watch = PredictionWatch(stale_after=60, interval=30)
    assert watch.cycle == 1
    due = watch.observe([("a", ACTIVE, True), ("b", "stopped", True)], active=ACTIVE, now=0)
    watch.record({"a": 1})
    assert due == ["a"]
    assert watch.observe([("a", ACTIVE, True)], active=ACTIVE, now=30) == ["a"]
    assert watch.observe([("a", ACTIVE, False)], active=ACTIVE, now=60) == ["a"]  # unhashed


def test_without_xmin_every_active_scenario_is_hashed_every_poll():
    watch = PredictionWatch(STALE_AFTER, INTERVAL)
    rows = [(f"s{i}", ACTIVE, True) for i in range(100)]
    for poll in range(3):
        due = watch.observe(rows, False, active=ACTIVE, now=poll * INTERVAL)
        assert len(due) == 100
        watch.record(dict.fromkeys(due, poll))
