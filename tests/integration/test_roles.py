"""The capgo.cloud.release and capgo.cloud.channels roles against the simulator.

Release: direct and staged releases, convergence (a second run is a no-op), check mode, the classic
generation without rollouts, and the rollback paths: a failing health check (task file or URL) must leave
the channel, the tester channel and the device overrides exactly as they were, read from the simulator.
Channels: lanes applied to several apps, idempotency, purge (check mode first), validation before any request.
"""

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
HEALTH_CHECK = os.path.join(HERE, "playbooks", "files", "health_check.yml")

current_only = pytest.mark.parametrize("profile", ["current"], indirect=True)
classic_only = pytest.mark.parametrize("profile", ["classic"], indirect=True)

# What a rollback must put back: everything a device's update decision depends on.
CHANNEL_FIELDS = (
    "name", "public", "version_name", "rollout_version_name", "rollout_percentage_bps", "rollout_enabled",
    "rollout_paused_at", "rollout_cache_ttl_seconds", "disable_auto_update", "disable_auto_update_under_native",
    "allow_device_self_set", "allow_emulator", "allow_dev", "allow_device", "allow_prod", "ios", "android", "electron",
)

TESTERS = ["tester-a", "TESTER-B"]


def _bundles(app_id, names):
    return [{"app_id": app_id, "name": name, "created_at": "2026-0%d-01T00:00:00Z" % (index + 1)}
            for index, name in enumerate(names)]


def _channel_view(state, app_id):
    """The channels of app_id by name, reduced to CHANNEL_FIELDS (ids, timestamps and rollout_id left out)."""
    return {
        channel["name"]: {field: channel.get(field) for field in CHANNEL_FIELDS}
        for channel in state["channels"] if channel["app_id"] == app_id
    }


def _overrides(state, app_id):
    return sorted((o["device_id"], o["channel"]) for o in state["overrides"] if o["app_id"] == app_id)


def _seed_release(sim, rollout=False):
    """production serves 1.0.0 (with a running 1.0.1 rollout at 20 % when asked); beta, qa private;
    tester-a pinned to qa, tester-b never pinned."""
    production = {"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True,
                  "allow_emulator": False}
    if rollout:
        production.update({"rollout_version": "1.0.1", "rollout_percentage_bps": 2000, "rollout_enabled": True})
    sim.seed({
        "bundles": _bundles(sim.app_id, ["1.0.0", "1.0.1", "1.1.0"]),
        "channels": [production,
                     {"app_id": sim.app_id, "name": "beta", "version": "1.0.0"},
                     {"app_id": sim.app_id, "name": "qa", "version": "1.0.0"}],
        "devices": [{"app_id": sim.app_id, "device_id": "tester-a", "platform": "ios"},
                    {"app_id": sim.app_id, "device_id": "tester-b", "platform": "android"}],
        "overrides": [{"app_id": sim.app_id, "device_id": "tester-a", "channel": "qa"}],
    })


def _release_vars(sim, **extra):
    base = {"release_app_id": sim.app_id, "release_channel": "production", "release_bundle": "1.1.0"}
    base.update(extra)
    return base


def _task(result, name):
    """The first task called ``name``; tasks inside a role are reported as ``<role> : <name>``."""
    for task_name, task_result in result.tasks:
        if task_name == name or task_name.endswith(" : " + name):
            return task_result
    raise KeyError("no task named %r; tasks run: %r" % (name, [entry[0] for entry in result.tasks]))


def _checked_stages(result):
    return [r["msg"] for name, r in result.tasks if name.endswith("Health check stage") and "msg" in r]


def _release_result(result):
    return _task(result, "Show the release result")["release_result"]


# -- release ----------------------------------------------------------------------------------------------

def test_release_direct_switch_then_converged(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", extra_vars=_release_vars(sim, release_health_check_tasks=HEALTH_CHECK))
    report = _release_result(result)
    assert report["outcome"] == "released" and report["stages"] == ["100%"]
    assert report["previous"]["bundle"] == "1.0.0"
    assert _checked_stages(result) == ["100%"]
    assert [(w["method"], w["path"]) for w in result.writes] == [("POST", "/channel")]
    assert _channel_view(sim.state(), sim.app_id)["production"]["version_name"] == "1.1.0"

    again = run_playbook("role_release", extra_vars=_release_vars(sim, release_health_check_tasks=HEALTH_CHECK))
    assert _release_result(again)["outcome"] == "already_released"
    assert again.stats["changed"] == 0 and not again.writes
    assert _checked_stages(again) == []  # converged: no stage, no check


@current_only
def test_staged_release_goes_through_every_step(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_health_check_tasks=HEALTH_CHECK))
    report = _release_result(result)
    assert report["outcome"] == "released" and report["generation"] == "current"
    assert report["stages"] == ["10%", "50%", "100%"]
    assert _checked_stages(result) == ["10%", "50%", "100%"]
    bodies = [w["body"] for w in result.writes]
    assert len(bodies) == 3 and all(w["path"] == "/channel" for w in result.writes)
    rollout_bps = [body.get("rolloutPercentageBps", body.get("rolloutPercentage")) for body in bodies[:2]]
    assert rollout_bps in ([1000, 5000], [10, 50])
    production = _channel_view(sim.state(), sim.app_id)["production"]
    assert production["version_name"] == "1.1.0" and production["rollout_version_name"] is None
    assert not production["rollout_enabled"]

    again = run_playbook("role_release", extra_vars=_release_vars(sim, release_steps=[10, 50]))
    assert again.stats["changed"] == 0 and not again.writes


