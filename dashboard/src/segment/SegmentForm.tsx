import type { ClauseOperator } from '@switchyard/sdk';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import type { FieldErrors } from '../logic/field-errors.js';
import { newSegmentRuleId, SEGMENT_RULE_OPERATORS, type SegmentDraft, type SegmentRuleDraft } from '../logic/segment-form.js';

/**
 * The fields of a segment: who is in it by ID (members), who never is (excluded, which wins), by
 * email domain, and by rules over context attributes. Used to create one and to edit one (the key
 * is fixed once created). The caller owns the <form>, the buttons and the disabled state.
 */
export function SegmentFields({ prefix, draft, errors, keyEditable, onChange }: { prefix: string; draft: SegmentDraft; errors: FieldErrors; keyEditable: boolean; onChange(next: SegmentDraft): void }) {
  const P = prefix;
  const text = (field: 'key' | 'name' | 'description' | 'unitAttribute' | 'included' | 'excluded' | 'emailDomains') => ({
    id: `${P}-${field}`,
    value: draft[field],
    onInput: (e: { currentTarget: { value: string } }) => onChange({ ...draft, [field]: e.currentTarget.value }),
    ...errorProps(errors, field, P),
  });
  const setRule = (i: number, rule: SegmentRuleDraft) => onChange({ ...draft, rules: draft.rules.map((r, j) => (j === i ? rule : r)) });
  return (
    <>
      <div class="grid2">
        <div class="field">
          <label for={`${P}-key`}>Key</label>
          {keyEditable ? <input {...text('key')} required placeholder="beta-testers" autoComplete="off" /> : <input id={`${P}-key`} value={draft.key} readOnly class="mono" />}
          <FieldError errors={errors} path="key" prefix={P} />
        </div>
        <div class="field">
          <label for={`${P}-name`}>Name</label>
          <input {...text('name')} required placeholder="Beta testers" />
          <FieldError errors={errors} path="name" prefix={P} />
        </div>
      </div>
      <div class="field">
        <label for={`${P}-description`}>Description</label>
        <textarea {...text('description')} rows={2} />
        <FieldError errors={errors} path="description" prefix={P} />
      </div>
      <div class="grid2">
        <div class="field">
          <label for={`${P}-included`}>Members (user IDs)</label>
          <textarea aria-describedby={`${P}-ids-hint`} {...text('included')} rows={3} placeholder="alice, bob" />
          <FieldError errors={errors} path="included" prefix={P} />
        </div>
        <div class="field">
          <label for={`${P}-excluded`}>Excluded user IDs (never in, whatever the rules say)</label>
          <textarea aria-describedby={`${P}-ids-hint`} {...text('excluded')} rows={3} />
          <FieldError errors={errors} path="excluded" prefix={P} />
        </div>
      </div>
      <p class="hint" id={`${P}-ids-hint`}>
        IDs separated by commas, spaces or new lines, matched against the user's <code>{draft.unitAttribute || 'userId'}</code> attribute.
      </p>
      <div class="grid2">
        <div class="field">
          <label for={`${P}-emailDomains`}>Email domains</label>
          <input aria-describedby={`${P}-domains-hint`} {...text('emailDomains')} placeholder="example.com, corp.example" />
          <span class="hint" id={`${P}-domains-hint`}>
            Everyone whose <code>email</code> attribute ends with one of them is in.
          </span>
          <FieldError errors={errors} path="emailDomains" prefix={P} />
        </div>
        <div class="field">
          <label for={`${P}-unitAttribute`}>Match IDs against attribute</label>
          <input {...text('unitAttribute')} />
          <FieldError errors={errors} path="unitAttribute" prefix={P} />
        </div>
      </div>
      <h3>Rules</h3>
      <p class="hint">A user who matches any rule is in the segment (every condition of that rule must hold). Excluded IDs still win.</p>
      {draft.rules.length === 0 && <p class="empty">No rules.</p>}
      {draft.rules.map((rule, i) => (
        <SegmentRuleEditor key={i} prefix={`${P}-r${i}`} index={i} rule={rule} errors={errors} onChange={(r) => setRule(i, r)} onRemove={() => onChange({ ...draft, rules: draft.rules.filter((_, j) => j !== i) })} />
      ))}
      <FieldError errors={errors} path="rules" prefix={`${P}-rules`} />
      <button type="button" class="button small" onClick={() => onChange({ ...draft, rules: [...draft.rules, { id: newSegmentRuleId(draft.rules), clauses: [{ attribute: '', operator: 'in', values: '' }] }] })}>
        Add rule
      </button>
    </>
  );
}

