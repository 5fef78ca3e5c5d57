"""The capgo.cloud.channel lookup against the simulator: what it returns, what it asks, how it fails.

The lookup runs on the controller, so its requests are the simulator's log of the playbook run; a lookup never
writes, which every test checks against that log.
"""

import pytest

PROFILES = ("latest", "classic")


def seed_lanes(sim):
    sim.seed({"bundles": [{"app_id": sim.app_id, "name": "1.0.0"}, {"app_id": sim.app_id, "name": "1.1.0"}],
              "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True},
                           {"app_id": sim.app_id, "name": "beta", "version": "1.1.0"}]})


def channel_reads(result):
    return [e["query"].get("channel") for e in result.requests if e["method"] == "GET" and e["path"] == "/channel"]


def test_lookup_returns_what_capgo_channel_returns_in_the_order_asked(sim, run_playbook):
    seed_lanes(sim)
    # api_url given to the lookup wins over CAPGO_API_URL (which points nowhere); the key comes from CAPGO_API_KEY
    result = run_playbook("lookup_channels", extra_vars={"app_id": sim.app_id, "lookup_api_url": sim.url + "/"},
                          env={"CAPGO_API_URL": "http://127.0.0.1:9"}, expect_failure=True)
    # the module tasks after the lookup use CAPGO_API_URL, which refuses connections: the lookup's task succeeded
    lanes = result.task("Read production and beta")["ansible_facts"]["lanes"]
    assert [lane["name"] for lane in lanes] == ["production", "beta"]
    assert [lane["bundle"] for lane in lanes] == ["1.0.0", "1.1.0"]
    assert [lane["public"] for lane in lanes] == [True, False]
    assert channel_reads(result) == ["production", "beta"]
    assert result.writes == []


def test_lookup_and_module_agree(sim, run_playbook):
    seed_lanes(sim)
    result = run_playbook("lookup_channels", extra_vars={"app_id": sim.app_id, "lookup_api_url": sim.url})
    lanes = result.task("Read production and beta")["ansible_facts"]["lanes"]
    module_channels = [item["channel"] for item in result.task("Read the same channels with capgo_channel")["results"]]
    for lane, module_channel in zip(lanes, module_channels):
        for key in ("id", "name", "bundle", "public", "disable_auto_update"):
            assert lane[key] == module_channel[key], key
        assert lane.get("rollout") == module_channel.get("rollout")
    assert result.writes == []
    # the lookup read each channel once; capgo_channel then read each again
    assert channel_reads(result)[:2] == ["production", "beta"]


def test_repeated_names_are_read_once(sim, run_playbook):
    seed_lanes(sim)
    result = run_playbook("lookup_channel_names",
                          extra_vars={"app_id": sim.app_id, "channel_names": ["beta", "production", "beta"]})
    lanes = result.task("Read channels")["ansible_facts"]["lanes"]
    assert [lane["name"] for lane in lanes] == ["beta", "production", "beta"]
    assert channel_reads(result) == ["beta", "production"]


def test_missing_channel_fails_naming_it(sim, run_playbook):
    seed_lanes(sim)
    result = run_playbook("lookup_channel_names",
                          extra_vars={"app_id": sim.app_id, "channel_names": ["production", "nope"]},
                          expect_failure=True)
    msg = result.task("Read channels")["msg"]
    assert "has no channel nope" in msg and sim.app_id in msg
    assert "production" not in msg.split("has no channel", 1)[1]
    assert result.writes == []


def test_wrong_key_fails_without_showing_it(sim, run_playbook):
    seed_lanes(sim)
    wrong = "wrong-key-0123456789abcdef"
    result = run_playbook("lookup_channel_names",
                          extra_vars={"app_id": sim.app_id, "channel_names": ["production"]},
                          env={"CAPGO_API_KEY": wrong}, expect_failure=True)
    msg = result.task("Read channels")["msg"]
    assert "capgo.cloud.channel" in msg and "key" in msg.lower()
    assert wrong not in result.stdout + result.stderr
    assert result.writes == []


def test_key_with_trailing_newline_is_used_stripped(sim, run_playbook):
    seed_lanes(sim)
    result = run_playbook("lookup_channel_names",
                          extra_vars={"app_id": sim.app_id, "channel_names": ["production"]},
                          env={"CAPGO_API_KEY": sim.key + "\n"})
    assert result.task("Read channels")["ansible_facts"]["lanes"][0]["name"] == "production"
    assert [e["status"] for e in result.requests] == [200]


@pytest.mark.profiles("latest")  # refused before any request: the same on every profile
@pytest.mark.parametrize("extra, expected", [
    ({"channel_names": [""]}, "non-empty"),
    ({"channel_names": ["production"], "app_id": "not an app id"}, "app_id"),
])
def test_bad_input_fails_before_any_request(sim, run_playbook, extra, expected):
    extra_vars = {"app_id": sim.app_id}
    extra_vars.update(extra)
    result = run_playbook("lookup_channel_names", extra_vars=extra_vars, expect_failure=True)
    assert expected in result.task("Read channels")["msg"]
    assert result.requests == []


@pytest.mark.profiles("latest")
def test_no_key_anywhere_fails_before_any_request(sim, run_playbook):
    result = run_playbook("lookup_channel_names",
                          extra_vars={"app_id": sim.app_id, "channel_names": ["production"]},
                          env={"CAPGO_API_KEY": None, "CAPGO_TOKEN": None}, expect_failure=True)
    assert "api_key option of the lookup" in result.task("Read channels")["msg"]
    assert result.requests == []
