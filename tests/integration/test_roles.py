"""The capgo.cloud.release and capgo.cloud.channels roles against the simulator.

Release: direct and staged releases, convergence (a second run is a no-op), check mode (also chained after the
channels role that would create the channel), the classic generation without rollouts, the native-compatibility
gate, and the rollback paths: a failing health check (task file or URL), a rollout Capgo paused or rolled back
mid-release, and a final switch whose answer was lost (which must end released, not rolled back). Every rollback
must leave the channel, the tester channel and the device overrides exactly as they were, read from the simulator.
Channels: lanes applied to several apps (also from capgo_app_info's list), idempotency, purge (check mode first),
validation before any request.
"""

import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HEALTH_CHECK = os.path.join(HERE, "playbooks", "files", "health_check.yml")
REPO = os.path.dirname(os.path.dirname(HERE))

ROLLOUT_PROFILES = ("latest", "current")  # the API generations with progressive rollouts
with_rollouts = pytest.mark.profiles(*ROLLOUT_PROFILES)
one_profile = pytest.mark.profiles("latest")  # checks of the role's own logic: one API generation is enough

# What a rollback must put back: everything a device's update decision depends on.
CHANNEL_FIELDS = (
    "name", "public", "version_name", "rollout_version_name", "rollout_percentage_bps", "rollout_enabled",
    "rollout_paused_at", "rollout_cache_ttl_seconds", "disable_auto_update", "disable_auto_update_under_native",
    "allow_device_self_set", "allow_emulator", "allow_dev", "allow_device", "allow_prod", "ios", "android", "electron",
)

TESTERS = ["tester-a", "TESTER-B"]

NATIVE_1_0 = [{"name": "@capacitor/app", "version": "5.0.0"}, {"name": "@capacitor/camera", "version": "5.0.1"},
              {"name": "@capgo/capacitor-updater", "version": "7.0.0"}]
NATIVE_1_1 = [{"name": "@capacitor/app", "version": "6.0.0"}, {"name": "@capgo/capacitor-updater", "version": "7.0.0"},
              {"name": "@capgo/native-audio", "version": "1.2.0"}]


def _bundles(app_id, names, native=None):
    native = native or {}
    bundles = []
    for index, name in enumerate(names):
        bundle = {"app_id": app_id, "name": name, "created_at": "2026-0%d-01T00:00:00Z" % (index + 1)}
        if name in native:
            bundle["native_packages"] = native[name]
        bundles.append(bundle)
    return bundles


def _channel_view(state, app_id):
    """The channels of app_id by name, reduced to CHANNEL_FIELDS (ids, timestamps and rollout_id left out)."""
    return {
        channel["name"]: {field: channel.get(field) for field in CHANNEL_FIELDS}
        for channel in state["channels"] if channel["app_id"] == app_id
    }


def _overrides(state, app_id):
    return sorted((o["device_id"], o["channel"]) for o in state["overrides"] if o["app_id"] == app_id)


def _seed_release(sim, rollout=False, native=None):
    """production serves 1.0.0 (with a running 1.0.1 rollout at 20 % when asked); beta, qa private;
    tester-a pinned to qa, tester-b never pinned."""
    production = {"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True,
                  "allow_emulator": False}
    if rollout:
        production.update({"rollout_version": "1.0.1", "rollout_percentage_bps": 2000, "rollout_enabled": True})
    sim.seed({
        "bundles": _bundles(sim.app_id, ["1.0.0", "1.0.1", "1.1.0"], native),
        "channels": [production,
                     {"app_id": sim.app_id, "name": "beta", "version": "1.0.0"},
                     {"app_id": sim.app_id, "name": "qa", "version": "1.0.0"}],
        "devices": [{"app_id": sim.app_id, "device_id": "tester-a", "platform": "ios"},
                    {"app_id": sim.app_id, "device_id": "tester-b", "platform": "android"}],
        "overrides": [{"app_id": sim.app_id, "device_id": "tester-a", "channel": "qa"}],
    })


def _release_vars(sim, **extra):
    base = {"release_app_id": sim.app_id, "release_channel": "production", "release_bundle": "1.1.0",
            "sim_url": sim.url}
    base.update(extra)
    return base


