"""capgo_channel runs against the simulator, shared by the integration tests that manage channels.

``check_then_apply`` is the check-mode promise in one place: a check-mode run writes nothing and predicts the real
run that follows (same ``changed``, ``diff`` and ``channel``, apart from the id and the timestamps, which only the
real run can know).
"""

TASK = "Manage channel"
VOLATILE = ("id", "created_at", "updated_at")


def seed_bundles(sim, *names, **extra):
    """Live bundles, oldest first; ``extra`` maps a name to more bundle columns (``zip``, ``delta``, ``deleted``)."""
    sim.seed({"bundles": [dict({"app_id": sim.app_id, "name": name, "created_at": "2026-01-%02dT10:00:00Z" % (day + 1)},
                               **extra.get(name, {})) for day, name in enumerate(names)]})


def seed_channels(sim, *channels):
    sim.seed({"channels": [dict(channel, app_id=sim.app_id) for channel in channels]})


def channel_vars(sim, name, **options):
    """extra vars of playbooks/channel_present.yml and channel_absent.yml."""
    extra = {"app_id": sim.app_id, "channel_name": name}
    extra.update(("channel_" + key, value) for key, value in options.items())
    return extra


def manage(sim, run_playbook, name, check=False, expect_failure=False, env=None, **options):
    result = run_playbook("channel_present", extra_vars=channel_vars(sim, name, **options), check=check, diff=True,
                          expect_failure=expect_failure, env=env)
    return result, result.task(TASK)


def stable(channel):
    return None if channel is None else dict((key, value) for key, value in channel.items() if key not in VOLATILE)


def check_then_apply(sim, run_playbook, name, compare_demoted=True, **options):
    """A check-mode run (no write), then the real run it predicts; returns the real run and its task."""
    check, predicted = manage(sim, run_playbook, name, check=True, **options)
    assert check.writes == [], "check mode wrote: %r" % check.writes
    real, task = manage(sim, run_playbook, name, **options)
    assert predicted["changed"] == task["changed"]
    assert predicted["diff"] == task["diff"]
    assert stable(predicted["channel"]) == stable(task["channel"])
    if compare_demoted:
        assert predicted["demoted"] == task["demoted"]
    return real, task
