"""SPEC 2.1: n > 1 runs n upstream calls in parallel; partial failure gives
200 with the successes plus a top-level "errors" list; total failure gives
the error of the first failure."""
import itertools
import time

from conftest import assert_error, decode_image

_seq = itertools.count()


def uniq(directives="", prompt="a paper lantern"):
    return f"{prompt} #{next(_seq)} {directives}".strip()


def upstream_events(gateway, r):
    rid = r.header("x-request-id")
    return [e for e in gateway.log_events("upstream") if e.get("request_id") == rid]


def request_event(gateway, r):
    rid = r.header("x-request-id")
    evs = gateway.wait_log(lambda e: e.get("event") == "request" and e.get("request_id") == rid)
    assert len(evs) == 1, evs
    return evs[0]


def run_parallel(gateway, mock, n, limit):
    p = uniq("mock:delay=1")
    t0 = time.monotonic()
    r = gateway.generate(prompt=p, n=n, size="1792x1024")
    elapsed = time.monotonic() - t0
    assert r.status == 200, r
    body = r.json()
    assert len(body["data"]) == n
    assert body["usage"] == {"images": n, "cached": 0}
    assert "errors" not in body
    for item in body["data"]:
        assert decode_image(item)[:8] == b"\x89PNG\r\n\x1a\n"
        assert item["revised_prompt"] == p
    assert elapsed >= 1.0, elapsed  # the mock really did wait
    assert elapsed < limit, f"n={n} took {elapsed:.2f}s: calls were not parallel"
    recs = mock.requests()
    assert len(recs) == n
    # every call is the same request (Gemini rejects candidateCount > 1) ...
    for rec in recs:
        gc = rec["body"]["generationConfig"]
        assert gc["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
        assert gc.get("candidateCount", 1) == 1
        assert rec["body"]["contents"][0]["parts"] == [{"text": p}]
    # ... and they all reached the mock at about the same time
    times = sorted(rec["time"] for rec in recs)
    assert times[-1] - times[0] < 0.5, times
    ups = upstream_events(gateway, r)
    assert sorted(e["index"] for e in ups) == list(range(n))
    assert request_event(gateway, r)["n"] == n


def test_n4_runs_in_parallel(gateway, mock):
    run_parallel(gateway, mock, 4, 1.8)


def test_n10_runs_in_parallel(gateway, mock):
    run_parallel(gateway, mock, 10, 2.5)


def test_partial_failure_reports_errors(gateway, mock):
    # the first two calls with this prompt get a (non-retried) 400, the rest succeed
    r = gateway.generate(prompt=uniq("mock:fail=400x2"), n=4)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"created", "data", "usage", "errors"}, body.keys()
    assert len(body["data"]) == 2
    assert body["usage"] == {"images": 2, "cached": 0}
    for item in body["data"]:
        assert decode_image(item)[:8] == b"\x89PNG\r\n\x1a\n"
    errors = body["errors"]
    assert len(errors) == 2
    for e in errors:
        assert set(e) == {"index", "code", "message"}, e
        assert isinstance(e["index"], int) and 0 <= e["index"] < 4
        assert e["code"] == "IMG_INVALID_REQUEST"
        assert "Multiple candidates is not enabled" in e["message"], e
    assert len({e["index"] for e in errors}) == 2
    assert [e["index"] for e in errors] == sorted(e["index"] for e in errors)
    assert mock.count() == 4  # a 400 is not retried
    # the indices reported are the slots whose upstream call failed
    ups = upstream_events(gateway, r)
    failed = sorted(e["index"] for e in ups if e.get("upstream_status") == 400)
    assert failed == [e["index"] for e in errors]
    assert r.header("x-imagegw-image-size") == "2K"
    assert r.header("x-imagegw-aspect-ratio") == "1:1"
    ev = request_event(gateway, r)
    assert ev["status"] == 200 and ev["n"] == 4


def test_retried_slot_does_not_count_as_failure(gateway, mock):
    r = gateway.generate(prompt=uniq("mock:fail=503x1"), n=3)
    assert r.status == 200, r
    body = r.json()
    assert len(body["data"]) == 3
    assert "errors" not in body
    assert mock.count() == 4
    assert request_event(gateway, r)["retry_count"] == 1


def test_all_failing_gives_the_error(gateway, mock):
    r = gateway.generate(prompt=uniq("mock:status=400"), n=3)
    err = assert_error(r, "IMG_INVALID_REQUEST")
    assert "Multiple candidates is not enabled" in err["message"]
    assert b'"data"' not in r.body and b'"errors"' not in r.body
    assert mock.count() == 3


def test_all_failing_gives_the_first_slots_error(gateway, mock):
    # one call gets 429, the other 400; which slot gets which is a race, so
    # read it from the upstream events and expect slot 0's error
    r = gateway.generate(prompt=uniq("mock:fail=429x1 mock:status=400"), n=2)
    ups = upstream_events(gateway, r)
    by_index = {e["index"]: e["upstream_status"] for e in ups}
    assert sorted(by_index.values()) == [400, 429], ups
    if by_index[0] == 429:
        assert_error(r, "IMG_QUOTA_EXHAUSTED")
        assert r.header("retry-after") == "30"
    else:
        assert_error(r, "IMG_INVALID_REQUEST")
    assert mock.count() == 2
