import { OpenFeature, ProviderEvents, ProviderStatus, type EventDetails } from '@openfeature/server-sdk';
import { SwitchyardProvider } from '@switchyard/sdk/openfeature';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, sdkSetup, setDogfooders, setStage, userAt, WAIT_MS, type Api } from '../support/sdk-e2e.js';
import { removeDataDir, startServerProcess, type ServerProcess } from '../support/server-process.js';

const DOGFOODER = 'of-dogfooder';

/** The Switchyard OpenFeature provider (local evaluation, streaming) driven through `OpenFeature.getClient()`. */
describe('OpenFeature with SwitchyardProvider against the real server', () => {
  let server: ServerProcess;
  let call: Api;
  let salt: string;

  beforeAll(async () => {
    server = await startServerProcess();
    let sdkKey: string;
    ({ call, sdkKey } = await sdkSetup(server));
    await setDogfooders(call, [DOGFOODER]);
    salt = (await createFlag(call, 'of-bool')).environments.production!.salt;
    await setStage(call, 'of-bool', '10%');
    await createFlag(call, 'of-theme', { type: 'string', variations: [{ key: 'light', value: 'light' }, { key: 'dark', value: 'dark' }] });
    await setStage(call, 'of-theme', '100%', { variation: 'dark' });
    await createFlag(call, 'of-limit', { type: 'number', variations: [{ key: 'small', value: 10 }, { key: 'large', value: 100 }] });
    await createFlag(call, 'of-config', { type: 'json', variations: [{ key: 'plain', value: { color: 'gray', items: 3 } }, { key: 'fancy', value: { color: 'gold', items: 12 } }] });
    await setStage(call, 'of-config', 'dogfood', { variation: 'fancy' });
    await OpenFeature.setProviderAndWait(new SwitchyardProvider({ url: server.url, sdkKey }, { initTimeoutMs: WAIT_MS }));
  });

  afterAll(async () => {
    await OpenFeature.close(); // closes the provider, which closes its client
    await server?.stop();
    if (server) removeDataDir(server.dataDir);
  });

  it('resolves boolean, string, number and object flags with value, variant and reason', async () => {
    const client = OpenFeature.getClient();
    expect(client.providerStatus).toBe(ProviderStatus.READY);
    const inside = userAt(salt, 10, true, 'of-user');
    const outside = userAt(salt, 10, false, 'of-user');

    expect(await client.getBooleanDetails('of-bool', false, { targetingKey: inside, plan: 'pro' })).toMatchObject({ value: true, variant: 'on', reason: 'SPLIT' });
    expect(await client.getBooleanDetails('of-bool', true, { targetingKey: outside })).toMatchObject({ value: false, variant: 'off', reason: 'SPLIT' });
    expect(await client.getBooleanDetails('of-bool', false, { targetingKey: DOGFOODER })).toMatchObject({
      value: true,
      variant: 'on',
      reason: 'TARGETING_MATCH',
      flagMetadata: { ruleId: 'dogfood' },
    });
    expect(await client.getBooleanValue('of-bool', false, { targetingKey: inside })).toBe(true);

    expect(await client.getStringDetails('of-theme', 'light', { targetingKey: outside })).toMatchObject({ value: 'dark', variant: 'dark', reason: 'STATIC' });
    expect(await client.getNumberDetails('of-limit', 0, { targetingKey: inside })).toMatchObject({ value: 10, variant: 'small', reason: 'DISABLED' });
    expect(await client.getObjectDetails('of-config', {}, { targetingKey: DOGFOODER })).toMatchObject({
      value: { color: 'gold', items: 12 },
      variant: 'fancy',
      reason: 'TARGETING_MATCH',
    });
    expect(await client.getObjectDetails('of-config', {}, { targetingKey: outside })).toMatchObject({ value: { color: 'gray', items: 3 }, variant: 'plain', reason: 'STATIC' });
  });

  it('reports FLAG_NOT_FOUND, TYPE_MISMATCH and TARGETING_KEY_MISSING with the default value', async () => {
    const client = OpenFeature.getClient();
    expect(await client.getBooleanDetails('of-missing', true, { targetingKey: 'u' })).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getStringDetails('of-missing', 'x', { targetingKey: 'u' })).toMatchObject({ value: 'x', errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getNumberDetails('of-theme', 7, { targetingKey: 'u' })).toMatchObject({ value: 7, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
    expect(await client.getBooleanDetails('of-limit', false, { targetingKey: 'u' })).toMatchObject({ value: false, errorCode: 'TYPE_MISMATCH' });
    expect(await client.getStringDetails('of-config', 'none', { targetingKey: 'u' })).toMatchObject({ value: 'none', errorCode: 'TYPE_MISMATCH' });
    // A 10% rollout needs a bucketing key; a flag at 100% does not.
    expect(await client.getBooleanDetails('of-bool', false, {})).toMatchObject({ value: false, errorCode: 'TARGETING_KEY_MISSING' });
    expect(await client.getStringDetails('of-theme', 'light', {})).toMatchObject({ value: 'dark', reason: 'STATIC' });
  });

  it('emits CONFIGURATION_CHANGED with flagsChanged after a stage change via REST', async () => {
    const client = OpenFeature.getClient();
    const changed = new Promise<EventDetails<ProviderEvents.ConfigurationChanged>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CONFIGURATION_CHANGED for of-limit')), WAIT_MS);
      const handler = (details?: EventDetails<ProviderEvents.ConfigurationChanged>) => {
        if (!details?.flagsChanged?.includes('of-limit')) return;
        clearTimeout(timer);
        client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
        resolve(details);
      };
      client.addHandler(ProviderEvents.ConfigurationChanged, handler);
    });
    changed.catch(() => {}); // awaited below; no unhandled rejection if setStage throws first
    await setStage(call, 'of-limit', '100%', { variation: 'large' });
    const details = await changed;
    expect(details.flagsChanged).toEqual(['of-limit']);
    expect(details.providerName).toBe('switchyard');
    expect(await client.getNumberDetails('of-limit', 0, { targetingKey: 'anyone' })).toMatchObject({ value: 100, variant: 'large', reason: 'STATIC' });
  });
});
