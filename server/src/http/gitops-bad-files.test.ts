import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, snapshotDatabase, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Broken flag files: each is rejected with a 400 whose message names file:line:col and the field
 * path, and the database is exactly as before (nothing applied, no audit entry).
 */

interface BadFile {
  name: string;
  file: string;
  /** `line:column: path` expected in the message (path may be empty for syntax errors). */
  at: string;
  message: RegExp;
  filename?: string;
}

const ENVS = 'environments:\n  production: {}\n';

const CASES: BadFile[] = [
  { name: 'YAML syntax: unclosed flow map', file: 'flags:\n  a: { name: x\n', at: '3:1', message: /flow/i },
  { name: 'YAML syntax: bad indentation', file: 'flags:\n  a:\n    name: x\n   tags: []\n', at: '4:1', message: /same column/i },
  { name: 'duplicate key', file: 'flags:\n  a: {}\n  a: {}\n', at: '3:3', message: /unique/i },
  { name: 'JSON syntax error', file: '{\n  "flags": {\n    "a": {,}\n  }\n}\n', at: '3:11', message: /./, filename: 'flags.json' },
  { name: 'top level is a list', file: '- a\n- b\n', at: '1:1: ', message: /expected object/i },
  { name: 'unknown top-level field', file: 'flgs: {}\n', at: '1:1: flgs', message: /unknown field "flgs"/ },
  { name: 'wrong format version', file: 'formatVersion: 2\n', at: '1:16: formatVersion', message: /1/ },
  { name: 'flag key not a slug', file: 'flags:\n  Bad_Key: {}\n', at: '2:3: flags.Bad_Key', message: /invalid key: must be a slug/ },
  { name: 'unknown flag field', file: 'flags:\n  a:\n    nmae: A\n', at: '3:5: flags.a.nmae', message: /unknown field "nmae"/ },
  { name: 'name is a number', file: 'flags:\n  a:\n    name: 42\n', at: '3:11: flags.a.name', message: /expected string/ },
  { name: 'unknown flag type', file: 'flags:\n  a:\n    type: bool\n', at: '3:11: flags.a.type', message: /boolean/ },
  { name: 'tag with a space', file: 'flags:\n  a:\n    tags: [ok, "not ok"]\n', at: '3:16: flags.a.tags[1]', message: /must be a tag/ },
  { name: 'string flag without variations', file: 'flags:\n  a:\n    type: string\n', at: '3:5: flags.a.variations', message: /needs its variations/ },
  { name: 'one variation only', file: 'flags:\n  a:\n    type: string\n    variations:\n      - { key: x, value: x }\n', at: '5:7: flags.a.variations', message: /too small|>=2|at least/i },
  { name: 'boolean flag with string values', file: 'flags:\n  a:\n    variations:\n      - { key: off, value: "no" }\n      - { key: on, value: true }\n', at: '4:28: flags.a.variations[0].value', message: /boolean flag needs boolean values/ },
  { name: 'duplicate variation key', file: 'flags:\n  a:\n    type: string\n    variations:\n      - { key: x, value: x }\n      - { key: x, value: y }\n', at: '6:16: flags.a.variations[1].key', message: /duplicate variation key/ },
  { name: 'environment not declared', file: 'flags:\n  a:\n    environments:\n      prod: { stage: off }\n', at: '4:7: flags.a.environments.prod', message: /unknown environment "prod"/ },
  { name: 'unknown stage', file: `${ENVS}flags:\n  a:\n    environments:\n      production: { stage: 15 percent }\n`, at: '6:28: flags.a.environments.production.stage', message: /unknown stage "15 percent"/ },
  { name: 'percentage above 100', file: `${ENVS}flags:\n  a:\n    environments:\n      production: { stage: 150% }\n`, at: '6:28: flags.a.environments.production.stage', message: /unknown stage "150%"/ },
  { name: 'stage is a number', file: `${ENVS}flags:\n  a:\n    environments:\n      production: { stage: 10 }\n`, at: '6:28: flags.a.environments.production.stage', message: /expected string/ },
  { name: 'unknown field beside stage', file: `${ENVS}flags:\n  a:\n    environments:\n      production: { stage: 10%, rollout: 5 }\n`, at: '6:33: flags.a.environments.production.rollout', message: /unknown field "rollout"/ },
  { name: 'release of an unknown variation', file: `${ENVS}flags:\n  a:\n    environments:\n      production: { stage: 10%, variation: purple }\n`, at: '6:44: flags.a.environments.production.variation', message: /unknown variation "purple"/ },
  { name: 'full targeting missing a field', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets: []\n        rules: []\n        salt: a\n        bucketBy: userId\n`, at: '7:9: flags.a.environments.production.defaultServe', message: /missing required field/ },
  { name: 'weights not summing to 100%', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets: []\n        rules: []\n        defaultServe:\n          rollout:\n            variations:\n              - { variation: on, weight: 50000 }\n              - { variation: off, weight: 40000 }\n        salt: a\n        bucketBy: userId\n`, at: '14:15: flags.a.environments.production.defaultServe.rollout.variations', message: /weights must sum to 100000/ },
  { name: 'rule serving an unknown variation', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets: []\n        rules:\n          - id: beta\n            clauses: [{ attribute: plan, operator: in, values: [beta] }]\n            serve: { variation: maybe }\n        defaultServe: { variation: off }\n        salt: a\n        bucketBy: userId\n`, at: '13:33: flags.a.environments.production.rules[0].serve.variation', message: /unknown variation "maybe"/ },
  { name: 'rule using an unknown segment', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets: []\n        rules:\n          - id: vip\n            clauses: [{ operator: in_segment, values: [vips] }]\n            serve: { variation: on }\n        defaultServe: { variation: off }\n        salt: a\n        bucketBy: userId\n`, at: '12:56: flags.a.environments.production.rules[0].clauses[0].values[0]', message: /unknown segment "vips"/ },
  { name: 'unknown clause operator', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets: []\n        rules:\n          - id: r\n            clauses: [{ attribute: plan, operator: equals, values: [x] }]\n            serve: { variation: on }\n        defaultServe: { variation: off }\n        salt: a\n        bucketBy: userId\n`, at: '12:52: flags.a.environments.production.rules[0].clauses[0].operator', message: /invalid option|expected one of/i },
  { name: 'unit targeted twice', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets:\n          - { variation: on, values: [u1] }\n          - { variation: off, values: [u1] }\n        rules: []\n        defaultServe: { variation: off }\n        salt: a\n        bucketBy: userId\n`, at: '11:40: flags.a.environments.production.targets[1].values[0]', message: /targeted more than once/ },
  { name: 'segment both includes and excludes a user', file: 'segments:\n  beta:\n    included: [ann, bob]\n    excluded: [bob]\n', at: '3:21: segments.beta.included[1]', message: /both included and excluded/ },
  { name: 'segment rule referring to a segment', file: 'segments:\n  beta:\n    rules:\n      - id: r\n        clauses: [{ operator: in_segment, values: [internal] }]\n', at: '5:18: segments.beta.rules[0].clauses', message: /cannot refer to segments/ },
  { name: 'environment critical is a string', file: 'environments:\n  production: { critical: "yes" }\n', at: '2:27: environments.production.critical', message: /expected boolean/ },
  { name: 'regular expression that does not compile', file: `${ENVS}flags:\n  a:\n    environments:\n      production:\n        on: true\n        offVariation: off\n        targets: []\n        rules:\n          - id: r\n            clauses: [{ attribute: email, operator: matches, values: ["(unclosed"] }]\n            serve: { variation: on }\n        defaultServe: { variation: off }\n        salt: a\n        bucketBy: userId\n`, at: '12:71: flags.a.environments.production.rules[0].clauses[0].values[0]', message: /invalid regular expression/ },
];

