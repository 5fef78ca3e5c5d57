"""capgo.cloud.capgo_channel against the simulator, both API profiles.

Behaviour is proven from the simulator's request log and its state, not only from what the module reports.
Each check-mode run is followed by the real run it predicts: same ``changed``, same ``diff``, same ``channel``
(apart from the id and the timestamps, which only the real run can know).
"""

import pytest

from channel_runs import TASK, channel_vars, check_then_apply, manage, seed_bundles, seed_channels

DELETE_TASK = "Delete channel"


def calls(result):
    return [(entry["method"], entry["path"].rstrip("/")) for entry in result.requests]


def sim_channel(sim, name):
    """The channel row as the simulator stores it (ios/android/electron included), or None."""
    for row in sim.state()["channels"]:
        if row["app_id"] == sim.app_id and row["name"] == name:
            return row
    return None


def served(sim, name):
    """The bundle name the simulator's channel row points at, None for none (classic: its 'unknown' placeholder)."""
    row = sim_channel(sim, name)
    name = row.get("version_name")
    return None if name in (None, "unknown", "builtin") else name


# -- the whole life of a channel ---------------------------------------------------------------------

def test_channel_lifecycle(sim, run_playbook):
    seed_bundles(sim, "1.0.0", "1.0.1")
    seed_channels(sim, {"name": "legacy", "version": "1.0.0", "public": True})

    # create, predicted by check mode first
    real, task = check_then_apply(sim, run_playbook, "production", bundle="1.0.0", allow_dev=False)
    assert task["changed"] is True
    assert task["diff"]["before"] == {}
    expected = {
        "bundle": "1.0.0", "public": False, "disable_auto_update": "major", "disable_auto_update_under_native": True,
        "allow_device_self_set": False, "allow_emulator": True, "allow_dev": False, "allow_device": True, "allow_prod": True}
    if sim.profile == "latest":
        expected.update(ios=True, android=True, update_package="all")  # latest returns them
    assert task["diff"]["after"] == expected
    assert [entry["body"] for entry in real.writes] == [
        {"app_id": sim.app_id, "channel": "production", "version": "1.0.0", "allow_dev": False}]
    assert served(sim, "production") == "1.0.0"
    assert task["channel"]["id"] == sim_channel(sim, "production")["id"]

    # unchanged: one GET, no write
    again, task = manage(sim, run_playbook, "production", bundle="1.0.0", allow_dev=False)
    assert task["changed"] is False
    assert calls(again) == [("GET", "/channel")]
    assert task["diff"]["before"] == task["diff"]["after"] == {"bundle": "1.0.0", "allow_dev": False}

    # update: check mode shows the diff of the options set, then the real run does it with one POST
    real, task = check_then_apply(sim, run_playbook, "production", bundle="1.0.1", disable_auto_update="minor")
    assert task["changed"] is True
    assert task["diff"] == {"before": {"bundle": "1.0.0", "disable_auto_update": "major"},
                            "after": {"bundle": "1.0.1", "disable_auto_update": "minor"}}
    assert len(real.writes) == 1
    assert served(sim, "production") == "1.0.1"
    assert sim_channel(sim, "production")["disable_auto_update"] == "minor"

    # settings only: the bundle stays, on both generations
    real, task = check_then_apply(sim, run_playbook, "production", allow_emulator=False)
    body = real.writes[0]["body"]
    if sim.profile == "classic":
        assert body["version"] == "1.0.1"  # classic would reset the bundle without it
    else:
        assert "version" not in body
    assert served(sim, "production") == "1.0.1"
    assert task["channel"]["bundle"] == "1.0.1"
    assert sim_channel(sim, "production")["allow_emulator"] is False

    # public: the other default is demoted, and the module says which
    real, task = check_then_apply(sim, run_playbook, "production", public=True)
    assert task["demoted"] == ["legacy"]
    assert sim_channel(sim, "legacy")["public"] is False
    assert sim_channel(sim, "production")["public"] is True
    assert served(sim, "production") == "1.0.1"
    again, task = manage(sim, run_playbook, "production", public=True)
    assert task["changed"] is False and task["demoted"] == [] and again.writes == []

    # builtin unassigns, sent as 'unknown' which both generations understand
    real, task = check_then_apply(sim, run_playbook, "production", bundle="builtin")
    assert task["changed"] is True
    assert task["diff"] == {"before": {"bundle": "1.0.1"}, "after": {"bundle": None}}
    assert real.writes[0]["body"]["version"] == "unknown"
    assert served(sim, "production") is None
    assert task["channel"]["bundle"] is None
    again, task = manage(sim, run_playbook, "production", bundle="builtin")
    assert task["changed"] is False and again.writes == []

    # delete, with every parameter in the JSON body, then delete again: unchanged
    check = run_playbook("channel_absent", extra_vars=channel_vars(sim, "production"), check=True, diff=True)
    assert check.task(DELETE_TASK)["changed"] is True and check.writes == []
    real = run_playbook("channel_absent", extra_vars=channel_vars(sim, "production"), diff=True)
    task = real.task(DELETE_TASK)
    assert task["changed"] is True and task["channel"] is None
    assert task["diff"]["before"]["public"] is True and task["diff"]["after"] == {}
    assert [(entry["method"], entry["query"] or None, entry["body"]) for entry in real.writes] == [
        ("DELETE", None, {"app_id": sim.app_id, "channel": "production"})]
    assert sim_channel(sim, "production") is None
    again = run_playbook("channel_absent", extra_vars=channel_vars(sim, "production"))
    assert again.task(DELETE_TASK)["changed"] is False
    assert calls(again) == [("GET", "/channel")]