function SegmentRuleEditor({ prefix, index, rule, errors, onChange, onRemove }: { prefix: string; index: number; rule: SegmentRuleDraft; errors: FieldErrors; onChange(r: SegmentRuleDraft): void; onRemove(): void }) {
  const path = `rules[${index}]`;
  const id = prefix;
  const n = index + 1;
  return (
    <div class="row-box" role="group" aria-label={`Rule ${n}`}>
      <div class="field">
        <label for={`${id}-id`}>Rule {n} ID</label>
        <input id={`${id}-id`} value={rule.id} onInput={(e) => onChange({ ...rule, id: e.currentTarget.value })} {...errorProps(errors, `${path}.id`, id)} />
        <FieldError errors={errors} path={`${path}.id`} prefix={id} />
      </div>
      {rule.clauses.map((c, j) => {
        const cp = `${path}.clauses[${j}]`;
        const cid = `${id}-c${j}`;
        const set = (patch: Partial<typeof c>) => onChange({ ...rule, clauses: rule.clauses.map((x, k) => (k === j ? { ...x, ...patch } : x)) });
        const what = `condition ${j + 1} of rule ${n}`;
        return (
          <div class="clause" key={j}>
            <span class="hint">{j === 0 ? 'If' : 'and'}</span>
            <div class="field">
              <label for={`${cid}-attr`}>
                Attribute<span class="visually-hidden"> of {what}</span>
              </label>
              <input id={`${cid}-attr`} value={c.attribute} placeholder="plan" onInput={(e) => set({ attribute: e.currentTarget.value })} {...errorProps(errors, `${cp}.attribute`, cid)} />
              <FieldError errors={errors} path={`${cp}.attribute`} prefix={cid} />
            </div>
            <div class="field">
              <label for={`${cid}-op`}>
                Operator<span class="visually-hidden"> of {what}</span>
              </label>
              <select id={`${cid}-op`} value={c.operator} onChange={(e) => set({ operator: e.currentTarget.value as ClauseOperator })}>
                {SEGMENT_RULE_OPERATORS.map((op) => (
                  <option key={op} value={op}>
                    {op.replace(/_/g, ' ')}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for={`${cid}-values`}>
                Values (comma separated)<span class="visually-hidden"> of {what}</span>
              </label>
              <input id={`${cid}-values`} value={c.values} onInput={(e) => set({ values: e.currentTarget.value })} {...errorProps(errors, `${cp}.values`, cid)} />
              <FieldError errors={errors} path={`${cp}.values`} prefix={cid} />
            </div>
            <button type="button" class="button small" aria-label={`Remove ${what}`} onClick={() => onChange({ ...rule, clauses: rule.clauses.filter((_, k) => k !== j) })}>
              ×
            </button>
          </div>
        );
      })}
      <FieldError errors={errors} path={`${path}.clauses`} prefix={`${id}-clauses`} />
      <div class="actions">
        <button type="button" class="button small" onClick={() => onChange({ ...rule, clauses: [...rule.clauses, { attribute: '', operator: 'in', values: '' }] })}>
          Add condition<span class="visually-hidden"> to rule {n}</span>
        </button>
        <button type="button" class="button small" onClick={onRemove}>
          Remove rule {n}
        </button>
      </div>
    </div>
  );
}
