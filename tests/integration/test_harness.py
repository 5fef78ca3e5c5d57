"""The harness itself: playbook runs reach the simulator, and its guards bite."""

import pytest


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
