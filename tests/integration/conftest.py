"""Fixtures for integration tests: real ansible-playbook runs against the simulator.

See tests/integration/README.md for how to write a test.  In short::

    def test_something(sim, run_playbook):
        result = run_playbook("my_playbook", extra_vars={"app_id": sim.app_id})
        assert result.stats["changed"] == 1
        assert len(result.writes) == 1

Every test that uses ``sim`` runs once per API profile (``latest``, ``current``
and ``classic``).  Pin one with
``@pytest.mark.parametrize("profile", ["current"], indirect=True)``.  Restrict a
slow test to some profiles with ``@pytest.mark.profiles("latest", "current")``,
or a whole file with a module-level ``PROFILES = ("latest", "classic")``.
``CAPGO_TEST_PROFILES=current`` (comma-separated) narrows the default set for a
whole run (it intersects with the restrictions above).

Environment:

* ``CAPGO_TEST_COLLECTIONS_PATH``: collections path to test (``make`` points it
  at the installed build artifact).  Unset: the working tree itself, through
  a symlink in a temporary directory.
"""

import os
import shutil
import sys
import tempfile
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402  pylint: disable=wrong-import-position


def _selected_profiles():
    wanted = os.environ.get("CAPGO_TEST_PROFILES", "")
    profiles = [name.strip() for name in wanted.split(",") if name.strip()] or list(harness.PROFILES)
    unknown = sorted(set(profiles) - set(harness.PROFILES))
    if unknown:
        raise pytest.UsageError("CAPGO_TEST_PROFILES: unknown profile(s) %s" % ", ".join(unknown))
    return profiles


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "profiles(*names): run this test only on these API profiles (default: all of harness.PROFILES)"
    )


def _explicit_profile_parametrize(metafunc):
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "profile" in names:
            return True
    return False


def pytest_generate_tests(metafunc):
    """Parametrize ``profile`` (and so ``sim``) over the selected profiles, honouring
    ``@pytest.mark.profiles(...)`` and a module-level ``PROFILES``."""
    if "profile" not in metafunc.fixturenames or _explicit_profile_parametrize(metafunc):
        return
    profiles = _selected_profiles()
    marker = metafunc.definition.get_closest_marker("profiles")
    allowed = tuple(marker.args) if marker is not None else getattr(metafunc.module, "PROFILES", None)
    if allowed is not None:
        unknown = sorted(set(allowed) - set(harness.PROFILES))
        if unknown:
            raise pytest.UsageError("%s: unknown profile(s) %s" % (metafunc.definition.nodeid, ", ".join(unknown)))
        profiles = [name for name in profiles if name in allowed]
    if not profiles:
        reason = "profiles %s not selected (CAPGO_TEST_PROFILES)" % ", ".join(allowed or ())
        metafunc.parametrize("profile", [pytest.param(None, marks=pytest.mark.skip(reason=reason))], indirect=True, ids=["none"])
        return
    metafunc.parametrize("profile", profiles, indirect=True)


@pytest.fixture(scope="session")
def capgo_api_key():
    """A fresh random API key per test session (per xdist worker)."""
    return str(uuid.uuid4())


@pytest.fixture(scope="session")
def _harness_dirs():
    """Scratch space outside the repo: fake HOME, cwd for runs, collection symlink."""
    base = tempfile.mkdtemp(prefix="capgo-it-")
    dirs = {
        "home": os.path.join(base, "home"),
        "work": os.path.join(base, "work"),
        "links": os.path.join(base, "collections"),
    }
    for path in dirs.values():
        os.makedirs(path)
    yield dirs
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def collections_path(_harness_dirs):
    """What ANSIBLE_COLLECTIONS_PATH is during runs."""
    configured = os.environ.get("CAPGO_TEST_COLLECTIONS_PATH")
    if configured:
        installed = os.path.join(configured, "ansible_collections", "capgo", "cloud")
        if not os.path.isdir(installed):
            raise pytest.UsageError("CAPGO_TEST_COLLECTIONS_PATH=%s holds no capgo.cloud (%s)" % (configured, installed))
        return configured
    return harness.link_collection(_harness_dirs["links"])


@pytest.fixture(scope="session")
def _simulators():
    """Simulator servers started so far in this session, by profile."""
    servers = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def profile(request):
    """The API profile under test; every test using ``sim`` runs once per profile (see pytest_generate_tests)."""
    return getattr(request, "param", None) or harness.PROFILES[0]


@pytest.fixture
def sim(profile, _simulators, capgo_api_key):
    """The simulator for ``profile``, reset and seeded for this test.

    Seed: ``com.example.app`` in org1 (``sim.app_id``), ``com.other.app`` in
    org2 (``sim.other_app_id``), and the all-mode key ``sim.key`` for org1.
    """
    server = _simulators.get(profile)
    if server is None:
        try:
            server = harness.start_simulator(profile)
        except harness.SimulatorError as exc:
            pytest.fail(str(exc), pytrace=False)
        _simulators[profile] = server
    handle = harness.SimHandle(server, profile, capgo_api_key)
    handle.reset()
    return handle


@pytest.fixture
def run_playbook(sim, collections_path, _harness_dirs):
    """``run_playbook(name_or_path, extra_vars=None, check=False, diff=False,
    verbosity=0, env=None, expect_failure=False, extra_args=None)`` -> PlaybookResult.

    Fails the test unless rc == 0 (rc != 0 with ``expect_failure=True``), and
    always if ``sim.key`` appears in stdout or stderr.  ``env`` entries override
    the run's environment; a value of None removes the variable.
    """
    return harness.PlaybookRunner(sim, collections_path, _harness_dirs["home"], _harness_dirs["work"])
