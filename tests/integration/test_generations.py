"""Where Capgo's API generations differ (capgo-api.md 12.1 and 12.2), end to end: the modules against the simulator.

Each test runs on the profiles where the behaviour exists (the simulator's rule in tests/simulator/sim_rules.py
names them) and, where it is cheap, also on a generation that answers differently, to show that the module copes
with both answers. Every claim is read from the simulator's request log and state, not only from what the module
reports. Seeds are kept small: this file is meant to stay fast.
"""

import json
import urllib.error
import urllib.request

import pytest

from channel_runs import check_then_apply, manage, seed_bundles, seed_channels

BUNDLE_TASK = "Register bundle"
LINK_TASK = "Link"
BUNDLE_URL = "https://cdn.example.com/bundles/2.0.0.zip"
ROLLOUTS = ("latest", "current")  # the generations with progressive rollouts
RETRIED_503 = ("POST", "/channel", 503, "upstream_unavailable")

WRITER = "5eed0000-0000-4000-8000-0000000write"
READER = "5eed0000-0000-4000-8000-00000000read"
UPLOADER = "5eed0000-0000-4000-8000-000000upload"


# -- helpers ----------------------------------------------------------------------------------------------

def link_dev_a(sim):
    """Extra vars of device_link_one: pin dev-a to beta."""
    return {"app_id": sim.app_id, "link_device_id": "dev-a", "link_channel": "beta"}


def seed_key(sim, key, mode):
    """An org1 key of ``mode``; returns its id as the request log reports it."""
    sim.seed({"keys": [{"key": key, "mode": mode, "org": sim.org}]})
    return next(row["id"] for row in sim.state()["keys"] if row["mode"] == mode)


def seed_rollout(sim, paused=False):
    """production serves 1.0.0 and rolls 1.1.0 out to 25 %; 1.2.0 is uploaded too. Returns the rollout_id."""
    seed_bundles(sim, "1.0.0", "1.1.0", "1.2.0")
    production = {"name": "production", "version": "1.0.0", "public": True, "rollout_version": "1.1.0",
                  "rollout_percentage_bps": 2500, "rollout_enabled": True}
    if paused:
        production["rollout_paused_at"] = "2026-02-01T10:00:00Z"
    seed_channels(sim, production)
    return channel_row(sim, "production")["rollout_id"]


def channel_row(sim, name):
    """The channel row as the simulator stores it, or None."""
    for row in sim.state()["channels"]:
        if row["app_id"] == sim.app_id and row["name"] == name:
            return row
    return None


def rollout_state(sim, name="production"):
    row = channel_row(sim, name)
    return dict(stable=row["version_name"], candidate=row["rollout_version_name"], bps=row["rollout_percentage_bps"],
                enabled=bool(row["rollout_enabled"]), paused=row["rollout_paused_at"] is not None)


def live_bundles(sim):
    return sorted(row["name"] for row in sim.state()["bundles"] if row["app_id"] == sim.app_id and not row["deleted"])


def overrides(sim):
    return dict((row["device_id"], row["channel"]) for row in sim.state()["overrides"] if row["app_id"] == sim.app_id)


def bodies(entries):
    """Write bodies without the app_id and channel every /channel write carries."""
    return [dict((key, value) for key, value in entry["body"].items() if key not in ("app_id", "channel"))
            for entry in entries]


def api_delete(sim, path, body):
    """One DELETE straight to the simulator's API with the harness key (no proxy): (status, error code)."""
    request = urllib.request.Request(sim.url + path, data=json.dumps(body).encode("utf-8"), method="DELETE",
                                     headers={"authorization": sim.key, "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read().decode("utf-8")).get("error")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8")).get("error")


def answers(entries):
    return [(entry["method"], entry["path"].rstrip("/"), entry["status"], entry["error"]) for entry in entries]


# -- 12.1 #2: making a channel public needs app.update_settings (latest) ----------------------------------

