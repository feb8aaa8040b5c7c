import { get } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import type { FieldErrors } from '../logic/field-errors.js';
import type { PrerequisiteDraft } from '../logic/targeting-form.js';
import { useResource } from '../state.js';

/**
 * The flags that must serve a given variation (to the same user, in this environment) before this
 * targeting applies. Not met — off, killed, or serving another variation — the flag serves its off
 * variation. The server refuses unknown flags, cycles and missing variations, naming the row.
 */
export function PrerequisitesEditor({ id, flag, value, errors, onChange }: { id: string; flag: Flag; value: PrerequisiteDraft[]; errors: FieldErrors; onChange(next: PrerequisiteDraft[]): void }) {
  const flags = useResource(() => get<{ items: Flag[] }>('/api/flags').then((r) => r.items.filter((f) => f.key !== flag.key)), [flag.key]);
  const candidates = flags.data ?? [];
  const variationsOf = (key: string) => candidates.find((f) => f.key === key)?.variations ?? [];
  const set = (i: number, next: PrerequisiteDraft) => onChange(value.map((p, j) => (j === i ? next : p)));
  return (
    <>
      <h3>Prerequisites</h3>
      <p class="hint">Checked in order before everything below: when one is not met (that flag is off, killed, or serves another variation to the user), this flag serves its off variation.</p>
      {value.length === 0 && <p class="empty">No prerequisites.</p>}
      {value.map((p, i) => {
        const path = `prerequisites[${i}]`;
        const rid = `${id}-${i}`;
        const known = candidates.some((f) => f.key === p.flag);
        return (
          <div class="row-box" key={i}>
            <div class="grid2">
              <div class="field">
                <label for={`${rid}-flag`}>Flag</label>
                <select
                  id={`${rid}-flag`}
                  value={p.flag}
                  onChange={(e) => {
                    const key = e.currentTarget.value;
                    set(i, { flag: key, variation: variationsOf(key).find((v) => v.value === true)?.key ?? variationsOf(key)[0]?.key ?? '' });
                  }}
                  {...errorProps(errors, `${path}.flag`, `${rid}-flag`)}
                >
                  <option value="">Choose a flag…</option>
                  {/* A flag that is gone stays listed, so the server's error can name it. */}
                  {p.flag !== '' && !known && <option value={p.flag}>{p.flag}</option>}
                  {candidates.map((f) => (
                    <option key={f.key} value={f.key}>
                      {f.name && f.name !== f.key ? `${f.name} (${f.key})` : f.key}
                    </option>
                  ))}
                </select>
                <FieldError errors={errors} path={`${path}.flag`} prefix={`${rid}-flag`} />
              </div>
              <div class="field">
                <label for={`${rid}-variation`}>serves</label>
                <select id={`${rid}-variation`} value={p.variation} onChange={(e) => set(i, { ...p, variation: e.currentTarget.value })} {...errorProps(errors, `${path}.variation`, `${rid}-variation`)}>
                  {!variationsOf(p.flag).some((v) => v.key === p.variation) && <option value={p.variation}>{p.variation || '—'}</option>}
                  {variationsOf(p.flag).map((v) => (
                    <option key={v.key} value={v.key}>
                      {v.name || v.key}
                    </option>
                  ))}
                </select>
                <FieldError errors={errors} path={`${path}.variation`} prefix={`${rid}-variation`} />
              </div>
            </div>
            <button type="button" class="button small" onClick={() => onChange(value.filter((_, j) => j !== i))}>
              Remove prerequisite
            </button>
          </div>
        );
      })}
      {/* Cycles and over-long chains are about the whole list (path `prerequisites` itself). */}
      {errors.get('prerequisites') && (
        <span class="field-error" role="alert">
          {errors.get('prerequisites')!.join('; ')}
        </span>
      )}
      <button type="button" class="button small" onClick={() => onChange([...value, { flag: '', variation: '' }])}>
        Add prerequisite
      </button>
    </>
  );
}
