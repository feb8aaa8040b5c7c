import { useEffect, useState } from 'preact/hooks';
import { enc, patch } from '../api/client.js';
import type { Flag } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import { Guard } from '../components/Guard.js';
import { toFieldErrors, type FieldErrors } from '../logic/field-errors.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

const P = 'details';
const splitTags = (text: string) => text.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean);

/** Name, description, tags, owner. Edits remember the version they started from (409 on a stale save). */
export function DetailsForm({ flag, actions }: { flag: Flag; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  const initial = () => ({ name: flag.name, description: flag.description, tags: flag.tags.join(', '), owner: flag.owner });
  const [draft, setDraft] = useState(initial);
  const [base, setBase] = useState(flag.version);
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  useEffect(() => {
    if (!dirty) {
      setDraft(initial());
      setBase(flag.version);
    }
  }, [flag.version]);
  const set = (change: Partial<ReturnType<typeof initial>>) => {
    setDraft({ ...draft, ...change });
    setDirty(true);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const body = { name: draft.name.trim(), description: draft.description, tags: splitTags(draft.tags), owner: draft.owner.trim(), version: base };
    const result = await actions.run('Details saved.', () => patch<Flag>(`/api/flags/${enc(flag.key)}`, body));
    setErrors(toFieldErrors(result.error?.fieldErrors ?? []));
    if (result.ok) setDirty(false);
  };
  return (
    <section class="card" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <form onSubmit={save}>
        <fieldset disabled={!canEdit} title={reason}>
          <legend class="visually-hidden">Details of {flag.name}</legend>
          <div class="field">
            <label for={`${P}-name`}>Name</label>
            <input id={`${P}-name`} value={draft.name} onInput={(e) => set({ name: e.currentTarget.value })} {...errorProps(errors, 'name', P)} />
            <FieldError errors={errors} path="name" prefix={P} />
          </div>
          <div class="field">
            <label for={`${P}-description`}>Description</label>
            <textarea id={`${P}-description`} rows={3} value={draft.description} onInput={(e) => set({ description: e.currentTarget.value })} {...errorProps(errors, 'description', P)} />
            <FieldError errors={errors} path="description" prefix={P} />
          </div>
          <div class="grid2">
            <div class="field">
              <label for={`${P}-tags`}>Tags (comma separated)</label>
              <input id={`${P}-tags`} value={draft.tags} onInput={(e) => set({ tags: e.currentTarget.value })} {...errorProps(errors, 'tags', P)} />
              <FieldError errors={errors} path="tags" prefix={P} />
            </div>
            <div class="field">
              <label for={`${P}-owner`}>Owner</label>
              <input id={`${P}-owner`} value={draft.owner} onInput={(e) => set({ owner: e.currentTarget.value })} {...errorProps(errors, 'owner', P)} />
              <FieldError errors={errors} path="owner" prefix={P} />
            </div>
          </div>
        </fieldset>
        <div class="actions">
          <Guard reason={reason}>
            <button type="submit" class="button primary" disabled={!canEdit || !dirty || actions.busy}>
              Save details
            </button>
          </Guard>
        </div>
        <ActionMessage actions={actions} />
      </form>
    </section>
  );
}