def test_creating_a_public_channel_with_a_developer_key(sim, run_playbook):
    """latest refuses a write ("app_developer") key that makes a channel public; the module's error names the right.
    current and classic create the channel public with the same key."""
    writer_id = seed_key(sim, WRITER, "write")
    env = {"CAPGO_API_KEY": WRITER}
    if sim.profile != "latest":
        result, task = manage(sim, run_playbook, "store", public=True, env=env)
        assert task["changed"] is True
        assert [(entry["status"], entry["key_id"]) for entry in result.writes] == [(200, writer_id)]
        assert channel_row(sim, "store")["public"] is True
        return

    result, task = manage(sim, run_playbook, "store", public=True, env=env, expect_failure=True)
    assert WRITER not in result.stdout
    assert (task["status"], task["error"]) == (400, "cannot_access_app")
    assert "making channel store public needs the app.update_settings right" in task["msg"]
    assert answers(result.writes) == [("POST", "/channel", 400, "cannot_access_app")]
    assert result.writes[0]["body"]["public"] is True and result.writes[0]["key_id"] == writer_id
    assert channel_row(sim, "store") is None

    # the same key may create the channel private: only the public flag needs the right
    result, task = manage(sim, run_playbook, "store", public=False, env=env)
    assert task["changed"] is True and answers(result.writes) == [("POST", "/channel", 200, None)]
    assert channel_row(sim, "store")["public"] is False


@pytest.mark.profiles("latest", "current")
def test_a_developer_key_changing_an_existing_channel_is_told_the_rights(sim, run_playbook):
    """Since 2026-07-13 an existing channel needs channel.update_settings, which app_developer ("write") keys lack;
    latest also wants app.update_settings to make it public. The error names each right the change needs."""
    writer_id = seed_key(sim, WRITER, "write")
    seed_channels(sim, {"name": "store", "public": False})
    result, task = manage(sim, run_playbook, "store", public=True, env={"CAPGO_API_KEY": WRITER}, expect_failure=True)
    assert WRITER not in result.stdout
    assert (task["status"], task["error"], task["changed"]) == (400, "cannot_access_app", True)
    assert "changing channel store needs the channel.update_settings right" in task["msg"]
    assert ("app.update_settings" in task["msg"]) is (sim.profile == "latest")
    assert [(entry["status"], entry["key_id"]) for entry in result.writes] == [(400, writer_id)]
    assert channel_row(sim, "store")["public"] is False


# -- 12.1 #3: a new stable bundle ends a running rollout --------------------------------------------------

@pytest.mark.profiles(*ROLLOUTS)
def test_new_stable_bundle_during_a_rollout_ends_it(sim, run_playbook):
    """latest resets the rollout itself on a new stable bundle (candidate dropped, percentage kept, rollout_id
    rotated), so the module sends the bundle alone; current would keep the rollout, so the module sends the rollback.
    Check mode predicts the end state on both."""
    rollout_id = seed_rollout(sim)
    real, task = check_then_apply(sim, run_playbook, "production", compare_demoted=False, bundle="1.2.0")
    assert task["changed"] is True
    assert task["diff"]["after"] == {"bundle": "1.2.0", "rollout": None}
    assert task["diff"]["before"]["rollout"]["bundle"] == "1.1.0"
    assert task["channel"]["bundle"] == "1.2.0" and task["channel"]["rollout"] is None
    if sim.profile == "latest":
        assert bodies(real.writes) == [{"version": "1.2.0"}]
        # the trigger of 20260817183821: the percentage is kept for the next rollout
        assert rollout_state(sim) == dict(stable="1.2.0", candidate=None, bps=2500, enabled=False, paused=False)
    else:
        assert bodies(real.writes) == [{"version": "1.2.0", "rollback": True}]
        assert rollout_state(sim) == dict(stable="1.2.0", candidate=None, bps=0, enabled=False, paused=False)
    assert channel_row(sim, "production")["rollout_id"] != rollout_id

    again, task = manage(sim, run_playbook, "production", bundle="1.2.0")
    assert task["changed"] is False and again.writes == []


