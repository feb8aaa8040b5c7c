import type { EvaluationContext, FlagConfig } from '@switchyard/sdk';
import { evaluate } from '@switchyard/sdk/ruleset';
import { useMemo, useState } from 'preact/hooks';
import { get } from '../api/client.js';
import type { Flag, Segment } from '../api/types.js';
import { toFlagConfig, toRuleSetSegments } from '../logic/flag-config.js';
import { useResource } from '../state.js';

/** `plan=pro` lines → attributes; numbers and booleans become numbers and booleans. */
export function parseAttributes(text: string): EvaluationContext {
  const context: EvaluationContext = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const key = line.slice(0, i).trim();
    const raw = line.slice(i + 1).trim();
    context[key] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return context;
}

/** What a user would get, computed by the SDK's own `evaluate` on the rule set SDKs receive. */
export function Preview({ flag, environment, segments }: { flag: Flag; environment: string; segments: readonly Segment[] }) {
  const [userId, setUserId] = useState('');
  const [email, setEmail] = useState('');
  const [attributes, setAttributes] = useState('');
  const ruleSetSegments = useMemo(() => toRuleSetSegments(segments), [segments]);
  const config = useMemo(() => toFlagConfig(flag, environment), [flag, environment]);
  // The environment's other flags, as SDKs get them: what prerequisites are evaluated against.
  const others = useResource(() => get<{ items: Flag[] }>('/api/flags').then((r) => r.items), [flag.version]);
  const ruleSetFlags = useMemo(() => {
    const out: Record<string, FlagConfig> = {};
    for (const f of others.data ?? []) {
      const c = toFlagConfig(f, environment);
      if (c) out[f.key] = c;
    }
    return out;
  }, [others.data, environment]);
  const context: EvaluationContext = { ...parseAttributes(attributes) };
  if (userId.trim()) context.userId = userId.trim();
  if (email.trim()) context.email = email.trim();
  const result = evaluate(config, context, ruleSetSegments, ruleSetFlags);
  return (
    <section class="card" aria-labelledby="preview-title">
      <h2 id="preview-title">Preview</h2>
      <div class="grid2">
        <div class="field">
          <label for="preview-user">User ID</label>
          <input id="preview-user" value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="preview-email">Email</label>
          <input id="preview-email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </div>
      </div>
      <div class="field">
        <label for="preview-attrs">Other attributes (one name=value per line)</label>
        <textarea id="preview-attrs" rows={2} placeholder={'plan=pro\nseats=120'} value={attributes} onInput={(e) => setAttributes(e.currentTarget.value)} />
      </div>
      <p class="preview-result" aria-live="polite">
        Value <code data-testid="preview-value">{JSON.stringify(result.value)}</code>
        {result.variant !== undefined && (
          <>
            {' '}
            (variation <code>{result.variant}</code>)
          </>
        )}{' '}
        · reason <code data-testid="preview-reason">{result.reason}</code>
        {result.errorCode && <> · {result.errorCode}</>}
        {result.prerequisiteKey !== undefined && (
          <>
            {' '}
            · prerequisite <code data-testid="preview-prerequisite">{result.prerequisiteKey}</code> not met
          </>
        )}
      </p>
    </section>
  );
}
