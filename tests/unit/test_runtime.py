"""meta/runtime.yml must stay in step with plugins/modules/.

The ``capgo`` action group is what ``module_defaults: group/capgo.cloud.capgo``
expands to; a module missing from it silently ignores the connection defaults
a playbook sets there.
"""

import pathlib

import yaml

COLLECTION_ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNTIME = COLLECTION_ROOT / "meta" / "runtime.yml"
MODULES_DIR = COLLECTION_ROOT / "plugins" / "modules"


def _module_names():
    # A missing or empty plugins/modules/ is a broken checkout, not a reason to skip.
    assert MODULES_DIR.is_dir(), "%s is missing" % MODULES_DIR
    names = {path.stem for path in MODULES_DIR.glob("*.py") if path.stem != "__init__"}
    assert names, "%s holds no module" % MODULES_DIR
    return names


def _runtime():
    with RUNTIME.open() as handle:
        return yaml.safe_load(handle)


def _capgo_group():
    groups = _runtime().get("action_groups") or {}
    return groups.get("capgo") or []


def test_requires_ansible_is_declared():
    assert _runtime().get("requires_ansible", "").startswith(">=2.")


def test_action_group_entries_are_plain_module_names():
    for entry in _capgo_group():
        assert isinstance(entry, str), "metadata entries do not belong in the capgo group: %r" % (entry,)
        assert "." not in entry, "list short names, not FQCNs: %r" % (entry,)


def test_action_group_has_no_duplicates():
    group = _capgo_group()
    assert len(group) == len(set(group))


def test_every_module_is_in_the_capgo_action_group():
    modules = _module_names()
    missing = sorted(modules - set(_capgo_group()))
    assert not missing, "add to action_groups.capgo in meta/runtime.yml: %s" % ", ".join(missing)


def test_every_capgo_action_group_entry_is_a_module():
    modules = _module_names()
    group = _capgo_group()
    assert group, "the capgo action group is empty although modules exist"
    stale = sorted(set(group) - modules)
    assert not stale, "action_groups.capgo lists modules that do not exist: %s" % ", ".join(stale)
