"""The runbooks in playbooks/runbooks/ (docs/runbooks.md) against the simulator.

Each runbook is run as a user would run it, and judged by the simulator's state and request log:
stop all updates (and resume exactly the settings from before), roll back now (end a rollout, or
serve the previous bundle), and why did this device not update (read-only findings).
"""

import json
import os

import pytest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
RUNBOOKS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "playbooks", "runbooks")
STOP = os.path.join(RUNBOOKS, "stop_updates.yml")
ROLLBACK = os.path.join(RUNBOOKS, "rollback.yml")
WHY = os.path.join(RUNBOOKS, "why_no_update.yml")

FLAGS = ("allow_prod", "allow_dev")
# Staged rollouts exist on the current API generation and later ones, not on classic.
ROLLOUT_PROFILES = [name for name in harness.PROFILES if name != "classic"]
# Tests whose runbook logic only reads capgo_info's output (the same shape on every generation, which
# capgo_info's own tests check per generation) or fails before any write run on one profile, the newest,
# to keep the suite's time down; the runbooks that write run on every generation.
one_profile = pytest.mark.parametrize("profile", harness.PROFILES[:1], indirect=True)


def _bundles(app_id, names):
    return [{"app_id": app_id, "name": name, "created_at": "2026-0%d-01T00:00:00Z" % (index + 1)}
            for index, name in enumerate(names)]


def _channels(sim):
    return {c["name"]: c for c in sim.state()["channels"] if c["app_id"] == sim.app_id}


def _flags(sim):
    return {name: tuple(bool(c[flag]) for flag in FLAGS) for name, c in _channels(sim).items()}


def _seed_lanes(sim):
    sim.seed({
        "bundles": _bundles(sim.app_id, ["1.0.0", "1.1.0", "1.2.0"]),
        "channels": [
            {"app_id": sim.app_id, "name": "production", "version": "1.2.0", "public": True,
             "allow_prod": True, "allow_dev": False},
            {"app_id": sim.app_id, "name": "beta", "version": "1.2.0", "allow_prod": True, "allow_dev": True},
        ],
    })


# --- stop all updates now ---------------------------------------------------------


def test_stop_updates_then_resume_restores_exactly(sim, run_playbook, tmp_path):
    _seed_lanes(sim)
    before = _flags(sim)
    assert before == {"production": (True, False), "beta": (True, True)}
    record = tmp_path / "freeze.json"
    extra = {"app_id": sim.app_id, "freeze_record": str(record)}

    plan = run_playbook(STOP, extra_vars=extra, check=True, diff=True)
    assert plan.writes == [] and not record.exists() and _flags(sim) == before

    stop = run_playbook(STOP, extra_vars=extra)
    assert _flags(sim) == {"production": (False, False), "beta": (False, False)}
    assert len(stop.writes) == 2  # one write per channel, nothing else
    assert {(c["name"], c["allow_prod"], c["allow_dev"]) for c in json.loads(record.read_text())} == {
        ("production", True, False), ("beta", True, True)}

    # A second stop (someone runs it again in the panic) writes nothing and keeps the first record.
    again = run_playbook(STOP, extra_vars=extra)
    assert again.writes == [] and again.stats["changed"] == 0
    assert {c["name"]: c["allow_prod"] for c in json.loads(record.read_text())} == {"production": True, "beta": True}

    run_playbook(STOP, extra_vars=dict(extra, resume=True))
    assert _flags(sim) == before  # production's allow_dev stays false: restored, not switched on
    assert not record.exists()
    # Bundles were never touched: devices keep what they run.
    assert {name: c["version_name"] for name, c in _channels(sim).items()} == {"production": "1.2.0", "beta": "1.2.0"}


@one_profile
def test_resume_without_record_fails_before_any_write(sim, run_playbook, tmp_path):
    _seed_lanes(sim)
    result = run_playbook(STOP, extra_vars={"app_id": sim.app_id, "resume": True,
                                            "freeze_record": str(tmp_path / "none.json")}, expect_failure=True)
    assert result.writes == []
    assert "nothing to resume from" in result.stdout


# --- roll back now ------------------------------------------------------------------


def test_rollback_serves_the_previous_bundle(sim, run_playbook):
    _seed_lanes(sim)
    plan = run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id}, check=True, diff=True)
    assert plan.writes == [] and _channels(sim)["production"]["version_name"] == "1.2.0"

    result = run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id})
    assert _channels(sim)["production"]["version_name"] == "1.1.0"
    assert _channels(sim)["beta"]["version_name"] == "1.2.0"  # only the named channel
    assert "now serves 1.1.0 (was 1.2.0)" in result.stdout

    # With an explicit target the runbook converges: a second run changes nothing.
    run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id, "channel": "beta", "to": "1.0.0"})
    again = run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id, "channel": "beta", "to": "1.0.0"})
    assert _channels(sim)["beta"]["version_name"] == "1.0.0"
    assert again.writes == []


