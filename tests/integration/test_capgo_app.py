"""capgo.cloud.capgo_app and capgo.cloud.capgo_app_info against the simulator's /app routes (every profile has them).

Assertions look at the simulator itself: its app row (read in-process, so `retention` is the stored seconds) and
its request log, not only at what the modules report.
"""

import uuid

import pytest

DAY = 86400
APP_PATH = "/app/com.example.app"


def app_row(sim, app_id=None):
    """The simulator's raw `apps` row (retention in seconds, booleans as 0/1), or None."""
    inner = sim.server.sim
    with inner.lock:
        row = inner.store.app(app_id or sim.app_id)
    return dict(row) if row is not None else None


def same_instant(api_value, row_value):
    """The API's timestamp and the row's stored one name the same second (the API spells it its own way)."""
    return api_value.replace(" ", "T")[:19] == row_value.replace(" ", "T")[:19]


def calls(result):
    return [(entry["method"], entry["path"]) for entry in result.requests]


def settings(sim, **values):
    """extra vars for playbooks/app_settings.yml."""
    extra = {"app_id": values.pop("app_id", sim.app_id)}
    extra.update(("app_" + name, value) for name, value in values.items())
    return extra


def test_check_mode_then_apply_then_idempotent(sim, run_playbook):
    wanted = settings(sim, name=" <b>Renamed</b> App ", retention_days=730, expose_metadata=True,
                      ios_store_url="https://apps.apple.com/app/id1234567890")
    before = app_row(sim)
    assert before["retention"] == 30 * DAY and before["expose_metadata"] == 0

    check = run_playbook("app_settings", extra_vars=wanted, check=True, diff=True)
    task = check.task("Set app")
    assert task["changed"] is True
    assert task["diff"]["before"]["retention_days"] == 30 and task["diff"]["after"]["retention_days"] == 730
    assert task["diff"]["before"]["name"] == "Example App" and task["diff"]["after"]["name"] == "Renamed App"
    assert task["diff"]["before"]["expose_metadata"] is False and task["diff"]["after"]["expose_metadata"] is True
    assert task["diff"]["after"]["allow_device_custom_id"] is True  # unset: left as it is
    assert "PUT" not in [method for method, dummy in calls(check)] and check.writes == []
    assert calls(check) == [("GET", APP_PATH)]
    assert app_row(sim) == before

    apply = run_playbook("app_settings", extra_vars=wanted, diff=True)
    task = apply.task("Set app")
    assert task["changed"] is True
    assert [(w["method"], w["path"]) for w in apply.writes] == [("PUT", APP_PATH)]
    # only the settings that differ are sent, retention in seconds
    assert apply.writes[0]["body"] == {"name": "Renamed App", "retention": 730 * DAY, "expose_metadata": True,
                                       "ios_store_url": "https://apps.apple.com/app/id1234567890"}
    assert apply.writes[0]["status"] == 200
    row = app_row(sim)
    assert row["name"] == "Renamed App"
    assert row["retention"] == 730 * DAY == 63072000
    assert row["expose_metadata"] == 1
    assert row["ios_store_url"] == "https://apps.apple.com/app/id1234567890"
    assert row["allow_device_custom_id"] == before["allow_device_custom_id"]
    assert row["android_store_url"] is None and row["block_provider_infra_requests"] == 1
    assert task["app"]["retention_days"] == 730 and task["app"]["name"] == "Renamed App"
    assert task["app"]["app_id"] == sim.app_id

    again = run_playbook("app_settings", extra_vars=wanted)
    assert again.task("Set app")["changed"] is False and again.stats["changed"] == 0
    assert again.writes == [] and calls(again) == [("GET", APP_PATH)]
    assert app_row(sim)["updated_at"] == row["updated_at"]  # no identical PUT bumped it


def test_retention_days_round_trip_in_seconds(sim, run_playbook):
    sim.seed({"apps": [{"app_id": sim.app_id, "settings": {"retention": 7 * DAY}}]})

    thirty = run_playbook("app_settings", extra_vars=settings(sim, retention_days=30))
    assert [w["body"] for w in thirty.writes] == [{"retention": 30 * DAY}]
    assert app_row(sim)["retention"] == 2592000
    assert thirty.task("Set app")["app"]["retention_days"] == 30

    # 0 is a real value (Capgo deletes unserved bundles daily), not "unset"
    zero = run_playbook("app_settings", extra_vars=settings(sim, retention_days=0))
    assert zero.task("Set app")["changed"] is True
    assert [w["body"] for w in zero.writes] == [{"retention": 0}]
    assert app_row(sim)["retention"] == 0
    assert zero.task("Set app")["app"]["retention_days"] == 0


@pytest.mark.profiles("latest")  # refused before any request: the same on every profile
@pytest.mark.parametrize("days", [731, -1])
def test_retention_days_out_of_range_fails_before_any_request(sim, run_playbook, days):
    result = run_playbook("app_settings", extra_vars=settings(sim, retention_days=days), expect_failure=True)
    msg = result.task("Set app")["msg"]
    assert "retention_days" in msg and "730" in msg and str(days) in msg
    assert result.requests == []
    assert app_row(sim)["retention"] == 30 * DAY