@pytest.mark.profiles(*ROLLOUTS)
def test_new_stable_bundle_keeps_a_paused_rollout_the_task_names(sim, run_playbook):
    """Keeping the candidate while the stable bundle changes. On latest, naming the same candidate in the write that
    changes the bundle does not keep it (the trigger compares OLD and NEW rollout_version: the simulator README's
    correction of capgo-api.md 12.1 #3), so the module links it again in a second write and pauses it again in a
    third (a new target unpauses, 12.2 #5). On current one write does it, and the devices keep their draw."""
    rollout_id = seed_rollout(sim, paused=True)
    real, task = check_then_apply(sim, run_playbook, "production", compare_demoted=False, bundle="1.2.0",
                                  rollout={"bundle": "1.1.0"})
    assert task["changed"] is True
    assert task["channel"]["rollout"]["bundle"] == "1.1.0" and task["channel"]["rollout"]["percentage"] == 25.0
    assert task["channel"]["rollout"]["paused"] is True
    assert rollout_state(sim) == dict(stable="1.2.0", candidate="1.1.0", bps=2500, enabled=True, paused=True)
    if sim.profile == "latest":
        assert bodies(real.writes) == [
            {"version": "1.2.0"},
            {"rolloutVersion": "1.1.0", "rolloutEnabled": True, "rolloutPercentageBps": 2500},
            {"rolloutPaused": True},
        ]
        assert channel_row(sim, "production")["rollout_id"] != rollout_id  # linked again: a new draw
    else:
        assert bodies(real.writes) == [{"version": "1.2.0", "rolloutVersion": "1.1.0"}]
        assert channel_row(sim, "production")["rollout_id"] == rollout_id
    assert [entry["status"] for entry in real.writes] == [200] * len(real.writes)

    again, task = manage(sim, run_playbook, "production", bundle="1.2.0", rollout={"bundle": "1.1.0"})
    assert task["changed"] is False and again.writes == []


# -- 12.1 #5: advanceRollout, shipping the next candidate while one runs ----------------------------------

@pytest.mark.profiles(*ROLLOUTS)
def test_shipping_the_next_candidate_while_one_runs(sim, run_playbook):
    """bundle = the running candidate, rollout.bundle = the next one: on latest one advanceRollout write (the server
    moves the stable bundle, so no version is sent); on current the same end state from one write naming both."""
    rollout_id = seed_rollout(sim)
    step = {"bundle": "1.1.0", "rollout": {"bundle": "1.2.0", "percentage": 5}}
    real, task = check_then_apply(sim, run_playbook, "production", compare_demoted=False, **step)
    assert task["changed"] is True
    assert task["diff"]["before"]["bundle"] == "1.0.0" and task["diff"]["after"]["bundle"] == "1.1.0"
    assert task["channel"]["rollout"]["bundle"] == "1.2.0" and task["channel"]["rollout"]["percentage"] == 5.0
    started = {"rolloutVersion": "1.2.0", "rolloutEnabled": True, "rolloutPaused": False, "rolloutPercentageBps": 500}
    if sim.profile == "latest":
        assert bodies(real.writes) == [dict(started, advanceRollout=True)]
    else:
        assert bodies(real.writes) == [dict(started, version="1.1.0")]
    assert rollout_state(sim) == dict(stable="1.1.0", candidate="1.2.0", bps=500, enabled=True, paused=False)
    assert channel_row(sim, "production")["rollout_id"] != rollout_id

    again, task = manage(sim, run_playbook, "production", **step)
    assert task["changed"] is False and again.writes == []


@pytest.mark.profiles("latest")
def test_advance_whose_answer_is_lost_is_confirmed_never_sent_again(sim, run_playbook):
    """A second advanceRollout would ship 1.2.0 as the stable bundle: the lost answer is decided by a read."""
    seed_rollout(sim)
    sim.fault("drop_after", method="POST", path="/channel")
    result, task = manage(sim, run_playbook, "production", bundle="1.1.0", rollout={"bundle": "1.2.0", "percentage": 5})
    assert task["changed"] is True and not task.get("failed")
    assert [(entry["fault"], entry["applied"], entry["body"].get("advanceRollout")) for entry in result.writes] == [
        ("drop_after", True, True)]
    assert result.requests[-1]["method"] == "GET"  # the read-back
    assert rollout_state(sim) == dict(stable="1.1.0", candidate="1.2.0", bps=500, enabled=True, paused=False)


# -- 12.1 #6: update_package and the bundle guard (latest) ------------------------------------------------

