import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, enc, get, post } from '../api/client.js';
import type { ChangeRequest, Environment, Flag, FlagEnvironment, Segment } from '../api/types.js';
import { ActionMessage } from '../components/ActionMessage.js';
import { Banner, Loading } from '../components/Banner.js';
import { ConfirmDialog, type ConfirmRequest } from '../components/ConfirmDialog.js';
import { StageBadge } from '../components/StageBadge.js';
import { Tabs, useHashTab, type TabSpec } from '../components/Tabs.js';
import { ToastStack, useToasts } from '../components/Toast.js';
import { ClientVisibility } from '../flag/ClientVisibility.js';
import { CodeReferences } from '../flag/CodeReferences.js';
import { DetailsForm } from '../flag/DetailsForm.js';
import { DogfoodEditor } from '../flag/DogfoodEditor.js';
import { EvaluationChart } from '../flag/EvaluationChart.js';
import { History } from '../flag/History.js';
import { KillSwitch } from '../flag/KillSwitch.js';
import { Preview } from '../flag/Preview.js';
import { Stepper } from '../flag/Stepper.js';
import { TargetingForm } from '../flag/TargetingForm.js';
import { VariationsForm } from '../flag/VariationsForm.js';
import { BlueGreen } from '../release/BlueGreen.js';
import { CanaryConsole } from '../release/CanaryConsole.js';
import { SchedulesPanel } from '../schedule/SchedulesPanel.js';
import type { ActionFeedback, ActionOutcome, FlagActions } from '../flag/actions.js';
import { segmentPolicy } from '../logic/change-requests.js';
import { describeRemoteChange } from '../logic/flag-notes.js';
import { OpenRequests } from '../requests/OpenRequests.js';
import { policiesSettled, requiredPolicy, usePolicies } from '../requests/policies.js';
import { absoluteTime } from '../logic/time.js';
import { Link } from '../router.js';
import { managedReason, useApp, useCurrentEnvironment, useLive, useResource, type Resource } from '../state.js';
import { pageTitle, usePageTitle } from '../title.js';

/** A live change by someone else, waiting for the reloaded flag to say what it was. */
interface RemoteChange {
  actors: string[];
  before: Flag | undefined;
  version: number | null;
}

/**
 * One flag, built to fit a screen: the summary (name, key, stage and on/off in the chosen
 * environment, Git and incident notes) and the release controls first; everything else behind
 * tabs whose choice lives in the URL hash. Each write's outcome shows next to the control that made
 * it; changes made elsewhere, by someone else, arrive as toasts.
 */
