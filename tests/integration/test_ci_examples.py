"""The CI examples in docs/ci/ (docs/ci-pipelines.md) are complete and do what they say.

Both files are parsed as YAML and checked for what the guide promises (the key from the CI secret
store, a check-mode plan on pull/merge requests, one release per app at a time, a scheduled job).
Then the shell commands of their jobs are executed in order, with the job's environment, against
the simulator:

- ``ansible-playbook ...`` runs exactly as written (through ``run_playbook``; ``deploy/`` is
  docs/ci/deploy/ of this repository);
- the Capgo CLI upload cannot run here (no network, and the simulator stores no bundle files): its
  flags are checked and the bundle it would create is seeded into the simulator instead;
- build and install lines (``npm``, ``pip install``, ``ansible-galaxy collection install``) are
  checked but not run: the collection under test is already installed.

Any other command fails the test, so a step added to the examples must be taught to it here.
The one change to the jobs' environment: ``CAPGO_RELEASE_PAUSE`` (600 s between rollout stages in
the examples) is 0.
"""

import os
import re
import shlex

import pytest
import requests
import yaml

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CI_DIR = os.path.join(REPO, "docs", "ci")
GITHUB = os.path.join(CI_DIR, "github-actions.yml")
GITLAB = os.path.join(CI_DIR, "gitlab-ci.yml")

APP_ID = "com.example.app"
OLD_BUNDLE = "1.3.0"
NEW_BUNDLE = "1.4.0"
TESTERS = ["5b7f0d4e-1c2a-4e3b-9f60-0000000000a1", "5b7f0d4e-1c2a-4e3b-9f60-0000000000a2"]
SECRET = object()  # stands for the CI secret CAPGO_API_KEY until a test has a simulator key


def _selected_profiles():
    wanted = [name.strip() for name in os.environ.get("CAPGO_TEST_PROFILES", "").split(",") if name.strip()]
    return [name for name in harness.PROFILES if not wanted or name in wanted] or list(harness.PROFILES)


# The GitHub workflow runs on every API profile. The GitLab pipeline runs the same playbooks with the
# same commands, so it runs on one profile (the first selected): what differs between the two files is
# how jobs, variables and rules are written, which does not depend on the API generation.
PIPELINES = pytest.mark.parametrize(
    "kind,profile",
    [("github", name) for name in _selected_profiles()] + [("gitlab", _selected_profiles()[0])],
    indirect=["profile"],
)


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _lines(script):
    """A run/script block as logical shell lines (continuations joined, blanks dropped)."""
    text = "\n".join(script) if isinstance(script, list) else script
    text = text.replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


# --- GitHub Actions -----------------------------------------------------------


def _github_value(value, outputs):
    """Resolve ${{ ... }} in a workflow env value; unknown expressions fail the test."""
    def resolve(match):
        expression = match.group(1).strip()
        if expression == "secrets.CAPGO_API_KEY":
            return "\0SECRET\0"
        if expression in outputs:
            return outputs[expression]
        raise AssertionError("test_ci_examples does not know the expression ${{ %s }}" % expression)

    text = re.sub(r"\$\{\{(.*?)\}\}", resolve, str(value))
    return SECRET if text == "\0SECRET\0" else text


def github_jobs():
    """{job: {"env": {...}, "lines": [...], "raw": job}} with workflow and job env merged."""
    workflow = _load(GITHUB)
    outputs = {"steps.version.outputs.bundle": NEW_BUNDLE, "needs.upload.outputs.bundle": NEW_BUNDLE}
    jobs = {}
    for name, job in workflow["jobs"].items():
        env = {k: _github_value(v, outputs) for k, v in dict(workflow.get("env") or {}, **(job.get("env") or {})).items()}
        lines = []
        for step in job.get("steps", []):
            if "run" in step:
                step_env = {k: _github_value(v, outputs) for k, v in (step.get("env") or {}).items()}
                lines += [(line, step_env) for line in _lines(step["run"])]
        jobs[name] = {"env": env, "lines": lines, "raw": job}
    return jobs


