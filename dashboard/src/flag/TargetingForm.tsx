import type { ClauseOperator } from '@switchyard/sdk';
import { CLAUSE_OPERATORS } from '@switchyard/sdk/ruleset';
import { useEffect, useState } from 'preact/hooks';
import { enc, patch } from '../api/client.js';
import type { ChangeRequest, Environment, Flag, FlagEnvironment } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { ChangeComment } from '../components/ChangeComment.js';
import { errorProps, FieldError } from '../components/FieldErrors.js';
import { Guard } from '../components/Guard.js';
import { toFieldErrors, type FieldErrors } from '../logic/field-errors.js';
import { targetingSavedText } from '../logic/flag-notes.js';
import { fromTargetingDraft, newRuleId, toTargetingDraft, type RuleDraft, type TargetingDraft } from '../logic/targeting-form.js';
import { GovernedNotice, useBypass } from '../requests/GovernedNotice.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';
import { PrerequisitesEditor } from './PrerequisitesEditor.js';
import { ServeEditor } from './ServeEditor.js';

const P = 'tg';

/**
 * Individual targets, rules and the default rule of one environment. The draft remembers the
 * version it was started from, so saving after someone else's change gets a 409, not an overwrite.
 */
export function TargetingForm({ flag, config, environment, actions }: { flag: Flag; config: FlagEnvironment; environment: Environment | undefined; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag);
  const [draft, setDraft] = useState<TargetingDraft>(() => toTargetingDraft(config));
  const [base, setBase] = useState(flag.version);
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [comment, setComment] = useState('');
  const envKey = environment?.key ?? '';
  const envName = environment?.name ?? envKey;
  // Where a policy governs the environment, saving opens a change request (or an admin bypasses it, with a reason).
  const bypass = useBypass();

  // Follow the server while the user has no unsaved edits.
  useEffect(() => {
    if (!dirty) {
      setDraft(toTargetingDraft(config));
      setBase(flag.version);
    }
  }, [flag.version, envKey, config]);

  const edit = (next: TargetingDraft) => {
    setDraft(next);
    setDirty(true);
  };
  const setRule = (i: number, rule: RuleDraft) => edit({ ...draft, rules: draft.rules.map((r, j) => (j === i ? rule : r)) });
  const variations = flag.variations;
  const first = variations.find((v) => v.key !== draft.offVariation)?.key ?? variations[0]?.key ?? '';

  const save = async (e: Event) => {
    e.preventDefault();
    const body = { ...fromTargetingDraft(draft), version: base };
    const decision = bypass.decide(actions.policy);
    if (!decision) return;
    const url = `/api/flags/${enc(flag.key)}/environments/${enc(envKey)}`;
    if (decision.mode !== 'direct') {
      const propose = async () => {
        const result = await actions.propose(
          (r) => `Change request #${r.id} opened for the targeting in ${envName}. Nothing changes until it has ${r.approvalsNeeded} approval${r.approvalsNeeded === 1 ? '' : 's'} and is applied.`,
          () => patch<ChangeRequest>(`${url}?changeRequest=true`, body, { message: comment }),
          decision.mode === 'bypass' ? decision.reason : undefined,
        );
        setErrors(toFieldErrors(result.error?.fieldErrors ?? [], envKey));
        // The edit now lives in the request: the form shows the flag as it is again.
        if (result.request) {
          setDraft(toTargetingDraft(config));
          setBase(flag.version);
          setDirty(false);
          setComment('');
          bypass.reset();
        }
      };
      if (decision.mode === 'bypass' && environment?.critical) {
        actions.confirm({ title: `Save targeting in ${envName}, bypassing approvals?`, body: <p>These rules apply to real users as soon as you save.</p>, confirmLabel: 'Save', onConfirm: () => void propose() });
      } else await propose();
      return;
    }
    const write = async () => {
      // Rules saved on an off or killed flag serve nobody yet: the message says so.
      const saved = (result: unknown) => targetingSavedText(environment?.name ?? envKey, (result as Flag | null)?.environments?.[envKey] ?? config);
      const result = await actions.run(saved, () => patch<Flag>(url, body, { message: comment }));
      setErrors(toFieldErrors(result.error?.fieldErrors ?? [], envKey));
      if (result.ok) {
        setDirty(false);
        setComment('');
      }
    };
    if (environment?.critical) {
      actions.confirm({ title: `Save targeting in ${environment.name}?`, body: <p>These rules apply to real users as soon as you save.</p>, confirmLabel: 'Save', onConfirm: () => void write() });
    } else await write();
  };
  const discard = () => {
    setDraft(toTargetingDraft(config));
    setBase(flag.version);
    setDirty(false);
    setErrors(new Map());
  };

  const locked = !canEdit;
  return (
    <section class="card" aria-labelledby="targeting-title">
      <h2 id="targeting-title">Targeting in {environment?.name ?? envKey}</h2>
      {dirty && base !== flag.version && (
        <p class="banner banner-warning" role="status">
          Someone changed this flag since you started editing (now version {flag.version}). Saving will be refused; discard your edits to see the latest.
        </p>
      )}
      <form onSubmit={save}>
        <fieldset disabled={locked} title={reason}>
          <div class="field">
            <label for={`${P}-off`}>Off variation (served when the flag is off or killed)</label>
            <select id={`${P}-off`} value={draft.offVariation} onChange={(e) => edit({ ...draft, offVariation: e.currentTarget.value })} {...errorProps(errors, 'offVariation', P)}>
              {variations.map((v) => (
                <option key={v.key} value={v.key}>
                  {v.name || v.key}
                </option>
              ))}
            </select>
            <FieldError errors={errors} path="offVariation" prefix={P} />
          </div>

          <PrerequisitesEditor id={`${P}-pre`} flag={flag} value={draft.prerequisites ?? []} errors={errors} onChange={(prerequisites) => edit({ ...draft, prerequisites })} />

          <h3>Individual targets</h3>
          {draft.targets.length === 0 && <p class="empty">No individual targets.</p>}
          {draft.targets.map((t, i) => (
            <div class="row-box" key={i}>
              <div class="field">
                <label for={`${P}-t${i}-var`}>Serve</label>
                <select id={`${P}-t${i}-var`} value={t.variation} onChange={(e) => edit({ ...draft, targets: draft.targets.map((x, j) => (j === i ? { ...x, variation: e.currentTarget.value } : x)) })}>
                  {variations.map((v) => (
                    <option key={v.key} value={v.key}>
                      {v.name || v.key}
                    </option>
                  ))}
                </select>
                <FieldError errors={errors} path={`targets[${i}].variation`} prefix={P} />
              </div>
              <div class="field">
                <label for={`${P}-t${i}-ids`}>to user IDs (comma or new line separated)</label>
                <textarea
                  id={`${P}-t${i}-ids`}
                  rows={2}
                  value={t.values}
                  onInput={(e) => edit({ ...draft, targets: draft.targets.map((x, j) => (j === i ? { ...x, values: e.currentTarget.value } : x)) })}
                  {...errorProps(errors, `targets[${i}].values`, P)}
                />
                <FieldError errors={errors} path={`targets[${i}].values`} prefix={P} />
              </div>
              <button type="button" class="button small" onClick={() => edit({ ...draft, targets: draft.targets.filter((_, j) => j !== i) })}>
                Remove target
              </button>
            </div>
          ))}
          <button type="button" class="button small" onClick={() => edit({ ...draft, targets: [...draft.targets, { variation: first, values: '' }] })}>
            Add individual target
          </button>

          <h3>Rules (first match wins)</h3>
          {draft.rules.length === 0 && <p class="empty">No rules.</p>}
          {draft.rules.map((rule, i) =>
            rule.id === 'dogfood' ? (
              <div class="row-box managed" key={rule.id}>
                <strong>Dogfood rule</strong> — users in the internal segment get <code>{rule.serve.variation}</code>. Managed by the release stepper.
              </div>
            ) : (
              <RuleEditor key={i} index={i} rule={rule} flag={flag} errors={errors} onChange={(r) => setRule(i, r)} onRemove={() => edit({ ...draft, rules: draft.rules.filter((_, j) => j !== i) })} />
            ),
          )}
          <button
            type="button"
            class="button small"
            onClick={() =>
              edit({
                ...draft,
                rules: [...draft.rules, { id: newRuleId(draft.rules), description: '', clauses: [{ attribute: 'email', operator: 'ends_with', values: '' }], serve: { kind: 'variation', variation: first, shares: [] } }],
              })
            }
          >
            Add rule
          </button>

          <h3>Default rule (everyone else)</h3>
          <ServeEditor id={`${P}-default`} path="defaultServe" serve={draft.defaultServe} variations={variations} errors={errors} disabled={locked} onChange={(s) => edit({ ...draft, defaultServe: s })} />
          <FieldError errors={errors} path="" prefix={`${P}-root`} />
        </fieldset>
        <ChangeComment id={`${P}-comment`} value={comment} onChange={setComment} disabled={locked} />
        <GovernedNotice id={`${P}-policy`} policy={actions.policy} envName={envName} state={bypass} disabled={locked} />
        <div class="actions">
          <Guard reason={reason}>
            <button type="submit" class="button primary" disabled={locked || !dirty || actions.busy}>
              {actions.policy && !bypass.bypass.on ? 'Request approval' : 'Save targeting'}
            </button>
          </Guard>
          <button type="button" class="button" disabled={!dirty} onClick={discard}>
            Discard changes
          </button>
        </div>
        <ActionMessage actions={actions} />
      </form>
    </section>
  );
}