@current_only
def test_check_mode_shows_the_plan_and_writes_nothing(sim, run_playbook):
    _seed_release(sim)
    before = sim.state()
    result = run_playbook("role_release", check=True, extra_vars=_release_vars(
        sim, release_steps=[25], release_testers=TESTERS, release_tester_channel="beta",
        release_health_check_tasks=HEALTH_CHECK))
    assert not result.writes
    assert _release_result(result)["outcome"] == "planned"
    plan = _task(result, "Show the plan")["msg"]
    assert "check mode" in plan and "1.0.0 -> 1.1.0" in plan and "testers -> 25% -> 100%" in plan
    assert result.stats["changed"] > 0  # the predicted changes are reported
    assert _checked_stages(result) == []  # no health check on a release that did not happen
    assert sim.state()["channels"] == before["channels"] and sim.state()["overrides"] == before["overrides"]


@classic_only
def test_classic_refuses_steps_unless_direct_switch_allowed(sim, run_playbook):
    _seed_release(sim)
    refused = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(sim, release_steps=[10, 50]))
    assert not refused.writes
    msg = _task(refused, "Refuse staged steps where the API has no rollouts")["msg"]
    assert "release_allow_direct_switch" in msg and "Nothing was changed" in msg

    allowed = run_playbook("role_release", extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_allow_direct_switch=True))
    assert _release_result(allowed)["stages"] == ["100%"]
    assert "switching directly" in _task(allowed, "Show the plan")["msg"]
    assert _channel_view(sim.state(), sim.app_id)["production"]["version_name"] == "1.1.0"


@pytest.mark.parametrize("fail_at", ["testers", "last"])
def test_failing_health_check_restores_everything(sim, run_playbook, fail_at):
    """Testers pinned, steps (current) or a direct switch (classic), then a check fails: the channel, the
    tester channel and the overrides end exactly as they started, including a running rollout."""
    current = sim.profile == "current"
    _seed_release(sim, rollout=current)
    before = sim.state()
    stage = "testers" if fail_at == "testers" else ("50%" if current else "100%")
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_steps=[10, 50], release_allow_direct_switch=True, release_testers=TESTERS,
        release_tester_channel="beta", release_health_check_tasks=HEALTH_CHECK, fail_at_stage=stage))

    assert _checked_stages(result)[-1] == stage
    assert result.writes, "the release wrote something before the check failed"
    after = sim.state()
    assert _channel_view(after, sim.app_id) == _channel_view(before, sim.app_id)
    assert _overrides(after, sim.app_id) == _overrides(before, sim.app_id) == [("tester-a", "qa")]
    assert result.stats["rescued"] == 1
    failure = _task(result, "Fail the release")["msg"]
    assert "failed at %s" % stage in failure and "Rolled back" in failure
    restored = _task(result, "Show what the rollback restored")["msg"]
    assert "bundle 1.0.0" in restored and "tester-a -> qa" in restored and "tester-b -> no override" in restored
    if current:
        assert "rollout of 1.0.1 at 20" in restored


@current_only
def test_failing_url_check_deletes_the_tester_channel_it_created(sim, run_playbook):
    _seed_release(sim)
    before = sim.state()
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_testers=["tester-b"], release_tester_channel="canary",
        release_health_check_url=sim.url + "/_no_such_health_endpoint", release_health_check_retries=0,
        release_health_check_delay=0))
    assert _task(result, "Fail the release")["msg"].count("failed at testers") == 1
    after = sim.state()
    assert "canary" not in _channel_view(after, sim.app_id)
    assert _channel_view(after, sim.app_id) == _channel_view(before, sim.app_id)
    assert _overrides(after, sim.app_id) == _overrides(before, sim.app_id)


@current_only
def test_rollback_off_leaves_the_failure_in_place(sim, run_playbook):
    _seed_release(sim)
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(
        sim, release_rollback=False, release_health_check_tasks=HEALTH_CHECK, fail_at_stage="100%"))
    assert "Not rolled back" in _task(result, "Fail the release")["msg"]
    assert _channel_view(sim.state(), sim.app_id)["production"]["version_name"] == "1.1.0"