def test_lanes_playbook_is_idempotent(sim, run_playbook):
    seed_bundles(sim, "1.0.0", "1.1.0")
    first = run_playbook("channel_lanes", extra_vars={"app_id": sim.app_id})
    assert first.stats["changed"] == 3
    assert [entry["method"] for entry in first.writes] == ["POST", "POST", "POST"]
    second = run_playbook("channel_lanes", extra_vars={"app_id": sim.app_id})
    assert second.stats["changed"] == 0
    assert second.writes == []
    assert len(second.requests) == 3  # one GET per channel
    assert served(sim, "beta") == "1.1.0" and sim_channel(sim, "beta")["public"] is False
    assert sim_channel(sim, "native-2")["disable_auto_update"] == "minor"


def test_new_public_channel_demotes_the_old_default(sim, run_playbook):
    # Classic does not demote on INSERT: the module makes Capgo apply its rule and reports the end state.
    seed_bundles(sim, "1.0.0")
    seed_channels(sim, {"name": "legacy", "version": "1.0.0", "public": True},
                  {"name": "beta", "version": "1.0.0", "public": False})
    real, task = check_then_apply(sim, run_playbook, "production", bundle="1.0.0", public=True)
    assert task["demoted"] == ["legacy"]
    publics = sorted(row["name"] for row in sim.state()["channels"] if row["app_id"] == sim.app_id and row["public"])
    assert publics == ["production"]
    assert served(sim, "production") == "1.0.0"
    assert len(real.writes) == (2 if sim.profile == "classic" else 1)


def test_platform_flags_apply_on_create_and_are_not_claimed_later(sim, run_playbook):
    real, task = manage(sim, run_playbook, "ios-only", ios=True, android=False, electron=False)
    assert task["changed"] is True
    assert real.writes[0]["body"]["android"] is False
    row = sim_channel(sim, "ios-only")
    assert row["ios"] is True and row["android"] is False
    again, task = manage(sim, run_playbook, "ios-only", ios=True, android=True)
    if sim.profile == "latest":
        # latest's GET /channel returns the flags: compared and managed like any setting
        assert task["changed"] is True and [w["body"]["android"] for w in again.writes] == [True]
        assert sim_channel(sim, "ios-only")["android"] is True
        third, task = manage(sim, run_playbook, "ios-only", ios=True, android=True)
        assert task["changed"] is False and third.writes == []
        return
    # an existing channel on a generation that does not return them: not compared, not sent, and said so
    assert task["changed"] is False and again.writes == []
    assert any("cannot be verified" in warning for warning in task.get("warnings", []))
    assert sim_channel(sim, "ios-only")["android"] is False