# --- GitLab CI ----------------------------------------------------------------


def gitlab_jobs():
    pipeline = _load(GITLAB)
    variables = pipeline.get("variables") or {}
    jobs = {}
    for name, job in pipeline.items():
        if name.startswith(".") or not isinstance(job, dict) or "script" not in job:
            continue
        merged = {}
        for parent in ([job["extends"]] if isinstance(job.get("extends"), str) else job.get("extends") or []):
            merged.update(pipeline[parent])
        merged.update(job)
        env = {k: str(v) for k, v in dict(variables, **(merged.get("variables") or {})).items()}
        # A masked CI/CD variable: GitLab passes it to every job's environment.
        env["CAPGO_API_KEY"] = SECRET
        if "upload" in (merged.get("needs") or []):
            env["CAPGO_BUNDLE"] = NEW_BUNDLE  # the upload job's dotenv report (bundle.env)
        lines = [(line, {}) for line in _lines(merged.get("before_script") or []) + _lines(merged["script"])]
        jobs[name] = {"env": env, "lines": lines, "raw": merged}
    return jobs


def _jobs(kind):
    return github_jobs() if kind == "github" else gitlab_jobs()


# Which job of each file runs for which event.
EVENT_JOBS = {
    "github": {"pull_request": ["plan"], "push": ["upload", "release"], "schedule": ["testers"]},
    "gitlab": {"pull_request": ["plan"], "push": ["upload", "release"], "schedule": ["testers"]},
}


# --- running a job ------------------------------------------------------------


def _expand(text, env):
    def value(match):
        name = match.group(1) or match.group(2)
        if name not in env:
            raise AssertionError("the command uses $%s, which the job does not define: %s" % (name, text))
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def run_job(kind, job_name, sim, run_playbook, env_overrides=None):
    """Execute one job's commands in order; returns the PlaybookResults of its ansible-playbook runs."""
    job = _jobs(kind)[job_name]
    results = []
    shell_vars = {}  # variables a line of the job sets for the lines after it
    for line, step_env in job["lines"]:
        env = dict(job["env"], **step_env)
        env.update(shell_vars)
        env = {k: (sim.key if v is SECRET else v) for k, v in env.items()}
        env.update(env_overrides or {})
        words = shlex.split(line)
        if words[0] == "ansible-playbook":
            args = shlex.split(_expand(line, env))
            playbook = args[1]
            assert playbook.startswith("deploy/"), line
            path = os.path.join(CI_DIR, playbook)
            capgo_env = {k: v for k, v in env.items() if k.startswith("CAPGO_")}
            assert capgo_env["CAPGO_API_KEY"] == sim.key
            results.append(run_playbook(path, extra_args=args[2:], env=capgo_env))
        elif "@capgo/cli@latest" in words and "upload" in words:
            _emulate_upload(line, env, sim)
        elif words[:3] == ["python", "-m", "pip"]:
            assert words[3:] == ["install", "ansible-core", "requests"], line
        elif words[:3] == ["ansible-galaxy", "collection", "install"]:
            assert words[3:] == ["-r", "deploy/requirements.yml"], line
            names = [c["name"] for c in _load(os.path.join(CI_DIR, "deploy", "requirements.yml"))["collections"]]
            assert names == ["capgo.cloud"]
        elif words[0] == "npm" or (words[0] == "echo" and "bundle" in line.lower()):
            pass  # build the web app / hand the version to the next job
        elif re.match(r"^CAPGO_BUNDLE=\$\(node -p ", line):
            assert "package.json" in line
            shell_vars["CAPGO_BUNDLE"] = NEW_BUNDLE
        else:
            raise AssertionError("test_ci_examples does not know this command of %s/%s: %s" % (kind, job_name, line))
    return results


