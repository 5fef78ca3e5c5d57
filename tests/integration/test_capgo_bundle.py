"""capgo.cloud.capgo_bundle against the simulator, on every API profile.

Every test here is also checked by ``_no_delete_without_version``: after the test, the simulator's request
log (the simulator is reset before each test, so the log is the whole test) must hold no ``DELETE /bundle``
without a version in its JSON body, and no DELETE parameter in the query string (a JSON body silently wins
over it on the real API).
"""

import urllib.request

import pytest

APP_CHECK = "com.example.app"
SIX = ["1.0.%d" % day for day in range(6)]  # 1.0.0 is the oldest, 1.0.5 the newest
URL = "https://cdn.example.com/bundles/2.0.0.zip"


def deletes_without_version(entries):
    """The DELETE /bundle log entries that would delete more than one named bundle."""
    bad = []
    for entry in entries:
        if entry.get("method", "").upper() != "DELETE" or entry.get("path", "").rstrip("/") != "/bundle":
            continue
        body = entry.get("body")
        version = body.get("version") if isinstance(body, dict) else None
        if not isinstance(version, str) or not version.strip() or entry.get("query"):
            bad.append(entry)
    return bad


@pytest.fixture(autouse=True)
def _no_delete_without_version(sim):
    yield
    log = sim.requests()
    assert not deletes_without_version(log), "DELETE /bundle without a version in the JSON body: %r" % deletes_without_version(log)


def test_the_guard_itself_catches_what_it_must():
    assert deletes_without_version([{"method": "DELETE", "path": "/bundle", "query": {}, "body": {"app_id": APP_CHECK}}])
    assert deletes_without_version([{"method": "DELETE", "path": "/bundle/", "query": {}, "body": {"app_id": APP_CHECK, "version": ""}}])
    assert deletes_without_version([{"method": "DELETE", "path": "/bundle", "query": {"version": "1.0.0"}, "body": {"app_id": APP_CHECK}}])
    assert deletes_without_version([{"method": "DELETE", "path": "/bundle", "query": {"app_id": APP_CHECK}, "body": None}])
    assert not deletes_without_version([{"method": "DELETE", "path": "/bundle", "query": {},
                                         "body": {"app_id": APP_CHECK, "version": "1.0.0"}}])