def _task(result, name):
    """The first task called ``name``; tasks inside a role are reported as ``<role> : <name>``."""
    for task_name, task_result in result.tasks:
        if task_name == name or task_name.endswith(" : " + name):
            return task_result
    raise KeyError("no task named %r; tasks run: %r" % (name, [entry[0] for entry in result.tasks]))


def _lines(task_result):
    """A role message: a list of lines, none with an embedded line break."""
    msg = task_result["msg"]
    assert isinstance(msg, list), "role messages are lists of lines, got %r" % (msg,)
    assert all(isinstance(line, str) and "\n" not in line for line in msg), msg
    return msg


def _text(task_result):
    return " ".join(_lines(task_result))


def _checked_stages(result):
    return [r["msg"] for name, r in result.tasks if name.endswith("Health check stage") and "msg" in r]


def _release_result(result):
    return _task(result, "Show the release result")["release_result"]


def _channel_posts(result):
    return [w["body"] for w in result.writes if (w["method"], w["path"]) == ("POST", "/channel")]


def _production(sim):
    return _channel_view(sim.state(), sim.app_id)["production"]


def _auto_pause_at(sim, stage, action, reason=None):
    # reason None: a pause with no reason recorded (the simulator otherwise words one like Capgo's cron)
    body = {"app_id": sim.app_id, "channel": "production", "action": action, "reason": reason}
    return {stage: [{"path": "/_sim/rollout/auto_pause", "body": body}]}


def _faults_at(stage, *faults):
    return {stage: [{"path": "/_sim/faults", "body": {"faults": list(faults)}}]}


# -- release ----------------------------------------------------------------------------------------------

def test_release_direct_switch_then_converged(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", extra_vars=_release_vars(sim, release_health_check_tasks=HEALTH_CHECK))
    report = _release_result(result)
    assert report["outcome"] == "released" and report["stages"] == ["100%"]
    assert report["previous"]["bundle"] == "1.0.0"
    assert _checked_stages(result) == ["100%"]
    assert [(w["method"], w["path"]) for w in result.writes] == [("POST", "/channel")]
    assert _production(sim)["version_name"] == "1.1.0"
    # the final stage is read back after the switch
    last_write = result.writes[-1]["seq"]
    assert [r for r in result.requests if r["seq"] > last_write and (r["method"], r["path"]) == ("GET", "/channel")]

    again = run_playbook("role_release", extra_vars=_release_vars(sim, release_health_check_tasks=HEALTH_CHECK))
    assert _release_result(again)["outcome"] == "already_released"
    assert again.stats["changed"] == 0 and not again.writes
    assert _checked_stages(again) == []  # converged: no stage, no check


@with_rollouts
def test_staged_release_goes_through_every_step_and_reads_each_back(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_health_check_tasks=HEALTH_CHECK))
    report = _release_result(result)
    assert report["outcome"] == "released" and report["generation"] == "current"
    assert report["stages"] == ["10%", "50%", "100%"]
    assert _checked_stages(result) == ["10%", "50%", "100%"]
    bodies = _channel_posts(result)
    assert len(bodies) == 3 and len(result.writes) == 3
    # What the module sends for a step: the candidate and basis points, never the percentage field.
    for body, bps in zip(bodies[:2], (1000, 5000)):
        assert body["rolloutPercentageBps"] == bps and body.get("rolloutVersion") in ("1.1.0", None)
        assert "rolloutPercentage" not in body
    assert bodies[0]["rolloutVersion"] == "1.1.0"
    # every write is followed by a read of the channel before the next write (the role watches each stage)
    seqs = [w["seq"] for w in result.writes] + [float("inf")]
    for start, end in zip(seqs, seqs[1:]):
        assert [r for r in result.requests if start < r["seq"] < end and (r["method"], r["path"]) == ("GET", "/channel")]
    production = _production(sim)
    assert production["version_name"] == "1.1.0" and production["rollout_version_name"] is None
    assert not production["rollout_enabled"]

    again = run_playbook("role_release", extra_vars=_release_vars(sim, release_steps=[10, 50]))
    assert again.stats["changed"] == 0 and not again.writes


@with_rollouts
@pytest.mark.parametrize("action, reason", [("pause", "failure rate 7.4% above 2.5% over 60 min"), ("pause", None),
                                            ("rollback", "failure rate 9% above 5%")])