def _emulate_upload(line, env, sim):
    """The CLI's ``bundle upload``: check its flags, seed the bundle it would create."""
    words = shlex.split(line)
    assert words[:4] == ["npx", "--yes", "@capgo/cli@latest", "bundle"] and words[4] == "upload", line
    flags = dict(zip(words[6::2], words[7::2]))
    assert words[5] == "$CAPGO_APP_ID" and env["CAPGO_APP_ID"] == APP_ID
    assert flags["--apikey"] == "$CAPGO_API_KEY", "the key must come from the environment (CI secret), not the file"
    assert flags["--bundle"] == "$CAPGO_BUNDLE" and env["CAPGO_BUNDLE"] == NEW_BUNDLE
    assert flags["--channel"] == "staging", "uploads go to staging; production belongs to the release job"
    assert flags["--path"] == "dist"
    sim.seed({"bundles": [{"app_id": APP_ID, "name": NEW_BUNDLE, "created_at": "2026-06-01T00:00:00Z"}]})


def _state(sim):
    state = sim.state()
    channels = {c["name"]: c for c in state["channels"] if c["app_id"] == APP_ID}
    overrides = sorted((o["device_id"], o["channel"]) for o in state["overrides"] if o["app_id"] == APP_ID)
    return channels, overrides


def _seed_live_app(sim):
    """An app already in production on OLD_BUNDLE, before the first pipeline run.

    The testers' phones have checked in (they run the app): only then can Capgo show their pins, so a
    second run can see there is nothing to do (a pin to a device Capgo has never seen is re-sent).
    """
    sim.seed({
        "bundles": [{"app_id": APP_ID, "name": OLD_BUNDLE, "created_at": "2026-05-01T00:00:00Z"}],
        "channels": [{"app_id": APP_ID, "name": "production", "version": OLD_BUNDLE, "public": True}],
        "devices": [{"app_id": APP_ID, "device_id": device, "platform": "ios", "version_name": OLD_BUNDLE,
                     "version_build": "1.0.0", "is_prod": True, "is_emulator": False} for device in TESTERS],
    })


# --- tests ----------------------------------------------------------------------


def test_github_workflow_is_complete():
    workflow = _load(GITHUB)
    assert set(workflow["on"]) >= {"pull_request", "push", "schedule"}
    assert workflow["on"]["schedule"][0]["cron"]
    jobs = github_jobs()
    for name, job in jobs.items():
        if any("ansible-playbook" in line or "@capgo/cli" in line for line, _step_env in job["lines"]):
            assert job["env"]["CAPGO_API_KEY"] is SECRET, "%s: CAPGO_API_KEY must come from secrets.CAPGO_API_KEY" % name
    assert jobs["plan"]["raw"]["if"] == "github.event_name == 'pull_request'"
    plan = [line for line, _step_env in jobs["plan"]["lines"] if line.startswith("ansible-playbook")]
    assert plan and all("--check" in line.split() and "--diff" in line.split() for line in plan)
    for name in ("release", "testers"):
        concurrency = jobs[name]["raw"]["concurrency"]
        assert concurrency["group"] == "capgo-release-" + workflow["env"]["CAPGO_APP_ID"]
        assert concurrency["cancel-in-progress"] is False, "a running release must never be cancelled halfway"
    assert jobs["release"]["raw"]["needs"] == "upload"
    assert jobs["testers"]["raw"]["if"] == "github.event_name == 'schedule'"