def test_the_guard_reads_the_real_log(sim):
    """A DELETE /bundle without a version, planted straight at the simulator, is what the fixture sees."""
    seed_six(sim)
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.5", "public": True}]})
    request = urllib.request.Request(sim.url + "/bundle", data=b'{"app_id": "%s"}' % sim.app_id.encode(), method="DELETE",
                                     headers={"authorization": sim.key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
    assert len(deletes_without_version(sim.requests())) == 1
    # what it did: every unserved bundle is gone, which is why the module never sends it
    assert live_bundles(sim) == (["1.0.5"] if sim.profile != "classic" else [])
    sim.clear_requests()  # the planted call is not the module's: let the autouse check pass


def seed_six(sim, channels=()):
    sim.seed({
        "bundles": [{"app_id": sim.app_id, "name": name, "created_at": "2026-01-0%dT10:00:00Z" % (day + 1),
                     "checksum": "sum-%s" % name} for day, name in enumerate(SIX)],
        "channels": [dict(channel, app_id=sim.app_id) for channel in channels],
    })


def live_bundles(sim):
    """Names of the app's live bundles, newest first, from the simulator's own state."""
    rows = [row for row in sim.state()["bundles"] if row["app_id"] == sim.app_id and not row["deleted"]]
    return [row["name"] for row in sorted(rows, key=lambda row: (row["created_at"], row["id"]), reverse=True)]


def failure_of(result, name):
    """The result of the task that failed (the run's recap must count exactly one failure)."""
    assert result.stats["failures"] == 1, result.summary()
    return result.task(name)


def calls(result):
    return [(entry["method"], entry["path"].rstrip("/")) for entry in result.requests]


# -- deleting named bundles ---------------------------------------------------------------------------

def test_delete_one_then_again_unchanged(sim, run_playbook):
    seed_six(sim)
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_version": "1.0.2"})
    task = result.task("Delete bundles")
    assert task["changed"] is True
    assert task["deleted"] == ["1.0.2"]
    assert task["kept"] == ["1.0.5", "1.0.4", "1.0.3", "1.0.1", "1.0.0"] == live_bundles(sim)
    assert calls(result) == [("GET", "/bundle"), ("GET", "/channel"), ("DELETE", "/bundle")]
    assert result.writes[0]["body"] == {"app_id": sim.app_id, "version": "1.0.2"}

    again = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_version": "1.0.2"})
    task = again.task("Delete bundles")
    assert task["changed"] is False and task["deleted"] == []
    # one read, no channel read, no write: the bundle is already gone on every generation
    assert calls(again) == [("GET", "/bundle")]


def test_delete_several_skips_missing_ones(sim, run_playbook):
    seed_six(sim)
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_versions": ["1.0.4", "9.9.9", "1.0.0"]})
    task = result.task("Delete bundles")
    assert task["deleted"] == ["1.0.0", "1.0.4"]
    assert [entry["body"]["version"] for entry in result.writes] == ["1.0.0", "1.0.4"]
    assert live_bundles(sim) == ["1.0.5", "1.0.3", "1.0.2", "1.0.1"]


def test_deleting_a_bundle_a_channel_serves_fails_and_deletes_nothing(sim, run_playbook):
    seed_six(sim, channels=[{"name": "production", "version": "1.0.1", "public": True}])
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_versions": ["1.0.0", "1.0.1"]},
                          expect_failure=True)
    failure = failure_of(result, "Delete bundles")
    assert "1.0.1 is served by channel production" in failure["msg"]
    assert "nothing was deleted" in failure["msg"]
    assert failure["changed"] is False and "status" not in failure and "error" not in failure
    assert not result.writes
    assert live_bundles(sim) == list(reversed(SIX))


def test_check_mode_delete_deletes_nothing(sim, run_playbook):
    seed_six(sim)
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_version": "1.0.0"}, check=True, diff=True)
    task = result.task("Delete bundles")
    assert task["changed"] is True and task["deleted"] == ["1.0.0"]
    assert task["diff"]["before"]["bundles"] == list(reversed(SIX))
    assert task["diff"]["after"]["bundles"] == list(reversed(SIX))[:-1]
    assert not result.writes
    assert live_bundles(sim) == list(reversed(SIX))


def test_dropped_connection_before_the_delete_is_sent_again(sim, run_playbook):
    seed_six(sim)
    sim.faults([{"type": "drop", "method": "DELETE", "path": "/bundle", "count": 1}])
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_version": "1.0.3"})
    task = result.task("Delete bundles")
    assert task["changed"] is True and task["deleted"] == ["1.0.3"]
    # the read-back after the lost answer saw the bundle still there, so the DELETE went out again
    assert [(entry["body"]["version"], entry["fault"]) for entry in result.writes] == [("1.0.3", "drop"), ("1.0.3", None)]
    assert "1.0.3" not in live_bundles(sim)


def test_delete_applied_with_its_answer_lost_is_confirmed_not_sent_again(sim, run_playbook):
    seed_six(sim)
    sim.faults([{"type": "drop_after", "method": "DELETE", "path": "/bundle", "count": 1}])
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_version": "1.0.3"})
    task = result.task("Delete bundles")
    assert task["changed"] is True and task["deleted"] == ["1.0.3"]
    assert [entry["body"]["version"] for entry in result.writes] == ["1.0.3"]
    readback = calls(result)[3:]
    if sim.profile == "latest":  # GET /bundle/lookup answers in one request
        assert readback == [("GET", "/bundle/lookup")]
    else:  # no lookup route (404): the list tells
        assert readback == [("GET", "/bundle/lookup"), ("GET", "/bundle")]
    assert "1.0.3" not in live_bundles(sim)


# -- retention -------------------------------------------------------------------------------------------

def _retention_seed(sim):
    channels = [{"name": "production", "version": "1.0.0", "public": True}]
    if sim.profile != "classic":
        channels.append({"name": "beta", "version": "1.0.5", "rollout_version": "1.0.1"})
    seed_six(sim, channels)
    if sim.profile != "classic":
        return ["1.0.2", "1.0.3"], ["1.0.5", "1.0.4", "1.0.1", "1.0.0"]
    return ["1.0.1", "1.0.2", "1.0.3"], ["1.0.5", "1.0.4", "1.0.0"]


def test_keep_two_of_six_spares_bundles_channels_serve(sim, run_playbook):
    expected_deleted, expected_kept = _retention_seed(sim)

    predicted = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_keep": 2}, check=True, diff=True)
    prediction = predicted.task("Delete bundles")
    assert prediction["changed"] is True
    assert prediction["deleted"] == expected_deleted
    assert prediction["kept"] == expected_kept
    assert not predicted.writes
    assert live_bundles(sim) == list(reversed(SIX))

    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_keep": 2}, diff=True)
    task = result.task("Delete bundles")
    assert task["deleted"] == expected_deleted
    assert task["kept"] == expected_kept == live_bundles(sim)
    assert "1.0.0" in task["kept"] and task["protected"]["1.0.0"] == ["production"]
    if sim.profile != "classic":
        assert task["protected"]["1.0.1"] == ["beta"]
    for key in ("changed", "deleted", "kept", "protected", "diff", "warnings"):
        assert prediction.get(key) == task.get(key), key
    assert [entry["body"]["version"] for entry in result.writes] == expected_deleted
    assert all(entry["status"] == 200 for entry in result.writes)
    assert calls(result) == [("GET", "/bundle"), ("GET", "/channel")] + [("DELETE", "/bundle")] * len(expected_deleted)


def test_keep_that_deletes_bundles_no_channel_serves_yet_warns_naming_them(sim, run_playbook):
    seed_six(sim, channels=[{"name": "production", "version": "1.0.1", "public": True}])
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_keep": 2})
    task = result.task("Delete bundles")
    assert task["deleted"] == ["1.0.0", "1.0.2", "1.0.3"]
    assert live_bundles(sim) == ["1.0.5", "1.0.4", "1.0.1"]
    warnings = [warning for warning in task.get("warnings", []) if "newer than every bundle a channel serves" in warning]
    assert len(warnings) == 1, task.get("warnings")
    assert "1.0.3, 1.0.2" in warnings[0] and "1.0.0" not in warnings[0] and "production" in warnings[0]


def test_retention_playbook_predicts_prunes_and_is_idempotent(sim, run_playbook):
    expected_deleted, expected_kept = _retention_seed(sim)
    result = run_playbook("bundle_retention", extra_vars={"app_id": sim.app_id})
    assert result.task("Prune")["deleted"] == expected_deleted
    assert live_bundles(sim) == expected_kept
    assert [entry["body"]["version"] for entry in result.writes] == expected_deleted
    # the third run (unchanged) sent no write: it read the bundles, and the channels because served bundles sit
    # beyond the newest 2 (only a channel read can tell they are served)
    again_start = max(index for index, entry in enumerate(result.requests) if entry["method"] == "DELETE") + 1
    assert calls(result)[again_start:] == [("GET", "/bundle"), ("GET", "/channel")]


def test_keep_zero_deletes_every_unserved_bundle(sim, run_playbook):
    seed_six(sim, channels=[{"name": "production", "version": "1.0.3", "public": True}, {"name": "empty"}])
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_keep": 0})
    task = result.task("Delete bundles")
    assert task["deleted"] == ["1.0.0", "1.0.1", "1.0.2", "1.0.4", "1.0.5"]
    assert task["kept"] == ["1.0.3"] == live_bundles(sim)
    # the served bundle was never even asked for, so classic (no server-side guard) kept it too
    assert "1.0.3" not in [entry["body"]["version"] for entry in result.writes]


def test_keep_five_on_a_large_app_reads_every_page_once(sim, run_playbook):
    sim.seed({"generate": {"app_id": sim.app_id, "bundles": 120}})  # 1.0.1 (oldest) .. 1.0.120 (newest)
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.7", "public": True}]})
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_keep": 5})
    task = result.task("Delete bundles")
    expected = ["1.0.%d" % i for i in range(1, 116) if i != 7]
    assert task["deleted"] == expected
    assert task["kept"] == ["1.0.120", "1.0.119", "1.0.118", "1.0.117", "1.0.116", "1.0.7"] == live_bundles(sim)
    assert [entry["body"]["version"] for entry in result.writes] == expected
    reads = [entry for entry in result.requests if entry["method"] == "GET"]
    # the overlapping page windows of GET /bundle are walked without re-reading: 3 pages, then 1 channel read
    assert len([entry for entry in reads if entry["path"].rstrip("/") == "/bundle"]) <= 4
    assert len([entry for entry in reads if entry["path"].rstrip("/") == "/channel"]) == 1
    # 1.0.8 .. 1.0.115 are newer than the one served bundle and deleted: said once, not silently
    warning = [text for text in task.get("warnings", []) if "newer than every bundle a channel serves" in text]
    assert len(warning) == 1 and "1.0.115, 1.0.114" in warning[0] and "and 88 more" in warning[0]


def test_keep_on_app_without_bundles_is_unchanged(sim, run_playbook):
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.app_id, "bundle_keep": 0})
    task = result.task("Delete bundles")
    assert task["changed"] is False and task["deleted"] == [] and task["kept"] == []
    assert calls(result) == [("GET", "/bundle")]
    answer = (result.requests[0]["status"], result.requests[0]["error"])
    # latest answers an empty app with 200 []; HEAD and classic with 400 cannot_get_bundle: both are "no bundles"
    assert answer == ((200, None) if sim.profile == "latest" else (400, "cannot_get_bundle"))