def test_rollout_capgo_stopped_mid_release_fails_the_stage_and_rolls_back(sim, run_playbook, action, reason):
    """Capgo's auto-pause acts on the 10 % stage (simulator admin call from the health check): the stage fails,
    the 50 % step and the final switch are never sent, and the rollback restores from what the server holds."""
    _seed_release(sim)
    before = sim.state()
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_health_check_tasks=HEALTH_CHECK,
        sim_calls_at=_auto_pause_at(sim, "10%", action, reason)))

    assert _checked_stages(result) == ["10%"]
    stopped = _text(_task(result, "Fail the stage when Capgo paused or ended it | 10%"))
    verb = "paused" if action == "pause" else "rolled back"
    assert "Capgo %s the rollout of 1.1.0 on production at 10%%" % verb in stopped
    if reason and action == "pause":
        assert "reason given by Capgo: " + reason in stopped
    elif action == "pause":
        assert "the API gives no reason" in stopped
    failure = _text(_task(result, "Fail the release"))
    assert "failed at 10%" in failure and "Capgo %s the rollout" % verb in failure and "Rolled back" in failure

    bodies = _channel_posts(result)
    assert bodies[0]["rolloutPercentageBps"] == 1000
    assert not [b for b in bodies if b.get("rolloutPercentageBps") == 5000 or b.get("promoteToStable")]
    assert _channel_view(sim.state(), sim.app_id)["production"]["version_name"] == "1.0.0"
    view = _channel_view(sim.state(), sim.app_id)
    assert view["production"]["rollout_version_name"] is None and not view["production"]["rollout_enabled"]
    assert view["beta"] == _channel_view(before, sim.app_id)["beta"]
    if action == "rollback":
        # Capgo already put the channel back: the rescue read that and had nothing to write.
        assert len(result.writes) == 1
        assert _release_result_from_rescue(result)["restored"]["channel_changed"] is False
    else:
        assert len(result.writes) == 2  # the step, then the one write that ends the paused rollout


def _release_result_from_rescue(result):
    for name, task_result in reversed(result.tasks):
        if name.endswith("Report what the rollback restored"):
            return task_result["ansible_facts"]["release_result"]
    raise KeyError("the rollback did not report")


@with_rollouts
def test_rollback_restores_a_previous_rollout_capgo_paused_during_the_release(sim, run_playbook):
    """A running 1.0.1 rollout at 20 % before the release: after Capgo pauses the new one, the rescue puts
    1.0.1 at 20 % back, running, exactly as it was."""
    _seed_release(sim, rollout=True)
    before = sim.state()
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_health_check_tasks=HEALTH_CHECK,
        sim_calls_at=_auto_pause_at(sim, "50%", "pause", "too many failed updates")))
    assert "failed at 50%" in _text(_task(result, "Fail the release"))
    assert "paused by Capgo: too many failed updates" in _text(_task(result, "Fail the release"))
    assert _channel_view(sim.state(), sim.app_id) == _channel_view(before, sim.app_id)


@with_rollouts
def test_lost_answer_at_the_final_switch_ends_released(sim, run_playbook):
    """The final switch is applied but its answer is dropped: the release ends released, nothing rolled back."""
    _seed_release(sim)
    result = run_playbook("role_release", extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_health_check_tasks=HEALTH_CHECK,
        sim_calls_at=_faults_at("50%", {"type": "drop_after", "method": "POST", "path": "/channel", "count": 1})))
    report = _release_result(result)
    assert report["outcome"] == "released" and report["stages"] == ["10%", "50%", "100%"]
    assert _checked_stages(result) == ["10%", "50%", "100%"]
    dropped = [r for r in result.requests if r.get("fault") == "drop_after"]
    assert len(dropped) == 1 and dropped[0]["method"] == "POST"
    # nothing after the lost answer undid it: no write after the switch
    assert result.writes[-1]["seq"] == dropped[0]["seq"]
    production = _production(sim)
    assert production["version_name"] == "1.1.0" and production["rollout_version_name"] is None
    assert result.stats["rescued"] == 0 or report.get("switch_confirmed_by_read")