@pytest.mark.profiles("latest")
def test_bundle_guard_refusals_name_the_bundle_and_what_it_lacks(sim, run_playbook):
    """channel_zip_required / channel_delta_required on a bundle change, a mode change and a new channel; each
    refused write changes nothing (a new channel is not created), and a compatible pair goes through."""
    seed_bundles(sim, "1.0.0", "2.0.0", **{"2.0.0": {"zip": False, "delta": True}})  # 1.0.0: zip only
    seed_channels(sim, {"name": "production", "version": "1.0.0", "update_package": "zip"})

    result, task = manage(sim, run_playbook, "production", bundle="2.0.0", expect_failure=True)
    assert task["error"] == "channel_zip_required"
    assert "bundle 2.0.0 lacks a full zip archive, which channel production needs for update_package=zip" in task["msg"]
    assert answers(result.writes) == [("POST", "/channel", 400, "channel_zip_required")]
    assert bodies(result.writes) == [{"version": "2.0.0"}]

    result, task = manage(sim, run_playbook, "production", update_package="delta", expect_failure=True)
    assert task["error"] == "channel_delta_required"
    assert "bundle 1.0.0 lacks a delta manifest" in task["msg"] and "update_package=delta" in task["msg"]
    assert answers(result.writes) == [("POST", "/channel", 400, "channel_delta_required")]
    row = channel_row(sim, "production")
    assert (row["version_name"], row["update_package"]) == ("1.0.0", "zip")

    result, task = manage(sim, run_playbook, "delta-lane", bundle="1.0.0", update_package="delta", expect_failure=True)
    assert task["error"] == "channel_delta_required"
    assert "bundle 1.0.0 lacks a delta manifest" in task["msg"]
    assert "which channel delta-lane needs for update_package=delta" in task["msg"]
    assert bodies(result.writes) == [{"version": "1.0.0", "updatePackage": "delta"}]
    assert channel_row(sim, "delta-lane") is None

    result, task = manage(sim, run_playbook, "delta-lane", bundle="2.0.0", update_package="delta")
    assert task["changed"] is True and answers(result.writes) == [("POST", "/channel", 200, None)]
    row = channel_row(sim, "delta-lane")
    assert (row["version_name"], row["update_package"]) == ("2.0.0", "delta")


@pytest.mark.profiles("current", "classic")
def test_update_package_for_a_new_channel_fails_before_any_write_where_unsupported(sim, run_playbook):
    """The generation is read from the app's other channels: without updatePackage there, nothing is sent."""
    seed_channels(sim, {"name": "production"})
    result, task = manage(sim, run_playbook, "delta-lane", update_package="delta", expect_failure=True)
    assert "update_package is not supported by this Capgo (the %s API generation" % sim.profile in task["msg"]
    assert result.writes == [] and task["changed"] is False
    assert channel_row(sim, "delta-lane") is None


# -- 12.1 #9: a transient error in the permission check ---------------------------------------------------

def test_permission_check_error_on_a_settings_write(sim, run_playbook):
    """latest answers 503 upstream_unavailable, sent before anything is applied: retried, done once. current and
    classic deny (400 cannot_access_app): the task fails and nothing changes."""
    seed_channels(sim, {"name": "production", "allow_dev": True})
    sim.fault("permission_error", method="POST", path="/channel")
    if sim.profile == "latest":
        result, task = manage(sim, run_playbook, "production", allow_dev=False)
        assert task["changed"] is True
        assert answers(result.writes) == [RETRIED_503, ("POST", "/channel", 200, None)]
        assert [(entry["fault"], entry["applied"]) for entry in result.writes] == [("permission_error", False),
                                                                                   (None, True)]
        assert channel_row(sim, "production")["allow_dev"] is False
        return
    result, task = manage(sim, run_playbook, "production", allow_dev=False, expect_failure=True)
    assert (task["status"], task["error"]) == (400, "cannot_access_app")
    assert answers(result.writes) == [("POST", "/channel", 400, "cannot_access_app")]
    assert result.writes[0]["fault"] == "permission_error"
    assert channel_row(sim, "production")["allow_dev"] is True


@pytest.mark.profiles("latest")
def test_permission_check_error_on_a_promote_is_sent_again(sim, run_playbook):
    """A promote is never sent twice after an answer that may hide an applied write; 503 upstream_unavailable is not
    such an answer (the permission check runs first), so the promote is retried, not read back and given up."""
    seed_rollout(sim)
    sim.fault("permission_error", method="POST", path="/channel")
    result, task = manage(sim, run_playbook, "production", bundle="1.1.0", rollout={"state": "absent"})
    assert task["changed"] is True and not task.get("failed")
    assert answers(result.writes) == [RETRIED_503, ("POST", "/channel", 200, None)]
    assert bodies(result.writes) == [{"promoteToStable": True}] * 2
    assert rollout_state(sim) == dict(stable="1.1.0", candidate=None, bps=0, enabled=False, paused=False)