def test_key_without_access_fails_clearly(sim, run_playbook):
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.other_app_id, "bundle_keep": 0}, expect_failure=True)
    failure = failure_of(result, "Delete bundles")
    assert failure["status"] == 400 and failure["error"] == "cannot_get_bundle"
    assert "rights" in failure["msg"] and failure["changed"] is False
    assert calls(result) == [("GET", "/bundle")]


@pytest.mark.parametrize("profile", ["latest"], indirect=True)
def test_app_not_found_404_reads_as_no_access(sim, run_playbook):
    # Only latest's newer tests expect the 404; the simulator sends it when asked (bundle_app_not_found_404).
    sim.config({"bundle_app_not_found_404": True})
    result = run_playbook("bundle_absent", extra_vars={"app_id": sim.other_app_id, "bundle_keep": 0}, expect_failure=True)
    failure = failure_of(result, "Delete bundles")
    assert failure["status"] == 404 and failure["error"] == "app_not_found"
    assert "rights" in failure["msg"] and "app_id" in failure["msg"]
    assert not result.writes


# -- registering external bundles --------------------------------------------------------------------------

def register_vars(sim, **extra):
    values = {"app_id": sim.app_id, "bundle_version": "2.0.0", "bundle_url": URL, "bundle_checksum": "c0ffee"}
    values.update(extra)
    return values


