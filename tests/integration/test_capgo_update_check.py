"""capgo.cloud.capgo_update_check against the simulator: every reason code computed AND asked, on latest and current.

The scenario table (tests/simulator/update_scenarios.py) is data only.  The module computes its answer from
GET /device, GET /channel and GET /bundle (plugins/module_utils/update_decision.py); the simulator answers POST
/updates with its own implementation (tests/simulator/sim_updates.py).  The two were written separately from
capgo-update-decision.md, so agreement here is evidence, not a tautology.
"""

import copy
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "simulator"))

import update_scenarios  # noqa: E402  pylint: disable=wrong-import-position,import-error

TABLE_PROFILES = ["latest", "current"]
ANSWER_KEYS = ("available", "bundle", "target", "channel", "channel_source", "reason")


def _scenario_app_id(scenario):
    return "com.scenario.%s" % scenario["id"]


def _remapped_seed(scenario, app_id):
    """The scenario's seed with every item moved to ``app_id`` (one app per scenario, all seeded at once)."""
    seed = copy.deepcopy(scenario["seed"])
    for items in seed.values():
        for item in items:
            if item.get("app_id") == update_scenarios.APP_ID:
                item["app_id"] = app_id
    return seed


def _needs_own_app(scenario, profile):
    """Latest's rollout bucket hashes the app id and the channel and bundle ids: those scenarios keep their own seed."""
    return profile == "latest" and "bucket" in scenario


def _expected_server_answer(expected):
    server = expected["server"]
    return server.get("version") if "version" in server else server.get("error")


def _item(scenario, app_id):
    item = {"id": scenario["id"], "app_id": app_id, "device_id": scenario["device"]["device_id"]}
    if scenario["device"].get("default_channel") is not None:
        item["default_channel"] = scenario["device"]["default_channel"]
    return item


def _secrets_of(seeds):
    """Seeded values an answer must never carry (download location, checksum)."""
    values = set()
    for seed in seeds:
        for bundle in seed.get("bundles", []):
            for column in ("r2_path", "checksum", "session_key", "external_url"):
                if bundle.get(column):
                    values.add(bundle[column])
    return values


def _check_table(run_playbook, sim, scenarios, app_ids):
    result = run_playbook("update_check_table", extra_vars={
        "scenarios": [_item(s, app_ids[s["id"]]) for s in scenarios],
        "updates_url": sim.url + "/updates",
    })
    loop = result.task("Check each scenario")["results"]
    assert len(loop) == len(scenarios)
    problems = []
    for scenario, item in zip(scenarios, loop):
        expected = scenario["expected"][sim.profile]
        update = item["update"]
        computed = dict((key, update[key]) for key in ANSWER_KEYS)
        wanted = dict((key, expected[key]) for key in ANSWER_KEYS)
        asked = update["server"]["answer"]
        unknown = (scenario.get("unknown_inputs") or {}).get(sim.profile)
        if unknown:
            # the input this generation's API does not expose: the answer names its assumption and marks the step
            # unknown; the server (which knows) still answers as the table says, and the disagreement is warned
            if not update["assumptions"] or "unknown" not in [c["result"] for c in update["checks"]]:
                problems.append("%s: %s unknown here, but no assumption or unknown step: %s" % (
                    scenario["id"], unknown, update["checks"]))
            if asked != _expected_server_answer(expected):
                problems.append("%s: server answered %s, table says %s" % (scenario["id"], asked, expected["server"]))
            if update["server"]["agrees"] is not False or not item.get("warnings"):
                problems.append("%s: the server's other answer is not reported as a disagreement" % scenario["id"])
            continue
        if computed != wanted:
            problems.append("%s: computed %s, table says %s" % (scenario["id"], computed, wanted))
        if asked != _expected_server_answer(expected):
            problems.append("%s: server answered %s, table says %s" % (scenario["id"], asked, expected["server"]))
        if update["server"]["agrees"] is not True or asked != update["answer"]:
            problems.append("%s: computed %s, asked %s (agrees=%s)" % (
                scenario["id"], update["answer"], asked, update["server"]["agrees"]))
        if not item.get("warnings") and update["server"]["agrees"] is False:
            problems.append("%s: disagreement without a warning" % scenario["id"])
        assert update["message"], scenario["id"]
        assert [c["name"] for c in update["checks"]][:2] == ["plugin_version", "override"], scenario["id"]
    assert not problems, "\n".join(problems)
    # one POST /updates per scenario, keyless, and nothing written through the API
    probes = [e for e in result.requests if e["path"] == "/updates"]
    assert len(probes) == len(scenarios)
    assert all(e["key_id"] is None for e in probes)
    assert [e for e in result.writes if e["path"] != "/updates"] == []
    return result


