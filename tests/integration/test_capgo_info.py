"""capgo.cloud.capgo_info against the simulator, on every API profile."""

import uuid

import pytest

PAGE_SIZE = 50


def _api_calls(result, method="GET", path=None):
    return [entry for entry in result.requests if entry["method"] == method and (path is None or entry["path"] == path)]


def test_large_app_every_item_once_in_few_requests(sim, run_playbook):
    sim.seed({"generate": {"app_id": sim.app_id, "channels": 1234, "devices": 3000, "bundles": 300}})
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id})
    info = result.task("Gather")
    state = sim.state()

    assert len(info["channels"]) == 1234
    assert sorted(c["name"] for c in info["channels"]) == sorted(c["name"] for c in state["channels"])
    assert len(info["devices"]) == 3000
    assert sorted(d["device_id"] for d in info["devices"]) == sorted(d["device_id"] for d in state["devices"])
    assert len(info["bundles"]) == 300
    if sim.profile == "latest":
        # latest coerces page, so its channel pages are clean 50-row windows: one request per 50 channels
        assert len(_api_calls(result, path="/channel")) == 25
    else:
        # Naive page-by-page reading of the overlapping windows would need 25 requests and return duplicates.
        assert len(_api_calls(result, path="/channel")) <= 6
    assert len(_api_calls(result, path="/bundle")) <= 4
    device_pages = _api_calls(result, path="/device")
    print("\n[%s] capgo_info, 3000 generated devices: %d list pages, limits %s"
          % (sim.profile, len(device_pages), sorted(set(int(e["query"]["limit"]) for e in device_pages))))
    assert len(device_pages) == 30 and not any(e.get("override_lookup_failed") for e in device_pages)
    if sim.profile == "classic":
        # each page after the first starts again at the second its cursor names, enlarged by the devices of that
        # second already seen, so it still brings 100 new ones (capgo-api.md 11.1 #4)
        assert all(e["query"]["cursor"].endswith("|") for e in device_pages[1:])
    else:
        assert all(int(e["query"]["limit"]) <= 100 for e in device_pages)
    assert not result.writes


def test_shapes_use_option_names(sim, run_playbook):
    sim.seed({
        "bundles": [{"app_id": sim.app_id, "name": "1.0.0", "created_at": "2026-01-01T00:00:00Z"}],
        "channels": [{"app_id": sim.app_id, "name": "production", "version": "1.0.0", "public": True,
                      "disable_auto_update": "minor"}],
        "devices": [{"app_id": sim.app_id, "device_id": "qa-phone-1", "platform": "ios", "version_name": "1.0.0"}],
    })
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id})
    info = result.task("Gather")
    channel = info["channels"][0]
    assert channel["name"] == "production" and channel["bundle"] == "1.0.0"
    assert channel["public"] is True and channel["disable_auto_update"] == "minor"
    assert info["devices"][0]["device_id"] == "qa-phone-1" and info["devices"][0]["platform"] == "ios"
    assert info["bundles"][0]["version"] == "1.0.0"


def test_filters_by_channel_and_device(sim, run_playbook):
    sim.seed({
        "channels": [{"app_id": sim.app_id, "name": "production", "public": True},
                     {"app_id": sim.app_id, "name": "beta"}],
        "devices": [{"app_id": sim.app_id, "device_id": "dev-a", "platform": "ios"},
                    {"app_id": sim.app_id, "device_id": "dev-b", "platform": "android"}],
        "overrides": [{"app_id": sim.app_id, "device_id": "dev-a", "channel": "beta"}],
    })
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_channel": "beta", "info_gather": ["channels", "devices"]})
    info = result.task("Gather")
    assert [c["name"] for c in info["channels"]] == ["beta"]
    assert [(d["device_id"], d["channel"]) for d in info["devices"]] == [("dev-a", "beta")]

    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_device_id": "DEV-B", "info_gather": ["devices"]})
    assert [d["device_id"] for d in result.task("Gather")["devices"]] == ["dev-b"]
    assert [(e["path"], e["query"].get("device_id")) for e in result.requests] == [("/device", "dev-b")]

    missing = {"app_id": sim.app_id, "info_channel": "nope", "info_device_id": "never-seen", "info_gather": ["channels", "devices"]}
    result = run_playbook("info_read", extra_vars=missing)
    assert result.task("Gather")["channels"] == [] and result.task("Gather")["devices"] == []