# -- failures ----------------------------------------------------------------------------------------

def test_create_false_on_missing_channel_fails_without_writing(sim, run_playbook):
    result, task = manage(sim, run_playbook, "prodution", create=False, allow_dev=False, expect_failure=True)
    assert "channel prodution does not exist in app com.example.app" in task["msg"]
    assert "create=false" in task["msg"]
    assert result.writes == []


def test_unknown_bundle_fails_before_any_write(sim, run_playbook):
    seed_bundles(sim, "1.0.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0"})
    for name in ("production", "new-channel"):
        result, task = manage(sim, run_playbook, name, bundle="9.9.9", expect_failure=True)
        assert "bundle 9.9.9 does not exist in app com.example.app" in task["msg"]
        assert result.writes == []
    assert served(sim, "production") == "1.0.0"
    assert sim_channel(sim, "new-channel") is None


def test_api_error_is_reported_in_the_client_format(sim, run_playbook):
    seed_bundles(sim, "1.0.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0"})
    reader = "5eed0000-0000-4000-8000-00000000read"
    sim.seed({"keys": [{"key": reader, "mode": "read", "org": sim.org}]})
    result, task = manage(sim, run_playbook, "production", allow_dev=False, expect_failure=True, env={"CAPGO_API_KEY": reader})
    assert reader not in result.stdout
    if sim.profile == "classic":
        assert task["msg"].startswith("Capgo API POST /channel failed: HTTP 401 invalid_apikey")
        assert (task["status"], task["error"]) == (401, "invalid_apikey")
    else:
        assert task["msg"].startswith("Capgo API POST /channel failed: HTTP 400 cannot_access_app: You can't access this app")
        assert (task["status"], task["error"], task["api_message"]) == (400, "cannot_access_app", "You can't access this app")
    assert [entry["status"] for entry in result.writes] == [task["status"]]


def test_bad_input_fails_before_any_request(sim, run_playbook):
    result = run_playbook("channel_present", extra_vars={"app_id": "not an app", "channel_name": "x"}, expect_failure=True)
    assert "reverse-domain" in result.task(TASK)["msg"]
    assert result.requests == []
    result, task = manage(sim, run_playbook, "production", rollout={"bundle": "1.1.0", "percentage": 150}, expect_failure=True)
    assert "rollout.percentage must be a percentage from 0 to 100" in task["msg"]
    assert result.requests == []


@pytest.mark.parametrize("profile", ["classic"], indirect=True)
def test_classic_delete_that_does_not_delete_fails(sim, run_playbook):
    seed_channels(sim, {"name": "beta"})
    writer = "5eed0000-0000-4000-8000-0000000write"
    sim.seed({"keys": [{"key": writer, "mode": "write", "org": sim.org}]})
    result = run_playbook("channel_absent", extra_vars=channel_vars(sim, "beta"), env={"CAPGO_API_KEY": writer},
                          expect_failure=True)
    msg = result.task(DELETE_TASK)["msg"]
    assert "still exists" in msg and "beta" in msg
    assert [entry["status"] for entry in result.writes] == [200]
    assert sim_channel(sim, "beta") is not None


def test_delete_retried_after_lost_answer_is_done(sim, run_playbook):
    # The first DELETE is applied after the client gave up waiting; its retry meets cannot_find_channel (current)
    # or a 200 (classic): both mean done.
    seed_channels(sim, {"name": "beta"})
    sim.faults([{"type": "delay", "delay": 1.15, "method": "DELETE", "path": "/channel", "count": 1}])
    result = run_playbook("channel_absent_timeout", extra_vars=channel_vars(sim, "beta"))
    task = result.task(DELETE_TASK)
    assert task["changed"] is True
    assert [entry["method"] for entry in result.writes] == ["DELETE", "DELETE"]
    assert sim_channel(sim, "beta") is None


# -- progressive rollouts ----------------------------------------------------------------------------