@pytest.mark.profiles("latest")
def test_retention_not_whole_days_is_rewritten(sim, run_playbook):
    sim.seed({"apps": [{"app_id": sim.app_id, "settings": {"retention": 100000}}]})
    result = run_playbook("app_settings", extra_vars=settings(sim, retention_days=1))
    assert result.task("Set app")["changed"] is True
    assert [w["body"] for w in result.writes] == [{"retention": DAY}]
    assert app_row(sim)["retention"] == DAY
    again = run_playbook("app_settings", extra_vars=settings(sim, retention_days=1))
    assert again.writes == [] and again.task("Set app")["changed"] is False


@pytest.mark.parametrize("which", ["missing", "other_org"])
def test_absent_or_invisible_app_fails_naming_both(sim, run_playbook, which):
    app_id = "com.nope.app" if which == "missing" else sim.other_app_id
    other_before = app_row(sim, sim.other_app_id)
    result = run_playbook("app_settings", extra_vars=settings(sim, app_id=app_id, retention_days=10, name="Taken"),
                          expect_failure=True)
    failure = result.task("Set app")
    msg = failure["msg"]
    assert app_id in msg and "does not exist" in msg and "may not see" in msg
    assert failure["changed"] is False
    assert result.writes == [] and calls(result) == [("GET", "/app/" + app_id)]
    assert app_row(sim, "com.nope.app") is None
    assert app_row(sim, sim.other_app_id) == other_before
    # the harness checks this on every run; say it once explicitly for a failing one
    assert sim.key not in result.stdout and sim.key not in result.stderr


@pytest.mark.profiles("latest", "current")  # RBAC: a read key may read the app but not change its settings
def test_read_only_key_put_is_refused_and_nothing_changes(sim, run_playbook):
    reader = str(uuid.uuid4())
    sim.seed({"keys": [{"key": reader, "mode": "read", "org": sim.org}]})
    before = app_row(sim)
    result = run_playbook("app_settings", extra_vars=settings(sim, retention_days=10), env={"CAPGO_API_KEY": reader},
                          expect_failure=True)
    msg = result.task("Set app")["msg"]
    assert "app.update_settings" in msg
    assert [(w["method"], w["path"], w["status"], w["error"]) for w in result.writes] == [
        ("PUT", APP_PATH, 401, "cannot_access_app")]
    assert app_row(sim) == before
    assert reader not in result.stdout + result.stderr


def test_app_info_lists_every_visible_app_once_over_pages(sim, run_playbook):
    bulk = ["com.bulk.app%04d" % index for index in range(1005)]
    foreign = ["com.foreign.app%d" % index for index in range(3)]
    sim.seed({"apps": [{"app_id": app_id, "org": sim.org, "name": "Bulk"} for app_id in bulk]
              + [{"app_id": app_id, "org": sim.other_org} for app_id in foreign]})
    state_apps = sim.state()["apps"]
    visible = sorted(a["app_id"] for a in state_apps if a["org"] == sim.org)
    assert len(visible) == 1006

    result = run_playbook("app_info")
    apps = result.task("List apps")["apps"]
    assert [a["app_id"] for a in apps] == visible  # every one, once, sorted by app id
    assert all(a["owner_org"] == sim.org for a in apps)
    assert not set(a["app_id"] for a in apps) & set(foreign + [sim.other_app_id])
    pages = [e for e in result.requests if e["path"] == "/app"]
    assert len(pages) == len(result.requests) >= 2  # more than one page was needed, nothing else was asked
    limit = int(pages[0]["query"].get("limit", 50))
    assert len(visible) > limit and len(pages) == len(visible) // limit + 1
    assert sorted(int(e["query"].get("page", 0)) for e in pages) == list(range(len(pages)))
    assert result.writes == [] and result.task("List apps")["changed"] is False


def test_app_info_one_app_with_details_in_check_mode(sim, run_playbook):
    sim.seed({"apps": [{"app_id": sim.app_id, "settings": {"retention": 90 * DAY, "expose_metadata": True,
                                                           "android_store_url": "https://play.example/app"}}]})
    row = app_row(sim)
    result = run_playbook("app_info", extra_vars={"app_id": sim.app_id}, check=True)
    task = result.task("List apps")
    assert task["changed"] is False
    assert len(task["apps"]) == 1
    app = task["apps"][0]
    assert app["app_id"] == sim.app_id and app["owner_org"] == row["org"] == sim.org
    assert app["name"] == row["name"] == "Example App"
    assert app["retention_days"] == 90 and app["expose_metadata"] is True
    assert app["android_store_url"] == "https://play.example/app" and app["ios_store_url"] is None
    assert app["allow_device_custom_id"] is True and app["block_provider_infra_requests"] is True
    assert app["created_at"] and app["updated_at"]
    assert same_instant(app["created_at"], row["created_at"]) and same_instant(app["updated_at"], row["updated_at"])
    assert calls(result) == [("GET", APP_PATH)] and result.writes == []