def test_app_without_bundles_returns_empty_list(sim, run_playbook):
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["bundles"]})
    assert result.task("Gather")["bundles"] == []
    # latest answers 200 []; HEAD and classic answer the empty list with their 400 cannot_get_bundle
    expected = (200, None) if sim.profile == "latest" else (400, "cannot_get_bundle")
    assert [(e["path"], e["status"], e["error"]) for e in result.requests] == [("/bundle",) + expected]


def test_bundles_carry_native_packages_and_min_update_version(sim, run_playbook):
    natives = [{"name": "@capacitor/camera", "version": "6.0.1"}, {"name": "@capgo/capacitor-updater", "version": "6.2.0"}]
    sim.seed({"bundles": [
        {"app_id": sim.app_id, "name": "1.1.0", "created_at": "2026-01-02T00:00:00Z", "min_update_version": "1.0.0",
         "native_packages": natives},
        {"app_id": sim.app_id, "name": "1.0.0", "created_at": "2026-01-01T00:00:00Z"},
    ]})
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["bundles"]})
    bundles = result.task("Gather")["bundles"]
    assert [b["version"] for b in bundles] == ["1.1.0", "1.0.0"]
    assert bundles[0]["native_packages"] == natives and bundles[0]["min_update_version"] == "1.0.0"
    assert bundles[1]["min_update_version"] is None and not bundles[1]["native_packages"]


def test_channels_carry_update_package_and_platforms_where_the_api_returns_them(sim, run_playbook):
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "ios-only", "ios": True, "android": False, "electron": False}]})
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]})
    channel = result.task("Gather")["channels"][0]
    if sim.profile == "latest":
        assert channel["update_package"] == "all"
        assert channel["ios"] is True and channel["android"] is False
    else:
        # HEAD and classic return neither: nothing is invented
        for key in ("update_package", "ios", "android"):
            assert key not in channel


def test_every_override_of_500_uuid_devices_is_listed(sim, run_playbook):
    ids = [str(uuid.UUID(int=index + 1)) for index in range(500)]
    sim.seed({
        "channels": [{"app_id": sim.app_id, "name": "production", "public": True}, {"app_id": sim.app_id, "name": "beta"}],
        "devices": [{"app_id": sim.app_id, "device_id": device_id, "platform": "ios"} for device_id in ids],
        "overrides": [{"app_id": sim.app_id, "device_id": device_id, "channel": "beta"} for device_id in ids],
    })
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["devices"], "info_channel": "beta"})
    devices = result.task("Gather")["devices"]
    assert sorted(d["device_id"] for d in devices) == sorted(ids)
    assert all(d["channel"] == "beta" for d in devices)
    calls = _api_calls(result, path="/device")
    pages = [e for e in calls if "device_id" not in e["query"]]
    singles = [e for e in calls if "device_id" in e["query"]]
    print("\n[%s] capgo_info, 500 pinned UUID devices: %d list pages (limits %s), %d single reads"
          % (sim.profile, len(pages), ",".join(e["query"]["limit"] for e in pages), len(singles)))
    if sim.profile != "classic":
        # five list pages of at most 100 devices, no single reads: no page was large enough to lose its overrides
        assert len(pages) == 5 and all(int(e["query"]["limit"]) <= 100 for e in pages) and singles == []
        return
    # classic: the seeded devices share a second, and its cursor skips those of that second that come later with a
    # lower id (capgo-api.md 11.1 #4). Each page starts again at that second, enlarged by the devices already seen;
    # a page too large for the override lookup has its new devices read one by one, and only those
    assert pages[0]["query"]["limit"] == "100" and all(e["query"].get("cursor", "").endswith("|") for e in pages[1:])
    lost = [e for e in pages if e.get("override_lookup_failed")]
    assert not pages[0].get("override_lookup_failed")
    assert bool(lost) is bool(singles) and len(singles) <= 400  # the first page's 100 came with their overrides
    assert len(set(e["query"]["device_id"] for e in singles)) == len(singles)


@pytest.mark.parametrize("gather", [["channels"], ["devices"], ["bundles"]])
def test_key_without_access_fails_instead_of_returning_empty_lists(sim, run_playbook, gather):
    result = run_playbook("info_read", extra_vars={"app_id": sim.other_app_id, "info_gather": gather}, expect_failure=True)
    failure = result.task("Gather")
    assert failure["failed"] and failure["status"] == 400
    assert failure["error"] in ("cannot_access_app", "cannot_get_bundle")
    assert "access" in failure["msg"]
    assert len(result.requests) == 1


def test_429_with_retry_after_then_success(sim, run_playbook):
    sim.faults([{"type": "429", "retry_after": 1, "count": 1, "path": "/channel"}])
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]})
    log = [(e["status"], e["fault"]) for e in result.requests]
    assert log == [(429, "429"), (200, None)]
    if sim.profile != "classic":  # classic sends no Retry-After: the client backs off on its own
        assert result.requests[1]["time"] - result.requests[0]["time"] >= 0.9


