"""pytest plugin for the unit tests on ansible-core releases before 2.19 (`make units-2.16`).

The unit tests use ``ansible.module_utils.testing.patch_module_args``, which ansible-core 2.19
added.  On older cores this plugin provides that module with the same context manager, built on
what those cores read: ``ansible.module_utils.basic._ANSIBLE_ARGS``.  On 2.19 and newer it does
nothing.  Loaded with ``-p pytest_core_compat`` (the Makefile puts .ci/ on PYTHONPATH).
"""

import contextlib
import json
import sys
import types


def _install():
    try:
        import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import
        return
    except ImportError:
        pass
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        args = dict(args or {})
        args.setdefault('_ansible_remote_tmp', '/tmp')
        args.setdefault('_ansible_keep_remote_files', False)
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

    module = types.ModuleType('ansible.module_utils.testing')
    module.__doc__ = 'patch_module_args for ansible-core < 2.19 (from .ci/pytest_core_compat.py)'
    module.patch_module_args = patch_module_args
    sys.modules['ansible.module_utils.testing'] = module
    import ansible.module_utils
    ansible.module_utils.testing = module


_install()