@one_profile
def test_rollback_with_nothing_older_fails_clearly(sim, run_playbook):
    sim.seed({"bundles": _bundles(sim.app_id, ["1.0.0"]),
              "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True}]})
    result = run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id}, expect_failure=True)
    assert result.writes == []
    assert "no older live bundle exists" in result.stdout


@pytest.mark.parametrize("profile", ROLLOUT_PROFILES, indirect=True)
def test_rollback_ends_a_running_rollout(sim, run_playbook, tmp_path):
    _seed_lanes(sim)
    start = tmp_path / "start_rollout.yml"
    start.write_text(
        "- name: Start a rollout\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Rollout\n      capgo.cloud.capgo_channel:\n        app_id: %s\n        name: production\n"
        "        rollout:\n          bundle: '1.1.0'\n          percentage: 10\n" % sim.app_id
    )
    run_playbook(str(start))
    assert _channels(sim)["production"]["rollout_version_name"] == "1.1.0"

    result = run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id})
    production = _channels(sim)["production"]
    assert production["version_name"] == "1.2.0"  # the stable bundle stays
    assert not production["rollout_enabled"] or production["rollout_version_name"] is None
    assert "rollout of 1.1.0 ended, devices get 1.2.0" in result.stdout
    info = run_playbook(ROLLBACK, extra_vars={"app_id": sim.app_id}, check=True)
    assert "now serves 1.1.0" in info.stdout  # no rollout left: the next step back would be a bundle switch


# --- why did this device not update ---------------------------------------------------


def _why(sim, run_playbook, device_id):
    result = run_playbook(WHY, extra_vars={"app_id": sim.app_id, "device_id": device_id})
    assert result.writes == [] and all(r["method"] == "GET" for r in result.requests)
    return result.task("Findings")["msg"]


@one_profile
def test_why_no_update_names_the_blocking_setting(sim, run_playbook):
    sim.seed({
        "bundles": _bundles(sim.app_id, ["1.0.0", "1.1.0", "2.0.0"]),
        "channels": [
            {"app_id": sim.app_id, "name": "production", "version": "1.1.0", "public": True,
             "allow_prod": False, "allow_dev": True},
            {"app_id": sim.app_id, "name": "beta", "version": "2.0.0", "disable_auto_update": "major"},
        ],
        "devices": [
            {"app_id": sim.app_id, "device_id": "prod-phone", "platform": "ios", "version_name": "1.0.0",
             "version_build": "1.0.0", "is_prod": True, "is_emulator": False},
            {"app_id": sim.app_id, "device_id": "dev-phone", "platform": "android", "version_name": "1.0.0",
             "version_build": "1.0.0", "is_prod": False, "is_emulator": False},
            {"app_id": sim.app_id, "device_id": "beta-phone", "platform": "ios", "version_name": "1.0.0",
             "version_build": "1.0.0", "is_prod": False, "is_emulator": False},
        ],
        "overrides": [{"app_id": sim.app_id, "device_id": "beta-phone", "channel": "beta"}],
    })

    prod = _why(sim, run_playbook, "prod-phone")
    assert prod["channel"] == "production" and prod["channel_source"] == "default"
    assert prod["verdict"].startswith("disable_prod_build: production has allow_prod false")

    dev = _why(sim, run_playbook, "dev-phone")
    assert dev["findings"] == [] and dev["verdict"].startswith("Nothing found that blocks 1.1.0")

    beta = _why(sim, run_playbook, "beta-phone")
    assert beta["channel"] == "beta" and beta["channel_source"] == "override"
    assert beta["verdict"].startswith("disable_auto_update_to_major: beta blocks major updates")

    unknown = _why(sim, run_playbook, "never-seen")
    assert unknown["verdict"].startswith("unknown_device: never-seen never checked in")


@one_profile
def test_why_no_update_device_already_current(sim, run_playbook):
    sim.seed({
        "bundles": _bundles(sim.app_id, ["1.0.0"]),
        "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True}],
        "devices": [{"app_id": sim.app_id, "device_id": "up-to-date", "platform": "ios", "version_name": "1.0.0",
                     "version_build": "1.0.0", "is_prod": True, "is_emulator": False}],
    })
    found = _why(sim, run_playbook, "up-to-date")
    assert found["verdict"].startswith("no_new_version_available: the device already runs 1.0.0")