@with_rollouts
def test_lost_answer_the_module_cannot_confirm_is_confirmed_by_the_role(sim, run_playbook):
    """The switch is applied, its answer dropped, and the module's own read-back dropped too (no retries):
    the module fails, the role reads the channel back, finds the switch, and ends released."""
    _seed_release(sim)
    result = run_playbook("role_release_no_retries", extra_vars=_release_vars(
        sim, release_steps=[10], release_health_check_tasks=HEALTH_CHECK,
        sim_calls_at=_faults_at("10%", {"type": "drop_after", "method": "POST", "path": "/channel", "count": 1},
                                # after the health check: the role's read-back of 10 %, the module's read before
                                # the switch, then (dropped) the module's read-back after it
                                {"type": "drop", "method": "GET", "path": "/channel", "count": 1, "skip": 2})))
    report = _release_result(result)
    assert report["outcome"] == "released" and report.get("switch_confirmed_by_read") is True
    assert report["stages"] == ["10%", "100%"] and _checked_stages(result) == ["10%", "100%"]
    assert result.stats["rescued"] == 1
    assert [r["fault"] for r in result.requests if r.get("fault")] == ["drop_after", "drop"]
    drop_after = [r for r in result.requests if r.get("fault") == "drop_after"][0]
    assert result.writes[-1]["seq"] == drop_after["seq"]  # nothing was "restored" over the switch
    assert _production(sim)["version_name"] == "1.1.0"


@with_rollouts
def test_check_mode_shows_the_plan_and_writes_nothing(sim, run_playbook):
    _seed_release(sim)
    before = sim.state()
    result = run_playbook("role_release", check=True, extra_vars=_release_vars(
        sim, release_steps=[25], release_testers=TESTERS, release_tester_channel="beta",
        release_health_check_tasks=HEALTH_CHECK))
    assert not result.writes
    assert _release_result(result)["outcome"] == "planned"
    plan = _text(_task(result, "Show the plan"))
    assert "check mode" in plan and "1.0.0 -> 1.1.0" in plan and "testers -> 25% -> 100%" in plan
    assert result.stats["changed"] > 0  # the predicted changes are reported
    assert _checked_stages(result) == []  # no health check on a release that did not happen
    assert sim.state()["channels"] == before["channels"] and sim.state()["overrides"] == before["overrides"]


@pytest.mark.parametrize("lane_bundle, steps", [(None, [10]), ("1.0.0", [10, 50])])
def test_check_mode_chain_plans_against_the_predicted_channel(sim, run_playbook, lane_bundle, steps):
    """channels creates 'staging', release releases to it: --check plans the release against the channel the
    channels role predicts, writes nothing, and predicts the stages the real run then goes through."""
    if lane_bundle and sim.profile == "classic":
        pytest.skip("staged steps need rollouts")
    _seed_release(sim)
    before = sim.state()
    lane = {"name": "staging"}
    if lane_bundle:
        lane["bundle"] = lane_bundle
    extra = {"chain_app_id": sim.app_id, "chain_lanes": [lane], "chain_channel": "staging", "chain_bundle": "1.1.0",
             "chain_steps": steps if sim.profile != "classic" else []}

    checked = run_playbook("role_chain", check=True, extra_vars=extra)
    assert not checked.writes
    assert sim.state()["channels"] == before["channels"]
    assert _text(_task(checked, "Show the channels per app")) == "%s: would create staging" % sim.app_id
    planned = _release_result(checked)
    assert planned["outcome"] == "planned" and planned["predicted_channel"] is True
    plan = _text(_task(checked, "Show the plan"))
    assert "staging does not exist yet: planned against the channel an earlier task of this play would create" in plan
    assert checked.stats["changed"] >= 2  # the channel and the release

    real = run_playbook("role_chain", extra_vars=extra)
    released = _release_result(real)
    assert released["outcome"] == "released" and released["stages"] == planned["stages"]
    assert released["stages"] == (["10%", "50%", "100%"] if lane_bundle else ["100%"])
    assert _channel_view(sim.state(), sim.app_id)["staging"]["version_name"] == "1.1.0"

    # once released, the release owns the lane's bundle: a lane that still declared bundle 1.0.0 would put it back
    # (roles/channels documents this), so the re-run declares the lane without it, as a pipeline would
    extra["chain_lanes"] = [{"name": "staging"}]
    again = run_playbook("role_chain", check=True, extra_vars=extra)
    assert again.stats["changed"] == 0 and _release_result(again)["outcome"] == "already_released"


