import type { FlagType } from '@switchyard/sdk';
import { useMemo, useState } from 'preact/hooks';
import { get, post } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { Banner } from '../components/Banner.js';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import { Guard } from '../components/Guard.js';
import { toFieldErrors, type FieldErrors } from '../logic/field-errors.js';
import { keyFromName, keyProblem } from '../logic/flag-key.js';
import { defaultVariations, fromVariationDrafts } from '../logic/variations-form.js';
import { Link, navigate } from '../router.js';
import { useCanEdit, useResource } from '../state.js';

const P = 'new';

export function CreateFlagPage() {
  const { canEdit, reason } = useCanEdit();
  const existing = useResource(() => get<{ items: Flag[] }>('/api/flags?archived=all').then((r) => new Set(r.items.map((f) => f.key))), []);
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [keyTouched, setKeyTouched] = useState(false);
  const [description, setDescription] = useState('');
  const [tags, setTags] = useState('');
  const [type, setType] = useState<FlagType>('boolean');
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const problem = useMemo(() => (key === '' && !keyTouched ? undefined : keyProblem(key, existing.data)), [key, keyTouched, existing.data]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setKeyTouched(true);
    if (keyProblem(key, existing.data)) return;
    const parsed = fromVariationDrafts(type, defaultVariations(type));
    const body = {
      key,
      name: name.trim() || key,
      description,
      tags: tags.split(/[\s,]+/).filter(Boolean),
      type,
      ...(type === 'boolean' || 'errors' in parsed ? {} : { variations: parsed.variations }),
    };
    setBusy(true);
    setError(undefined);
    try {
      const flag = await post<Flag>('/api/flags', body);
      navigate(`/flags/${encodeURIComponent(flag.key)}`);
    } catch (err) {
      const api = err as { fieldErrors?: { path: string; message: string }[]; message?: string };
      setErrors(toFieldErrors(api.fieldErrors ?? []));
      setError(api.message ?? String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="create-title">
      <p>
        <Link href="/">← All flags</Link>
      </p>
      <h1 id="create-title">New flag</h1>
      {error && <Banner kind="error">{error}</Banner>}
      <form class="card" onSubmit={submit}>
        <fieldset disabled={!canEdit} title={reason}>
          <legend class="visually-hidden">New flag</legend>
          <div class="field">
            <label for={`${P}-name`}>Name</label>
            <input
              id={`${P}-name`}
              value={name}
              onInput={(e) => {
                setName(e.currentTarget.value);
                if (!keyTouched) setKey(keyFromName(e.currentTarget.value));
              }}
              {...errorProps(errors, 'name', P)}
            />
            <FieldError errors={errors} path="name" prefix={P} />
          </div>
          <div class="field">
            <label for={`${P}-key`}>Key (used in code; cannot change later)</label>
            <input
              id={`${P}-key`}
              class="mono"
              value={key}
              autocomplete="off"
              spellcheck={false}
              onInput={(e) => {
                setKey(e.currentTarget.value);
                setKeyTouched(true);
              }}
              aria-invalid={problem || errors.has('key') ? true : undefined}
              aria-describedby={`${P}-key-help`}
            />
            <span id={`${P}-key-help`} class={problem ? 'field-error' : 'hint'} role={problem ? 'alert' : undefined}>
              {problem ?? (key ? `✓ "${key}" is available` : 'Lowercase letters, digits, ".", "_" or "-"')}
            </span>
            <FieldError errors={errors} path="key" prefix={P} />
          </div>
          <div class="field">
            <label for={`${P}-description`}>Description</label>
            <textarea id={`${P}-description`} rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} {...errorProps(errors, 'description', P)} />
            <FieldError errors={errors} path="description" prefix={P} />
          </div>
          <div class="grid2">
            <div class="field">
              <label for={`${P}-tags`}>Tags (comma separated)</label>
              <input id={`${P}-tags`} value={tags} onInput={(e) => setTags(e.currentTarget.value)} {...errorProps(errors, 'tags', P)} />
              <FieldError errors={errors} path="tags" prefix={P} />
            </div>
            <div class="field">
              <label for={`${P}-type`}>Type</label>
              <select id={`${P}-type`} value={type} onChange={(e) => setType(e.currentTarget.value as FlagType)}>
                <option value="boolean">Boolean (on / off)</option>
                <option value="string">String</option>
                <option value="number">Number</option>
                <option value="json">JSON</option>
              </select>
            </div>
          </div>
          <p class="hint">The flag starts Off in every environment. Non-boolean flags get two starter variations you can edit on the flag page.</p>
        </fieldset>
        <Guard reason={reason}>
          <button type="submit" class="button primary" disabled={!canEdit || busy || Boolean(problem)}>
            {busy ? 'Creating…' : 'Create flag'}
          </button>
        </Guard>
      </form>
    </section>
  );
}