def test_register_reregister_and_conflict(sim, run_playbook):
    seed_six(sim)
    if sim.profile == "classic":
        result = run_playbook("bundle_present", extra_vars=register_vars(sim), expect_failure=True)
        failure = failure_of(result, "Register bundle")
        assert "no POST /bundle endpoint" in failure["msg"] and failure["status"] == 404
        assert "2.0.0" not in live_bundles(sim)
        return

    checked = run_playbook("bundle_present", extra_vars=register_vars(sim), check=True)
    assert checked.task("Register bundle")["changed"] is True and not checked.writes

    result = run_playbook("bundle_present", extra_vars=register_vars(sim, bundle_session_key="s3cr3t-session-key"), diff=True)
    task = result.task("Register bundle")
    assert task["changed"] is True
    assert task["bundle"]["version"] == "2.0.0" and task["bundle"]["external_url"] == URL
    assert task["bundle"]["checksum"] == "c0ffee" and task["bundle"]["encrypted"] is True
    assert isinstance(task["bundle"]["id"], int)
    assert task["diff"]["after"]["bundles"][0] == "2.0.0"
    assert "s3cr3t-session-key" not in result.stdout
    assert [(entry["method"], entry["body"]["version"]) for entry in result.writes] == [("POST", "2.0.0")]
    lookup = [entry for entry in result.requests if entry["path"] == "/bundle/lookup"]
    assert [(entry["status"], entry["query"].get("name")) for entry in lookup] == \
        [(200 if sim.profile == "latest" else 404, "2.0.0")]
    assert live_bundles(sim)[0] == "2.0.0"

    again = run_playbook("bundle_present", extra_vars=register_vars(sim))
    assert again.task("Register bundle")["changed"] is False
    assert again.task("Register bundle")["bundle"]["id"] == task["bundle"]["id"]
    assert calls(again) == [("GET", "/bundle")]

    conflict = run_playbook("bundle_present", extra_vars=register_vars(sim, bundle_checksum="deadbeef"), expect_failure=True)
    failure = failure_of(conflict, "Register bundle")
    assert "already exists" in failure["msg"] and "checksum" in failure["msg"]
    assert not conflict.writes


