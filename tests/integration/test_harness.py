"""The harness itself: playbook runs reach the simulator, and its guards bite."""

import http.client
import urllib.error
import urllib.request

import pytest

import harness


def test_playbook_reaches_simulator_with_env_credentials(sim, run_playbook):
    result = run_playbook("harness_smoke", extra_vars={"app_id": sim.app_id})

    assert [record["name"] for record in result.task_records] == [
        "Read the simulator state through the admin API",
        "List channels through the public API",
        "Check that the API accepted the key",
    ]
    assert result.task("Read the simulator state through the admin API")["status"] == 200
    assert result.stats["failed"] == 0
    assert result.stats["changed"] == 0
    # Only the public API call is logged; it was a read and it was authenticated.
    api_calls = [entry for entry in result.requests if not entry["path"].startswith("/_sim")]
    assert [(entry["method"], entry["path"]) for entry in api_calls] == [("GET", "/channel")]
    assert api_calls[0]["status"] == 200
    assert result.writes == []


def test_request_log_is_reset_between_tests(sim):
    assert [entry for entry in sim.requests() if not entry["path"].startswith("/_sim")] == []


def test_mark_counts_only_new_requests(sim, run_playbook):
    run_playbook("harness_smoke", extra_vars={"app_id": sim.app_id})
    mark = sim.mark()
    assert mark > 0
    assert sim.requests(since=mark) == []
    result = run_playbook("harness_smoke", extra_vars={"app_id": sim.app_id})
    assert all(entry["seq"] > mark for entry in result.requests)
    assert len([entry for entry in result.requests if entry["path"] == "/channel"]) == 1


@pytest.mark.parametrize("profile", ["current"], indirect=True)
def test_failure_is_reported(sim, run_playbook):
    with pytest.raises(AssertionError, match="failing on purpose"):
        run_playbook("harness_fail")
    result = run_playbook("harness_fail", expect_failure=True)
    assert result.rc != 0
    assert result.stats["failed"] == 1
    assert result.task("Fail on purpose")["msg"] == "failing on purpose"


@pytest.mark.parametrize("profile", ["current"], indirect=True)
def test_success_is_refused_when_failure_expected(sim, run_playbook):
    with pytest.raises(AssertionError, match="expected .* to fail"):
        run_playbook("harness_smoke", extra_vars={"app_id": sim.app_id}, expect_failure=True)


@pytest.mark.parametrize("profile", ["current"], indirect=True)
def test_leaked_key_fails_the_run(sim, run_playbook):
    with pytest.raises(AssertionError, match="API key leaked into stdout"):
        run_playbook("harness_leak")


@pytest.mark.parametrize("profile", ["current"], indirect=True)
def test_env_override_removes_variables(sim, run_playbook):
    # Without the key the API refuses the call, so the play fails.
    result = run_playbook(
        "harness_smoke",
        extra_vars={"app_id": sim.app_id},
        env={"CAPGO_API_KEY": None},
        expect_failure=True,
    )
    assert [(entry["method"], entry["path"]) for entry in result.requests if entry["path"] == "/channel"] == [
        ("GET", "/channel")
    ]
    assert result.requests[-1]["status"] in (400, 401, 403)


def test_profile_fixture_matches_simulator(sim, profile):
    assert sim.profile == profile
    assert sim.url.startswith("http://127.0.0.1:")


@pytest.mark.profiles("latest", "classic")
def test_profiles_marker_restricts_profiles(sim, profile):
    assert profile in ("latest", "classic")
    assert sim.profile == profile


def _api(sim, method, path, body=None):
    """One public-API call without ansible (harness self-test only)."""
    data = harness._json_dumps(body).encode("utf-8") if body is not None else None
    headers = {"authorization": sim.key, "Content-Type": "application/json"}
    request = urllib.request.Request(sim.url + path, data=data, method=method, headers=headers)
    try:
        with harness._OPENER.open(request, timeout=10) as response:
            return response.status, harness._json_loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, harness._json_loads(exc.read().decode("utf-8"))


@pytest.mark.profiles("latest")
def test_settle_waits_for_a_delayed_request(sim):
    # A 'delay' fault logs its entry only after sleeping: a client that gave up (and a play that ended) can read
    # the log before it is there. The CI run of 8e63943 failed on exactly that; settle= closes the race.
    sim.fault("delay", method="GET", path="/channel", delay=1.0)
    request = urllib.request.Request(sim.url + "/channel?app_id=%s" % sim.app_id, headers={"authorization": sim.key})
    with pytest.raises((urllib.error.URLError, OSError)):
        harness._OPENER.open(request, timeout=0.2)
    assert [entry for entry in sim.requests() if entry["path"] == "/channel"] == []
    settled = [entry for entry in sim.requests(settle=5) if entry["path"] == "/channel"]
    assert [(entry["fault"], entry["status"]) for entry in settled] == [("delay", 200)]


@pytest.mark.profiles("latest", "current")
def test_fault_and_auto_pause_helpers(sim):
    sim.seed({"bundles": [{"app_id": sim.app_id, "name": n} for n in ("1.0.0", "1.1.0")],
              "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.0"}]})
    # applied, then the connection is dropped: the write is in the state, the log says so
    sim.fault("drop_after", method="POST", path="/channel", skip=1)
    assert _api(sim, "POST", "/channel", {"app_id": sim.app_id, "channel": "production", "disableAutoUpdate": "minor"})[0] == 200
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        _api(sim, "POST", "/channel", {"app_id": sim.app_id, "channel": "production", "rolloutVersion": "1.1.0",
                                       "rolloutPercentageBps": 1000, "rolloutEnabled": True})
    faulted = sim.faulted()
    assert [(entry["fault"], entry["applied"], entry["status"]) for entry in faulted] == [("drop_after", True, None)]
    channel = sim.auto_pause("production", action="pause", reason="crash rate 12%")
    assert channel["rolloutPauseReason"] == "crash rate 12%" and channel["rolloutPausedAt"]
    status, body = _api(sim, "GET", "/channel?app_id=%s&channel=production" % sim.app_id)
    assert status == 200 and body["rolloutPauseReason"] == "crash rate 12%" and body["rollout_version_info"]["name"] == "1.1.0"
    rolled = sim.auto_pause("production", action="rollback", reason="too many failures")
    assert rolled["rollout_version"] is None and rolled["rolloutPauseReason"] == "too many failures"


@pytest.mark.profiles("latest")
def test_chaos_helper_is_seeded(sim):
    def run():
        sim.reset()
        sim.chaos(0.5, seed=7, kinds=["503", "429"])
        statuses = [_api(sim, "GET", "/channel?app_id=%s" % sim.app_id)[0] for dummy in range(20)]
        return statuses, sim.stop_chaos()
    first, report = run()
    assert run()[0] == first
    assert sum(report["injected"].values()) == len([s for s in first if s != 200]) > 0
    assert set(first) <= {200, 429, 503}
