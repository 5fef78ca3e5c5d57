"""capgo.cloud.capgo_device_link against the simulator, on the API profiles.

Every claim is checked in the simulator's state and request log, not only in what the module reports.
Request counts of the bulk runs are printed (run with ``-s`` to see them).

The bulk tests (1,000 to 20,000 devices) run on ``latest`` and ``classic`` only: the device endpoints of
``current`` and ``latest`` are the same code (12.1 changes only how long overrides last), while ``classic``
lists devices in another order, repeats them across pages, answers 429 without saying why or for how long, and
allows one operation per device per second; the two cover both device-list generations at a third of the cost.
"""

import json
import math
import urllib.request
import uuid

import pytest

PAGE_SIZE = 100  # the module's device-list page (plugins/module_utils/devices.py DEVICE_LIST_LIMIT)
BULK_PROFILES = ("latest", "classic")
UUID_NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def _seed_channels(sim, devices=()):
    sim.seed({
        "channels": [{"app_id": sim.app_id, "name": "production", "public": True},
                     {"app_id": sim.app_id, "name": "beta", "public": False},
                     {"app_id": sim.app_id, "name": "qa", "public": False}],
        "devices": [{"app_id": sim.app_id, "device_id": device_id, "platform": "ios"} for device_id in devices],
    })


def _uuid_ids(count):
    """UUID device ids, like the ones Capgo's updater plugin reports."""
    return [str(uuid.uuid5(UUID_NAMESPACE, "device-%06d" % number)) for number in range(count)]


def _seed_pinned(sim, device_ids, channel="beta"):
    _seed_channels(sim)
    sim.seed({
        "devices": [{"app_id": sim.app_id, "device_id": device_id, "platform": "android"} for device_id in device_ids],
        "overrides": [{"app_id": sim.app_id, "device_id": device_id, "channel": channel} for device_id in device_ids],
    })


def _overrides(sim):
    return dict((item["device_id"], item["channel"]) for item in sim.state()["overrides"] if item["app_id"] == sim.app_id)


def _count(requests, method, path="/device", single=None):
    out = [e for e in requests if e["method"] == method and e["path"].rstrip("/") == path]
    if single is not None:
        out = [e for e in out if bool((e.get("query") or {}).get("device_id")) == single]
    return len(out)


def _list_pages(requests):
    return [e for e in requests if e["method"] == "GET" and e["path"].rstrip("/") == "/device"
            and not (e.get("query") or {}).get("device_id")]


def _report(sim, label, result):
    reads = [e for e in result.requests if e["method"] == "GET"]
    print("\n[%s] %s: %d requests: GET /channel %d, GET /device list %d, GET /device single %d, POST %d, DELETE %d, "
          "429 answers %d, 5xx answers %d" % (
              sim.profile, label, len(result.requests), _count(reads, "GET", "/channel"), _count(reads, "GET", single=False),
              _count(reads, "GET", single=True), _count(result.requests, "POST"), _count(result.requests, "DELETE"),
              sum(1 for e in result.requests if e.get("status") == 429),
              sum(1 for e in result.requests if (e.get("status") or 0) >= 500)))


def _vars_file(tmp_path, name, data):
    """Extra vars through a file: thousands of device ids do not fit one command-line argument."""
    path = tmp_path / ("%s.json" % name)
    path.write_text(json.dumps(data))
    return ["--extra-vars", "@%s" % path]


def _applied_per_device(requests, method):
    applied = {}
    for entry in requests:
        if entry["method"] == method and entry["path"].rstrip("/") == "/device" and entry.get("applied") \
                and (entry.get("handler_status") or entry.get("status")) == 200:
            device_id = entry["body"]["device_id"]
            applied[device_id] = applied.get(device_id, 0) + 1
    return applied


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
    link = result.task("Link")
    assert "non-public" in link["msg"] and "state=absent" in link["msg"]
    assert link["changed"] is False and not any(name in link for name in ("status", "error", "api_message"))
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


def test_never_seen_device_quick_rerun_does_not_wait_out_the_same_channel_window(sim, run_playbook):
    """A device that never checked in is written unverified; re-asserting it within Capgo's 60 s same-channel
    window is not waited out: the 429 says the override was set within the last minute."""
    _seed_channels(sim)
    first = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "Ghost-1", "link_channel": "beta"})
    link = first.task("Link")
    assert link["devices"] == [{"device_id": "ghost-1", "channel": "beta", "previous_channel": None, "changed": True, "verified": False}]
    assert any("never checked in" in warning and "ghost-1" in warning for warning in link.get("warnings", []))
    assert _overrides(sim) == {"ghost-1": "beta"}

    again = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "ghost-1", "link_channel": "beta"})
    link = again.task("Link")
    assert link["devices"][0]["verified"] is False and link["changed"] is True  # a write was sent
    # the window (the real 60 s) was met once and decided by one read, never waited out and sent again
    assert [(e["method"], e["path"], e["status"]) for e in again.requests] == [
        ("GET", "/channel", 200), ("GET", "/device", 404), ("POST", "/device", 429), ("GET", "/device", 404)]
    assert any("60-second" in warning for warning in link.get("warnings", []))
    assert _overrides(sim) == {"ghost-1": "beta"}

    release = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "ghost-1", "link_state": "absent"})
    assert release.task("Link")["devices"][0]["verified"] is False
    assert [(e["method"], e["body"]) for e in release.writes] == [("DELETE", {"app_id": sim.app_id, "device_id": "ghost-1"})]
    assert _overrides(sim) == {}