# -- 12.2 #1: POST /bundle denial is 400 cannot_create_bundle ---------------------------------------------

@pytest.mark.profiles(*ROLLOUTS)  # classic has no POST /bundle (test_capgo_bundle.py covers its 404)
def test_registering_with_a_key_that_may_not_upload(sim, run_playbook):
    reader_id = seed_key(sim, READER, "read")
    uploader_id = seed_key(sim, UPLOADER, "upload")
    extra = {"app_id": sim.app_id, "bundle_version": "2.0.0", "bundle_url": BUNDLE_URL, "bundle_checksum": "c0ffee"}

    result = run_playbook("bundle_present", extra_vars=extra, env={"CAPGO_API_KEY": READER}, expect_failure=True)
    task = result.task(BUNDLE_TASK)
    assert READER not in result.stdout
    assert (task["status"], task["error"]) == (400, "cannot_create_bundle")
    assert task["api_message"] == "You can't access this app"
    assert "may not upload bundles to app %s" % sim.app_id in task["msg"] and "app.upload_bundle" in task["msg"]
    assert "deleted bundle" not in task["msg"]  # not mistaken for a name held by a deleted bundle
    assert [(entry["method"], entry["path"], entry["status"], entry["key_id"]) for entry in result.writes] == [
        ("POST", "/bundle", 400, reader_id)]
    assert live_bundles(sim) == []

    result = run_playbook("bundle_present", extra_vars=extra, env={"CAPGO_API_KEY": UPLOADER})
    assert result.task(BUNDLE_TASK)["changed"] is True
    assert [(entry["status"], entry["key_id"]) for entry in result.writes] == [(200, uploader_id)]
    assert live_bundles(sim) == ["2.0.0"]


# -- 12.2 #6: DELETE /device checks device_id first; Retry-After can be 0 ---------------------------------

@pytest.mark.profiles("latest", "classic")
def test_release_without_a_device_id_is_never_sent(sim, run_playbook):
    """HEAD and latest answer a DELETE /device without device_id 400 missing_device_id (before invalid_app_id);
    classic answers it 200 and deletes nothing. The module refuses every empty id before any request."""
    seed_channels(sim, {"name": "beta"})
    sim.seed({"overrides": [{"app_id": sim.app_id, "device_id": "dev-a", "channel": "beta"}]})
    cases = [
        ({"state": "absent", "device_id": ""}, "device ids must not be empty"),
        ({"state": "absent", "device_id": "   "}, "device ids must not be empty"),
        ({"state": "absent", "device_ids": ["dev-a", ""]}, "device ids must not be empty"),
        ({"state": "absent", "device_ids": []}, "device_ids must name at least one device"),
    ]
    result = run_playbook("gen_device_link_bad_ids",
                          extra_vars={"app_id": sim.app_id, "bad_inputs": [case for case, dummy in cases]})
    outcomes = result.task("Try bad device ids")["results"]
    assert len(outcomes) == len(cases)
    for (case, fragment), outcome in zip(cases, outcomes):
        # failed_when: false keeps the loop going, so the refusal shows as the message, with no API answer
        assert fragment in outcome.get("msg", ""), (case, outcome.get("msg"))
        assert outcome.get("changed") is False and "status" not in outcome and "error" not in outcome
    assert result.requests == []
    assert overrides(sim) == {"dev-a": "beta"}

    # What the guard spares the user: the API's own answers to a DELETE /device without device_id.
    if sim.profile == "classic":
        assert api_delete(sim, "/device", {"app_id": "not an app"}) == (400, "invalid_app_id")
        assert api_delete(sim, "/device", {"app_id": sim.app_id}) == (200, None)  # "ok", and nothing released
    else:
        assert api_delete(sim, "/device", {"app_id": "not an app"}) == (400, "missing_device_id")  # checked first
        assert api_delete(sim, "/device", {"app_id": sim.app_id}) == (400, "missing_device_id")
    assert overrides(sim) == {"dev-a": "beta"}


