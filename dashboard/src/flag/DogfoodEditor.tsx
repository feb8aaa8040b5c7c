import { useState } from 'preact/hooks';
import { patch, post } from '../api/client.js';
import type { ChangeRequest, Segment } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { Loading } from '../components/Banner.js';
import { Guard } from '../components/Guard.js';
import { emailDomains, normaliseDomain, parseIdList, withEmailDomains } from '../logic/dogfood.js';
import { GovernedNotice, useBypass } from '../requests/GovernedNotice.js';
import { useApp, useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

/** The `internal` segment: who gets every release first. Shared by all flags and environments. */
export function DogfoodEditor({ segment, loading, actions }: { segment: Segment | undefined; loading: boolean; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit();
  const [ids, setIds] = useState('');
  const [domain, setDomain] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const { environment, environments } = useApp();
  // Segments reach every environment: an edit opens a change request when any environment has a policy.
  const bypass = useBypass();
  const governing = actions.segmentPolicy;
  const governingNames = (governing?.environments ?? []).map((key) => environments.find((e) => e.key === key)?.name ?? key).join(', ');

  if (loading) return <Loading what="dogfood users" />;
  if (!segment) return <p class="hint">There is no "internal" segment, so dogfood has nobody to release to.</p>;
  const domains = emailDomains(segment.rules);

  const save = async (label: string, change: Partial<Pick<Segment, 'included' | 'rules'>>) => {
    const decision = bypass.decide(governing);
    if (!decision) return false;
    if (decision.mode !== 'direct') {
      const body = { title: `Dogfood users: ${label}`.slice(0, 200), environment, changes: [{ type: 'segment', segment: segment.key, patch: change, baseVersion: segment.version }] };
      const result = await actions.propose(
        (r) => `Change request #${r.id} opened (“${r.title}”): the segment stays as it is until the request has ${r.approvalsNeeded} approval${r.approvalsNeeded === 1 ? '' : 's'} and is applied.`,
        () => post<ChangeRequest>('/api/change-requests', body),
        decision.mode === 'bypass' ? decision.reason : undefined,
      );
      if (result.ok) bypass.reset();
      await actions.reloadSegments();
      return result.ok;
    }
    const result = await actions.run(label, () => patch<Segment>('/api/segments/internal', { ...change, version: segment.version }));
    await actions.reloadSegments();
    return result.ok;
  };
  const addIds = async (e: Event) => {
    e.preventDefault();
    const add = parseIdList(ids).filter((id) => !segment.included.includes(id));
    if (add.length === 0) return setError('Enter a user ID that is not in the list yet');
    setError(undefined);
    if (await save(`Added ${add.join(', ')} to dogfood users.`, { included: [...segment.included, ...add] })) setIds('');
  };
  const addDomain = async (e: Event) => {
    e.preventDefault();
    const parsed = normaliseDomain(domain);
    if ('error' in parsed) return setError(parsed.error);
    if (domains.includes(parsed.domain)) return setError(`${parsed.domain} is already in the list`);
    setError(undefined);
    if (await save(`Everyone with an email ending in ${parsed.domain} is now a dogfood user.`, { rules: withEmailDomains(segment.rules, [...domains, parsed.domain]) })) setDomain('');
  };

  return (
    <section class="card" aria-labelledby="dogfood-title">
      <h2 id="dogfood-title">Dogfood users</h2>
      <p class="hint">The "{segment.name}" segment gets the flag at the Dogfood stage and every stage after it. It is shared by every flag and environment.</p>
      <GovernedNotice id="dogfood-policy" policy={governing} envName={governingNames} what="the segment (segments reach every environment)" state={bypass} disabled={!canEdit} />
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      <h3>User IDs</h3>
      {segment.included.length === 0 ? (
        <p class="empty">No user IDs yet.</p>
      ) : (
        <ul class="chips" aria-label="Dogfood user IDs">
          {segment.included.map((id) => (
            <li key={id} class="chip">
              <span class="mono">{id}</span>
              <Guard reason={reason}>
                <button
                  type="button"
                  class="chip-remove"
                  aria-label={`Remove ${id}`}
                  disabled={!canEdit || actions.busy}
                  onClick={() => void save(`Removed ${id} from dogfood users.`, { included: segment.included.filter((x) => x !== id) })}
                >
                  ×
                </button>
              </Guard>
            </li>
          ))}
        </ul>
      )}
      <form class="inline" onSubmit={addIds}>
        <label for="dogfood-ids" class="visually-hidden">
          User IDs to add
        </label>
        <input id="dogfood-ids" placeholder="user IDs, comma separated" value={ids} disabled={!canEdit} title={reason} onInput={(e) => setIds(e.currentTarget.value)} />
        <Guard reason={reason}>
          <button type="submit" class="button" disabled={!canEdit || actions.busy}>
            Add users
          </button>
        </Guard>
      </form>
      <h3>Email domains</h3>
      {domains.length === 0 ? (
        <p class="empty">No email-domain rule.</p>
      ) : (
        <ul class="chips" aria-label="Dogfood email domains">
          {domains.map((d) => (
            <li key={d} class="chip">
              <span class="mono">email ends with {d}</span>
              <Guard reason={reason}>
                <button
                  type="button"
                  class="chip-remove"
                  aria-label={`Remove ${d}`}
                  disabled={!canEdit || actions.busy}
                  onClick={() => void save(`Removed the ${d} rule.`, { rules: withEmailDomains(segment.rules, domains.filter((x) => x !== d)) })}
                >
                  ×
                </button>
              </Guard>
            </li>
          ))}
        </ul>
      )}
      <form class="inline" onSubmit={addDomain}>
        <label for="dogfood-domain">Email domain</label>
        <input id="dogfood-domain" placeholder="example.com" value={domain} disabled={!canEdit} title={reason} onInput={(e) => setDomain(e.currentTarget.value)} />
        <Guard reason={reason}>
          <button type="submit" class="button" disabled={!canEdit || actions.busy}>
            Add domain
          </button>
        </Guard>
      </form>
      <ActionMessage actions={actions} what="segment" />
      <p class="hint">Apps must send the user's <code>email</code> attribute for the domain rule to match.</p>
    </section>
  );
}
