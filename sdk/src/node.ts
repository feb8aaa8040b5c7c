/**
 * `@switchyard/sdk/node`: the core plus what only Node can do — persisting the last good rule set
 * to a file so a restart during a server outage still serves real rules.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createClient, type SwitchyardClient } from './client.js';
import type { ClientOptions, RuleSetCache } from './options.js';
import { isRuleSet } from './store.js';
import type { RuleSet } from './types.js';

export * from './index.js';

/**
 * A `RuleSetCache` backed by one JSON file. Writes go to a temporary file in the same directory,
 * are fsynced, then renamed over the target: a reader (or a crash) sees the old file or the new
 * one, never half of one. A missing, unreadable or corrupt file loads as "no cache".
 * @example createClient({ url, sdkKey, cache: fileCache('/var/cache/myapp/switchyard.json') })
 */
export function fileCache(path: string): RuleSetCache {
  return {
    async load(): Promise<RuleSet | undefined> {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        return undefined;
      }
      try {
        const parsed: unknown = JSON.parse(text);
        return isRuleSet(parsed) ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
    async save(ruleSet: RuleSet): Promise<void> {
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

export interface NodeClientOptions extends ClientOptions {
  /** Persist the last good rule set here and start from it when the server is unreachable. */
  cacheFile?: string;
}

/**
 * `createClient` with a file cache when `cacheFile` is given.
 * @example
 * const client = createNodeClient({ url, sdkKey, cacheFile: '.switchyard/rules.json' });
 * await client.ready({ timeoutMs: 3000 }); // true from the cache file even if the server is down
 */
export function createNodeClient(options: NodeClientOptions): SwitchyardClient {
  const { cacheFile, ...rest } = options;
  return createClient(cacheFile === undefined || rest.cache !== undefined ? rest : { ...rest, cache: fileCache(cacheFile) });
}