REACHABLE_CODES = {
    "already_on_builtin", "disable_auto_update_to_major", "disable_auto_update_to_metadata",
    "disable_auto_update_to_minor", "disable_auto_update_to_patch", "disable_auto_update_under_native",
    "disable_dev_build", "disable_device", "disable_emulator", "disable_prod_build", "disabled_platform_android",
    "disabled_platform_ios", "misconfigured_channel", "no_bundle", "no_bundle_url", "no_channel",
    "no_new_version_available", "revert_to_builtin_plugin_version_too_old", "unsupported_plugin_version",
}


@pytest.mark.parametrize("profile", TABLE_PROFILES, indirect=True)
def test_every_reason_computed_and_asked_agree(sim, run_playbook):
    scenarios = [s for s in update_scenarios.SCENARIOS if sim.profile in s["profiles"]]
    shared = [s for s in scenarios if not _needs_own_app(s, sim.profile)]
    own = [s for s in scenarios if _needs_own_app(s, sim.profile)]
    app_ids = dict((s["id"], _scenario_app_id(s)) for s in shared)
    seeds = [_remapped_seed(s, app_ids[s["id"]]) for s in shared]
    merged = {}
    for seed in seeds:
        for kind, items in seed.items():
            merged.setdefault(kind, []).extend(items)
    sim.seed(merged)
    result = _check_table(run_playbook, sim, shared, app_ids)
    outputs = [result.stdout, json.dumps(result.output)]
    for scenario in own:
        sim.reset()
        sim.seed(scenario["seed"])
        own_result = _check_table(run_playbook, sim, [scenario], {scenario["id"]: update_scenarios.APP_ID})
        bucket = own_result.task("Check each scenario")["results"][0]["update"]["rollout"]["bucket"]
        assert bucket == scenario["bucket"], scenario["id"]
        outputs += [own_result.stdout, json.dumps(own_result.output)]
        seeds.append(scenario["seed"])
    # the table (each row checked both ways above) reaches every code a device described by the module's options
    # can meet on this generation; not reachable that way: cannot_update_via_private_channel (unreachable,
    # capgo-update-decision.md 2.3), key_id_mismatch (no key option), semver_error (refused as input before any
    # request), on_premise_app / provider_infrastructure_request_blocked (the app or the caller, not the device)
    reached = set(s["expected"][sim.profile]["reason"] for s in scenarios) - {None}
    assert reached == REACHABLE_CODES
    # nothing that lets one download a bundle is returned or logged
    for text in outputs:
        for secret in _secrets_of(seeds):
            assert secret not in text
        assert "files/read" not in text and "session_key" not in text


@pytest.mark.parametrize("profile", ["current"], indirect=True)
def test_random_draw_names_both_outcomes(sim, run_playbook):
    scenario = update_scenarios.BY_ID["rollout_in_bucket"]
    sim.seed(scenario["seed"])
    result = run_playbook("update_check_one", extra_vars={
        "app_id": sim.app_id, "check_device_id": scenario["device"]["device_id"],
        "check_ask_server": True, "updates_url": sim.url + "/updates"})
    update = result.task("Check")["update"]
    assert update["rollout"]["in_rollout"] is None
    assert update["rollout"]["if_selected"]["bundle"] == "1.0.2"
    assert update["rollout"]["if_not_selected"]["bundle"] == "1.0.1"
    assert sorted(update["possible_answers"]) == ["1.0.1", "1.0.2"]
    assert "1.0.2" in update["message"] and "1.0.1" in update["message"]
    assert update["server"]["answer"] in ("1.0.1", "1.0.2") and update["server"]["agrees"] is True
    assert any("random" in text for text in update["assumptions"])


