"""Helpers behind the integration-test fixtures in conftest.py.

Two pieces:

* ``SimHandle`` wraps one running Capgo simulator and its admin API
  (``/_sim/...``): reset, seed, request log, faults, config.
* ``PlaybookRunner`` runs ``ansible-playbook`` against that simulator and
  returns a ``PlaybookResult``.  Task results come from the test-only
  callback in callback_plugins/ (ansible-core has no built-in json callback
  any more); stdout keeps the default human-readable output.

Only the standard library is used, so the harness also runs in the small
ansible-core compatibility venv.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMULATOR_DIR = os.path.join(REPO_ROOT, "tests", "simulator")
PLAYBOOK_DIR = os.path.join(REPO_ROOT, "tests", "integration", "playbooks")
CALLBACK_DIR = os.path.join(REPO_ROOT, "tests", "integration", "callback_plugins")

# latest: the newest backend (api.capgo.app); current: backend HEAD of July 2026; classic: pre-RBAC.
PROFILES = ("latest", "current", "classic")
APP_ID = "com.example.app"
OTHER_APP_ID = "com.other.app"
ORG = "org1"
OTHER_ORG = "org2"
WRITE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
# How long a read of the request log waits for requests still being answered (see SimHandle.requests).
SETTLE_SECONDS = 10

# The admin API is on 127.0.0.1: never route it through a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SimulatorError(AssertionError):
    """An admin call to the simulator failed (a harness or simulator problem)."""


def start_simulator(profile):
    """Start an in-process simulator for ``profile`` and return its server object."""
    if not os.path.isfile(os.path.join(SIMULATOR_DIR, "capgo_simulator.py")):
        raise SimulatorError("tests/simulator/capgo_simulator.py does not exist yet")
    if SIMULATOR_DIR not in sys.path:
        sys.path.insert(0, SIMULATOR_DIR)
    from capgo_simulator import start_simulator as _start  # pylint: disable=import-error

    return _start(profile=profile, db=":memory:", port=0)


class SimHandle:
    """One simulator as the tests see it.

    ``url``, ``key``, ``app_id``, ``other_app_id``, ``org`` and ``profile`` are
    plain attributes; the methods talk to the admin API.
    """

    def __init__(self, server, profile, key):
        self.server = server
        self.url = server.url.rstrip("/")
        self.profile = profile
        self.key = key
        self.app_id = APP_ID
        self.other_app_id = OTHER_APP_ID
        self.org = ORG
        self.other_org = OTHER_ORG

    def __repr__(self):
        return "<SimHandle %s %s>" % (self.profile, self.url)

    # -- admin API ---------------------------------------------------------
    def admin(self, method, path, json=None):  # pylint: disable=redefined-outer-name
        """Call the simulator's admin API; return the decoded JSON body (or text, or None)."""
        data = None
        headers = {"Accept": "application/json"}
        if json is not None:
            data = _json_dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method.upper(), headers=headers)
        try:
            with _OPENER.open(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise SimulatorError("simulator admin %s %s -> HTTP %s: %s" % (method, path, exc.code, detail)) from None
        except urllib.error.URLError as exc:
            raise SimulatorError("simulator admin %s %s failed: %s" % (method, path, exc.reason)) from None
        if not body:
            return None
        text = body.decode("utf-8")
        try:
            return _json_loads(text)
        except ValueError:
            return text

    def reset(self):
        """Empty the simulator (data, request log, faults) and load the standard seed."""
        self.admin("POST", "/_sim/reset", {"profile": self.profile})
        self.seed(default_seed(self.key))

    def seed(self, data):
        return self.admin("POST", "/_sim/seed", data)

    def state(self):
        return self.admin("GET", "/_sim/state")

    def faults(self, faults):
        """Queue faults, e.g. ``[{"type": "429", "retry_after": 1, "count": 1}]``.

        Keys: ``type`` (429, status, delay, drop, malformed, permission_error, and the applied-then-lost kinds
        drop_after, status_after, delay_after), ``method``/``path`` filters, ``count`` (default 1), ``skip``
        (let the first N matching requests through), ``status``, ``retry_after``, ``delay``."""
        return self.admin("POST", "/_sim/faults", {"faults": list(faults)})

    def fault(self, kind, **options):
        """Queue one fault: ``sim.fault("drop_after", method="POST", path="/channel", skip=1)``."""
        item = dict(options)
        item["type"] = kind
        return self.faults([item])

    def clear_faults(self):
        return self.admin("DELETE", "/_sim/faults")

    def chaos(self, rate, seed, kinds=None, delay=None, retry_after=None, methods=None, paths=None, skip=None):
        """Start seeded random faults on API requests: ``rate`` 0-1, ``kinds`` a list or {kind: weight} of
        429, 429_no_retry_after, 502, 503, 504, delay, drop, drop_after, status_after, delay_after."""
        spec = {"rate": rate, "seed": seed}
        for name, value in (("kinds", kinds), ("delay", delay), ("retry_after", retry_after), ("methods", methods),
                            ("paths", paths), ("skip", skip)):
            if value is not None:
                spec[name] = value
        return self.admin("POST", "/_sim/chaos", spec)["chaos"]

    def chaos_report(self):
        """The running chaos spec with its counters (``requests`` seen, ``injected`` per kind), or None."""
        return self.admin("GET", "/_sim/chaos")["chaos"]

    def stop_chaos(self):
        """Stop chaos; returns the final report."""
        return self.admin("DELETE", "/_sim/chaos")["chaos"]

    def auto_pause(self, channel, action="pause", reason=None, app_id=None):
        """Do what Capgo's rollout auto-pause does to a running rollout (``pause`` or ``rollback``)."""
        body = {"app_id": app_id or self.app_id, "channel": channel, "action": action}
        if reason is not None:
            body["reason"] = reason
        return self.admin("POST", "/_sim/rollout/auto_pause", body)["channel"]

    def advance_clock(self, days):
        """Age every device override by ``days`` and run the profile's daily override cleanup."""
        return self.admin("POST", "/_sim/advance_clock", {"days": days})

    def rules(self):
        """{rule name: {"holds", "profiles", "doc", "source"}} of this simulator (sim_rules.py)."""
        return self.admin("GET", "/_sim/rules")["rules"]

    def rule(self, name):
        return self.rules()[name]["holds"]

    def set_rules(self, **rules):
        """Flip named rules for this test (reset() restores the profile's own)."""
        return self.config({"rules": rules})

    def config(self, settings):
        return self.admin("POST", "/_sim/config", settings)

    def clear_requests(self):
        self.admin("DELETE", "/_sim/requests")

    def requests(self, since=None, settle=None):
        """Request log entries (oldest first); with ``since``, only those with a higher seq.

        With ``settle`` (seconds), the simulator first waits until every request that reached it is logged: a
        ``delay`` fault records its entry only after sleeping, so a retry can finish the play before it."""
        query = []
        if since is not None:
            query.append("since=%d" % since)
        if settle:
            query.append("settle=%s" % settle)
        path = "/_sim/requests" + ("?" + "&".join(query) if query else "")
        entries = self.admin("GET", path) or []
        if isinstance(entries, dict):  # tolerate {"requests": [...]}
            entries = entries.get("requests", [])
        if since is not None:
            entries = [entry for entry in entries if entry.get("seq", 0) > since]
        return entries

    def writes(self, since=None):
        """Only the entries that could change state (POST, PUT, PATCH, DELETE)."""
        return [entry for entry in self.requests(since) if entry.get("method", "").upper() in WRITE_METHODS]

    def faulted(self, since=None):
        """Log entries that met a fault (``fault`` set); ``applied`` says whether the handler's write committed."""
        return [entry for entry in self.requests(since) if entry.get("fault")]

    def mark(self):
        """The seq of the newest log entry (0 if none): pass it to requests(since=...)."""
        entries = self.requests(settle=SETTLE_SECONDS)
        return max((entry.get("seq", 0) for entry in entries), default=0)


def default_seed(key):
    """What every test starts from: two apps in two orgs and one all-mode key for org1."""
    return {
        "apps": [
            {"app_id": APP_ID, "org": ORG, "name": "Example App"},
            {"app_id": OTHER_APP_ID, "org": OTHER_ORG, "name": "Other App"},
        ],
        "keys": [
            {"key": key, "mode": "all", "org": ORG, "apps": None},
        ],
    }


class PlaybookResult:
    """What one ``ansible-playbook`` run produced.

    ``rc``, ``stdout``, ``stderr``, ``command``; ``tasks``: ``[(name, result)]``
    for localhost in execution order (``task_records``: the same with action
    and status); ``output``: the callback's whole document; ``stats``: localhost's recap counters
    (``ok``, ``changed``, ``failures`` (alias ``failed``), ``skipped``, ...);
    ``requests`` / ``writes``: the simulator log entries made during the run.
    """

    def __init__(self, command, rc, stdout, stderr, output, requests_log):
        self.command = command
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.output = output
        self.requests = requests_log
        self.writes = [entry for entry in requests_log if entry.get("method", "").upper() in WRITE_METHODS]
        self.task_records = [record for record in (output or {}).get("tasks", []) if record.get("host") == "localhost"]
        self.tasks = [(record["name"], record["result"]) for record in self.task_records]
        stats = dict((output or {}).get("stats", {}).get("localhost", {}))
        stats.setdefault("failures", 0)
        stats["failed"] = stats["failures"]
        for counter in ("ok", "changed", "skipped", "unreachable", "rescued", "ignored"):
            stats.setdefault(counter, 0)
        self.stats = stats

    @property
    def task_names(self):
        return [record["name"] for record in self.task_records]

    def task(self, name):
        """The result dict of the first task called ``name``."""
        for task_name, result in self.tasks:
            if task_name == name:
                return result
        raise KeyError("no task named %r; tasks run: %r" % (name, self.task_names))

    def failed_tasks(self):
        return [(name, result) for name, result in self.tasks if result.get("failed")]

    def summary(self):
        """A short text for assertion messages."""
        lines = ["$ %s" % " ".join(self.command), "rc=%s stats=%s" % (self.rc, self.stats)]
        for name, result in self.failed_tasks():
            lines.append("FAILED %s: %s" % (name, result.get("msg")))
        lines.append("stdout:\n" + self.stdout[-3000:])
        if self.stderr.strip():
            lines.append("stderr:\n" + self.stderr[-3000:])
        return "\n".join(lines)


class PlaybookRunner:
    """Runs playbooks against one simulator with a hermetic environment."""

    def __init__(self, sim, collections_path, home, workdir):
        self.sim = sim
        self.collections_path = collections_path
        self.home = home
        self.workdir = workdir

    def environment(self, overrides=None):
        # Start from the caller's environment minus anything that would leak
        # settings or credentials into the run (ANSIBLE_*, CAPGO_*).
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("ANSIBLE_", "CAPGO_")) and name not in ("HOME", "PYTHONPATH")
        }
        env.update(
            {
                "HOME": self.home,  # empty: no ~/.capgo, no ~/.ansible from the user
                "CAPGO_API_URL": self.sim.url,
                "CAPGO_API_KEY": self.sim.key,
                "ANSIBLE_COLLECTIONS_PATH": self.collections_path,
                "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
                "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
                "ANSIBLE_CALLBACKS_ENABLED": "capgo_test_results",
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCALHOST_WARNING": "False",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
                "ANSIBLE_DEPRECATION_WARNINGS": "True",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        for name, value in (overrides or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = str(value)
        return env

    def __call__(
        self,
        name_or_path,
        extra_vars=None,
        check=False,
        diff=False,
        verbosity=0,
        env=None,
        expect_failure=False,
        extra_args=None,
        timeout=600,
    ):
        playbook = resolve_playbook(name_or_path)
        command = [ansible_playbook_executable(), playbook]
        if extra_vars:
            command += ["--extra-vars", _json_dumps(extra_vars)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if verbosity:
            command.append("-" + "v" * int(verbosity))
        command += list(extra_args or [])

        run_env = self.environment(env)
        handle, results_file = tempfile.mkstemp(prefix="results-", suffix=".json", dir=self.workdir)
        os.close(handle)
        run_env["CAPGO_TEST_RESULTS_FILE"] = results_file
        try:
            since = self.sim.mark()
            completed = subprocess.run(
                command,
                cwd=self.workdir,
                env=run_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
                timeout=timeout,
                check=False,
            )
            with open(results_file) as results_handle:
                results_text = results_handle.read()
        finally:
            os.unlink(results_file)
        output = _json_loads(results_text) if results_text.strip() else None
        result = PlaybookResult(
            command, completed.returncode, completed.stdout, completed.stderr, output,
            self.sim.requests(since, settle=SETTLE_SECONDS)
        )

        # Hard project rule: the API key never shows up in any output, and
        # not in any task result either (those reach callbacks and logs).
        for where, text in (("stdout", result.stdout), ("stderr", result.stderr), ("the task results", results_text)):
            if self.sim.key in text:
                raise AssertionError("the API key leaked into %s of %s" % (where, os.path.basename(playbook)))

        if expect_failure and result.rc == 0:
            raise AssertionError("expected %s to fail, but it succeeded\n%s" % (os.path.basename(playbook), result.summary()))
        if not expect_failure and result.rc != 0:
            raise AssertionError("%s failed\n%s" % (os.path.basename(playbook), result.summary()))
        return result


def resolve_playbook(name_or_path):
    """``"foo"`` and ``"foo.yml"`` mean tests/integration/playbooks/foo.yml; paths are used as given."""
    candidate = str(name_or_path)
    if os.sep in candidate or os.path.isabs(candidate):
        path = os.path.abspath(candidate)
    else:
        if not candidate.endswith((".yml", ".yaml")):
            candidate += ".yml"
        path = os.path.join(PLAYBOOK_DIR, candidate)
    if not os.path.isfile(path):
        raise FileNotFoundError("playbook not found: %s" % path)
    return path


def ansible_playbook_executable():
    """The ansible-playbook that belongs to the running interpreter's venv, else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if os.path.isfile(beside):
        return beside
    found = shutil.which("ansible-playbook")
    if not found:
        raise RuntimeError("ansible-playbook not found next to %s or on PATH" % sys.executable)
    return found


def link_collection(parent):
    """Make ``parent/ansible_collections/capgo/cloud`` point at the repo; return ``parent``."""
    namespace_dir = os.path.join(parent, "ansible_collections", "capgo")
    os.makedirs(namespace_dir, exist_ok=True)
    link = os.path.join(namespace_dir, "cloud")
    if not os.path.lexists(link):
        os.symlink(REPO_ROOT, link)
    return parent


def _json_dumps(data):
    return json.dumps(data)


def _json_loads(text):
    return json.loads(text)