def rollout_row(sim, name):
    row = sim_channel(sim, name)
    return dict(bundle=row.get("rollout_version_name"), bps=row["rollout_percentage_bps"], enabled=row["rollout_enabled"],
                paused=row["rollout_paused_at"] is not None, stable=row.get("version_name"))


@pytest.mark.profiles("latest", "current")
def test_staged_release(sim, run_playbook):
    seed_bundles(sim, "1.0.0", "1.1.0", "1.2.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0", "public": True})

    # start at 5 %
    real, task = check_then_apply(sim, run_playbook, "production", rollout={"bundle": "1.1.0", "percentage": 5})
    assert task["changed"] is True
    assert task["diff"]["before"] == {"rollout": None}
    assert task["channel"]["rollout"]["bundle"] == "1.1.0" and task["channel"]["rollout"]["percentage"] == 5.0
    assert len(real.writes) == 1
    assert rollout_row(sim, "production") == dict(bundle="1.1.0", bps=500, enabled=True, paused=False, stable="1.0.0")

    # the same step again: nothing to do
    again, task = manage(sim, run_playbook, "production", rollout={"bundle": "1.1.0", "percentage": 5})
    assert task["changed"] is False and calls(again) == [("GET", "/channel")]

    # ramp to 25 %
    real, task = check_then_apply(sim, run_playbook, "production", rollout={"bundle": "1.1.0", "percentage": 25})
    assert task["diff"]["before"]["rollout"]["percentage"] == 5.0 and task["diff"]["after"]["rollout"]["percentage"] == 25.0
    assert real.writes[0]["body"] == {"app_id": sim.app_id, "channel": "production", "rolloutPercentageBps": 2500}
    assert rollout_row(sim, "production")["bps"] == 2500

    # pause, then resume
    real, task = check_then_apply(sim, run_playbook, "production", rollout={"paused": True})
    assert task["changed"] is True and rollout_row(sim, "production")["paused"] is True
    again, task = manage(sim, run_playbook, "production", rollout={"paused": True})
    assert task["changed"] is False and again.writes == []
    real, task = check_then_apply(sim, run_playbook, "production", rollout={"paused": False})
    assert rollout_row(sim, "production") == dict(bundle="1.1.0", bps=2500, enabled=True, paused=False, stable="1.0.0")

    # promote: the candidate becomes the bundle, the rollout ends
    real, task = check_then_apply(sim, run_playbook, "production", bundle="1.1.0", rollout={"state": "absent"})
    assert task["diff"]["after"] == {"bundle": "1.1.0", "rollout": None}
    assert task["channel"]["bundle"] == "1.1.0" and task["channel"]["rollout"] is None
    assert len(real.writes) == 1
    row = rollout_row(sim, "production")
    assert row["stable"] == "1.1.0" and row["bundle"] is None
    again, task = manage(sim, run_playbook, "production", bundle="1.1.0", rollout={"state": "absent"})
    assert task["changed"] is False and again.writes == []

    # start another, then roll it back: the stable bundle stays
    another = {"bundle": "1.2.0", "percentage": 10, "cache_ttl": 3600, "auto_pause": {"enabled": True, "failure_rate": 2.5}}
    check_then_apply(sim, run_playbook, "production", rollout=another)
    assert rollout_row(sim, "production")["bundle"] == "1.2.0"
    assert sim_channel(sim, "production")["auto_pause_failure_rate_bps"] == 250
    real, task = check_then_apply(sim, run_playbook, "production", rollout={"state": "absent"})
    assert task["changed"] is True and task["channel"]["rollout"] is None
    row = rollout_row(sim, "production")
    assert row["stable"] == "1.1.0" and row["bundle"] is None
    again, task = manage(sim, run_playbook, "production", rollout={"state": "absent"})
    assert task["changed"] is False and again.writes == []