function RuleEditor({ index, rule, flag, errors, onChange, onRemove }: { index: number; rule: RuleDraft; flag: Flag; errors: FieldErrors; onChange(r: RuleDraft): void; onRemove(): void }) {
  const path = `rules[${index}]`;
  const id = `${P}-r${index}`;
  return (
    <div class="row-box">
      <div class="grid2">
        <div class="field">
          <label for={`${id}-id`}>Rule ID</label>
          <input id={`${id}-id`} value={rule.id} onInput={(e) => onChange({ ...rule, id: e.currentTarget.value })} {...errorProps(errors, `${path}.id`, id)} />
          <FieldError errors={errors} path={`${path}.id`} prefix={id} />
        </div>
        <div class="field">
          <label for={`${id}-desc`}>Description</label>
          <input id={`${id}-desc`} value={rule.description} onInput={(e) => onChange({ ...rule, description: e.currentTarget.value })} />
        </div>
      </div>
      {rule.clauses.map((c, j) => {
        const cp = `${path}.clauses[${j}]`;
        const cid = `${id}-c${j}`;
        const set = (patch: Partial<typeof c>) => onChange({ ...rule, clauses: rule.clauses.map((x, k) => (k === j ? { ...x, ...patch } : x)) });
        return (
          <div class="clause" key={j}>
            <span class="hint">{j === 0 ? 'If' : 'and'}</span>
            <div class="field">
              <label for={`${cid}-attr`}>Attribute</label>
              <input id={`${cid}-attr`} value={c.attribute} onInput={(e) => set({ attribute: e.currentTarget.value })} {...errorProps(errors, `${cp}.attribute`, cid)} />
              <FieldError errors={errors} path={`${cp}.attribute`} prefix={cid} />
            </div>
            <div class="field">
              <label for={`${cid}-op`}>Operator</label>
              <select id={`${cid}-op`} value={c.operator} onChange={(e) => set({ operator: e.currentTarget.value as ClauseOperator })}>
                {CLAUSE_OPERATORS.map((op) => (
                  <option key={op} value={op}>
                    {op.replace(/_/g, ' ')}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for={`${cid}-values`}>Values (comma separated)</label>
              <input id={`${cid}-values`} value={c.values} onInput={(e) => set({ values: e.currentTarget.value })} {...errorProps(errors, `${cp}.values`, cid)} />
              <FieldError errors={errors} path={`${cp}.values`} prefix={cid} />
            </div>
            <button type="button" class="button small" aria-label={`Remove condition ${j + 1} of rule ${rule.id}`} onClick={() => onChange({ ...rule, clauses: rule.clauses.filter((_, k) => k !== j) })}>
              ×
            </button>
          </div>
        );
      })}
      <FieldError errors={errors} path={`${path}.clauses`} prefix={`${id}-clauses`} />
      <button type="button" class="button small" onClick={() => onChange({ ...rule, clauses: [...rule.clauses, { attribute: '', operator: 'in', values: '' }] })}>
        Add condition
      </button>
      <ServeEditor id={`${id}-serve`} path={`${path}.serve`} serve={rule.serve} variations={flag.variations} errors={errors} disabled={false} onChange={(s) => onChange({ ...rule, serve: s })} />
      <button type="button" class="button small" onClick={onRemove}>
        Remove rule
      </button>
    </div>
  );
}
