"""capgo.cloud.capgo_device_link against the simulator, both API profiles.

Every claim is checked in the simulator's state and request log, not only in what the module reports.
Request counts of the bulk runs are printed (run with ``-s`` to see them).
"""

import math

PAGE_SIZE = 500  # the module's device-list page


def _seed_channels(sim, devices=()):
    sim.seed({
        "channels": [{"app_id": sim.app_id, "name": "production", "public": True},
                     {"app_id": sim.app_id, "name": "beta", "public": False},
                     {"app_id": sim.app_id, "name": "qa", "public": False}],
        "devices": [{"app_id": sim.app_id, "device_id": device_id, "platform": "ios"} for device_id in devices],
    })


def _overrides(sim):
    return dict((item["device_id"], item["channel"]) for item in sim.state()["overrides"] if item["app_id"] == sim.app_id)


def _count(requests, method, path="/device", single=None):
    out = [e for e in requests if e["method"] == method and e["path"].rstrip("/") == path]
    if single is not None:
        out = [e for e in out if bool((e.get("query") or {}).get("device_id")) == single]
    return len(out)


def _report(sim, label, result):
    reads = [e for e in result.requests if e["method"] == "GET"]
    print("\n[%s] %s: %d requests: GET /channel %d, GET /device list %d, GET /device single %d, POST %d, DELETE %d, "
          "429 answers %d, 5xx answers %d" % (
              sim.profile, label, len(result.requests), _count(reads, "GET", "/channel"), _count(reads, "GET", single=False),
              _count(reads, "GET", single=True), _count(result.requests, "POST"), _count(result.requests, "DELETE"),
              sum(1 for e in result.requests if e.get("status") == 429),
              sum(1 for e in result.requests if (e.get("status") or 0) >= 500)))


# -- one device --------------------------------------------------------------------------------

def test_lifecycle_upper_case_id(sim, run_playbook):
    _seed_channels(sim, devices=["qa-phone-0001"])
    result = run_playbook("device_link_lifecycle", extra_vars={"app_id": sim.app_id, "device": "QA-Phone-0001"})
    # classic allows one read per device per second: a quick run meets 429s, which are retried; count the answered calls
    answered = [e for e in result.requests if e["status"] != 429]
    writes = [(e["method"], e["body"], e["query"]) for e in answered if e["method"] != "GET"]
    # check mode and the two re-runs sent nothing; the link and the release one write each, all in a JSON body
    assert writes == [
        ("POST", {"app_id": sim.app_id, "device_id": "qa-phone-0001", "channel": "beta"}, {}),
        ("DELETE", {"app_id": sim.app_id, "device_id": "qa-phone-0001"}, {}),
    ]
    assert result.stats["changed"] == 3  # predicted link, link, release
    assert _overrides(sim) == {}
    # one channel read per link run, one device read per run
    assert _count(answered, "GET", "/channel") == 3
    assert _count(answered, "GET", single=True) == 5


def test_link_then_rerun_sends_no_write(sim, run_playbook):
    _seed_channels(sim, devices=["dev-a"])
    first = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "DEV-A", "link_channel": "beta"})
    assert first.task("Link")["changed"] is True
    assert _overrides(sim) == {"dev-a": "beta"}
    assert len(first.writes) == 1

    again = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "dev-a", "link_channel": "beta"}, diff=True)
    assert again.task("Link")["changed"] is False
    assert again.writes == []
    assert len(again.requests) == 2

    moved = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "dev-a", "link_channel": "qa"}, diff=True)
    link = moved.task("Link")
    assert link["devices"] == [{"device_id": "dev-a", "channel": "qa", "previous_channel": "beta", "changed": True, "verified": True}]
    assert link["diff"] == {"before": {"dev-a": "beta"}, "after": {"dev-a": "qa"}}
    assert _overrides(sim) == {"dev-a": "qa"}


def test_public_channel_is_refused(sim, run_playbook):
    _seed_channels(sim, devices=["dev-a"])
    result = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "dev-a", "link_channel": "production"},
                          expect_failure=True)
    msg = result.task("Link")["msg"]
    assert "non-public" in msg and "state=absent" in msg
    assert result.writes == []
    assert _overrides(sim) == {}


def test_unknown_channel_is_refused_before_any_write(sim, run_playbook):
    _seed_channels(sim, devices=["dev-a", "dev-b"])
    result = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_ids": ["dev-a", "dev-b"], "link_channel": "nope"},
                          expect_failure=True)
    assert "does not exist" in result.task("Link")["msg"]
    assert result.writes == []
    assert [(e["method"], e["path"]) for e in result.requests] == [("GET", "/channel")]


def test_bad_input_sends_no_request(sim, run_playbook):
    result = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_ids": []}, expect_failure=True)
    assert result.requests == []
    result = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "dev-a"}, expect_failure=True)
    assert "channel" in result.task("Link")["msg"]
    assert result.requests == []


def test_never_seen_device_quick_rerun_does_not_fail(sim, run_playbook):
    """A device that never checked in is written unverified; re-asserting it within the same-channel window is waited out."""
    _seed_channels(sim)
    sim.config({"same_set_window": 10})  # the real window is 60 s; the module's handling is the same
    first = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "Ghost-1", "link_channel": "beta"})
    entry = first.task("Link")["devices"][0]
    assert entry == {"device_id": "ghost-1", "channel": "beta", "previous_channel": None, "changed": True, "verified": False}
    assert _overrides(sim) == {"ghost-1": "beta"}

    again = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "ghost-1", "link_channel": "beta"})
    assert again.task("Link")["devices"][0]["verified"] is False
    posts = [e for e in again.requests if e["method"] == "POST"]
    assert posts[0]["status"] == 429  # the same-channel window was met ...
    assert posts[-1]["status"] == 200  # ... and waited out
    assert _overrides(sim) == {"ghost-1": "beta"}

    release = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "ghost-1", "link_state": "absent"})
    assert release.task("Link")["devices"][0]["verified"] is False
    assert [(e["method"], e["body"]) for e in release.writes] == [("DELETE", {"app_id": sim.app_id, "device_id": "ghost-1"})]
    assert _overrides(sim) == {}