@pytest.mark.parametrize("profile", ["latest"], indirect=True)
def test_app_not_found_404_reads_as_no_access(sim, run_playbook):
    # Only latest's newer tests expect the 404; the simulator sends it when asked (bundle_app_not_found_404).
    sim.config({"bundle_app_not_found_404": True})
    result = run_playbook("info_read", extra_vars={"app_id": sim.other_app_id, "info_gather": ["bundles"]}, expect_failure=True)
    failure = result.task("Gather")
    assert failure["failed"] and failure["status"] == 404 and failure["error"] == "app_not_found"
    assert "rights" in failure["msg"]
    assert len(result.requests) == 1


def test_503_twice_then_success(sim, run_playbook):
    sim.faults([{"type": "status", "status": 503, "count": 2}])
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]})
    assert [e["status"] for e in result.requests] == [503, 503, 200]


def test_dropped_connection_then_success(sim, run_playbook):
    sim.faults([{"type": "drop", "count": 1}])
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]})
    assert [e["fault"] for e in result.requests] == ["drop", None]


def test_malformed_body_then_success(sim, run_playbook):
    sim.faults([{"type": "malformed", "count": 1}])
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]})
    assert [e["fault"] for e in result.requests] == ["malformed", None]


def test_retries_exhausted_report_last_status_and_code(sim, run_playbook):
    sim.faults([{"type": "status", "status": 503, "count": 5}])
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"], "info_api_retries": 2},
                          expect_failure=True)
    failure = result.task("Gather")
    assert len(result.requests) == 3
    assert failure["status"] == 503 and failure["error"]
    assert "HTTP 503" in failure["msg"] and "gave up after 3 attempts" in failure["msg"]


def test_wrong_key_fails_after_exactly_one_request(sim, run_playbook):
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id}, env={"CAPGO_API_KEY": "not-the-right-key"},
                          expect_failure=True)
    failure = result.task("Gather")
    assert len(result.requests) == 1
    assert failure["status"] == 401 and failure["error"] == "invalid_apikey"
    assert "key was rejected" in failure["msg"]
    assert "not-the-right-key" not in result.stdout


def test_missing_key_fails_before_any_request(sim, run_playbook):
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id}, env={"CAPGO_API_KEY": None}, expect_failure=True)
    msg = result.task("Gather")["msg"]
    for place in ("api_key", "CAPGO_API_KEY", "CAPGO_TOKEN", "~/.capgo"):
        assert place in msg
    assert result.requests == []


def test_bad_app_id_fails_before_any_request(sim, run_playbook):
    result = run_playbook("info_read", extra_vars={"app_id": "not an app id"}, expect_failure=True)
    assert "reverse-domain" in result.task("Gather")["msg"]
    assert result.requests == []


def test_capgo_token_and_capgo_file_are_used(sim, run_playbook, tmp_path):
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "production"}]})
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]},
                          env={"CAPGO_API_KEY": None, "CAPGO_TOKEN": sim.key})
    assert len(result.task("Gather")["channels"]) == 1

    (tmp_path / ".capgo").write_text(sim.key + "\n")
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id, "info_gather": ["channels"]},
                          env={"CAPGO_API_KEY": None, "HOME": str(tmp_path)})
    assert len(result.task("Gather")["channels"]) == 1
    assert all(e["status"] == 200 for e in result.requests)


def test_module_defaults_group_supplies_connection_options(sim, run_playbook):
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "production"}]})
    run_playbook("info_module_defaults", extra_vars={"app_id": sim.app_id, "sim_url": sim.url + "/", "sim_key": sim.key},
                 env={"CAPGO_API_KEY": None, "CAPGO_API_URL": "http://127.0.0.1:9"})


def test_key_never_in_verbose_output(sim, run_playbook):
    sim.seed({"channels": [{"app_id": sim.app_id, "name": "production"}]})
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id}, verbosity=4)
    # the harness fails the run if the key shows up; make sure the verbose output was really produced
    assert "<127.0.0.1>" in result.stdout or "ESTABLISH LOCAL CONNECTION" in result.stdout
    result = run_playbook("info_read", extra_vars={"app_id": sim.app_id}, env={"CAPGO_API_KEY": "wrong-key-shown-nowhere"},
                          verbosity=4, expect_failure=True)
    assert "wrong-key-shown-nowhere" not in result.stdout + result.stderr