@one_profile
def test_check_mode_without_a_prediction_says_why_it_cannot_plan(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", check=True, expect_failure=True,
                          extra_vars=_release_vars(sim, release_channel="staging"))
    assert not result.writes
    msg = _text(result.failed_tasks()[-1][1])
    assert "Check mode: channel staging does not exist in %s yet" % sim.app_id in msg
    assert "cannot be planned" in msg and "release_predicted_channel" in msg
    assert "Existing channels: production, beta, qa" in msg


@pytest.mark.profiles("classic")
def test_classic_refuses_steps_unless_direct_switch_allowed(sim, run_playbook):
    _seed_release(sim)
    refused = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(sim, release_steps=[10, 50]))
    assert not refused.writes
    msg = _text(_task(refused, "Refuse staged steps where the API has no rollouts"))
    assert "release_allow_direct_switch" in msg and "Nothing was changed" in msg

    allowed = run_playbook("role_release", extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_allow_direct_switch=True))
    assert _release_result(allowed)["stages"] == ["100%"]
    assert "switching directly" in _text(_task(allowed, "Show the plan"))
    assert _production(sim)["version_name"] == "1.1.0"


@pytest.mark.parametrize("fail_at", ["testers", "last"])
def test_failing_health_check_restores_everything(sim, run_playbook, fail_at):
    """Testers pinned, steps (rollouts) or a direct switch (classic), then a check fails: the channel, the
    tester channel and the overrides end exactly as they started, including a running rollout."""
    rollouts = sim.profile in ROLLOUT_PROFILES
    _seed_release(sim, rollout=rollouts)
    before = sim.state()
    stage = "testers" if fail_at == "testers" else ("50%" if rollouts else "100%")
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_allow_direct_switch=True, release_testers=TESTERS,
        release_tester_channel="beta", release_health_check_tasks=HEALTH_CHECK, fail_at_stage=stage))

    assert _checked_stages(result)[-1] == stage
    assert result.writes, "the release wrote something before the check failed"
    after = sim.state()
    assert _channel_view(after, sim.app_id) == _channel_view(before, sim.app_id)
    assert _overrides(after, sim.app_id) == _overrides(before, sim.app_id) == [("tester-a", "qa")]
    assert result.stats["rescued"] == 1
    failure = _text(_task(result, "Fail the release"))
    assert "failed at %s" % stage in failure and "Rolled back" in failure
    restored = _text(_task(result, "Show what the rollback restored"))
    assert "bundle 1.0.0" in restored and "tester-a -> qa" in restored and "tester-b -> no override" in restored
    if rollouts:
        assert "rollout of 1.0.1 at 20" in restored


@with_rollouts
def test_failing_url_check_deletes_the_tester_channel_it_created(sim, run_playbook):
    _seed_release(sim)
    before = sim.state()
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_testers=["tester-b"], release_tester_channel="canary",
        release_health_check_url=sim.url + "/_no_such_health_endpoint", release_health_check_retries=0,
        release_health_check_delay=0))
    assert _text(_task(result, "Fail the release")).count("failed at testers") == 1
    after = sim.state()
    assert "canary" not in _channel_view(after, sim.app_id)
    assert _channel_view(after, sim.app_id) == _channel_view(before, sim.app_id)
    assert _overrides(after, sim.app_id) == _overrides(before, sim.app_id)


@one_profile
def test_rollback_off_leaves_the_failure_in_place(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_rollback=False, release_health_check_tasks=HEALTH_CHECK, fail_at_stage="100%"))
    assert "Not rolled back" in _text(_task(result, "Fail the release"))
    assert _production(sim)["version_name"] == "1.1.0"


@one_profile
@pytest.mark.parametrize("bad, expected", [
    ({"release_bundle": "9.9.9"}, "9.9.9 is not a live bundle"),
    ({"release_channel": "nope"}, "Channel nope does not exist"),
    ({"release_steps": [50, 10]}, "release_steps must be increasing percentages"),
    ({"release_steps": [0, 100]}, "release_steps must be percentages between 1 and 99"),
    ({"release_testers": ["tester-a"]}, "release_testers needs release_tester_channel"),
    ({"release_channel": "beta", "release_testers": ["tester-a"], "release_tester_channel": "production"}, "is public"),
])
def test_bad_input_fails_before_any_write(sim, run_playbook, bad, expected):
    _seed_release(sim)
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(sim, **bad))
    assert not result.writes
    failed = result.failed_tasks()
    lines = _lines(failed[-1][1])
    assert [line for line in lines if expected in line]
    assert len(lines) == 2  # the heading and the one rule that failed, no other