def test_register_name_of_a_deleted_bundle_fails_clearly(sim, run_playbook):
    if sim.profile == "classic":
        pytest.skip("classic has no POST /bundle (registering fails earlier: test_register_reregister_and_conflict)")
    sim.seed({"bundles": [{"app_id": sim.app_id, "name": "2.0.0", "created_at": "2026-01-01T00:00:00Z", "deleted": True}]})
    result = run_playbook("bundle_present", extra_vars=register_vars(sim), expect_failure=True)
    failure = failure_of(result, "Register bundle")
    assert "a deleted bundle" in failure["msg"] and "register a new version" in failure["msg"].lower()
    if sim.profile == "latest":
        # GET /bundle/lookup told the name is held by a deleted bundle: nothing was sent
        assert not result.writes and failure["changed"] is False
        assert calls(result) == [("GET", "/bundle"), ("GET", "/bundle/lookup")]
    else:
        # HEAD has no lookup route: the POST's answer tells
        assert failure["error"] == "cannot_create_bundle" and failure["changed"] is True
        assert calls(result) == [("GET", "/bundle"), ("GET", "/bundle/lookup"), ("POST", "/bundle")]


def test_register_with_its_answer_lost_is_confirmed_not_sent_again(sim, run_playbook):
    if sim.profile == "classic":
        pytest.skip("classic has no POST /bundle")
    sim.faults([{"type": "drop_after", "method": "POST", "path": "/bundle", "count": 1}])
    result = run_playbook("bundle_present", extra_vars=register_vars(sim))
    task = result.task("Register bundle")
    assert task["changed"] is True and task["bundle"]["version"] == "2.0.0" and isinstance(task["bundle"]["id"], int)
    assert [entry["method"] for entry in result.writes] == ["POST"]
    assert calls(result)[-1] == ("GET", "/bundle")  # the read-back found it
    assert live_bundles(sim) == ["2.0.0"]


def test_register_when_the_organization_enforces_encryption(sim, run_playbook):
    if sim.profile == "classic":
        pytest.skip("classic has no POST /bundle")
    sim.seed({"orgs": [{"org": sim.org, "enforce_encrypted_bundles": True}]})
    result = run_playbook("bundle_present", extra_vars=register_vars(sim, bundle_session_key="s3cr3t-session-key"),
                          expect_failure=True if sim.profile == "latest" else False)
    task = result.task("Register bundle")
    if sim.profile == "latest":
        # latest refuses every external bundle of such an organization, session key or not
        assert task["error"] == "encryption_required"
        assert "with or without session_key" in task["msg"] and "Capgo CLI" in task["msg"]
        assert live_bundles(sim) == []
    else:
        # HEAD accepts an external bundle with a session key
        assert task["changed"] is True and live_bundles(sim) == ["2.0.0"]
    result = run_playbook("bundle_present", extra_vars=register_vars(sim, bundle_version="2.0.1"), expect_failure=True)
    failure = failure_of(result, "Register bundle")
    assert failure["error"] == "encryption_required" and "session_key" in failure["msg"]
    assert "s3cr3t-session-key" not in result.stdout


# -- bad input: fails before any request -------------------------------------------------------------------

BAD_INPUTS = [
    ({"state": "absent", "version": ""}, "version must not be empty"),
    ({"state": "absent", "versions": ["1.0.0", ""]}, "empty name"),
    ({"state": "absent", "keep": -1}, "keep must be 0 or more"),
    ({"state": "absent", "version": "1.0.0", "keep": 2}, "exactly one of version, versions or keep"),
    ({"state": "absent"}, "exactly one of version, versions or keep"),
    ({"keep": 2}, "which needs state=absent"),
    ({"version": "2.0", "external_url": URL, "checksum": "x"}, "not a semantic version"),
    ({"version": "2.0.0", "external_url": "http://cdn.example.com/a.zip", "checksum": "x"}, "must be an https:// URL"),
    ({"version": "2.0.0", "external_url": "HTTPS://cdn.example.com/a.zip", "checksum": "x"}, "lower-case https://"),
    ({"version": "2.0.0", "external_url": URL}, "missing: checksum"),
]


def test_bad_input_fails_before_any_request(sim, run_playbook):
    seed_six(sim)
    result = run_playbook("bundle_bad_input", extra_vars={"app_id": sim.app_id, "bad_inputs": [case for case, dummy in BAD_INPUTS]})
    outcomes = result.task("Try bad input")["results"]
    assert len(outcomes) == len(BAD_INPUTS)
    for (case, fragment), outcome in zip(BAD_INPUTS, outcomes):
        assert fragment in outcome.get("msg", ""), (case, outcome.get("msg"))
        assert outcome.get("changed") is False
        assert "status" not in outcome and "error" not in outcome
    assert result.requests == []
    assert live_bundles(sim) == list(reversed(SIX))
