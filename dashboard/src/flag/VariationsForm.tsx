import { useEffect, useState } from 'preact/hooks';
import { enc, patch } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import { Guard } from '../components/Guard.js';
import { toFieldErrors, type FieldErrors } from '../logic/field-errors.js';
import { fromVariationDrafts, toVariationDrafts, type VariationDraft } from '../logic/variations-form.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

const P = 'var';

export function VariationsForm({ flag, actions }: { flag: Flag; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  const [rows, setRows] = useState<VariationDraft[]>(() => toVariationDrafts(flag.type, flag.variations));
  const [base, setBase] = useState(flag.version);
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  useEffect(() => {
    if (!dirty) {
      setRows(toVariationDrafts(flag.type, flag.variations));
      setBase(flag.version);
    }
  }, [flag.version]);
  const boolean = flag.type === 'boolean';
  const set = (i: number, change: Partial<VariationDraft>) => {
    setRows(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
    setDirty(true);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const parsed = fromVariationDrafts(flag.type, rows);
    if ('errors' in parsed) return setErrors(toFieldErrors(parsed.errors));
    const result = await actions.run('Variations saved.', () => patch<Flag>(`/api/flags/${enc(flag.key)}`, { variations: parsed.variations, version: base }));
    setErrors(toFieldErrors(result.error?.fieldErrors ?? []));
    if (result.ok) setDirty(false);
  };
  return (
    <section class="card" aria-labelledby="variations-title">
      <h2 id="variations-title">Variations</h2>
      <form onSubmit={save}>
        <fieldset disabled={!canEdit} title={reason}>
          <legend class="visually-hidden">Variations of {flag.name}</legend>
          {rows.map((r, i) => (
            <div class="variation-row" key={i}>
              <div class="field">
                <label for={`${P}-${i}-key`}>Key</label>
                <input id={`${P}-${i}-key`} value={r.key} readOnly={boolean} onInput={(e) => set(i, { key: e.currentTarget.value })} {...errorProps(errors, `variations[${i}].key`, P)} />
                <FieldError errors={errors} path={`variations[${i}].key`} prefix={P} />
              </div>
              <div class="field">
                <label for={`${P}-${i}-value`}>Value{flag.type === 'string' ? '' : ' (JSON)'}</label>
                <input id={`${P}-${i}-value`} value={r.value} readOnly={boolean} onInput={(e) => set(i, { value: e.currentTarget.value })} {...errorProps(errors, `variations[${i}].value`, P)} />
                <FieldError errors={errors} path={`variations[${i}].value`} prefix={P} />
              </div>
              <div class="field">
                <label for={`${P}-${i}-name`}>Display name</label>
                <input id={`${P}-${i}-name`} value={r.name} onInput={(e) => set(i, { name: e.currentTarget.value })} />
              </div>
              {!boolean && (
                <button
                  type="button"
                  class="button small"
                  aria-label={`Remove variation ${r.key || i + 1}`}
                  onClick={() => {
                    setRows(rows.filter((_, j) => j !== i));
                    setDirty(true);
                  }}
                >
                  ×
                </button>
              )}
            </div>
          ))}
          <FieldError errors={errors} path="variations" prefix={`${P}-all`} />
          {!boolean && (
            <button
              type="button"
              class="button small"
              onClick={() => {
                setRows([...rows, { key: `variation-${rows.length + 1}`, name: '', value: flag.type === 'string' ? '' : flag.type === 'number' ? '0' : '{}' }]);
                setDirty(true);
              }}
            >
              Add variation
            </button>
          )}
        </fieldset>
        <div class="actions">
          <Guard reason={reason}>
            <button type="submit" class="button primary" disabled={!canEdit || !dirty || actions.busy}>
              Save variations
            </button>
          </Guard>
        </div>
        <ActionMessage actions={actions} />
      </form>
    </section>
  );
}
