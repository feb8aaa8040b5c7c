import type { HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlag, createTestApp, snapshotDatabase, type ErrorBody, type TestContext } from '../testing/test-app.js';

/**
 * Bad input, one named case per row: every one gets a 4xx (never a 500) in the one error shape,
 * with a message naming the field or the problem — and the database is unchanged afterwards.
 */

interface BadRequest {
  name: string;
  method: HTTPMethods;
  url: string;
  headers?: Record<string, string>;
  payload?: unknown;
  expectStatus: number;
  expectMessage: RegExp;
  /** Who sends it (default: the admin token, so authorisation never hides the problem). */
  as?: 'admin' | 'sdk';
}

const JSON_TYPE = { 'content-type': 'application/json' };
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const ENV = '/api/flags/f/environments/production';
const STAGE = `${ENV}/stage`;
const on = (extra: Record<string, unknown>) => ({ version: 1, ...extra });
const rule = (clause: Record<string, unknown>) => ({ id: 'r1', clauses: [clause], serve: { variation: 'on' } });
const rollout = (variations: unknown[]) => ({ version: 1, defaultServe: { rollout: { variations } } });

const cases: BadRequest[] = [
  // ---- POST /api/flags ----
  { name: 'flag key of the wrong type', method: 'POST', url: '/api/flags', payload: { key: 42 }, expectStatus: 400, expectMessage: /body\.key: .*expected string/ },
  { name: 'flag key missing', method: 'POST', url: '/api/flags', payload: { name: 'x' }, expectStatus: 400, expectMessage: /body\.key/ },
  { name: 'flag key with capitals and underscore', method: 'POST', url: '/api/flags', payload: { key: 'New_Flag' }, expectStatus: 400, expectMessage: /body\.key: must be a slug/ },
  { name: 'flag key starting with a dash', method: 'POST', url: '/api/flags', payload: { key: '-flag' }, expectStatus: 400, expectMessage: /body\.key: must be a slug/ },
  { name: 'flag key with a space', method: 'POST', url: '/api/flags', payload: { key: 'my flag' }, expectStatus: 400, expectMessage: /body\.key: must be a slug/ },
  { name: 'flag key too long', method: 'POST', url: '/api/flags', payload: { key: 'k'.repeat(101) }, expectStatus: 400, expectMessage: /body\.key: Too big/ },
  { name: 'unknown field on create', method: 'POST', url: '/api/flags', payload: { key: 'x', colour: 'red' }, expectStatus: 400, expectMessage: /colour/ },
  { name: 'empty flag name', method: 'POST', url: '/api/flags', payload: { key: 'x', name: '' }, expectStatus: 400, expectMessage: /body\.name/ },
  { name: 'oversized flag name', method: 'POST', url: '/api/flags', payload: { key: 'x', name: 'n'.repeat(201) }, expectStatus: 400, expectMessage: /body\.name: Too big/ },
  { name: 'oversized description', method: 'POST', url: '/api/flags', payload: { key: 'x', description: 'd'.repeat(4001) }, expectStatus: 400, expectMessage: /body\.description: Too big/ },
  { name: 'tags not an array', method: 'POST', url: '/api/flags', payload: { key: 'x', tags: 'a,b' }, expectStatus: 400, expectMessage: /body\.tags: .*expected array/ },
  { name: '10k tags', method: 'POST', url: '/api/flags', payload: { key: 'x', tags: many(10_000, (i) => `t${i}`) }, expectStatus: 400, expectMessage: /body\.tags: Too big/ },
  { name: 'tag with a space', method: 'POST', url: '/api/flags', payload: { key: 'x', tags: ['two words'] }, expectStatus: 400, expectMessage: /body\.tags\[0\]: must be a tag/ },
  { name: 'unknown flag type', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'date' }, expectStatus: 400, expectMessage: /body\.type/ },
  { name: 'string flag without variations', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'string' }, expectStatus: 400, expectMessage: /body\.variations: a string flag needs its variations/ },
  { name: 'number flag with a string value', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'number', variations: [{ key: 'a', value: 'one' }, { key: 'b', value: 2 }] }, expectStatus: 400, expectMessage: /body\.variations\[0\]\.value: a number flag needs number values/ },
  { name: 'duplicate variation keys', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'string', variations: [{ key: 'a', value: 'a' }, { key: 'a', value: 'b' }] }, expectStatus: 400, expectMessage: /body\.variations\[1\]\.key: duplicate variation key "a"/ },
  { name: 'boolean flag with three variations', method: 'POST', url: '/api/flags', payload: { key: 'x', variations: [{ key: 'a', value: true }, { key: 'b', value: false }, { key: 'c', value: true }] }, expectStatus: 400, expectMessage: /boolean flag has exactly two variations/ },
  { name: 'one variation only', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'string', variations: [{ key: 'a', value: 'a' }] }, expectStatus: 400, expectMessage: /body\.variations: Too small/ },
  { name: '10k variations', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'number', variations: many(10_000, (i) => ({ key: `v${i}`, value: i })) }, expectStatus: 400, expectMessage: /body\.variations: Too big/ },
  { name: 'variation key not a slug', method: 'POST', url: '/api/flags', payload: { key: 'x', type: 'string', variations: [{ key: 'A B', value: 'a' }, { key: 'b', value: 'b' }] }, expectStatus: 400, expectMessage: /body\.variations\[0\]\.key: must be a slug/ },
  { name: 'JSON variation nested 5,000 deep', method: 'POST', url: '/api/flags', headers: JSON_TYPE, payload: `{"key":"x","type":"json","variations":[{"key":"a","value":${'['.repeat(5000)}${']'.repeat(5000)}},{"key":"b","value":1}]}`, expectStatus: 400, expectMessage: /body\.variations\[0\]\.value: JSON value nested more than 32 levels/ },
  { name: 'duplicate flag key', method: 'POST', url: '/api/flags', payload: { key: 'f' }, expectStatus: 409, expectMessage: /flag "f" already exists/ },
  { name: 'body is an array', method: 'POST', url: '/api/flags', payload: [{ key: 'x' }], expectStatus: 400, expectMessage: /body: .*expected object, received array/ },
  { name: 'body is JSON null', method: 'POST', url: '/api/flags', headers: JSON_TYPE, payload: 'null', expectStatus: 400, expectMessage: /body: .*expected object, received null/ },
  { name: 'malformed JSON', method: 'POST', url: '/api/flags', headers: JSON_TYPE, payload: '{"key": "x",', expectStatus: 400, expectMessage: /malformed JSON/ },
  { name: 'JSON with __proto__', method: 'POST', url: '/api/flags', headers: JSON_TYPE, payload: '{"key":"x","__proto__":{"admin":true}}', expectStatus: 400, expectMessage: /JSON/ },
  { name: 'empty JSON body', method: 'POST', url: '/api/flags', headers: JSON_TYPE, payload: '', expectStatus: 400, expectMessage: /[Bb]ody cannot be empty/ },
  { name: 'text/plain body', method: 'POST', url: '/api/flags', headers: { 'content-type': 'text/plain' }, payload: 'key=x', expectStatus: 415, expectMessage: /Unsupported Media Type: content-type "text\/plain"; send application\/json/ },
  { name: 'form-encoded body', method: 'POST', url: '/api/flags', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'key=x', expectStatus: 415, expectMessage: /Unsupported Media Type/ },
  { name: 'body over 1 MiB', method: 'POST', url: '/api/flags', payload: { key: 'x', description: 'd'.repeat(1_100_000) }, expectStatus: 413, expectMessage: /too large/ },

  // ---- PATCH /api/flags/:key ----
  { name: 'version as a string', method: 'PATCH', url: '/api/flags/f', payload: { version: '1', name: 'x' }, expectStatus: 400, expectMessage: /body\.version: .*expected number/ },
  { name: 'version zero', method: 'PATCH', url: '/api/flags/f', payload: { version: 0, name: 'x' }, expectStatus: 400, expectMessage: /body\.version: Too small/ },
  { name: 'fractional version', method: 'PATCH', url: '/api/flags/f', payload: { version: 1.5, name: 'x' }, expectStatus: 400, expectMessage: /body\.version/ },
  { name: 'archived as a string', method: 'PATCH', url: '/api/flags/f', payload: { version: 1, archived: 'yes' }, expectStatus: 400, expectMessage: /body\.archived: .*expected boolean/ },
  { name: 'changing the key', method: 'PATCH', url: '/api/flags/f', payload: { version: 1, key: 'g' }, expectStatus: 400, expectMessage: /"key"/ },
  { name: 'If-Match not a version', method: 'PATCH', url: '/api/flags/f', headers: { 'if-match': '"abc"' }, payload: { name: 'x' }, expectStatus: 400, expectMessage: /headers\.if-match: expected a version number/ },
  { name: 'If-Match disagreeing with the body', method: 'PATCH', url: '/api/flags/f', headers: { 'if-match': '"2"' }, payload: { version: 1, name: 'x' }, expectStatus: 400, expectMessage: /version 1 disagrees with If-Match 2/ },
  { name: 'no version at all', method: 'PATCH', url: '/api/flags/f', payload: { name: 'x' }, expectStatus: 428, expectMessage: /send the version you last read/ },
  { name: 'stale version', method: 'PATCH', url: '/api/flags/f', payload: { version: 7, name: 'x' }, expectStatus: 409, expectMessage: /current version 1/ },
  { name: 'new variations orphaning the off variation', method: 'PATCH', url: '/api/flags/f', payload: { version: 1, variations: [{ key: 'no', value: false }, { key: 'yes', value: true }] }, expectStatus: 400, expectMessage: /offVariation: unknown variation "off"/ },
  { name: 'unknown flag', method: 'PATCH', url: '/api/flags/nope', payload: { version: 1, name: 'x' }, expectStatus: 404, expectMessage: /flag "nope" not found/ },

  // ---- PATCH /api/flags/:key/environments/:environment ----
  { name: 'on as a string', method: 'PATCH', url: ENV, payload: on({ on: 'true' }), expectStatus: 400, expectMessage: /body\.on: .*expected boolean/ },
  { name: 'unknown off variation', method: 'PATCH', url: ENV, payload: on({ offVariation: 'maybe' }), expectStatus: 400, expectMessage: /body\.offVariation: unknown variation "maybe"/ },
  { name: 'target with an unknown variation', method: 'PATCH', url: ENV, payload: on({ targets: [{ variation: 'maybe', values: ['u1'] }] }), expectStatus: 400, expectMessage: /body\.targets\[0\]\.variation: unknown variation "maybe"/ },
  { name: '10k target IDs', method: 'PATCH', url: ENV, payload: on({ targets: [{ variation: 'on', values: many(10_000, (i) => `u${i}`) }] }), expectStatus: 400, expectMessage: /body\.targets\[0\]\.values: Too big/ },
  { name: 'oversized target ID', method: 'PATCH', url: ENV, payload: on({ targets: [{ variation: 'on', values: ['u'.repeat(257)] }] }), expectStatus: 400, expectMessage: /body\.targets\[0\]\.values\[0\]: Too big/ },
  { name: 'same user targeted twice', method: 'PATCH', url: ENV, payload: on({ targets: [{ variation: 'on', values: ['u1'] }, { variation: 'off', values: ['u1'] }] }), expectStatus: 400, expectMessage: /"u1" is targeted more than once/ },
  { name: 'rule that is a string', method: 'PATCH', url: ENV, payload: on({ rules: ['everyone'] }), expectStatus: 400, expectMessage: /body\.rules\[0\]/ },
  { name: 'rule without serve', method: 'PATCH', url: ENV, payload: on({ rules: [{ id: 'r1', clauses: [] }] }), expectStatus: 400, expectMessage: /body\.rules\[0\]\.serve/ },
  { name: 'rule id not a slug', method: 'PATCH', url: ENV, payload: on({ rules: [{ ...rule({ attribute: 'plan', operator: 'in', values: ['pro'] }), id: 'Rule One' }] }), expectStatus: 400, expectMessage: /body\.rules\[0\]\.id: must be a slug/ },
  { name: 'duplicate rule ids', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'plan', operator: 'in', values: ['a'] }), rule({ attribute: 'plan', operator: 'in', values: ['b'] })] }), expectStatus: 400, expectMessage: /body\.rules\[1\]\.id: duplicate rule id "r1"/ },
  { name: 'unknown clause operator', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'plan', operator: 'regex', values: ['a'] })] }), expectStatus: 400, expectMessage: /body\.rules\[0\]\.clauses\[0\]\.operator/ },
  { name: 'invalid regex in matches', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'email', operator: 'matches', values: ['(unclosed'] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.values\[0\]: invalid regular expression/ },
  { name: 'over-long regex in matches', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'email', operator: 'matches', values: ['a'.repeat(1000)] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.values\[0\]: regular expression longer than/ },
  { name: 'numeric operator with a string', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'age', operator: 'gt', values: ['18'] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.values\[0\]: operator gt compares numbers/ },
  { name: 'semver operator with a non-version', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'appVersion', operator: 'semver_gt', values: ['one.two'] })] }), expectStatus: 400, expectMessage: /not a semantic version: "one\.two"/ },
  { name: 'string operator with a number', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'email', operator: 'starts_with', values: [5] })] }), expectStatus: 400, expectMessage: /operator starts_with takes strings/ },
  { name: 'unknown segment', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ operator: 'in_segment', values: ['ghosts'] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.values\[0\]: unknown segment "ghosts"/ },
  { name: 'clause without an attribute', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ operator: 'in', values: ['a'] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.attribute: operator in needs an attribute/ },
  { name: 'clause with no values', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'plan', operator: 'in', values: [] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.values: Too small/ },
  { name: 'clause with 10k values', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: 'plan', operator: 'in', values: many(10_000, (i) => `p${i}`) })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.values: Too big/ },
  { name: 'clause attribute not a name', method: 'PATCH', url: ENV, payload: on({ rules: [rule({ attribute: '1st', operator: 'in', values: ['a'] })] }), expectStatus: 400, expectMessage: /clauses\[0\]\.attribute/ },
  { name: '10k rules', method: 'PATCH', url: ENV, payload: on({ rules: many(10_000, (i) => ({ ...rule({ attribute: 'n', operator: 'in', values: ['a'] }), id: `r${i}` })) }), expectStatus: 400, expectMessage: /body\.rules: Too big/ },
  { name: 'weights not summing to 100000', method: 'PATCH', url: ENV, payload: rollout([{ variation: 'on', weight: 50_000 }, { variation: 'off', weight: 40_000 }]), expectStatus: 400, expectMessage: /defaultServe.*weights must sum to 100000 \(100%\), got 90000/ },
  { name: 'weights in percent', method: 'PATCH', url: ENV, payload: rollout([{ variation: 'on', weight: 50 }, { variation: 'off', weight: 50 }]), expectStatus: 400, expectMessage: /weights must sum to 100000/ },
  { name: 'negative weight', method: 'PATCH', url: ENV, payload: rollout([{ variation: 'on', weight: -1 }, { variation: 'off', weight: 100_001 }]), expectStatus: 400, expectMessage: /weight: Too (small|big)/ },
  { name: 'fractional weight', method: 'PATCH', url: ENV, payload: rollout([{ variation: 'on', weight: 0.5 }, { variation: 'off', weight: 99_999.5 }]), expectStatus: 400, expectMessage: /body\.defaultServe\.rollout\.variations\[0\]\.weight: .*expected int/ },
  { name: 'rollout to an unknown variation', method: 'PATCH', url: ENV, payload: rollout([{ variation: 'maybe', weight: 50_000 }, { variation: 'off', weight: 50_000 }]), expectStatus: 400, expectMessage: /defaultServe\.rollout\.variations\[0\]\.variation: unknown variation "maybe"/ },
  { name: 'rollout naming a variation twice', method: 'PATCH', url: ENV, payload: rollout([{ variation: 'on', weight: 50_000 }, { variation: 'on', weight: 50_000 }]), expectStatus: 400, expectMessage: /variation "on" appears twice in the rollout/ },
  { name: 'serve with both variation and rollout', method: 'PATCH', url: ENV, payload: on({ defaultServe: { variation: 'on', rollout: { variations: [{ variation: 'on', weight: 100_000 }] } } }), expectStatus: 400, expectMessage: /body\.defaultServe/ },
  { name: 'empty salt', method: 'PATCH', url: ENV, payload: on({ salt: '' }), expectStatus: 400, expectMessage: /body\.salt: Too small/ },
  { name: 'bucketBy not an attribute name', method: 'PATCH', url: ENV, payload: on({ bucketBy: 'user id' }), expectStatus: 400, expectMessage: /body\.bucketBy: must be an attribute name/ },
  { name: 'stage is not a targeting field', method: 'PATCH', url: ENV, payload: on({ stage: '10%' }), expectStatus: 400, expectMessage: /"stage"/ },
  { name: 'unknown environment', method: 'PATCH', url: '/api/flags/f/environments/moon', payload: on({ on: true }), expectStatus: 404, expectMessage: /environment "moon" not found/ },

  // ---- release stages ----
  { name: 'stage above 100%', method: 'POST', url: STAGE, payload: { version: 1, stage: '150%' }, expectStatus: 400, expectMessage: /body\.stage: unknown stage "150%"/ },
  { name: 'stage with four decimals', method: 'POST', url: STAGE, payload: { version: 1, stage: '10.0001%' }, expectStatus: 400, expectMessage: /body\.stage: unknown stage "10\.0001%".*at most 3 decimals/ },
  { name: 'stage that is a word', method: 'POST', url: STAGE, payload: { version: 1, stage: 'abc' }, expectStatus: 400, expectMessage: /body\.stage: unknown stage "abc"/ },
  { name: 'negative stage', method: 'POST', url: STAGE, payload: { version: 1, stage: '-5%' }, expectStatus: 400, expectMessage: /unknown stage "-5%"/ },
  { name: 'stage without a percent sign', method: 'POST', url: STAGE, payload: { version: 1, stage: '50' }, expectStatus: 400, expectMessage: /unknown stage "50"/ },
  { name: 'empty stage', method: 'POST', url: STAGE, payload: { version: 1, stage: '' }, expectStatus: 400, expectMessage: /body\.stage: Too small/ },
  { name: 'stage as a number', method: 'POST', url: STAGE, payload: { version: 1, stage: 10 }, expectStatus: 400, expectMessage: /body\.stage: .*expected string/ },
  { name: 'release of an unknown variation', method: 'POST', url: STAGE, payload: { version: 1, stage: '10%', variation: 'maybe' }, expectStatus: 400, expectMessage: /body\.variation: unknown variation "maybe"/ },
  { name: 'release of the off variation', method: 'POST', url: STAGE, payload: { version: 1, stage: '10%', variation: 'off' }, expectStatus: 400, expectMessage: /body\.variation: "off" is the off variation/ },
  { name: 'stage change without a version', method: 'POST', url: STAGE, payload: { stage: '10%' }, expectStatus: 428, expectMessage: /send the version/ },
  { name: 'stage change with a stale If-Match', method: 'POST', url: STAGE, headers: { 'if-match': '"9"' }, payload: { stage: '10%' }, expectStatus: 409, expectMessage: /current version 1/ },
  { name: 'unknown field on a stage change', method: 'POST', url: STAGE, payload: { version: 1, stage: '10%', percent: 10 }, expectStatus: 400, expectMessage: /"percent"/ },
  { name: 'stage in an unknown environment', method: 'POST', url: '/api/flags/f/environments/moon/stage', payload: { version: 1, stage: '10%' }, expectStatus: 404, expectMessage: /environment "moon" not found/ },
  { name: 'kill with an oversized message', method: 'POST', url: `${ENV}/kill`, payload: { message: 'm'.repeat(4001) }, expectStatus: 400, expectMessage: /body\.message: Too big/ },
  { name: 'kill with an unknown field', method: 'POST', url: `${ENV}/kill`, payload: { reason: 'x' }, expectStatus: 400, expectMessage: /"reason"/ },
  { name: 'delete with a version of the wrong type', method: 'DELETE', url: '/api/flags/f', payload: { version: 'latest' }, expectStatus: 400, expectMessage: /body\.version/ },

  // ---- queries ----
  { name: 'flag list: bad archived filter', method: 'GET', url: '/api/flags?archived=maybe', expectStatus: 400, expectMessage: /query\.archived/ },
  { name: 'flag list: oversized search', method: 'GET', url: `/api/flags?q=${'q'.repeat(201)}`, expectStatus: 400, expectMessage: /query\.q: Too big/ },
  { name: 'flag list: unknown parameter', method: 'GET', url: '/api/flags?sort=name', expectStatus: 400, expectMessage: /"sort"/ },
  { name: 'audit: limit zero', method: 'GET', url: '/api/audit?limit=0', expectStatus: 400, expectMessage: /query\.limit: Too small/ },
  { name: 'audit: limit too large', method: 'GET', url: '/api/audit?limit=5000', expectStatus: 400, expectMessage: /query\.limit: Too big/ },
  { name: 'audit: cursor not a number', method: 'GET', url: '/api/audit?before=yesterday', expectStatus: 400, expectMessage: /query\.before/ },
  { name: 'audit: unknown resource type', method: 'GET', url: '/api/audit?resourceType=widget', expectStatus: 400, expectMessage: /query\.resourceType/ },
  { name: 'flag audit: limit not a number', method: 'GET', url: '/api/flags/f/audit?limit=ten', expectStatus: 400, expectMessage: /query\.limit/ },

  // ---- revert ----
  { name: 'revert: id not a number', method: 'POST', url: '/api/audit/abc/revert', payload: {}, expectStatus: 400, expectMessage: /params\.id/ },
  { name: 'revert: unknown entry', method: 'POST', url: '/api/audit/99999/revert', payload: {}, expectStatus: 404, expectMessage: /audit entry "99999" not found/ },
  { name: 'revert: unknown field', method: 'POST', url: '/api/audit/1/revert', payload: { force: true }, expectStatus: 400, expectMessage: /"force"/ },
  { name: 'revert: an environment entry', method: 'POST', url: '/api/audit/1/revert', payload: {}, expectStatus: 400, expectMessage: /only flag changes can be reverted/ },

  // ---- segments ----
  { name: 'segment without a name', method: 'POST', url: '/api/segments', payload: { key: 's' }, expectStatus: 400, expectMessage: /body\.name/ },
  { name: 'segment key not a slug', method: 'POST', url: '/api/segments', payload: { key: 'Beta Users', name: 'B' }, expectStatus: 400, expectMessage: /body\.key: must be a slug/ },
  { name: 'segment with 10k included IDs', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', included: many(10_000, (i) => `u${i}`) }, expectStatus: 400, expectMessage: /body\.included: Too big/ },
  { name: 'segment user both included and excluded', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', included: ['u1'], excluded: ['u1'] }, expectStatus: 400, expectMessage: /body\.included: "u1" is both included and excluded/ },
  { name: 'segment rule referring to a segment', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', rules: [{ id: 'r', clauses: [{ operator: 'in_segment', values: ['beta'] }] }] }, expectStatus: 400, expectMessage: /segment rules cannot refer to segments/ },
  { name: 'segment rule without clauses', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', rules: [{ id: 'r', clauses: [] }] }, expectStatus: 400, expectMessage: /body\.rules\[0\]\.clauses: Too small/ },
  { name: 'segment rule with an invalid regex', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', rules: [{ id: 'r', clauses: [{ attribute: 'email', operator: 'matches', values: ['[a-'] }] }] }, expectStatus: 400, expectMessage: /invalid regular expression/ },
  { name: 'segment duplicate rule ids', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', rules: [{ id: 'r', clauses: [{ attribute: 'a', operator: 'in', values: ['1'] }] }, { id: 'r', clauses: [{ attribute: 'a', operator: 'in', values: ['2'] }] }] }, expectStatus: 400, expectMessage: /body\.rules\[1\]\.id: duplicate rule id "r"/ },
  { name: 'segment unit attribute empty', method: 'POST', url: '/api/segments', payload: { key: 's', name: 'S', unitAttribute: '' }, expectStatus: 400, expectMessage: /body\.unitAttribute/ },
  { name: 'duplicate segment key', method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Again' }, expectStatus: 409, expectMessage: /segment "beta" already exists/ },
  { name: 'segment patch renaming the key', method: 'PATCH', url: '/api/segments/beta', payload: { version: 1, key: 'gamma' }, expectStatus: 400, expectMessage: /"key"/ },
  { name: 'segment patch with a stale version', method: 'PATCH', url: '/api/segments/beta', payload: { version: 3, name: 'x' }, expectStatus: 409, expectMessage: /current version 1/ },
  { name: 'deleting the internal segment', method: 'DELETE', url: '/api/segments/internal', payload: { version: 1 }, expectStatus: 409, expectMessage: /"internal" holds the dogfood users/ },
  { name: 'deleting a segment in use', method: 'DELETE', url: '/api/segments/used', payload: { version: 1 }, expectStatus: 409, expectMessage: /segment "used" is used by flag\(s\): color/ },

  // ---- environments ----
  { name: 'environment key not a slug', method: 'POST', url: '/api/environments', payload: { key: 'QA Env' }, expectStatus: 400, expectMessage: /body\.key: must be a slug/ },
  { name: 'environment critical as a string', method: 'POST', url: '/api/environments', payload: { key: 'qa', critical: 'yes' }, expectStatus: 400, expectMessage: /body\.critical/ },
  { name: 'duplicate environment', method: 'POST', url: '/api/environments', payload: { key: 'production' }, expectStatus: 409, expectMessage: /environment "production" already exists/ },
  { name: 'environment negative sort order', method: 'PATCH', url: '/api/environments/staging', payload: { sortOrder: -1 }, expectStatus: 400, expectMessage: /body\.sortOrder: Too small/ },
  { name: 'environment rename to empty', method: 'PATCH', url: '/api/environments/staging', payload: { name: '' }, expectStatus: 400, expectMessage: /body\.name/ },
  { name: 'deleting an environment with an SDK key', method: 'DELETE', url: '/api/environments/production', expectStatus: 409, expectMessage: /active SDK key/ },

  // ---- tokens ----
  { name: 'token with an unknown role', method: 'POST', url: '/api/tokens', payload: { name: 'x', role: 'root' }, expectStatus: 400, expectMessage: /body\.role/ },
  { name: 'token without a name', method: 'POST', url: '/api/tokens', payload: { name: '', role: 'viewer' }, expectStatus: 400, expectMessage: /body\.name: Too small/ },
  { name: 'SDK key for an unknown environment', method: 'POST', url: '/api/sdk-keys', payload: { name: 'x', environment: 'moon' }, expectStatus: 400, expectMessage: /unknown environment "moon"/ },
  { name: 'revoking token id abc', method: 'DELETE', url: '/api/tokens/abc', expectStatus: 400, expectMessage: /params\.id/ },
  { name: 'revoking token id 0', method: 'DELETE', url: '/api/tokens/0', expectStatus: 400, expectMessage: /params\.id: Too small/ },

  // ---- OFREP (SDK key) ----
  { name: 'OFREP context not an object', method: 'POST', url: '/ofrep/v1/evaluate/flags/f', payload: { context: 'user-1' }, expectStatus: 400, expectMessage: /body\.context/, as: 'sdk' },
  { name: 'OFREP nested array of objects', method: 'POST', url: '/ofrep/v1/evaluate/flags/f', payload: { context: { user: { ids: [{ id: 1 }] } } }, expectStatus: 400, expectMessage: /body\.context\.user\.ids/, as: 'sdk' },
  { name: 'OFREP oversized attribute value', method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: { email: 'e'.repeat(5000) } }, expectStatus: 400, expectMessage: /body\.context\.email: expected a string \(≤ 1024/, as: 'sdk' },
  { name: 'OFREP unknown field', method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: {}, flags: ['f'] }, expectStatus: 400, expectMessage: /body\.flags: unknown field/, as: 'sdk' },
];

let t: TestContext;
let sdk: string;
let before: Record<string, unknown[]>;

beforeAll(async () => {
  t = await createTestApp();
  sdk = await t.sdkKey('production');
  await createFlag(t, 'f');
  await createFlag(t, 'color', { type: 'string', variations: [{ key: 'blue', value: 'blue' }, { key: 'green', value: 'green' }] });
  await t.request(t.adminToken, { method: 'POST', url: '/api/segments', payload: { key: 'beta', name: 'Beta' } });
  await t.request(t.adminToken, { method: 'POST', url: '/api/segments', payload: { key: 'used', name: 'Used' } });
  const used = await t.request(t.adminToken, {
    method: 'PATCH',
    url: '/api/flags/color/environments/staging',
    payload: { version: 1, rules: [{ id: 'u', clauses: [{ operator: 'in_segment', values: ['used'] }], serve: { variation: 'green' } }] },
  });
  expect(used.statusCode).toBe(200);
  before = await snapshotDatabase(t.db);
});
afterAll(async () => {
  await t.close();
});

describe('bad requests', () => {
  it('has at least 70 named cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(70);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const token = c.as === 'sdk' ? sdk : t.adminToken;
      const res = await t.request(token, {
        method: c.method,
        url: c.url,
        headers: c.headers,
        ...(c.payload === undefined ? {} : { payload: c.payload as string | object }),
      });
      expect(res.statusCode, res.body.slice(0, 300)).toBe(c.expectStatus);
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      if (c.url.startsWith('/ofrep/')) {
        // Remote evaluation answers in OFREP's error shape.
        expect(res.json()).toMatchObject({ errorCode: 'INVALID_CONTEXT', errorDetails: expect.stringMatching(c.expectMessage) });
        return;
      }
      const body = res.json<ErrorBody>();
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error.code).toBe('string');
      expect(body.error.message).toMatch(c.expectMessage);
    });
  }

  it('leaves the database exactly as it was', async () => {
    expect(await snapshotDatabase(t.db)).toEqual(before);
  });
});
