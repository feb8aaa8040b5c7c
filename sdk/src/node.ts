/**
 * `@switchyard/sdk/node`: the core plus what only Node can do — persisting the last good rule set
 * to a file so a restart during a server outage still serves real rules — with guarded-rollout
 * metrics and evaluation insights on by default (size does not matter here as it does in a browser
 * bundle).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FlagTypes, UntypedFlags } from './client-api.js';
import { createClient as createCoreClient, type SwitchyardClient } from './client.js';
import { SDK_VERSION, withEvaluationInsights, type SdkIdentity } from './insights.js';
import { guardMetrics } from './metrics.js';
import type { ClientOptions } from './options.js';
import { isRuleSet } from './store.js';
import type { RuleSet } from './types.js';

export * from './index.js';
export { guardMetrics, valueBucket } from './metrics.js';
export { evaluationInsights, withEvaluationInsights, SDK_VERSION } from './insights.js';

/** How the Node client reports itself to the server ("connected SDKs"). */
export const NODE_SDK: SdkIdentity = Object.freeze({ name: 'switchyard-node', version: SDK_VERSION });

/** The context attribute that carries a secure-mode signature to the server (removed before evaluation). */
export const SIGNATURE_ATTRIBUTE = 'switchyardSignature';

/**
 * Secure mode for client keys: your server signs the user key it hands to the browser, so one user
 * cannot ask for another user's flags. Put the result in the browser's context as
 * `switchyardSignature` (next to `targetingKey`). `secret` is the environment's secure-mode secret
 * (`POST /api/environments/{env}/secure-mode`); keep it on the server.
 * @example createWebClient({ …, context: { targetingKey: user.id, switchyardSignature: signUserKey(secret, user.id) } })
 */
export function signUserKey(secret: string, userKey: string): string {
  return createHmac('sha256', secret).update(userKey).digest('hex');
}

/** The last good rule set, kept in one JSON file. */
export interface RuleSetFile {
  /** The rule set in the file; undefined when it is missing, unreadable, corrupt or not a rule set. */
  load(): RuleSet | undefined;
  /** Replace the file atomically. */
  save(ruleSet: RuleSet): Promise<void>;
}

/**
 * A rule-set file. Writes go to a temporary file in the same directory, are fsynced, then renamed
 * over the target: a reader (or a crash) sees the old file or the new one, never half of one.
 * Loading is synchronous: it runs once, at client creation, so the rules are served from the first call.
 * @example fileCache('/var/cache/myapp/switchyard.json').load()?.version
 */
export function fileCache(path: string): RuleSetFile {
  return {
    load() {
      try {
        const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
        return isRuleSet(parsed) ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
    async save(ruleSet) {
      const dir = dirname(path);
      await mkdir(dir, { recursive: true });
      // Same directory, so the rename stays on one filesystem and is atomic.
      const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        const file = await open(temp, 'w', 0o600);
        try {
          await file.writeFile(JSON.stringify(ruleSet));
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(temp, path);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },
  };
}

/**
 * The core `createClient` with guarded-rollout metrics on by default (`metrics: undefined` turns them
 * off) and evaluation insights too (`insights: false` turns them off).
 * @example const client = createClient({ url, sdkKey });
 */
export function createClient<F extends FlagTypes = UntypedFlags>(options: ClientOptions): SwitchyardClient<F> {
  return createCoreClient<F>({ ...options, metrics: withDefaultMetrics(options, NODE_SDK) });
}

/** Guard metrics unless `metrics` is given (undefined too), wrapped in evaluation insights unless `insights: false`. */
export function withDefaultMetrics(options: ClientOptions, sdk: SdkIdentity): ClientOptions['metrics'] {
  const metrics = 'metrics' in options ? options.metrics : guardMetrics;
  return options.insights === false ? metrics : withEvaluationInsights(metrics, sdk);
}

export interface NodeClientOptions extends ClientOptions {
  /** Persist the last good rule set here and start from it when the server is unreachable. */
  cacheFile?: string;
}

/**
 * `createClient` (metrics and insights on) plus, with `cacheFile`, a persisted rule set: the file's rules are
 * served from the start (provisionally, like `bootstrap`: the server's first snapshot replaces
 * them), and every rule set the client takes up afterwards is saved. Saves never overlap, a burst of
 * updates ends with the newest saved, and `close()` waits for a pending save. A failed save is
 * logged; the client carries on.
 * @example
 * const client = createNodeClient({ url, sdkKey, cacheFile: '.switchyard/rules.json' });
 * await client.ready({ timeoutMs: 3000 }); // true from the cache file even if the server is down
 */
export function createNodeClient<F extends FlagTypes = UntypedFlags>(options: NodeClientOptions): SwitchyardClient<F> {
  const { cacheFile, ...rest } = options;
  if (cacheFile === undefined) return createClient<F>(rest);
  const file = fileCache(cacheFile);
  const cached = file.load();
  const bootstrap = rest.bootstrap === undefined || (cached !== undefined && cached.version > rest.bootstrap.version) ? cached : rest.bootstrap;
  const client = createClient<F>({ ...rest, bootstrap });
  let saving: Promise<void> | undefined;
  let saveAgain = false;
  const save = (): void => {
    if (client.getRuleSet() === cached) return; // the rules just loaded from the file need no write
    saveAgain = true;
    saving ??= (async () => {
      do {
        saveAgain = false;
        await file.save(client.getRuleSet()!).catch((error: unknown) => {
          const message = `could not save the rules to ${cacheFile}`;
          if (rest.logger) rest.logger.warn(message, error);
          else console.warn(`[switchyard] ${message}`, error);
        });
      } while (saveAgain);
      saving = undefined;
    })();
  };
  client.on('ready', save);
  client.on('change', save);
  const close = client.close;
  return Object.assign(client, {
    async close() {
      await close();
      await saving;
    },
  });
}
