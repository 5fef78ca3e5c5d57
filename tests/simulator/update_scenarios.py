# -*- coding: utf-8 -*-
"""Update-decision scenarios: one per reason code of capgo-update-decision.md that a device can reach, plus the
channel sources, the builtin answers and rollouts. Data only: no decision logic lives here.

Each scenario (a dict in SCENARIOS):
- `id`: unique name; `doc`: the section of capgo-update-decision.md it exercises; `note`: why this outcome.
- `seed`: added with POST /_sim/seed to a FRESH simulator (POST /_sim/reset, then the integration harness's
  default seed, which creates apps and keys only). Bundle and channel ids then count from 1 in the order
  of this seed: `bundles` first, then channels (and any bundle a channel names that is not listed). The
  latest rollout scenarios depend on those ids (the bucket hashes the channel id and the rollout bundle id).
  Every bundle meant to be downloadable carries an `r2_path`; a bundle without one is `no_bundle`.
  The seed always holds the device row (`devices`), so `GET /device?device_id=` finds it.
- `device`: the inputs, spelled as capgo_update_check's options: `device_id`, `platform`, `native_version`
  (version_build), `bundle` (the running bundle, `builtin` for the store build), `is_prod`, `is_emulator`,
  `plugin_version`, `default_channel` (None = not set).
- `profiles`: the simulator profiles (API generations) it applies to.
- `expected`: per profile, the outcome:
  - `available` (bool): the server offers something to download or revert to;
  - `bundle`: the offered bundle when available, else the bundle the device keeps (its `bundle` input);
  - `target`: the bundle the chosen channel would serve (after the rollout), None without a channel;
  - `channel`, `channel_source` (`override` / `default_channel` / `cloud_default`, None without a channel);
  - `reason`: Capgo's code when nothing is offered, else None;
  - `server`: what POST /updates answers: `version` (success) or `error` (refusal), as the simulator serves it.
  Optional `bucket`: the latest rollout bucket of this device (for the record; the simulator test checks it).
  Optional `unknown_inputs`: {profile: [inputs]} that outcome depends on but that generation's public API does not
  expose (capgo-update-decision.md 3), so a local computation can only name them as unknown there; the server's
  answer (`server`) is still what the table says.
"""

APP_ID = 'com.example.app'
ROLLOUT_ID = '0f5b8a4e-2c61-4d8e-9a37-5e1c0d9b7a21'
BOTH = ('latest', 'current')
LATEST = ('latest',)

DEFAULT_DEVICE = {
    'platform': 'ios',
    'native_version': '1.0.0',
    'bundle': 'builtin',
    'is_prod': True,
    'is_emulator': False,
    'plugin_version': '7.30.0',
    'default_channel': None,
}


def _dev(number, **inputs):
    """A device input dict (DEFAULT_DEVICE plus `inputs`) with a distinct UUID."""
    out = dict(DEFAULT_DEVICE)
    out['device_id'] = '00000000-0000-4000-8000-%012d' % number
    out.update(inputs)
    return out


def _row(device):
    """The device row the seed holds for `device` (what GET /device then shows)."""
    return {'app_id': APP_ID, 'device_id': device['device_id'], 'platform': device['platform'],
            'version_name': device['native_version'] if device['bundle'] == 'builtin' else device['bundle'],
            'version_build': device['native_version'], 'is_prod': device['is_prod'],
            'is_emulator': device['is_emulator'], 'plugin_version': device['plugin_version']}


def _bundle(name, **cols):
    out = {'app_id': APP_ID, 'name': name, 'r2_path': 'orgs/org1/apps/%s/%s.zip' % (APP_ID, name),
           'checksum': 'sha256-%s' % name.replace('.', '-')}
    out.update(cols)
    return out


def _channel(name, **cols):
    out = {'app_id': APP_ID, 'name': name}
    out.update(cols)
    return out


def _expect(available, bundle, target, channel, source, reason, server):
    return {'available': available, 'bundle': bundle, 'target': target, 'channel': channel,
            'channel_source': source, 'reason': reason, 'server': server}