@one_profile
def test_input_check_lists_every_failed_rule_and_only_those(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_steps=[50, 10], release_testers=["tester-a"]))
    assert not result.requests  # the settings are checked before the first request
    lines = _lines(result.failed_tasks()[-1][1])
    assert lines[0].startswith("Invalid release settings")
    assert lines[1:] == [
        "release_steps must be increasing percentages, each larger than the one before, got [50, 10]",
        "release_testers needs release_tester_channel, the private channel the testers are pinned to",
    ]

    missing = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_channel="nope", release_bundle="9.9.9"))
    lines = _lines(missing.failed_tasks()[-1][1])
    assert len(lines) == 3 and "Channel nope does not exist" in lines[1] and "9.9.9 is not a live bundle" in lines[2]
    assert "Existing channels: production, beta, qa" in lines[1]


# -- release: native compatibility (issue 15) -------------------------------------------------------------

def test_native_change_stops_the_release_with_the_packages_named(sim, run_playbook):
    _seed_release(sim, native={"1.0.0": NATIVE_1_0, "1.1.0": NATIVE_1_1})
    before = sim.state()
    steps = [10] if sim.profile != "classic" else []  # classic has no rollouts
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(sim, release_steps=steps))
    assert not result.writes and sim.state()["channels"] == before["channels"]
    lines = _lines(_task(result, "Stop a release whose native packages differ from the served bundle's"))
    assert "stopped before any write" in lines[0] and "1.0.0, the bundle the channel serves" in lines[0]
    assert lines[1:4] == [
        "added @capgo/native-audio 1.2.0",
        "removed @capacitor/camera 5.0.1",
        "changed @capacitor/app 5.0.0 -> 6.0.0",
    ]
    assert "capgo_release_allow_native_change: true" in lines[4]
    assert "@capgo/capacitor-updater" not in " ".join(lines)  # unchanged packages are not listed


def test_native_change_proceeds_with_the_override(sim, run_playbook):
    _seed_release(sim, native={"1.0.0": NATIVE_1_0, "1.1.0": NATIVE_1_1})
    result = run_playbook("role_release", extra_vars=_release_vars(sim, capgo_release_allow_native_change=True))
    report = _release_result(result)
    assert report["outcome"] == "released"
    assert report["native_changes"] == ["added @capgo/native-audio 1.2.0", "removed @capacitor/camera 5.0.1",
                                        "changed @capacitor/app 5.0.0 -> 6.0.0"]
    assert "native packages change (allowed by capgo_release_allow_native_change)" in _text(_task(result, "Show the plan"))
    assert _production(sim)["version_name"] == "1.1.0"


@one_profile
def test_same_native_packages_release_and_unknown_ones_are_said(sim, run_playbook):
    same = [dict(item) for item in NATIVE_1_0]
    _seed_release(sim, native={"1.0.0": NATIVE_1_0, "1.1.0": list(reversed(same))})
    result = run_playbook("role_release", extra_vars=_release_vars(sim))
    assert "native packages: same as 1.0.0" in _text(_task(result, "Show the plan"))
    assert _release_result(result)["native_changes"] == []

    sim.reset()
    _seed_release(sim, native={"1.1.0": NATIVE_1_1})  # 1.0.0 records no native packages
    result = run_playbook("role_release", extra_vars=_release_vars(sim))
    assert "native packages not compared: 1.0.0 record none" in _text(_task(result, "Show the plan"))
    assert _release_result(result)["outcome"] == "released"


# -- channels ---------------------------------------------------------------------------------------------

LANES = [
    {"name": "production", "public": True, "disable_auto_update": "major", "allow_emulator": False, "allow_dev": False},
    {"name": "beta", "allow_device_self_set": True},
]
SECOND_APP = "com.example.second"