def test_lost_answers_are_confirmed_by_a_read_not_sent_again(sim, run_playbook):
    _seed_channels(sim, devices=["dev-a"])
    sim.fault("drop_after", method="POST", path="/device")
    link = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "dev-a", "link_channel": "beta"})
    assert link.task("Link")["changed"] is True
    # (classic answers the read-back 429 within a second of the write to the same device: waited out, read again)
    assert [(e["method"], e.get("fault")) for e in link.requests if e["path"] == "/device" and e.get("status") != 429] == [
        ("GET", None), ("POST", "drop_after"), ("GET", None)]
    assert _overrides(sim) == {"dev-a": "beta"}

    sim.fault("status_after", status=504, method="DELETE", path="/device")
    release = run_playbook("device_link_one", extra_vars={"app_id": sim.app_id, "link_device_id": "dev-a", "link_state": "absent"})
    assert release.task("Link")["changed"] is True
    assert _count(release.requests, "DELETE") == 1
    assert _overrides(sim) == {}


# -- fleets of pinned UUID devices (issue 12: override lookups that fail on large pages) ---------

def test_guard_a_page_of_500_uuids_loses_every_override(sim):
    """What the page size must avoid, planted: this simulator drops every channel of a 500-UUID list page."""
    device_ids = _uuid_ids(500)
    _seed_pinned(sim, device_ids)
    request = urllib.request.Request("%s/device?app_id=%s&limit=500" % (sim.url, sim.app_id), headers={"authorization": sim.key})
    with urllib.request.urlopen(request, timeout=30) as answer:  # nosec - the local simulator
        body = json.loads(answer.read().decode("utf-8"))
    assert len(body["data"]) == 500 and not any(item.get("channel") for item in body["data"])
    assert _list_pages(sim.requests())[-1].get("override_lookup_failed") is True


def _pinned_fleet(sim, run_playbook, tmp_path, count):
    device_ids = _uuid_ids(count)
    _seed_pinned(sim, device_ids)
    # Capgo's key limit (2,000 requests, reset only after 60 s without one) would pause a 5,000-write run twice
    # for a minute; that pause has its own test below
    sim.config({"key_rate_limit": 1000000})
    pages = int(math.ceil(count / float(PAGE_SIZE)))
    wanted = [device_id.upper() if number % 2 else device_id for number, device_id in enumerate(device_ids)]

    reassert = run_playbook("device_link_one", extra_args=_vars_file(tmp_path, "reassert", {
        "app_id": sim.app_id, "link_device_ids": wanted, "link_channel": "beta"}))
    _report(sim, "%d pinned UUID devices, re-assert" % count, reassert)
    link = reassert.task("Link")
    assert link["changed"] is False and reassert.writes == []
    assert all(d["previous_channel"] == "beta" and d["verified"] for d in link["devices"])
    listed = _list_pages(reassert.requests)
    assert all(int(e["query"]["limit"]) <= PAGE_SIZE for e in listed)
    assert not any(e.get("override_lookup_failed") for e in reassert.requests)
    if sim.profile == "classic":
        # classic's cursor skips the devices that share the cursor's second (capgo-api.md 11 #4): the list ends
        # early, and every device no page showed is read on its own rather than taken for never seen
        singles = [e for e in reassert.requests if (e.get("query") or {}).get("device_id")]
        assert len(listed) < pages and 0 < len(singles) < count
        assert len(reassert.requests) == len(listed) + 1 + len(singles)
    else:
        assert len(listed) == pages
        assert len(reassert.requests) == pages + 1  # the list and the channel check, no single read

    release = run_playbook("device_link_one", extra_args=_vars_file(tmp_path, "release", {
        "app_id": sim.app_id, "link_device_ids": wanted, "link_state": "absent"}))
    _report(sim, "%d pinned UUID devices, release" % count, release)
    assert release.task("Link")["changed"] is True
    assert all(d["changed"] and d["previous_channel"] == "beta" and d["channel"] is None for d in release.task("Link")["devices"])
    assert _overrides(sim) == {}
    assert _applied_per_device(release.requests, "DELETE") == dict((device_id, 1) for device_id in device_ids)
    assert all(not e["query"] and set(e["body"]) == {"app_id", "device_id"} for e in release.writes)

    again = run_playbook("device_link_one", extra_args=_vars_file(tmp_path, "again", {
        "app_id": sim.app_id, "link_device_ids": wanted, "link_state": "absent"}))
    _report(sim, "%d released UUID devices, release again" % count, again)
    assert again.task("Link")["changed"] is False and again.writes == []
    if sim.profile != "classic":
        assert len(again.requests) == pages


