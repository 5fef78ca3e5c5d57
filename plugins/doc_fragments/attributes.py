# -*- coding: utf-8 -*-
# Copyright (c) capgo.cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Modules that change things: check mode predicts, diff shows the managed fields.
    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
    support: full
    details:
      - Check mode sends no write request; it reads the current state and reports exactly what a real run
        would change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: full
  action_group:
    description: Use C(group/capgo.cloud.capgo) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - capgo.cloud.capgo
'''

    # Read-only modules.
    INFO_MODULE = r'''
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
    support: full
    details:
      - This module only reads, so it behaves the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: none
  action_group:
    description: Use C(group/capgo.cloud.capgo) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - capgo.cloud.capgo
'''