export function FlagPage({ flagKey }: { flagKey: string }) {
  const { environment, environments, me } = useApp();
  const env = useCurrentEnvironment();
  const flag = useResource(() => get<Flag>(`/api/flags/${enc(flagKey)}`), [flagKey]);
  const segments = useResource(() => get<{ items: Segment[] }>('/api/segments').then((r) => r.items), []);
  // Where a policy governs the environment, stage and targeting writes open change requests instead.
  const policies = usePolicies();
  const [feedback, setFeedback] = useState<ActionFeedback | undefined>(undefined);
  const seq = useRef(0);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [historyTick, setHistoryTick] = useState(0);
  const toasts = useToasts();
  const remote = useRef<RemoteChange | null>(null);

  useLive((e) => {
    if (e.type === 'flag' && e.key === flagKey) {
      // Your own writes (this token, any tab) are not news; anyone else's are, once reloaded.
      if (e.actor && e.actor !== me.name) {
        const pending = remote.current;
        if (pending) {
          if (!pending.actors.includes(e.actor)) pending.actors.push(e.actor);
          pending.version = e.version === null || pending.version === null ? pending.version : Math.max(pending.version, e.version);
        } else remote.current = { actors: [e.actor], before: flag.data, version: e.version };
      }
      void flag.reload();
      setHistoryTick((t) => t + 1);
    }
    if (e.type === 'segment') void segments.reload();
  });
  useEffect(() => {
    const pending = remote.current;
    const after = flag.data;
    if (!pending || !after) return;
    if (pending.version !== null && after.version < pending.version) return;
    remote.current = null;
    toasts.push(describeRemoteChange(pending.actors, pending.before, after, environments, environment));
  }, [flag.data]);

  const reloadAll = () => {
    setFeedback(undefined);
    void flag.reload();
    void segments.reload();
  };

  const show = (scope: string, outcome: ActionOutcome) => setFeedback({ ...outcome, seq: ++seq.current, scope });

  /** A failed write, shown where it happened; the server's message as it said it. */
  const failed = (scope: string, e: unknown): { ok: false; error?: ApiError } => {
    // A policy set since the page loaded: follow it, so the controls say what happens now.
    if (e instanceof ApiError && e.code === 'approval_required') void policies.reload();
    if (e instanceof ApiError && e.conflict) {
      show(scope, { kind: 'conflict', conflict: e.conflict });
      return { ok: false, error: e };
    }
    if (e instanceof ApiError && e.fieldErrors.length > 0) {
      show(scope, { kind: 'error', text: `Not saved: ${e.message}` });
      return { ok: false, error: e };
    }
    show(scope, { kind: 'error', text: e instanceof Error ? e.message : String(e) });
    return { ok: false, error: e instanceof ApiError ? e : undefined };
  };

  const actionsFor = (scope: string): FlagActions => ({
    busy,
    confirm: setConfirm,
    feedback: feedback?.scope === scope ? feedback : undefined,
    reloadLatest: reloadAll,
    reloadSegments: () => segments.reload(),
    policy: requiredPolicy(policies.data, environment),
    segmentPolicy: segmentPolicy(policies.data ?? []),
    async propose(label, create, bypassReason) {
      setBusy(true);
      setFeedback(undefined);
      let request: ChangeRequest;
      try {
        request = await create();
      } catch (e) {
        setBusy(false);
        return failed(scope, e);
      }
      try {
        if (bypassReason === undefined) {
          show(scope, { kind: 'request', request, text: label(request) });
          return { ok: true, request };
        }
        try {
          const applied = await post<ChangeRequest>(`/api/change-requests/${request.id}/apply`, { bypassReason });
          show(scope, { kind: 'request', request: applied, text: `Applied at once, approvals bypassed: ${applied.title}.` });
          setHistoryTick((t) => t + 1);
          void flag.reload();
          return { ok: true, request: applied };
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          show(scope, { kind: 'request', request, failed: true, text: `Change request #${request.id} was opened but not applied: ${why}` });
          return { ok: false, request, error: e instanceof ApiError ? e : undefined };
        }
      } finally {
        setBusy(false);
      }
    },
    async run(label, action) {
      setBusy(true);
      setFeedback(undefined);
      try {
        const result = await action();
        if (result && typeof result === 'object' && 'key' in result && 'environments' in result) flag.setData(result as Flag);
        show(scope, { kind: 'success', text: typeof label === 'function' ? label(result) : label });
        setHistoryTick((t) => t + 1);
        return { ok: true };
      } catch (e) {
        return failed(scope, e);
      } finally {
        setBusy(false);
      }
    },
  });

  // The flag's name once loaded (the route's title shows its key until then).
  usePageTitle(flag.data ? pageTitle(flag.data.name, 'Flags') : undefined);

  if (flag.error && !flag.data) {
    return (
      <section>
        <p>
          <Link href="/">← All flags</Link>
        </p>
        <Banner kind="error">{flag.error.status === 404 ? `There is no flag "${flagKey}".` : `Could not load the flag: ${flag.error.message}`}</Banner>
      </section>
    );
  }
  // Its stage and targeting controls say whether they write or propose: the policies must be known first.
  if (!flag.data || !policiesSettled(policies)) return <Loading what="the flag" />;
  const f = flag.data;
  const config = f.environments[environment];
  const envName = env?.name ?? environment;
  const release = actionsFor('release');
  const blueGreen = actionsFor('blue-green');
  const canary = actionsFor('canary');

  return (
    <article aria-labelledby="flag-title" class={toasts.items.length > 0 ? 'flag-page has-toasts' : 'flag-page'}>
      <p class="back">
        <Link href="/">← All flags</Link>
      </p>
      <header class="page-head">
        <div>
          <h1 id="flag-title">{f.name}</h1>
          <div class="mono small">{f.key}</div>
        </div>
        <div class="head-badges">
          {f.managedBy && (
            <span class="badge badge-git" title={managedReason(f.managedBy)}>
              <span aria-hidden="true">⎇</span> Managed by Git
            </span>
          )}
          {config?.incident && <span class="badge stage-kill">Incident hold</span>}
          {config && <StageBadge stage={config.stage} summary={config.stageSummary} />}
        </div>
      </header>
      {f.description && (
        <p class="desc" title={f.description}>
          {f.description}
        </p>
      )}
      <Facts flag={f} config={config} envName={envName} environments={environments} current={environment} />
      {f.managedBy && (
        <Banner kind="info">
          This flag is managed by Git ({f.managedBy}): change it in the file and commit. Only the kill switch works here, for emergencies.
        </Banner>
      )}
      {!config ? (
        <Banner kind="info">This flag has no configuration in {envName}.</Banner>
      ) : (
        <>
          <section class="card release" aria-labelledby="release-title">
            <h2 id="release-title">
              Release in <span class={env?.critical ? 'env-name critical-name' : 'env-name'}>{env?.critical ? `⚠ ${env.name}` : envName}</span>
            </h2>
            <Stepper flag={f} config={config} environment={env} actions={release} />
            <KillSwitch flag={f} config={config} environment={env} actions={release} />
            <ActionMessage actions={release} />
            <OpenRequests flagKey={f.key} environment={environment} tick={`${f.version}:${feedback?.seq ?? 0}`} />
          </section>
          {env && <SchedulesPanel flag={f} config={config} environment={env} />}
          <BlueGreen flag={f} config={config} environment={environment} actions={blueGreen} />
          <ActionMessage actions={blueGreen} />
          <CanaryConsole flag={f} environment={environment} actions={canary} />
          <ActionMessage actions={canary} />
        </>
      )}
      <FlagTabs key={f.key} flag={f} config={config} environment={env} segments={segments} historyTick={historyTick} actionsFor={actionsFor} />
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
      <ToastStack toasts={toasts} label="Changes by others" />
    </article>
  );
}

