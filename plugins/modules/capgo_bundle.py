#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capgo_bundle
short_description: Delete, prune and register Capgo bundles
version_added: 1.0.0
description:
  - Deletes one or several bundles (live update versions) of a Capgo app, prunes old bundles while keeping the
    newest ones (like the Capgo CLI's C(bundle cleanup --keep)), or registers a bundle hosted outside Capgo.
  - A bundle that a channel serves, as its bundle or as the bundle of a progressive rollout, is never deleted.
    Older Capgo API generations do not protect such bundles themselves; this module always does.
  - The module reads the app's bundles and channels first and only deletes bundles that exist, so deleting a
    bundle that is already gone reports no change.
  - Every delete names exactly one bundle. The module never sends a delete without a bundle version, which the
    API would take as "delete every bundle of the app". To delete every bundle no channel serves, say so with
    O(keep=0).
  - Capgo keeps a deleted bundle's name reserved, so a version can never be registered again once it was deleted.
author:
  - Capgo collection maintainers (@capgo-cloud)
extends_documentation_fragment:
  - capgo.cloud.connection
  - capgo.cloud.attributes
options:
  app_id:
    description:
      - The app's reverse-domain id, for example V(com.example.app). Checked before any request.
    type: str
    required: true
  state:
    description:
      - V(present) registers the externally hosted bundle O(version) (needs O(external_url) and O(checksum)).
      - V(absent) deletes bundles. It needs exactly one of O(version), O(versions) or O(keep). Deleting always
        needs an explicit O(state=absent).
    type: str
    choices: [present, absent]
    default: present
  version:
    description:
      - The name (version) of one bundle.
      - With O(state=present) it must be a semantic version without a leading V(v), for example V(1.4.2).
      - With O(state=absent), a bundle that does not exist is not an error (nothing to delete). A bundle that a
        channel serves makes the task fail, naming the channel, and nothing is deleted.
    type: str
  versions:
    description:
      - Several bundle names to delete, with O(state=absent).
      - Names that do not exist are skipped. If any named bundle is served by a channel, the task fails before
        deleting anything and names the channels.
      - An empty list deletes nothing.
    type: list
    elements: str
  keep:
    description:
      - Retention, with O(state=absent). Keeps the newest O(keep) bundles (by upload time) and deletes every
        other bundle, except the bundles that a channel serves, which are always kept in addition.
      - V(0) deletes every bundle that no channel serves.
      - Must be 0 or more.
    type: int
  external_url:
    description:
      - With O(state=present), the C(https://) URL the devices download the bundle's zip file from.
      - Required with O(state=present). The scheme must be written in lower case (V(https://)); Capgo refuses
        V(HTTPS://) and the module says so before any request.
    type: str
  checksum:
    description:
      - With O(state=present), the checksum of the bundle's zip file, as the Capgo CLI computes it.
      - Required with O(state=present). Capgo refuses an external bundle without one, and the module checks it before
        any request.
    type: str
  session_key:
    description:
      - With O(state=present), the session key of an encrypted bundle, as the Capgo CLI prints it when it
        encrypts a bundle.
      - Never shown in the module's output. It is only sent when the bundle is registered; an existing bundle's
        key is not compared unless the API returns it.
    type: str
notes:
  - "Idempotency: O(state=present) changes nothing when the bundle already exists with the same O(external_url)
    and O(checksum), and fails when it exists with different ones, since Capgo bundles cannot be changed.
    Register a new version instead."
  - Registering fails with a clear message when the version was used by a bundle that has since been deleted,
    because Capgo keeps a deleted bundle's name reserved (until it purges the bundle, about 90 days after deletion),
    and on Capgo API generations without the C(POST /bundle) endpoint. Where the API has C(GET /bundle/lookup)
    (the newest generation, which U(https://api.capgo.app) runs), the module asks it before registering and fails
    without sending the C(POST); on older generations it learns it from the C(POST)'s answer.
  - When the app's organization enforces encrypted bundles, Capgo refuses every externally hosted bundle, with or
    without O(session_key); the failure says so and how to upload the bundle instead.
  - "Retention that may surprise: when O(keep) would delete a bundle that is newer than every bundle a channel
    serves (uploaded but not served yet, usually the release being prepared), the task warns and names it. The
    bundle is still deleted, as asked; raise O(keep) or point a channel at it first."
  - An app without bundles is an empty list on every API generation (the newest answers C(200 []), older ones a
    C(400 cannot_get_bundle)); a key without access to the app fails instead.
  - Deletes go one bundle at a time, oldest first. If one fails, the task fails and RV(deleted) lists what was
    already deleted (the task then reports C(changed=true)).
  - When the answer to a delete or a registration is lost (a timeout, a dropped connection, a 5xx after the request
    was sent), the module reads the bundles back and decides from what Capgo holds, instead of failing or
    repeating the request blindly.
  - Check mode reads the bundles and channels and reports exactly the bundles a real run would delete, without
    deleting any.
  - "Diff mode shows the names of the app's bundles before and after, newest first."
seealso:
  - module: capgo.cloud.capgo_info
  - module: capgo.cloud.capgo_channel
  - name: Capgo CLI bundle cleanup
    description: The CLI command whose C(--keep) option O(keep) mirrors.
    link: https://capgo.app/docs/cli/commands/#cleanup
'''

EXAMPLES = r'''
- name: Prune bundles in CI, keeping the newest 5 and whatever a channel serves
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    state: absent
    keep: 5
  register: pruned

- name: Show what was pruned
  ansible.builtin.debug:
    msg: "Deleted {{ pruned.deleted | length }} bundles: {{ pruned.deleted | join(', ') }}"

- name: Delete one bundle
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    state: absent
    version: 1.2.0

- name: Delete several bundles
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    state: absent
    versions:
      - 1.0.0
      - 1.0.1

- name: Register a bundle hosted on our own CDN
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    version: 1.4.2
    external_url: https://cdn.example.com/bundles/1.4.2.zip
    checksum: 3b1f2a6c
  register: registered

- name: Register an encrypted bundle, with the key kept in a vault
  capgo.cloud.capgo_bundle:
    app_id: com.example.app
    version: 1.4.3
    external_url: https://cdn.example.com/bundles/1.4.3.zip
    checksum: 9a0c77e1
    session_key: "{{ vault_capgo_session_key }}"
'''

RETURN = r'''
deleted:
  description:
    - Names of the bundles deleted, in the order they were deleted (oldest first).
    - In check mode, the bundles a real run would delete.
  returned: always
  type: list
  elements: str
  sample: [1.0.0, 1.0.1]
kept:
  description:
    - Names of the app's bundles that exist after the run, newest first (in check mode, the prediction).
    - With O(keep), the newest O(keep) bundles plus every bundle a channel serves.
  returned: always
  type: list
  elements: str
  sample: [1.4.2, 1.4.1, 1.1.0]
protected:
  description:
    - The app's bundles that channels serve (as their bundle or their rollout bundle), each with the names of
      those channels. These bundles are never deleted.
    - Empty when the module had no reason to read the channels (nothing to delete, or O(state=present)).
  returned: always
  type: dict
  sample: {"1.1.0": ["production"]}
bundle:
  description:
    - The registered bundle. In check mode, when it does not exist yet, the bundle as it would be registered
      (without the values only Capgo assigns, such as RV(bundle.id)).
  returned: when O(state=present)
  type: dict
  contains:
    id:
      description: Capgo's id of the bundle.
      type: int
    version:
      description: The bundle name (its version).
      type: str
    app_id:
      description: The app id.
      type: str
    created_at:
      description: When the bundle was registered.
      type: str
    updated_at:
      description: When the bundle was last changed.
      type: str
    external_url:
      description: Where the bundle is downloaded from.
      type: str
    checksum:
      description: The bundle's checksum.
      type: str
    min_update_version:
      description: The lowest native version this bundle may be installed on, for the V(version_number) strategy.
      type: str
    native_packages:
      description:
        - The native packages (Capacitor plugins) the bundle was built against, as Capgo stores them (each an item
          with the package C(name) and C(version)), or V(null) when Capgo holds no list for the bundle.
      type: list
      elements: dict
    encrypted:
      description: Whether the bundle is encrypted (the session key itself is never returned).
      type: bool
    comment:
      description: The bundle's comment.
      type: str
    link:
      description: The bundle's link.
      type: str
  sample:
    id: 301
    version: 1.4.2
    app_id: com.example.app
    created_at: "2026-03-01T09:58:00+00:00"
    external_url: https://cdn.example.com/bundles/1.4.2.zip
    checksum: 3b1f2a6c
    encrypted: false
diff:
  description: The names of the app's bundles before and after the run, newest first.
  returned: always
  type: dict
  contains:
    before:
      description: Before the run.
      type: dict
    after:
      description: After the run (in check mode, the prediction).
      type: dict
  sample:
    before: {bundles: [1.4.2, 1.4.1, 1.0.0]}
    after: {bundles: [1.4.2, 1.4.1]}
'''

from ansible_collections.capgo.cloud.plugins.module_utils import bundles
from ansible_collections.capgo.cloud.plugins.module_utils.base import CapgoModule

ARGUMENT_SPEC = dict(
    app_id=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    version=dict(type='str'),
    versions=dict(type='list', elements='str'),
    keep=dict(type='int'),
    external_url=dict(type='str'),
    checksum=dict(type='str'),
    session_key=dict(type='str', no_log=True),
)


def main():
    module = CapgoModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.run(bundles.read, bundles.plan, bundles.write)


if __name__ == '__main__':
    main()