@current_only  # checks of the role's own logic: one API generation is enough
@pytest.mark.parametrize("bad, expected", [
    ({"release_bundle": "9.9.9"}, "not a live bundle"),
    ({"release_channel": "nope"}, "does not exist"),
    ({"release_steps": [50, 10]}, "increasing percentages"),
    ({"release_testers": ["tester-a"]}, "release_tester_channel"),
    ({"release_channel": "beta", "release_testers": ["tester-a"], "release_tester_channel": "production"}, "is public"),
])
def test_bad_input_fails_before_any_write(sim, run_playbook, bad, expected):
    _seed_release(sim)
    result = run_playbook("role_release", expect_failure=True, extra_vars=_release_vars(sim, **bad))
    assert not result.writes
    failed = result.failed_tasks()
    assert failed and expected in failed[-1][1]["msg"]


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
    assert "Would delete" in _task(checked, "List the undeclared channels")["msg"]
    assert "com.example.app/old-experiment" in _task(checked, "List the undeclared channels")["msg"]
    assert "old-experiment" in _channel_view(sim.state(), sim.app_id)

    result = run_playbook("role_channels", extra_vars=extra)
    assert _task(result, "Show the channels result")["channels_result"][sim.app_id]["removed"] == ["old-experiment"]
    state = sim.state()
    assert sorted(_channel_view(state, sim.app_id)) == ["beta", "production"]
    assert _overrides(state, sim.app_id) == []  # the override went with the channel

    again = run_playbook("role_channels", extra_vars=extra)
    assert again.stats["changed"] == 0 and not again.writes


@current_only
@pytest.mark.parametrize("lanes, expected", [
    ([{"name": "a", "public": True}, {"name": "b", "public": True}], "More than one public lane"),
    ([{"name": "a"}, {"name": "a", "public": True}], "Lane names must be unique"),
    ([{"name": "a", "disable_auto_update": "sometimes"}], "disable_auto_update"),
])
def test_lane_set_is_checked_before_any_request(sim, run_playbook, lanes, expected):
    result = run_playbook("role_channels", expect_failure=True,
                          extra_vars={"channels_app_ids": [sim.app_id], "channels_lanes": lanes})
    assert not result.requests
    assert expected in result.failed_tasks()[-1][1]["msg"]


@current_only
def test_split_public_lanes_per_platform_are_allowed(sim, run_playbook):
    lanes = [{"name": "ios-default", "public": True, "ios": True, "android": False, "electron": False},
             {"name": "android-default", "public": True, "ios": False, "android": True, "electron": False}]
    result = run_playbook("role_channels", extra_vars={"channels_app_ids": [sim.app_id], "channels_lanes": lanes})
    assert _task(result, "Show the channels result")["channels_result"][sim.app_id]["created"] == ["ios-default", "android-default"]
    view = _channel_view(sim.state(), sim.app_id)
    assert view["ios-default"]["public"] and view["android-default"]["public"]


# -- example playbooks ------------------------------------------------------------------------------------

REPO = os.path.dirname(os.path.dirname(HERE))


def test_release_with_backend_example(sim, run_playbook):
    _seed_release(sim)
    extra = {"app_id": sim.app_id, "app_bundle": "1.1.0", "backend_version": "it-test", "app_allow_direct_switch": True,
             "backend_health_url": sim.url + "/_sim/state"}
    result = run_playbook(os.path.join(REPO, "playbooks", "release_with_backend.yml"), extra_vars=extra)
    assert "released" in _task(result, "Show the release")["msg"]
    assert _channel_view(sim.state(), sim.app_id)["production"]["version_name"] == "1.1.0"


@current_only
def test_demo_story_twice_second_run_changes_nothing(sim, run_playbook):
    import json  # pylint: disable=import-outside-toplevel

    with open(os.path.join(REPO, "tests", "simulator", "demo_seed.json")) as handle:
        seed = json.load(handle)
    seed.pop("keys", None)  # the harness key (org1, all mode) reaches the same apps
    sim.seed(seed)
    first = run_playbook(os.path.join(REPO, "playbooks", "demo.yml"))
    assert first.stats["changed"] > 0
    summary = _task(first, "Show what the app looks like now")["msg"]
    assert "Release: production 1.2.0 -> 1.2.1 released via 10% -> 50% -> 100%" in summary
    production = _channel_view(sim.state(), sim.app_id)["production"]
    assert production["version_name"] == "1.2.1" and production["rollout_version_name"] is None

    second = run_playbook(os.path.join(REPO, "playbooks", "demo.yml"))
    assert second.stats["changed"] == 0 and not second.writes
    assert "Release: production already serves 1.2.1, nothing to do" in _task(second, "Show what the app looks like now")["msg"]