def _scenario(sid, doc, note, device, bundles, channels, expected, profiles=BOTH, overrides=(), **extra):
    seed = {'bundles': list(bundles), 'channels': list(channels), 'devices': [_row(device)]}
    if overrides:
        seed['overrides'] = [{'app_id': APP_ID, 'device_id': device['device_id'], 'channel': name} for name in overrides]
    out = {'id': sid, 'doc': doc, 'note': note, 'seed': seed, 'device': device, 'profiles': tuple(profiles),
           'expected': dict((p, expected[p] if isinstance(expected, dict) and p in expected else expected) for p in profiles)}
    out.update(extra)
    return out


PROD = _channel('production', version='1.0.1', public=True)
B101 = _bundle('1.0.1')

SCENARIOS = [
    # ------------------------------------------------------------------ channel sources and offers
    _scenario('offer_cloud_default', '2.2 cloud default', 'public channel with the platform on, newer bundle',
              _dev(1), [B101], [PROD],
              _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'})),
    _scenario('offer_default_channel', '2.2 defaultChannel', 'a self-settable channel named by defaultChannel wins over the cloud default',
              _dev(2, default_channel='beta'), [B101, _bundle('1.0.2')],
              [PROD, _channel('beta', version='1.0.2', allow_device_self_set=True)],
              _expect(True, '1.0.2', '1.0.2', 'beta', 'default_channel', None, {'version': '1.0.2'})),
    _scenario('offer_override', '2.2 override', 'a dashboard/API override to a private channel',
              _dev(3), [B101, _bundle('1.0.3')], [PROD, _channel('qa', version='1.0.3')],
              _expect(True, '1.0.3', '1.0.3', 'qa', 'override', None, {'version': '1.0.3'}), overrides=['qa']),
    _scenario('override_beats_default_channel', '2.2 override', 'an override replaces the defaultChannel lookup entirely',
              _dev(4, default_channel='beta'), [B101, _bundle('1.0.2'), _bundle('1.0.3')],
              [PROD, _channel('beta', version='1.0.2', allow_device_self_set=True), _channel('qa', version='1.0.3')],
              _expect(True, '1.0.3', '1.0.3', 'qa', 'override', None, {'version': '1.0.3'}), overrides=['qa']),
    _scenario('override_on_deleted_bundle_skipped', '2.2 override, 5 #2', 'an override whose channel serves a soft-deleted bundle is skipped',
              _dev(5), [B101, _bundle('1.0.3', deleted=True)], [PROD, _channel('qa', version='1.0.3')],
              _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'}), overrides=['qa']),

    # ------------------------------------------------------------------ no_channel
    _scenario('no_channel_nothing_public', '2.2 result', 'no override and no public channel',
              _dev(10), [B101], [_channel('beta', version='1.0.1')],
              _expect(False, 'builtin', None, None, None, 'no_channel', {'error': 'no_channel'})),
    _scenario('no_channel_default_channel_private', '2.2 defaultChannel, 5 #1', 'a private defaultChannel gives no_channel, never the cloud default',
              _dev(11, default_channel='beta'), [B101, _bundle('1.0.2')], [PROD, _channel('beta', version='1.0.2')],
              _expect(False, 'builtin', None, None, None, 'no_channel', {'error': 'no_channel'})),
    _scenario('no_channel_default_channel_missing', '2.2 defaultChannel, 5 #1', 'a defaultChannel that does not exist: no fall-back',
              _dev(12, default_channel='nope'), [B101], [PROD],
              _expect(False, 'builtin', None, None, None, 'no_channel', {'error': 'no_channel'})),
    _scenario('no_channel_platform_off', '2.2 cloud default', 'the only public channel has ios off (latest returns the flags)',
              _dev(13), [B101], [_channel('production', version='1.0.1', public=True, ios=False)],
              _expect(False, 'builtin', None, None, None, 'no_channel', {'error': 'no_channel'}), profiles=LATEST),
    _scenario('no_channel_deleted_at_only', '4 #4', 'latest counts deleted_at as deleted: the only public channel drops out '
              '(current serves it, deleted is false)',
              _dev(14), [_bundle('1.0.1', deleted_at='2026-01-02T00:00:00Z')], [PROD],
              {'latest': _expect(False, 'builtin', None, None, None, 'no_channel', {'error': 'no_channel'}),
               'current': _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'})}),

    # ------------------------------------------------------------------ gates in order
    _scenario('no_bundle', '2.3 #1', 'the bundle has no r2_path, no external_url and no manifest',
              _dev(20), [_bundle('1.0.1', r2_path=None)], [PROD],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'no_bundle', {'error': 'no_bundle'})),
    _scenario('no_new_version_available', '2.3 #3', 'the device already runs the channel bundle',
              _dev(21, bundle='1.0.1'), [B101], [PROD],
              _expect(False, '1.0.1', '1.0.1', 'production', 'cloud_default', 'no_new_version_available',
                      {'error': 'no_new_version_available'})),
    _scenario('same_version_before_policy', '2.3 #3', 'up to date wins over a major block: the same-version check runs first',
              _dev(22, bundle='2.0.0'), [_bundle('2.0.0')], [_channel('production', version='2.0.0', public=True)],
              _expect(False, '2.0.0', '2.0.0', 'production', 'cloud_default', 'no_new_version_available',
                      {'error': 'no_new_version_available'})),
    _scenario('disabled_platform_ios', '2.3 #4', 'an override to a channel with ios off',
              _dev(23), [B101, _bundle('1.0.3')], [PROD, _channel('qa', version='1.0.3', ios=False)],
              _expect(False, 'builtin', '1.0.3', 'qa', 'override', 'disabled_platform_ios', {'error': 'disabled_platform_ios'}),
              overrides=['qa'],
              unknown_inputs={'current': ['channel ios flag (GET /channel at HEAD returns no platform flags)']}),
    _scenario('disabled_platform_android', '2.3 #4', 'an override to a channel with android off',
              _dev(24, platform='android'), [B101, _bundle('1.0.3')], [PROD, _channel('qa', version='1.0.3', android=False)],
              _expect(False, 'builtin', '1.0.3', 'qa', 'override', 'disabled_platform_android',
                      {'error': 'disabled_platform_android'}), overrides=['qa'],
              unknown_inputs={'current': ['channel android flag (GET /channel at HEAD returns no platform flags)']}),
    _scenario('disable_auto_update_to_major', '2.3 #5', 'policy major: 2.0.0 over native 1.0.0',
              _dev(25), [_bundle('2.0.0')], [_channel('production', version='2.0.0', public=True, disable_auto_update='major')],
              _expect(False, 'builtin', '2.0.0', 'production', 'cloud_default', 'disable_auto_update_to_major',
                      {'error': 'disable_auto_update_to_major'})),
    _scenario('major_before_prod', '2.3 order', 'two blocks: the major policy (gate 5) answers before allow_prod (gate 11)',
              _dev(26), [_bundle('2.0.0')],
              [_channel('production', version='2.0.0', public=True, disable_auto_update='major', allow_prod=False)],
              _expect(False, 'builtin', '2.0.0', 'production', 'cloud_default', 'disable_auto_update_to_major',
                      {'error': 'disable_auto_update_to_major'})),
    _scenario('disable_auto_update_to_minor', '2.3 #7', 'policy minor: 1.1.0 over native 1.0.0',
              _dev(27), [_bundle('1.1.0')], [_channel('production', version='1.1.0', public=True, disable_auto_update='minor')],
              _expect(False, 'builtin', '1.1.0', 'production', 'cloud_default', 'disable_auto_update_to_minor',
                      {'error': 'disable_auto_update_to_minor'})),
    _scenario('disable_auto_update_to_patch', '2.3 #8', 'policy patch: 1.0.1 over native 1.0.0',
              _dev(28), [B101], [_channel('production', version='1.0.1', public=True, disable_auto_update='patch')],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'disable_auto_update_to_patch',
                      {'error': 'disable_auto_update_to_patch'})),
    _scenario('patch_lets_prerelease_through', '2.3 #8, 2.5', 'policy patch passes a prerelease of the native version',
              _dev(29, native_version='1.0.0'), [_bundle('1.0.0-hotfix.1')],
              [_channel('production', version='1.0.0-hotfix.1', public=True, disable_auto_update='patch',
                        disable_auto_update_under_native=False)],
              _expect(True, '1.0.0-hotfix.1', '1.0.0-hotfix.1', 'production', 'cloud_default', None, {'version': '1.0.0-hotfix.1'})),
    _scenario('misconfigured_channel', '2.3 #9', 'policy version_number on a bundle without min_update_version',
              _dev(30), [B101], [_channel('production', version='1.0.1', public=True, disable_auto_update='version_number')],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'misconfigured_channel',
                      {'error': 'misconfigured_channel'})),
    _scenario('disable_auto_update_to_metadata', '2.3 #9', 'min_update_version 1.1.0 above native 1.0.0',
              _dev(31), [_bundle('1.0.1', min_update_version='1.1.0')],
              [_channel('production', version='1.0.1', public=True, disable_auto_update='version_number')],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'disable_auto_update_to_metadata',
                      {'error': 'disable_auto_update_to_metadata'})),
    _scenario('metadata_passes', '2.3 #9', 'min_update_version 1.0.0 equals native 1.0.0: served',
              _dev(32), [_bundle('1.0.1', min_update_version='1.0.0')],
              [_channel('production', version='1.0.1', public=True, disable_auto_update='version_number')],
              _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'})),
    _scenario('disable_auto_update_under_native', '2.3 #10', 'bundle 0.9.0 under native 1.0.0',
              _dev(33), [_bundle('0.9.0')],
              [_channel('production', version='0.9.0', public=True, disable_auto_update='none', disable_auto_update_under_native=True)],
              _expect(False, 'builtin', '0.9.0', 'production', 'cloud_default', 'disable_auto_update_under_native',
                      {'error': 'disable_auto_update_under_native'})),
    _scenario('disable_prod_build', '2.3 #11', 'allow_prod false, production build',
              _dev(34), [B101], [_channel('production', version='1.0.1', public=True, allow_prod=False)],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'disable_prod_build', {'error': 'disable_prod_build'})),
    _scenario('disable_dev_build', '2.3 #12', 'allow_dev false, dev build (what `capgo probe` always sends)',
              _dev(35, is_prod=False), [B101], [_channel('production', version='1.0.1', public=True, allow_dev=False)],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'disable_dev_build', {'error': 'disable_dev_build'})),
    _scenario('disable_device', '2.3 #13', 'allow_device false, physical device',
              _dev(36), [B101], [_channel('production', version='1.0.1', public=True, allow_device=False)],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'disable_device', {'error': 'disable_device'})),
    _scenario('disable_emulator', '2.3 #14', 'allow_emulator false, emulator',
              _dev(37, is_emulator=True), [B101], [_channel('production', version='1.0.1', public=True, allow_emulator=False)],
              _expect(False, 'builtin', '1.0.1', 'production', 'cloud_default', 'disable_emulator', {'error': 'disable_emulator'})),

    # ------------------------------------------------------------------ builtin and plugin answers
    _scenario('already_on_builtin', '2.3 #15, 4 #2', 'a channel without a bundle, device on its store build',
              _dev(40), [], [_channel('production', public=True)],
              _expect(False, 'builtin', 'builtin', 'production', 'cloud_default', 'already_on_builtin', {'error': 'already_on_builtin'})),
    _scenario('builtin_revert_from_ota', '2.3 #15, 4 #2', 'a channel without a bundle, device on an OTA bundle: HEAD answers '
              'already_on_builtin (the plugin ignores it), latest reverts the device ({"version": "builtin"})',
              _dev(41, bundle='1.0.1'), [B101], [_channel('production', public=True)],
              {'current': _expect(False, '1.0.1', 'builtin', 'production', 'cloud_default', 'already_on_builtin',
                                  {'error': 'already_on_builtin'}),
               'latest': _expect(True, 'builtin', 'builtin', 'production', 'cloud_default', None, {'version': 'builtin'})}),
    _scenario('revert_to_builtin_plugin_version_too_old', '2.3 #15', 'builtin channel, plugin below 6.2.0',
              _dev(42, plugin_version='6.1.0'), [], [_channel('production', public=True)],
              _expect(False, 'builtin', 'builtin', 'production', 'cloud_default', 'revert_to_builtin_plugin_version_too_old',
                      {'error': 'revert_to_builtin_plugin_version_too_old'})),
    _scenario('unsupported_plugin_version', '2.1 #6', 'plugin major 4 is refused before channel selection',
              _dev(43, plugin_version='4.15.0'), [B101], [PROD],
              _expect(False, 'builtin', None, None, None, 'unsupported_plugin_version', {'error': 'unsupported_plugin_version'})),
    _scenario('no_bundle_url', '2.3 #16', 'a channel on the `unknown` placeholder: internal, so no gate stops it, and no URL exists',
              _dev(44), [_bundle('unknown', r2_path=None, checksum=None)], [_channel('production', version='unknown', public=True)],
              _expect(False, 'builtin', 'unknown', 'production', 'cloud_default', 'no_bundle_url', {'error': 'no_bundle_url'})),

    # ------------------------------------------------------------------ rollouts
    _scenario('rollout_full', '2.4', '100 % rollout: every device gets the candidate (HEAD draws, but p = 1)',
              _dev(50), [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=10000, rollout_id=ROLLOUT_ID)],
              _expect(True, '1.0.2', '1.0.2', 'production', 'cloud_default', None, {'version': '1.0.2'})),
    _scenario('rollout_zero', '2.4', 'an enabled rollout at 0 %: the rollout path does not run, stable is served',
              _dev(51), [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=0, rollout_id=ROLLOUT_ID)],
              _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'})),
    _scenario('rollout_already_on_candidate', '2.4 (HEAD step 2, latest step 2)', 'a device already on the candidate stays on it',
              _dev(52, bundle='1.0.2'), [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=5000, rollout_id=ROLLOUT_ID)],
              _expect(False, '1.0.2', '1.0.2', 'production', 'cloud_default', 'no_new_version_available',
                      {'error': 'no_new_version_available'})),
    _scenario('rollout_paused_keeps_candidate', '2.4, 5 #5', 'a paused rollout keeps the devices already on it',
              _dev(53, bundle='1.0.2'), [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=5000, rollout_paused_at='2026-01-03T00:00:00Z', rollout_id=ROLLOUT_ID)],
              _expect(False, '1.0.2', '1.0.2', 'production', 'cloud_default', 'no_new_version_available',
                      {'error': 'no_new_version_available'})),
    _scenario('rollout_paused_new_device_stable', '2.4', 'a paused rollout gives everyone else the stable bundle',
              _dev(54), [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=5000, rollout_paused_at='2026-01-03T00:00:00Z', rollout_id=ROLLOUT_ID)],
              _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'})),
    _scenario('rollout_in_bucket', '4 #1', 'latest: bucket 4099 < 5000 bps (channel id 1, rollout bundle id 2)',
              {'device_id': '00000000-0000-4000-8000-000000950001', 'platform': 'ios', 'native_version': '1.0.0',
               'bundle': 'builtin', 'is_prod': True, 'is_emulator': False, 'plugin_version': '7.30.0', 'default_channel': None},
              [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=5000, rollout_id=ROLLOUT_ID)],
              _expect(True, '1.0.2', '1.0.2', 'production', 'cloud_default', None, {'version': '1.0.2'}),
              profiles=LATEST, bucket=4099),
    _scenario('rollout_out_of_bucket', '4 #1', 'latest: bucket 7951 >= 5000 bps: stable',
              {'device_id': '00000000-0000-4000-8000-000000950003', 'platform': 'ios', 'native_version': '1.0.0',
               'bundle': 'builtin', 'is_prod': True, 'is_emulator': False, 'plugin_version': '7.30.0', 'default_channel': None},
              [B101, _bundle('1.0.2')],
              [_channel('production', version='1.0.1', public=True, rollout_version='1.0.2', rollout_enabled=True,
                        rollout_percentage_bps=5000, rollout_id=ROLLOUT_ID)],
              _expect(True, '1.0.1', '1.0.1', 'production', 'cloud_default', None, {'version': '1.0.1'}),
              profiles=LATEST, bucket=7951),
    _scenario('rollout_rollout_gates_apply', '2.4', 'the candidate goes through every gate: a major candidate is blocked',
              _dev(55), [B101, _bundle('2.0.0')],
              [_channel('production', version='1.0.1', public=True, rollout_version='2.0.0', rollout_enabled=True,
                        rollout_percentage_bps=10000, rollout_id=ROLLOUT_ID, disable_auto_update='major')],
              _expect(False, 'builtin', '2.0.0', 'production', 'cloud_default', 'disable_auto_update_to_major',
                      {'error': 'disable_auto_update_to_major'})),
]

# every Capgo code this table reaches (for a coverage assertion)
REASONS = sorted(set(exp['reason'] for s in SCENARIOS for exp in s['expected'].values() if exp['reason']))
BY_ID = dict((s['id'], s) for s in SCENARIOS)
assert len(BY_ID) == len(SCENARIOS), 'duplicate scenario id'