# -- bulk ---------------------------------------------------------------------------------------

def test_bulk_1000_link_then_rerun(sim, run_playbook):
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 1000},
              "overrides": [{"app_id": sim.app_id, "device_id": "device-000010", "channel": "beta"},
                            {"app_id": sim.app_id, "device_id": "device-000020", "channel": "qa"}]})
    first = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000})
    _report(sim, "bulk link 1000, first run", first)
    devices = first.task("Link")["devices"]
    assert len(devices) == 1000
    by_id = dict((d["device_id"], d) for d in devices)
    assert by_id["device-000010"]["changed"] is False
    assert by_id["device-000020"]["previous_channel"] == "qa" and by_id["device-000020"]["changed"] is True
    assert all(d["verified"] and d["channel"] == "beta" for d in devices)
    overrides = _overrides(sim)
    assert len(overrides) == 1000 and set(overrides.values()) == {"beta"}
    # reads: ceil(N / page) list pages + the channel read; writes: exactly the 999 that differed
    reads = [e for e in first.requests if e["method"] == "GET"]
    assert len(reads) <= math.ceil(1000 / float(PAGE_SIZE)) + 1
    assert _count(reads, "GET", single=True) == 0
    assert _count(first.requests, "POST") == 999 and len(first.writes) == 999

    again = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000})
    _report(sim, "bulk link 1000, re-run", again)
    assert again.task("Link")["changed"] is False
    assert again.writes == []
    assert len(again.requests) <= math.ceil(1000 / float(PAGE_SIZE)) + 1


def test_bulk_1000_with_faults_mid_run(sim, run_playbook):
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 1000}})
    sim.faults([
        {"type": "status", "status": 503, "method": "GET", "path": "/device", "count": 1},
        {"type": "429", "retry_after": 1, "method": "POST", "path": "/device", "count": 15},
        {"type": "status", "status": 503, "method": "POST", "path": "/device", "count": 15},
        {"type": "status", "status": 502, "method": "POST", "path": "/device", "count": 5},
    ])
    extra_vars = {"app_id": sim.app_id, "bulk_count": 1000, "bulk_extra_ids": ["never-seen-1", "NEVER-SEEN-2"], "link_api_retries": 10}
    result = run_playbook("device_link_bulk", extra_vars=extra_vars)
    _report(sim, "bulk link 1000 + 2 never seen, with 36 faults", result)
    devices = result.task("Link")["devices"]
    assert len(devices) == 1002
    assert all(d["changed"] and d["channel"] == "beta" for d in devices)
    assert [d["device_id"] for d in devices if not d["verified"]] == ["never-seen-1", "never-seen-2"]
    overrides = _overrides(sim)
    assert len(overrides) == 1002 and set(overrides.values()) == {"beta"}
    faulted = [e for e in result.requests if e.get("fault")]
    assert len(faulted) == 36  # every fault was met, and still the end state is exact
    # every device got exactly one successful write
    ok_posts = [e["body"]["device_id"] for e in result.requests if e["method"] == "POST" and e.get("status") == 200]
    assert sorted(ok_posts) == sorted(overrides)

    again = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000})
    assert again.writes == []


def test_bulk_release(sim, run_playbook):
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 1000},
              "overrides": [{"app_id": sim.app_id, "device_id": "device-%06d" % n, "channel": "beta"} for n in range(1, 1001, 2)]})
    result = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000, "link_state": "absent"})
    _report(sim, "bulk release 1000 (500 pinned)", result)
    assert _overrides(sim) == {}
    assert _count(result.requests, "DELETE") == 500 and len(result.writes) == 500
    assert all(not e["query"] and set(e["body"]) == {"app_id", "device_id"} for e in result.writes)
    assert _count(result.requests, "GET", "/channel") == 0
    again = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000, "link_state": "absent"})
    assert again.writes == [] and again.task("Link")["changed"] is False


def test_bulk_in_a_far_larger_app_reads_no_more_than_single_reads(sim, run_playbook):
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 20000}})
    wanted = ["device-%06d" % n for n in (19990, 19991, 19992, 19993, 19994)]  # far apart from most pages
    result = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_ids": wanted, "link_channel": "beta"})
    _report(sim, "5 devices of 20000", result)
    device_reads = _count(result.requests, "GET")  # list pages + single reads
    assert device_reads <= len(wanted) + 1
    assert _overrides(sim) == dict((device_id, "beta") for device_id in wanted)
    assert all(d["verified"] for d in result.task("Link")["devices"])


def test_bulk_key_wide_rate_limit_pauses_every_worker(sim, run_playbook):
    """A 429 for the whole key (not one device) pauses all workers together until the key's window has passed."""
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 400}})
    # scaled down from Capgo's 2000 requests / 60 s of silence
    sim.config({"key_rate_limit": 150, "key_rate_window": 1.5})
    result = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 400, "link_api_retries": 10})
    _report(sim, "bulk link 400 under a 150-request key limit", result)
    overrides = _overrides(sim)
    assert len(overrides) == 400 and set(overrides.values()) == {"beta"}
    limited = [e for e in result.requests if e.get("status") == 429]
    assert limited, "the key limit was never reached: the test proves nothing"
    # each time the limit trips, at most the requests already in flight (one per worker) meet it
    trips = math.ceil(len(result.requests) / 149.0)
    assert len(limited) <= 8 * trips