def _seed_two_apps(sim):
    sim.seed({
        "apps": [{"app_id": SECOND_APP, "org": sim.org, "name": "Second App"}],
        "bundles": _bundles(sim.app_id, ["1.0.0"]),
        "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True},
                     {"app_id": sim.app_id, "name": "old-experiment", "version": "1.0.0"}],
        "devices": [{"app_id": sim.app_id, "device_id": "dev-1", "platform": "ios"}],
        "overrides": [{"app_id": sim.app_id, "device_id": "dev-1", "channel": "old-experiment"}],
    })


def test_lanes_applied_to_every_app_then_idempotent(sim, run_playbook):
    _seed_two_apps(sim)
    extra = {"channels_app_ids": [sim.app_id, SECOND_APP], "channels_lanes": LANES}
    result = run_playbook("role_channels", extra_vars=extra)
    report = _task(result, "Show the channels result")["channels_result"]
    assert report[sim.app_id]["changed"] == ["production"] and report[sim.app_id]["created"] == ["beta"]
    assert report[SECOND_APP]["created"] == ["production", "beta"]
    assert report[sim.app_id]["undeclared"] == ["old-experiment"] and report[sim.app_id]["removed"] == []
    assert sorted(report[SECOND_APP]["channels"]) == ["beta", "production"]
    assert _lines(_task(result, "Show the channels per app")) == [
        "%s: created beta; changed production" % sim.app_id, "%s: created production, beta" % SECOND_APP]

    state = sim.state()
    for app_id in (sim.app_id, SECOND_APP):
        view = _channel_view(state, app_id)
        assert view["production"]["public"] and not view["production"]["allow_emulator"]
        assert view["beta"]["allow_device_self_set"] and not view["beta"]["public"]
    # production kept its bundle: a lane without bundle never unassigns it (classic included)
    assert _channel_view(state, sim.app_id)["production"]["version_name"] == "1.0.0"
    assert "old-experiment" in _channel_view(state, sim.app_id)  # no purge asked

    again = run_playbook("role_channels", extra_vars=extra)
    assert again.stats["changed"] == 0 and not again.writes
    assert _task(again, "Show the channels result")["channels_result"][SECOND_APP]["unchanged"] == ["production", "beta"]


def test_purge_shows_first_in_check_mode_then_deletes(sim, run_playbook):
    _seed_two_apps(sim)
    extra = {"channels_app_ids": [sim.app_id], "channels_lanes": LANES, "channels_purge": True}
    checked = run_playbook("role_channels", check=True, extra_vars=extra)
    assert not checked.writes
    assert _lines(_task(checked, "List the undeclared channels")) == ["Would delete:", "%s/old-experiment" % sim.app_id]
    assert _lines(_task(checked, "Show the channels per app")) == [
        "%s: would create beta; would change production; would remove old-experiment" % sim.app_id]
    assert "old-experiment" in _channel_view(sim.state(), sim.app_id)

    result = run_playbook("role_channels", extra_vars=extra)
    assert _task(result, "Show the channels result")["channels_result"][sim.app_id]["removed"] == ["old-experiment"]
    assert _lines(_task(result, "Show the channels per app")) == [
        "%s: created beta; changed production; removed old-experiment" % sim.app_id]
    state = sim.state()
    assert sorted(_channel_view(state, sim.app_id)) == ["beta", "production"]
    assert _overrides(state, sim.app_id) == []  # the override went with the channel
    assert [(w["method"], w["path"]) for w in result.writes].count(("DELETE", "/channel")) == 1

    again = run_playbook("role_channels", extra_vars=extra)
    assert again.stats["changed"] == 0 and not again.writes
    assert _lines(_task(again, "List the undeclared channels")) == ["Every channel is declared."]


def test_lanes_reach_every_app_capgo_app_info_lists(sim, run_playbook):
    _seed_two_apps(sim)
    result = run_playbook("role_channels_apps", extra_vars={"channels_lanes": LANES})
    report = _task(result, "Show the channels result")["channels_result"]
    assert sorted(report) == sorted([sim.app_id, SECOND_APP])  # org1's apps; com.other.app (org2) is not visible
    state = sim.state()
    for app_id in (sim.app_id, SECOND_APP):
        assert set(_channel_view(state, app_id)) >= {"beta", "production"}
    assert sim.other_app_id not in {c["app_id"] for c in state["channels"]}

    again = run_playbook("role_channels_apps", extra_vars={"channels_lanes": LANES})
    assert again.stats["changed"] == 0 and not again.writes