@pytest.mark.profiles(*ROLLOUTS)
def test_retry_after_zero_is_retried_at_once(sim, run_playbook):
    """Two 429s with Retry-After: 0 on POST /device: retried at once (not the 2 s, 4 s backoff of a 429 that gives
    no wait), and the device is pinned once."""
    seed_channels(sim, {"name": "beta"})
    sim.seed({"devices": [{"app_id": sim.app_id, "device_id": "dev-a", "platform": "ios"}]})
    sim.faults([{"type": "429", "retry_after": 0, "method": "POST", "path": "/device", "count": 2}])
    result = run_playbook("device_link_one", extra_vars=link_dev_a(sim))
    task = result.task(LINK_TASK)
    assert task["changed"] is True and not task.get("warnings")
    posts = [entry for entry in result.writes if entry["path"] == "/device"]
    assert [(entry["status"], entry["fault"]) for entry in posts] == [(429, "429"), (429, "429"), (200, None)]
    assert posts[-1]["time"] - posts[0]["time"] < 1.5, "waited %.1f s" % (posts[-1]["time"] - posts[0]["time"])
    assert overrides(sim) == {"dev-a": "beta"}


@pytest.mark.profiles("classic")
def test_classic_429_without_retry_after_is_backed_off(sim, run_playbook):
    """The contrast: classic's 429 says nothing about when to come back, so the module waits (2 s or more)."""
    seed_channels(sim, {"name": "beta"})
    sim.seed({"devices": [{"app_id": sim.app_id, "device_id": "dev-a", "platform": "ios"}]})
    sim.faults([{"type": "429", "method": "POST", "path": "/device", "count": 1}])
    result = run_playbook("device_link_one", extra_vars=link_dev_a(sim))
    assert result.task(LINK_TASK)["changed"] is True
    posts = [entry for entry in result.writes if entry["path"] == "/device"]
    assert [(entry["status"], entry["fault"]) for entry in posts] == [(429, "429"), (200, None)]
    assert posts[1]["time"] - posts[0]["time"] >= 2.0
    assert overrides(sim) == {"dev-a": "beta"}


# -- 12.1 #8: overrides set through the API never expire on latest ----------------------------------------

@pytest.mark.profiles(*ROLLOUTS)
def test_a_pin_after_forty_days(sim, run_playbook):
    """current deletes overrides older than a month, latest never: re-running the pin puts back what is gone."""
    seed_channels(sim, {"name": "beta"})
    sim.seed({"devices": [{"app_id": sim.app_id, "device_id": "dev-a", "platform": "ios"}]})
    link = link_dev_a(sim)
    first = run_playbook("device_link_one", extra_vars=link)
    assert [entry["status"] for entry in first.writes] == [200] and overrides(sim) == {"dev-a": "beta"}

    expired = sim.advance_clock(40)["expired"]
    sim.config({"same_set_window": 0})  # forty days later Capgo's 60-second same-channel block is long over
    again = run_playbook("device_link_one", extra_vars=link)
    if sim.profile == "latest":
        assert expired == 0 and overrides(sim) == {"dev-a": "beta"}
        assert again.task(LINK_TASK)["changed"] is False and again.writes == []
    else:
        assert expired == 1
        assert again.task(LINK_TASK)["changed"] is True
        assert [(entry["method"], entry["status"]) for entry in again.writes] == [("POST", 200)]
        assert overrides(sim) == {"dev-a": "beta"}


# -- 12.2 #7: soft-deleted bundles are purged after 90 days at HEAD ---------------------------------------

@pytest.mark.profiles(*ROLLOUTS)
def test_a_deleted_bundles_name_is_free_again_after_90_days(sim, run_playbook):
    seed_bundles(sim, "2.0.0", **{"2.0.0": {"deleted": True}})
    assert sim.advance_clock(89)["purged_bundles"] == 0
    assert sim.advance_clock(2)["purged_bundles"] == 1
    extra = {"app_id": sim.app_id, "bundle_version": "2.0.0", "bundle_url": BUNDLE_URL, "bundle_checksum": "c0ffee"}
    result = run_playbook("bundle_present", extra_vars=extra)
    assert result.task(BUNDLE_TASK)["changed"] is True
    assert answers(result.writes) == [("POST", "/bundle", 200, None)]
    assert live_bundles(sim) == ["2.0.0"]