def test_500_pinned_uuid_devices_reassert_then_release(sim, run_playbook, tmp_path):
    _pinned_fleet(sim, run_playbook, tmp_path, 500)


@pytest.mark.profiles(*BULK_PROFILES)
def test_5000_pinned_uuid_devices_reassert_then_release(sim, run_playbook, tmp_path):
    _pinned_fleet(sim, run_playbook, tmp_path, 5000)


# -- bulk ---------------------------------------------------------------------------------------

@pytest.mark.profiles(*BULK_PROFILES)
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
    assert len(reads) == math.ceil(1000 / float(PAGE_SIZE)) + 1
    assert _count(reads, "GET", single=True) == 0
    assert _count(first.requests, "POST") == 999 and len(first.writes) == 999

    again = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000})
    _report(sim, "bulk link 1000, re-run", again)
    assert again.task("Link")["changed"] is False
    assert again.writes == []
    assert len(again.requests) == math.ceil(1000 / float(PAGE_SIZE)) + 1


@pytest.mark.profiles(*BULK_PROFILES)
def test_bulk_1000_with_faults_mid_run(sim, run_playbook):
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 1000}})
    sim.faults([
        {"type": "status", "status": 503, "method": "GET", "path": "/device", "count": 1},
        {"type": "429", "retry_after": 1, "method": "POST", "path": "/device", "count": 15},
        {"type": "status", "status": 503, "method": "POST", "path": "/device", "count": 10},
        {"type": "status", "status": 502, "method": "POST", "path": "/device", "count": 5},
        {"type": "drop_after", "method": "POST", "path": "/device", "count": 5, "skip": 100},
        {"type": "status_after", "status": 504, "method": "POST", "path": "/device", "count": 5, "skip": 300},
    ])
    extra_vars = {"app_id": sim.app_id, "bulk_count": 1000, "bulk_extra_ids": ["never-seen-1", "NEVER-SEEN-2"], "link_api_retries": 10}
    result = run_playbook("device_link_bulk", extra_vars=extra_vars)
    _report(sim, "bulk link 1000 + 2 never seen, with 41 faults", result)
    devices = result.task("Link")["devices"]
    assert len(devices) == 1002
    assert all(d["changed"] and d["channel"] == "beta" for d in devices)
    assert [d["device_id"] for d in devices if not d["verified"]] == ["never-seen-1", "never-seen-2"]
    overrides = _overrides(sim)
    assert len(overrides) == 1002 and set(overrides.values()) == {"beta"}
    faulted = [e for e in result.requests if e.get("fault")]
    assert len(faulted) == 41  # every fault was met, and still the end state is exact
    # every device was set exactly once: a write whose answer was lost was read back, not applied again
    assert _applied_per_device(result.requests, "POST") == dict((device_id, 1) for device_id in overrides)
    lost = [e["body"]["device_id"] for e in faulted if e["fault"] in ("drop_after", "status_after")]
    assert all(_count([e for e in result.requests if (e.get("body") or {}).get("device_id") == device_id], "POST") == 1
               for device_id in lost if not device_id.startswith("never-seen"))

    again = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000})
    assert again.writes == []


@pytest.mark.profiles(*BULK_PROFILES)
def test_bulk_release(sim, run_playbook):
    _seed_channels(sim)
    sim.seed({"generate": {"app_id": sim.app_id, "devices": 1000},
              "overrides": [{"app_id": sim.app_id, "device_id": "device-%06d" % n, "channel": "beta"} for n in range(1, 1001, 2)]})
    sim.faults([{"type": "drop_after", "method": "DELETE", "path": "/device", "count": 3, "skip": 50}])
    result = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000, "link_state": "absent"})
    _report(sim, "bulk release 1000 (500 pinned, 3 answers lost)", result)
    assert _overrides(sim) == {}
    assert _count(result.requests, "DELETE") == 500 and len(result.writes) == 500
    assert all(not e["query"] and set(e["body"]) == {"app_id", "device_id"} for e in result.writes)
    assert _count(result.requests, "GET", "/channel") == 0
    again = run_playbook("device_link_bulk", extra_vars={"app_id": sim.app_id, "bulk_count": 1000, "link_state": "absent"})
    assert again.writes == [] and again.task("Link")["changed"] is False


@pytest.mark.profiles(*BULK_PROFILES)
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


@pytest.mark.profiles(*BULK_PROFILES)
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
    assert _applied_per_device(result.requests, "POST") == dict((device_id, 1) for device_id in overrides)
