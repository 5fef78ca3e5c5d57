"""Fail unless a galaxy-importer run was clean.

Usage: check_importer.py LOGFILE RESULT_JSON RUNTIME_YML

galaxy-importer exits 0 even when it logs warnings (ansible-lint findings,
ansible-doc problems), so the gate reads both its log and importer_result.json.
"""

import json
import re
import sys

import yaml

SEVERE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")


def main(log_path, result_path, runtime_path):
    problems = []
    with open(log_path) as handle:
        problems += ["log: " + line.rstrip() for line in handle if SEVERE.search(line)]

    with open(result_path) as handle:
        result = json.load(handle)
    with open(runtime_path) as handle:
        runtime = yaml.safe_load(handle)

    if result.get("requires_ansible") != runtime.get("requires_ansible"):
        problems.append("requires_ansible not picked up: %r" % result.get("requires_ansible"))
    if not (result.get("docs_blob", {}).get("collection_readme") or {}).get("html"):
        problems.append("the collection README did not render")

    documented = {
        item["content_name"]
        for item in result.get("docs_blob", {}).get("contents", [])
        if item.get("content_type") == "module" and item.get("doc_strings")
    }
    imported = {item["name"] for item in result.get("contents", []) if item.get("content_type") == "module"}
    for name in sorted(imported - documented):
        problems.append("module %s: ansible-doc gave the importer no documentation" % name)
    for name in sorted(set((runtime.get("action_groups") or {}).get("capgo") or []) - imported):
        problems.append("module %s (action group capgo) is not in the tarball" % name)

    for problem in problems:
        print(problem)
    if problems:
        print("galaxy-importer: %d problem(s)" % len(problems))
        return 1
    print("galaxy-importer: clean, %d module(s) documented" % len(documented))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
