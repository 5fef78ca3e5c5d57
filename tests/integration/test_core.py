"""The core's promises, proven with real playbook runs: key hygiene, settings checked before any request,
retries that respect a time budget, and failures that tell the truth about writes."""

import pytest

PLAYBOOK = "core_connection"


def _output(result):
    return result.stdout + result.stderr


def _key_forms(key):
    """Every way the key could be printed: raw, escaped with its newline, as bytes, split around a planted char."""
    return [key, repr(key + "\n")[1:-1], repr((key + "\n").encode())[2:-1], key[:12], key[12:]]


def _failure_message(result, task):
    return result.task(task)["msg"]


def test_key_with_trailing_newline_works_and_appears_nowhere_at_vvvv(sim, run_playbook):
    ok = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, verbosity=4, env={"CAPGO_API_KEY": sim.key + "\n"})
    assert not ok.task("Read the channels").get("failed")
    assert [r["status"] for r in ok.requests] == [200]
    # and on a failure path too: the same key, a channel the key may not create
    failed = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.other_app_id, "core_channel": "beta"}, verbosity=4,
                          env={"CAPGO_API_KEY": sim.key + "\n"}, expect_failure=True)
    for result in (ok, failed):
        for form in _key_forms(sim.key):
            assert form not in _output(result)


@pytest.mark.parametrize("planted, words", [
    ("\x07", "control character"),
    (" ", "whitespace"),
])
def test_key_with_a_character_inside_fails_before_any_request_without_echoing_it(sim, run_playbook, planted, words):
    key = sim.key[:12] + planted + sim.key[12:]
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, verbosity=4, env={"CAPGO_API_KEY": key},
                          expect_failure=True)
    assert result.requests == []
    message = _failure_message(result, "Read the channels")
    assert words in message and "not shown" in message
    for form in _key_forms(sim.key):
        assert form not in _output(result)


def test_bearer_prefix_is_refused_before_any_request(sim, run_playbook):
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, env={"CAPGO_API_KEY": "Bearer " + sim.key},
                          expect_failure=True)
    assert result.requests == []
    assert "Bearer" in _failure_message(result, "Read the channels")


def test_bad_api_url_fails_cleanly_before_any_request(sim, run_playbook):
    bare = sim.url.split("://", 1)[1]  # 127.0.0.1:PORT: the simulator would answer if anything were sent
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, env={"CAPGO_API_URL": bare},
                          expect_failure=True)
    assert result.requests == []
    message = _failure_message(result, "Read the channels")
    assert repr(bare) in message and "https://" + bare in message
    assert "Traceback" not in _output(result)


def test_stale_api_url_names_the_url_it_tried(sim, run_playbook):
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id, "core_retries": 0},
                          env={"CAPGO_API_URL": "http://127.0.0.1:9"}, expect_failure=True)
    message = _failure_message(result, "Read the channels")
    assert "http://127.0.0.1:9" in message and "CAPGO_API_URL" in message


NO_RETRY_AFTER_ON_CLASSIC = pytest.mark.profiles("latest", "current")  # classic's 429 has no Retry-After, no reason


@NO_RETRY_AFTER_ON_CLASSIC
def test_retry_after_900_fails_within_one_request_naming_the_wait(sim, run_playbook):
    sim.faults([{"type": "429", "retry_after": 900, "method": "GET", "path": "/channel"}])
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, expect_failure=True)
    assert len(result.requests) == 1
    message = _failure_message(result, "Read the channels")
    assert "900 s" in message and "api_retry_budget (300 s)" in message


@NO_RETRY_AFTER_ON_CLASSIC
def test_failed_login_block_fails_at_once_saying_blocked_and_fix_the_key(sim, run_playbook):
    sim.config({"failed_auth_limit": 2})
    for dummy in range(2):
        bad = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, env={"CAPGO_API_KEY": "wrong-key-0000"},
                           expect_failure=True)
        assert [r["status"] for r in bad.requests] == [401]
    blocked = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id}, expect_failure=True)
    assert [r["status"] for r in blocked.requests] == [429]
    message = _failure_message(blocked, "Read the channels")
    assert "blocked requests from this address" in message and "Fix the API key first" in message
    assert "UTC" in message


@NO_RETRY_AFTER_ON_CLASSIC
def test_a_task_that_waited_says_so(sim, run_playbook):
    sim.faults([{"type": "429", "retry_after": 3, "count": 2, "method": "GET", "path": "/channel"}])
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id})
    assert len(result.requests) == 3
    warnings = result.task("Read the channels").get("warnings") or []
    assert any("waited 6 s" in warning and "HTTP 429 rate limit x2" in warning for warning in warnings), warnings


def test_failed_read_back_after_a_post_reports_changed(sim, run_playbook):
    # an existing channel: one GET to plan, the POST, then the read-back; every read after the POST fails
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "beta", "allow_dev": False}]})
    sim.faults([{"type": "status", "status": 500, "method": "GET", "path": "/channel", "skip": 1, "count": 50}])
    result = run_playbook(PLAYBOOK, extra_vars={"app_id": sim.app_id, "core_channel": "beta", "core_retries": 1},
                          expect_failure=True)
    task = result.task("Create the channel")
    assert [(w["method"], w["path"]) for w in result.writes] == [("POST", "/channel")]
    assert task["changed"] is True
    assert [c["allow_dev"] for c in sim.state()["channels"] if c["name"] == "beta"] == [True]