@one_profile
@pytest.mark.parametrize("extra, expected", [
    ({"channels_lanes": [{"name": "a", "public": True}, {"name": "b", "public": True}]},
     ["More than one public lane serves the same platform (ios: a, b; android: a, b; electron: a, b)."]),
    ({"channels_lanes": [{"name": "a"}, {"name": "a", "public": True}]}, ["Lane names must be unique, got a, a"]),
    ({"channels_lanes": [{"name": "a", "disable_auto_update": "sometimes"}]}, ["disable_auto_update"]),
    ({"channels_app_ids": [], "channels_lanes": [{"name": "a"}, {"name": "a"}]},
     ["No app to apply the lanes to", "Lane names must be unique"]),
    ({"channels_apps": [{"name": "no id"}], "channels_lanes": [{"name": "a"}]},
     ["Every item of channels_apps needs an app_id"]),
])
def test_lane_set_is_checked_before_any_request(sim, run_playbook, extra, expected):
    extra_vars = {"channels_app_ids": [sim.app_id]}
    extra_vars.update(extra)
    result = run_playbook("role_channels", expect_failure=True, extra_vars=extra_vars)
    assert not result.requests
    failed = result.failed_tasks()[-1][1]
    if expected == ["disable_auto_update"]:  # the role's argument spec, before the role runs
        assert "disable_auto_update" in str(failed["msg"])
        return
    lines = _lines(failed)
    assert lines[0].startswith("Invalid channel lanes") and len(lines) == len(expected) + 1
    for line, wanted in zip(lines[1:], expected):
        assert line.startswith(wanted), (line, wanted)


@one_profile
def test_split_public_lanes_per_platform_are_allowed(sim, run_playbook):
    lanes = [{"name": "ios-default", "public": True, "ios": True, "android": False, "electron": False},
             {"name": "android-default", "public": True, "ios": False, "android": True, "electron": False}]
    result = run_playbook("role_channels", extra_vars={"channels_app_ids": [sim.app_id], "channels_lanes": lanes})
    assert _task(result, "Show the channels result")["channels_result"][sim.app_id]["created"] == ["ios-default", "android-default"]
    view = _channel_view(sim.state(), sim.app_id)
    assert view["ios-default"]["public"] and view["android-default"]["public"]


# -- example playbooks ------------------------------------------------------------------------------------

def test_release_with_backend_example(sim, run_playbook):
    _seed_release(sim)
    extra = {"app_id": sim.app_id, "app_bundle": "1.1.0", "backend_version": "it-test", "app_allow_direct_switch": True,
             "backend_health_url": sim.url + "/_sim/state"}
    result = run_playbook(os.path.join(REPO, "playbooks", "release_with_backend.yml"), extra_vars=extra)
    assert "released" in _text(_task(result, "Show the release"))
    assert _production(sim)["version_name"] == "1.1.0"


def test_demo_story_twice_second_run_changes_nothing(sim, run_playbook):
    with open(os.path.join(REPO, "tests", "simulator", "demo_seed.json")) as handle:
        seed = json.load(handle)
    seed.pop("keys", None)  # the harness key (org1, all mode) reaches the same apps
    sim.seed(seed)
    first = run_playbook(os.path.join(REPO, "playbooks", "demo.yml"))
    assert first.stats["changed"] > 0
    summary = _lines(_task(first, "Show what the app looks like now"))
    stages = "10% -> 50% -> 100%" if sim.profile in ROLLOUT_PROFILES else "100%"
    assert "Release: production 1.2.0 -> 1.2.1 released via %s" % stages in summary
    production = _production(sim)
    assert production["version_name"] == "1.2.1" and production["rollout_version_name"] is None
    deleted = sorted(b["name"] for b in sim.state()["bundles"] if b["app_id"] == sim.app_id and b.get("deleted"))
    assert "1.0.0" in deleted and "1.2.1" not in deleted

    second = run_playbook(os.path.join(REPO, "playbooks", "demo.yml"))
    assert second.stats["changed"] == 0 and not second.writes
    assert "Release: production already serves 1.2.1, nothing to do" in _lines(
        _task(second, "Show what the app looks like now"))
