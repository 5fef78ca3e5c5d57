# -*- coding: utf-8 -*-
"""Where the simulator's three API generations differ: one named rule per difference, in this one table.

Handlers ask ``api.rule('name')`` (or ``sim.rule('name')``); a rule holds on the profiles listed here. Tests can
flip a rule for one simulator with ``POST /_sim/config {"rules": {"name": true|false}}``.

Each entry: (profiles where it holds, capgo-api.md item, source file@commit). ``H`` = Cap-go/capgo HEAD
``4bc7d83f8`` (2026-07-24), ``C`` = classic ``1f6429cb2`` (2026-01-21), other commits are in Cap-go/capgo.app
(the newest source, "latest"); ``_b/`` = ``supabase/functions/_backend/``.
"""

PROFILES = ('latest', 'current', 'classic')
DEFAULT_PROFILE = 'latest'
ALL = ('latest', 'current', 'classic')
HEAD_ON = ('latest', 'current')
LATEST = ('latest',)

RULES = {
    # ---- the pre-RBAC generation -------------------------------------------------------------------------
    'classic_api': (('classic',), '3.3, 5-7 "classic"', 'C `_b/public/{channel,device,bundle}/*.ts`, `_b/utils/hono_middleware.ts`'),
    # ---- HEAD (current) and newer --------------------------------------------------------------------------
    'rbac_permissions': (HEAD_ON, '3.4', 'H `_b/utils/rbac.ts`, `supabase/seed.sql`'),
    'rollouts': (HEAD_ON, '5.1 rollout fields, 12.2 #5', 'H `_b/public/channel/post.ts:378-472`, H baseline `refresh_channel_rollout_id`'),
    'post_bundle_route': (HEAD_ON, '7.3', 'H `_b/public/bundle/create.ts`'),
    'post_bundle_checksum_required': (HEAD_ON, '12.2 #1', 'H `_b/public/bundle/create.ts:233-266`'),
    'strict_updated_at_filter': (HEAD_ON, '12.2 #2', 'H `_b/public/device/get.ts:51-83`'),
    'subkey_header_checked': (HEAD_ON, '11.1 #18, 12.2 #3', 'H `_b/utils/hono_middleware.ts:164-182`'),
    'version_needs_promote_cannot_access_app': (HEAD_ON, '12.2 #6', 'H `_b/public/channel/post.ts:358-366`'),
    'put_bundle_bad_id_cannot_set': (HEAD_ON, '12.2 #6', 'H `_b/public/bundle/set_channel.ts` (DB error -> cannot_set_bundle_to_channel)'),
    'device_limit_number_coercion': (HEAD_ON, '12.2 #6', 'H `_b/public/device/get.ts` (`Number(limit)`)'),
    'delete_device_missing_id_first': (HEAD_ON, '12.2 #6', 'H `_b/public/device/delete.ts`'),
    'bundle_purge_90_days': (HEAD_ON, '12.2 #7 (classic: one year, 11.2 #12)',
                             'H cron; C `supabase/migrations/20260113160650_delete_old_deleted_versions.sql:41-51`'),
    # ---- latest only (12.1) ------------------------------------------------------------------------------
    'bundle_list_empty_ok': (LATEST, '12.1 #1', '`_b/public/bundle/get.ts`@`df1e4fa9`'),
    'publicize_needs_update_settings': (LATEST, '12.1 #2', '`_b/public/channel/post.ts`@`25cc511d` (`isPublicizing`)'),
    'reset_rollout_on_stable': (LATEST, '12.1 #3', '`supabase/migrations/20260817183821_reset_rollout_on_stable_bundle.sql`@`1fdb8a0c`'),
    'put_bundle_target': (LATEST, '12.1 #4', '`_b/public/bundle/set_channel.ts`@`0c3efefa`'),
    'rollout_disable_unlinks': (LATEST, '12.1 #5', '`_b/public/channel/post.ts`@`6690bbba` (`disablesRollout`)'),
    'advance_rollout': (LATEST, '12.1 #5', '`_b/public/channel/post.ts`@`6690bbba` (`advanceRollout`)'),
    'update_package': (LATEST, '12.1 #6', '`_b/utils/channel_update_package.ts`@`c25b3644`, '
                       '`migrations/20260814161627_channel_update_package_bundle_guard.sql`@`2b40a088`'),
    'channel_platform_fields': (LATEST, '12.1 #7', '`_b/public/channel/get.ts`@`33ad186d`'),
    'channel_page_coerced': (LATEST, '12.1 #7', '`_b/public/channel/get.ts`@`33ad186d`'),
    'api_overrides_never_expire': (LATEST, '12.1 #8', '`_b/public/device/post.ts`@`b1b05635` (`is_self_set: false`)'),
    'permission_error_503': (LATEST, '12.1 #9', '`_b/utils/rbac.ts`@`0085241a`'),
    'device_custom_id_filter': (LATEST, '12.1 #10', '`_b/public/device/get.ts`@`81e1983b`'),
    'current_bundle_route': (LATEST, '12.1 #11', '`_b/public/channel/current_bundle.ts`@`2b1b301c`'),
    'bundle_lookup_route': (LATEST, '12.1 #11', '`_b/public/bundle/lookup.ts`@`3dbd0d0a`'),
    'encryption_refuses_external': (LATEST, '12.1 #12', '`_b/public/bundle/create.ts`@`0e2c4f07`'),
}


def rule_holds(profile, name, overrides=None):
    """True when rule `name` holds for `profile` (a config override wins)."""
    if name not in RULES:
        raise KeyError('unknown simulator rule %s' % name)
    if overrides and name in overrides:
        return bool(overrides[name])
    return profile in RULES[name][0]