def test_gitlab_pipeline_is_complete():
    pipeline = _load(GITLAB)
    jobs = gitlab_jobs()
    assert "CAPGO_API_KEY" not in (pipeline.get("variables") or {}), "the key belongs in CI/CD variables, not the file"
    assert set(jobs) == {"plan", "upload", "release", "testers"}
    assert jobs["plan"]["raw"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    plan = [line for line, _step_env in jobs["plan"]["lines"] if line.startswith("ansible-playbook")]
    assert plan and all("--check" in line.split() and "--diff" in line.split() for line in plan)
    for name in ("release", "testers"):
        assert jobs[name]["raw"]["resource_group"] == "capgo-release-" + pipeline["variables"]["CAPGO_APP_ID"]
    assert jobs["release"]["raw"]["needs"] == ["upload"]
    assert jobs["upload"]["raw"]["artifacts"]["reports"]["dotenv"] == "bundle.env"
    assert jobs["testers"]["raw"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'
    for name in pipeline["stages"]:
        assert any(job["raw"]["stage"] == name for job in jobs.values()), "stage %s has no job" % name


@PIPELINES
def test_pull_request_plan_writes_nothing(kind, sim, run_playbook):
    _seed_live_app(sim)
    before = _state(sim)
    results = [r for job in EVENT_JOBS[kind]["pull_request"] for r in run_job(kind, job, sim, run_playbook)]
    assert results, "the plan ran no playbook"
    assert all(r.writes == [] for r in results), "check mode sent a write"
    assert _state(sim) == before
    # ...and it is a real plan: it shows the channels and pins the merge would create.
    assert sum(r.stats["changed"] for r in results) >= 1
    assert "staging" in results[0].stdout and "beta" in results[0].stdout
    assert "then 2 tester(s) will be pinned to it" in results[0].stdout


@PIPELINES
def test_push_uploads_releases_and_a_rerun_changes_nothing(kind, sim, run_playbook):
    _seed_live_app(sim)
    env = {"CAPGO_RELEASE_PAUSE": "0"}
    results = [r for job in EVENT_JOBS[kind]["push"] for r in run_job(kind, job, sim, run_playbook, env)]
    channels, overrides = _state(sim)
    assert channels["production"]["version_name"] == NEW_BUNDLE and channels["production"]["public"]
    assert not channels["staging"]["public"] and not channels["beta"]["public"]
    assert overrides == sorted((device, "beta") for device in TESTERS)
    release = results[-1]
    assert "released: %s on production" % NEW_BUNDLE in release.stdout
    if sim.profile != "classic":  # classic has no rollouts: the example switches directly there
        stages = release.writes
        assert len(stages) >= 3, "expected 10 percent, 50 percent and the final switch, saw " + repr(stages)

    # The same pipeline again (a re-run of the job): nothing left to change.
    again = run_job(kind, "release", sim, run_playbook, env)
    assert [(w["method"], w["path"], w.get("body")) for r in again for w in r.writes] == []
    assert "already_released: %s on production" % NEW_BUNDLE in again[-1].stdout


@PIPELINES
def test_schedule_puts_back_a_vanished_tester_pin(kind, sim, run_playbook):
    _seed_live_app(sim)
    run_job(kind, "release", sim, run_playbook, {"CAPGO_BUNDLE": OLD_BUNDLE, "CAPGO_RELEASE_PAUSE": "0"})
    assert _state(sim)[1] == sorted((device, "beta") for device in TESTERS)

    # Someone removes a pin in the dashboard (here: the public API's DELETE /device).
    response = requests.delete(
        sim.url + "/device", params={"app_id": APP_ID, "device_id": TESTERS[0]},
        headers={"authorization": sim.key}, timeout=30,
    )
    assert response.status_code == 200, response.text
    assert _state(sim)[1] == [(TESTERS[1], "beta")]

    # The scheduled job runs hours later: Capgo's 60-second block of a repeated device+channel pin
    # (which would answer the re-pin with 429 and make the module wait) is long over by then.
    sim.config({"same_set_window": 0})
    results = [r for job in EVENT_JOBS[kind]["schedule"] for r in run_job(kind, job, sim, run_playbook)]
    assert _state(sim)[1] == sorted((device, "beta") for device in TESTERS)
    writes = [w for r in results for w in r.writes]
    assert [(w["method"], w["path"].rstrip("/")) for w in writes] == [("POST", "/device")], writes