@pytest.mark.profiles("latest", "current")
def test_rollout_validation_against_the_channel(sim, run_playbook):
    seed_bundles(sim, "1.0.0", "1.1.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0"}, {"name": "empty"})
    cases = [
        ("production", {"rollout": {"bundle": "1.0.0", "percentage": 5}}, "must differ from the stable bundle"),
        ("production", {"rollout": {"percentage": 5}}, "rollout.bundle is required to start a rollout"),
        ("production", {"rollout": {"bundle": "1.1.0"}}, "rollout.percentage is required"),
        ("production", {"rollout": {"bundle": "7.7.7", "percentage": 5}}, "bundle 7.7.7 does not exist in app com.example.app"),
        ("empty", {"rollout": {"bundle": "1.1.0", "percentage": 5}}, "a rollout needs a stable bundle"),
        ("missing", {"rollout": {"bundle": "1.1.0", "percentage": 5}}, "accepts rollout settings only for an existing channel"),
    ]
    for name, options, message in cases:
        result, task = manage(sim, run_playbook, name, expect_failure=True, **options)
        assert message in task["msg"], (options, task["msg"])
        assert result.writes == []


@pytest.mark.parametrize("profile", ["classic"], indirect=True)
def test_classic_refuses_rollouts_but_channels_work(sim, run_playbook):
    seed_bundles(sim, "1.0.0", "1.1.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0"})
    result, task = manage(sim, run_playbook, "production", rollout={"bundle": "1.1.0", "percentage": 5}, expect_failure=True)
    assert "classic Capgo API generation, which has no progressive rollouts" in task["msg"]
    assert result.writes == []
    result, task = manage(sim, run_playbook, "production", allow_dev=False)
    assert task["changed"] is True and "rollout" not in task["channel"]
    assert served(sim, "production") == "1.0.0"


@pytest.mark.profiles("latest", "current")
@pytest.mark.parametrize("step", ["promote", "rollback"])
def test_promote_and_rollback_with_the_answer_lost(sim, run_playbook, step):
    # The simulator applies the POST, then drops the connection: the module reads the channel back and reports the
    # step done (changed), and never sends the promote or rollback a second time.
    seed_bundles(sim, "1.0.0", "1.1.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0", "public": True})
    manage(sim, run_playbook, "production", rollout={"bundle": "1.1.0", "percentage": 25})
    sim.faults([{"type": "drop_after", "method": "POST", "path": "/channel", "count": 1}])
    options = {"bundle": "1.1.0", "rollout": {"state": "absent"}} if step == "promote" else {"rollout": {"state": "absent"}}
    result, task = manage(sim, run_playbook, "production", **options)
    assert task["changed"] is True and not task.get("failed")
    key = "promoteToStable" if step == "promote" else "rollback"
    assert [entry["body"].get(key) for entry in result.writes] == [True]
    row = rollout_row(sim, "production")
    assert row["bundle"] is None
    assert row["stable"] == ("1.1.0" if step == "promote" else "1.0.0")
    again, task = manage(sim, run_playbook, "production", **options)
    assert task["changed"] is False and again.writes == []


@pytest.mark.parametrize("profile", ["latest"], indirect=True)
def test_latest_settings_platforms_and_update_package(sim, run_playbook):
    seed_bundles(sim, "1.0.0")
    seed_channels(sim, {"name": "production", "version": "1.0.0"})
    real, task = check_then_apply(sim, run_playbook, "production", android=False, update_package="zip",
                                  disable_auto_update="metadata")
    assert task["diff"] == {"before": {"android": True, "update_package": "all", "disable_auto_update": "major"},
                            "after": {"android": False, "update_package": "zip", "disable_auto_update": "version_number"}}
    assert not task.get("warnings")
    row = sim_channel(sim, "production")
    assert row["android"] is False and row["update_package"] == "zip" and row["disable_auto_update"] == "version_number"
    again, task = manage(sim, run_playbook, "production", android=False, update_package="zip", disable_auto_update="metadata")
    assert task["changed"] is False and again.writes == [] and len(again.requests) == 1


@pytest.mark.profiles("current", "classic")
def test_update_package_fails_before_any_write_where_unsupported(sim, run_playbook):
    seed_channels(sim, {"name": "production"})
    result, task = manage(sim, run_playbook, "production", update_package="delta", expect_failure=True)
    assert "update_package is not supported by this Capgo" in task["msg"]
    assert result.writes == [] and task["changed"] is False
