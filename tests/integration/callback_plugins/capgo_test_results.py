# Copyright: capgo.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: write every task result of a run to a JSON file.

ansible-core no longer ships a json stdout callback (it moved to ansible.posix,
which this project does not depend on).  The integration harness enables this
aggregate callback instead and reads the file named by
``CAPGO_TEST_RESULTS_FILE``; stdout keeps the normal human-readable output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
name: capgo_test_results
type: aggregate
short_description: Write task results to a JSON file for the integration tests
description:
  - Writes the task results and the play recap as JSON to the file named by E(CAPGO_TEST_RESULTS_FILE).
"""

import json
import os

from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase


def _result_of(result):
    data = getattr(result, "result", None)  # ansible-core >= 2.19
    if not isinstance(data, dict):
        data = result._result  # pylint: disable=protected-access
    return data


def _host_of(result):
    host = getattr(result, "host", None) or result._host  # pylint: disable=protected-access
    return host.get_name()


def _task_of(result):
    return getattr(result, "task", None) or result._task  # pylint: disable=protected-access


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "capgo_test_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._tasks = []

    def _record(self, result, status):
        task = _task_of(result)
        data = dict(_result_of(result))
        # Newer cores keep the outcome beside the result dict, not in it.
        data.setdefault("changed", False)
        if status in ("failed", "ignored"):
            data["failed"] = True
        elif status in ("skipped", "unreachable"):
            data[status] = True
        self._tasks.append(
            {
                "name": task.get_name(),
                "action": task.action,
                "host": _host_of(result),
                "status": status,
                "result": data,
            }
        )

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("CAPGO_TEST_RESULTS_FILE")
        if not path:
            return
        document = {
            "tasks": self._tasks,
            "stats": {host: stats.summarize(host) for host in sorted(stats.processed)},
        }
        with open(path, "w") as handle:
            json.dump(document, handle, cls=AnsibleJSONEncoder, default=str)