@pytest.mark.parametrize("profile", ["latest"], indirect=True)
def test_synthetic_device_and_check_mode(sim, run_playbook):
    sim.seed({"bundles": [{"app_id": sim.app_id, "name": "1.0.1", "r2_path": "orgs/org1/1.0.1.zip"}],
              "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.1", "public": True,
                            "allow_dev": False}]})
    options = {"app_id": sim.app_id, "check_platform": "ios", "check_native_version": "1.0", "check_is_prod": False,
               "check_plugin_version": "7.30.0", "check_ask_server": True, "updates_url": sim.url + "/updates"}
    checked = run_playbook("update_check_one", extra_vars=options, check=True)
    update = checked.task("Check")["update"]
    assert update["reason"] == "disable_dev_build" and "allow_dev: true" in update["message"]
    assert update["server"]["answer"] is None and update["server"]["agrees"] is None
    assert [e["path"] for e in checked.requests if e["path"] == "/updates"] == []

    asked = run_playbook("update_check_one", extra_vars=options)
    update = asked.task("Check")["update"]
    assert update["device"]["device_id"] == "00000000-0000-0000-0000-000000000000"
    assert update["device"]["native_version"] == "1.0.0"
    assert update["server"] == dict(update["server"], answer="disable_dev_build", agrees=True)
    probe = [e for e in asked.requests if e["path"] == "/updates"]
    assert len(probe) == 1 and probe[0]["key_id"] is None
    assert probe[0]["body"]["device_id"] == "00000000-0000-0000-0000-000000000000"
    assert probe[0]["body"]["version_name"] == "builtin" and probe[0]["body"]["is_prod"] is False
    assert any("defaultChannel" in text for text in update["assumptions"])


@pytest.mark.parametrize("profile", TABLE_PROFILES, indirect=True)
def test_a_probe_refused_for_its_origin_is_not_a_disagreement(sim, run_playbook):
    # A CI runner on Google Cloud: the app blocks cloud provider infrastructure (the default for new apps), so
    # Capgo refuses the probe itself; that says nothing about the device, and the computed answer stands alone
    sim.seed({"bundles": [{"app_id": sim.app_id, "name": "1.0.1", "r2_path": "orgs/org1/1.0.1.zip"}],
              "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.1", "public": True,
                            "allow_dev": False}]})
    sim.config({"updates_provider": "google"})
    options = {"app_id": sim.app_id, "check_platform": "ios", "check_native_version": "1.0", "check_is_prod": False,
               "check_plugin_version": "7.30.0", "check_ask_server": True, "updates_url": sim.url + "/updates"}
    task = run_playbook("update_check_one", extra_vars=options).task("Check")
    update = task["update"]
    assert update["reason"] == "disable_dev_build"
    assert (update["server"]["answer"], update["server"]["agrees"], update["server"]["provider"]) == (
        "provider_infrastructure_request_blocked", None, "google")
    warnings = [w for w in task.get("warnings", []) if "block_provider_infra_requests" in w]
    assert len(warnings) == 1 and "google data-centre address" in warnings[0]
    assert not any("the computation expected" in w for w in task.get("warnings", []))


@pytest.mark.parametrize("profile", ["latest"], indirect=True)
def test_bad_input_fails_before_any_request(sim, run_playbook):
    for extra, words in (
        ({"check_platform": "ios"}, "native_version"),
        ({"check_platform": "ios", "check_native_version": "one.two"}, "semver_error"),
        ({"check_device_id": "not-a-uuid", "check_ask_server": True}, "not a UUID"),
        ({"check_platform": "ios", "check_native_version": "1.0.0", "check_ask_server": True}, "plugin_version"),
    ):
        mark = sim.mark()
        result = run_playbook("update_check_one", extra_vars=dict({"app_id": sim.app_id}, **extra), expect_failure=True)
        assert words in result.task("Check")["msg"]
        assert sim.requests(since=mark) == []


@pytest.mark.parametrize("profile", ["latest"], indirect=True)
def test_default_channel_without_fallback_message(sim, run_playbook):
    sim.seed({"bundles": [{"app_id": sim.app_id, "name": "1.0.1", "r2_path": "x.zip"}],
              "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.1", "public": True},
                           {"app_id": sim.app_id, "name": "beta", "version": "1.0.1"}]})
    result = run_playbook("update_check_one", extra_vars={
        "app_id": sim.app_id, "check_platform": "android", "check_native_version": "1.0.0",
        "check_plugin_version": "7.30.0", "check_default_channel": "beta"})
    update = result.task("Check")["update"]
    assert update["reason"] == "no_channel" and update["channel"] is None
    assert "allow_device_self_set: true" in update["message"] and "does not fall back" in update["message"]
    steps = dict((c["name"], c["result"]) for c in update["checks"])
    assert steps["default_channel"] == "fail" and steps["cloud_default"] == "skipped"
    assert not any("defaultChannel" in text for text in update["assumptions"])