let t: TestContext;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('bad flag files', () => {
  it('has at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(CASES)('$name', async ({ file, at, message, filename = 'flags.yaml' }) => {
    const before = await snapshotDatabase(t.db);
    for (const url of ['/api/gitops/plan', '/api/gitops/apply']) {
      const res = await t.request(t.adminToken, { method: 'POST', url, payload: { document: file, filename } });
      expect(res.statusCode, res.body).toBe(400);
      const { error } = res.json<ErrorBody>();
      expect(error.code).toBe('validation_failed');
      expect(error.message.startsWith(`${filename}:${at}`), error.message).toBe(true);
      expect(error.message).toMatch(message);
    }
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });

  it('reports every problem of a file and of several files at once', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/gitops/apply',
      payload: { documents: [{ name: 'a.yaml', content: 'flags:\n  x: { nmae: 1 }\n' }, { name: 'b.yaml', content: 'flags:\n  x: {}\n  y: { type: nope }\n' }] },
    });
    expect(res.statusCode).toBe(400);
    const details = res.json<{ error: { details: { location: string; path: string }[] } }>().error.details;
    expect(details.map((d) => `${d.location} ${d.path}`)).toEqual(['a.yaml:2:8 flags.x.nmae', 'b.yaml:3:14 flags.y.type']);
  });
});
