"""log, timefmt and backoff: small pure modules, checked on CPython and MicroPython."""

import calendar
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from drsagent import backoff, log, timefmt
from script_server import needs_micropython

from host_tests.fake_tokens import ACCESS, REFRESH

# -- timefmt --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1767225600, "2026-01-01T00:00:00Z"),
        (951782400, "2000-02-29T00:00:00Z"),
        (4107542399, "2100-02-28T23:59:59Z"),
        (4133980799, "2100-12-31T23:59:59Z"),
        (1767225600.9, "2026-01-01T00:00:00Z"),
    ],
)
def test_iso_known_values(t, text):
    assert timefmt.iso(t) == text
    # the device only formats; the round trip is checked with CPython's parser
    assert calendar.timegm(datetime.fromisoformat(text).utctimetuple()) == int(t)


def test_iso_matches_the_stdlib_across_1970_2100():
    rng = random.Random(7)
    start = datetime(1970, 1, 1, tzinfo=UTC)
    end = int(datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    samples = [rng.randrange(0, end) for _ in range(3000)]
    # every Feb 28/29/Mar 1 boundary as well
    for y in range(1970, 2101):
        for m, d in ((2, 28), (3, 1), (12, 31)):
            samples.append(calendar.timegm((y, m, d, 23, 59, 59)))
    for t in samples:
        want = (start + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert timefmt.iso(t) == want


# -- backoff --------------------------------------------------------------------------


def test_backoff_grows_and_is_capped():
    lo = [backoff.delay(a, base=60, cap=3600, rand=lambda: 0.0) for a in range(10)]
    hi = [backoff.delay(a, base=60, cap=3600, rand=lambda: 0.999999) for a in range(10)]
    assert lo == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800]
    assert hi == [59, 119, 239, 479, 959, 1919, 3599, 3599, 3599, 3599]
    assert backoff.delay(10_000, base=60, cap=86400, rand=lambda: 0.5) <= 86400


def test_backoff_is_jittered_with_the_default_random_source():
    values = {backoff.delay(6, base=60, cap=86400) for _ in range(50)}
    assert len(values) > 10  # spread, not one fixed value
    assert all(1920 <= v < 3840 for v in values)


def test_backoff_never_zero_and_handles_negative_attempts():
    assert backoff.delay(0, base=1, cap=10, rand=lambda: 0.0) == 1
    assert backoff.delay(-3, base=60, rand=lambda: 0.0) == 30


# -- log ------------------------------------------------------------------------------

LEAKY = [
    (f"Authorization: Bearer {ACCESS}FAKEIA-abc_def.ghi", f"{ACCESS}FAKEIA"),
    (f"refresh with {REFRESH}FAKEIQ0123456789 failed", f"{REFRESH}FAKEIQ"),
    (f'{{"access_token":"{ACCESS}xyz","refresh_token":"{REFRESH}uvw","expires_in":3600}}', "xyz"),
    ("grant_type=refresh_token&refresh_token=Atzr%7Cabc123&client_secret=c0ffee99", "c0ffee99"),
    ("client_secret: 'hush hush'", "hush"),
    ("token=opaque-value-42", "opaque-value-42"),
    ("bearer lowercase-token-1", "lowercase-token-1"),
    ("amzn1.oa2-cs.v1.0123abcd", "0123abcd"),
]


@pytest.mark.parametrize(("text", "secret"), LEAKY)
def test_scrub_masks_token_like_text(text, secret):
    out = log.scrub(text)
    assert secret not in out
    assert "***" in out


def test_scrub_leaves_ordinary_text_alone():
    text = "slot toner-black: HTTP 429 (retry in 120 s); InvalidTokenException seen"
    assert log.scrub(text) == text


def test_scrub_masks_registered_secret_values():
    log.secret("test.value", "plain-looking-secret")
    try:
        assert log.scrub("oops plain-looking-secret leaked") == "oops *** leaked"
    finally:
        log.secret("test.value", None)
    assert log.scrub("plain-looking-secret") == "plain-looking-secret"


def test_log_lines_and_events_pass_through_scrub(captured_log):
    events = []
    log.info("hello")
    log.warn(f"sending Bearer {ACCESS}zzz")
    log.error("boom")
    log.emit("net_error", op="replenish", kind="Throttled", msg=f"token: {ACCESS}qq")
    assert captured_log == [
        "I hello",
        "W sending Bearer ***",
        "E boom",
        captured_log[3],
    ]
    assert captured_log[3].startswith("I event ")
    ev = json.loads(captured_log[3][len("I event ") :])
    assert ev == {"ev": "net_error", "op": "replenish", "kind": "Throttled", "msg": "token: ***"}
    log.set_event_sink(events.append)
    try:
        log.emit("boot", t=5, boots=2)
    finally:
        log.set_event_sink(None)
    assert events == [{"ev": "boot", "t": 5, "boots": 2}]
    assert len(captured_log) == 4  # the event went to the event sink only


def test_default_log_sink_is_stderr(capsys):
    log.warn(f"to stderr {REFRESH}abc")
    err = capsys.readouterr().err
    assert err == f"W to stderr {REFRESH}***\n"


@pytest.mark.micropython
@needs_micropython
def test_basics_on_micropython(mpy):
    snippet = """
        import json
        from drsagent import backoff, log, timefmt
        r = {}
        r["iso"] = [timefmt.iso(t) for t in (0, 1767225600, 4133980799)]
        r["backoff"] = [backoff.delay(a, rand=lambda: 0.0) for a in range(4)]
        r["jitter"] = len(set(backoff.delay(8) for _ in range(30)))
        lines = []
        log.set_log_sink(lines.append)
        log.warn("x Bearer FAKE_TOKEN y")
        log.emit("net_error", op="lwa", kind="AuthError")
        r["lines"] = lines
        print(json.dumps(r))
        """
    out = mpy(snippet.replace("FAKE_TOKEN", ACCESS + "abc"))
    r = json.loads(out)
    assert r["iso"] == ["1970-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2100-12-31T23:59:59Z"]
    assert r["backoff"] == [30, 60, 120, 240]
    assert r["jitter"] > 5
    assert r["lines"][0] == "W x Bearer *** y"
    assert json.loads(r["lines"][1][len("I event ") :]) == {
        "ev": "net_error",
        "op": "lwa",
        "kind": "AuthError",
    }


def test_compiled_modules_carry_their_dotted_name_as_source(mpy):
    """A traceback names the module (drsagent.backoff), and the compiled tree adds no
    second name per module (drsagent/backoff.py) to the interned names."""
    out = mpy(
        """
        import sys
        from drsagent import backoff
        try:
            backoff.delay(1, None, None)
        except TypeError as e:
            sys.print_exception(e, sys.stdout)
        import micropython
        micropython.qstr_info(1)
        """,
        compiled=True,
    )
    assert 'File "drsagent.backoff", line' in out
    assert "drsagent/backoff.py" not in out


def test_boot_compact_copies_and_shares_equal_keys(mpy):
    """boot.compact: an equal copy in which the slots' repeated key names are one string
    each (MicroPython's json.loads makes a string per key of each dict)."""
    out = mpy(
        """
        import json
        from drsagent.boot import compact
        text = '{"slots": [{"refill_grace_days": 1, "sensor": {"stuck_readings": 48}},'
        text += ' {"refill_grace_days": 2.5, "sensor": {"stuck_readings": 9}}], "x": null}'
        parsed = json.loads(text)
        copy = compact(parsed)
        a, b = copy["slots"]
        shared = [k for k in a if k in b and [j for j in b if j == k][0] is k]
        print(json.dumps([copy == parsed, copy is not parsed, sorted(shared)]))
        """
    )
    assert json.loads(out) == [True, True, ["refill_grace_days", "sensor"]]
