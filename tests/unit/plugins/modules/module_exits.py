# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every module unit test shares: a module's exit turned into an exception that carries its result."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils import basic

from ansible_collections.capgo.cloud.plugins.module_utils import client as capgo_client


class ModuleExit(SystemExit):
    """A SystemExit, as the real exit_json/fail_json raise: CapgoModule.run catches every Exception, never this."""

    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result)
        self.result = result
        self.failed = failed


def patch_exits(monkeypatch):
    """exit_json/fail_json raise ModuleExit (warnings land in the result) and retries do not sleep."""
    warnings = []

    def warn(module, warning):
        warnings.append(warning)

    def exit_json(module, **result):
        if warnings:
            result['warnings'] = list(warnings)
            del warnings[:]
        raise ModuleExit(result, False)

    def fail_json(module, **result):
        result['failed'] = True
        raise ModuleExit(result, True)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'warn', warn)
    monkeypatch.setattr(capgo_client, 'backoff_delay', lambda attempt, base=0.5: 0)