/** On/off in this environment, version and last change, and the way to compare environments. */
function Facts({ flag, config, envName, environments, current }: { flag: Flag; config: FlagEnvironment | undefined; envName: string; environments: readonly Environment[]; current: string }) {
  const other = environments.find((e) => e.key !== current);
  const state = !config ? undefined : config.killed ? 'Killed' : config.on ? 'On' : 'Off';
  return (
    <p class="flag-facts">
      {state && (
        <>
          <span class={`onoff onoff-${state.toLowerCase()}`} data-testid="flag-state">
            {state}
          </span>{' '}
          in {envName} ·{' '}
        </>
      )}
      <span class="hint">
        Version {flag.version} · last changed by {flag.updatedBy || 'unknown'} at {absoluteTime(flag.updatedAt)}
      </span>
      {other && (
        <>
          {' · '}
          <Link href={`/compare?flag=${enc(flag.key)}&a=${enc(other.key)}&b=${enc(current)}`}>Compare environments</Link>
        </>
      )}
    </p>
  );
}

/** Everything but the release controls, one tab each; the chosen one is in the URL hash. */
function FlagTabs({
  flag,
  config,
  environment,
  segments,
  historyTick,
  actionsFor,
}: {
  flag: Flag;
  config: FlagEnvironment | undefined;
  environment: Environment | undefined;
  segments: Resource<Segment[]>;
  historyTick: number;
  actionsFor(scope: string): FlagActions;
}) {
  const envKey = environment?.key ?? '';
  const tabs: TabSpec[] = [
    ...(config
      ? [
          { id: 'targeting', label: 'Targeting', panel: <TargetingForm flag={flag} config={config} environment={environment} actions={actionsFor('targeting')} /> },
          { id: 'preview', label: 'Preview', panel: <Preview flag={flag} environment={envKey} segments={segments.data ?? []} /> },
        ]
      : []),
    { id: 'dogfood', label: 'Dogfood users', panel: <DogfoodEditor segment={segments.data?.find((s) => s.key === 'internal')} loading={segments.data === undefined} actions={actionsFor('dogfood')} /> },
    { id: 'variations', label: 'Variations', panel: <VariationsForm flag={flag} actions={actionsFor('variations')} /> },
    { id: 'details', label: 'Details', panel: <DetailsForm flag={flag} actions={actionsFor('details')} /> },
    { id: 'client-keys', label: 'Client keys', panel: <ClientVisibility flag={flag} actions={actionsFor('client-keys')} /> },
    { id: 'history', label: 'History', panel: <History flag={flag} tick={historyTick} actions={actionsFor('history')} /> },
    { id: 'code', label: 'Code references', panel: <CodeReferences flag={flag} /> },
    ...(envKey ? [{ id: 'evaluations', label: 'Evaluations', panel: <EvaluationChart flag={flag} environment={envKey} /> }] : []),
  ];
  const [selected, select] = useHashTab(
    tabs.map((t) => t.id),
    tabs[0]!.id,
  );
  return <Tabs tabs={tabs} selected={selected} onSelect={select} label={`Settings of ${flag.name}`} idPrefix="flag-tab" />;
}
