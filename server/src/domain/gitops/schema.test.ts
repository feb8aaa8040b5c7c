import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compactEntry, expandEntry } from './entries.js';
import { gitopsJsonSchema } from './schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../../../docs/switchyard-flags.schema.json', import.meta.url));

describe('the published JSON Schema', () => {
  it('docs/switchyard-flags.schema.json is up to date (regenerate: UPDATE_SCHEMA=1 npx vitest run server/src/domain/gitops/schema.test.ts)', () => {
    const current = `${JSON.stringify(gitopsJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_SCHEMA) writeFileSync(SCHEMA_FILE, current);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(current);
  });
});

describe('stage entries', () => {
  const flag = { key: 'checkout', type: 'boolean' as const, variations: [{ key: 'off', value: false }, { key: 'on', value: true }] };
  const multi = { key: 'color', type: 'string' as const, variations: [{ key: 'blue', value: 'blue' }, { key: 'red', value: 'red' }, { key: 'green', value: 'green' }] };
  const stages = ['off', 'kill', 'dogfood', '0.001%', '10%', '33.333%', '100%'];

  it.each(stages)('%s expands to targeting that compacts back to the same stage', (stage) => {
    for (const [f, entry] of [
      [flag, { stage }],
      [flag, { stage, salt: 'shared-cohort', bucketBy: 'accountId' }],
      [multi, { stage, ...(stage === 'off' || stage === 'kill' ? {} : { variation: 'green' }) }],
    ] as const) {
      const { config, problems } = expandEntry(f, entry, () => true);
      expect(problems).toEqual([]);
      expect(compactEntry(f, config!)).toEqual(entry);
    }
  });

  it('writes full targeting when the configuration is not exactly a stage', () => {
    const { config } = expandEntry(flag, { stage: '10%' }, () => true);
    const custom = { ...config!, targets: [{ variation: 'on', values: ['ann'] }] };
    expect(compactEntry(flag, custom)).toMatchObject({ on: true, targets: [{ variation: 'on', values: ['ann'] }] });
  });
});
