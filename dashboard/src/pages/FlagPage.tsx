import { useState } from 'preact/hooks';
import { ApiError, enc, get } from '../api/client.js';
import type { ConflictDetails, Flag, Segment } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { ConfirmDialog, type ConfirmRequest } from '../components/ConfirmDialog.js';
import { ConflictBanner } from '../components/ConflictBanner.js';
import { StageBadge } from '../components/StageBadge.js';
import { ClientVisibility } from '../flag/ClientVisibility.js';
import { DetailsForm } from '../flag/DetailsForm.js';
import { DogfoodEditor } from '../flag/DogfoodEditor.js';
import { History } from '../flag/History.js';
import { KillSwitch } from '../flag/KillSwitch.js';
import { Preview } from '../flag/Preview.js';
import { Stepper } from '../flag/Stepper.js';
import { TargetingForm } from '../flag/TargetingForm.js';
import { VariationsForm } from '../flag/VariationsForm.js';
import { BlueGreen } from '../release/BlueGreen.js';
import { CanaryConsole } from '../release/CanaryConsole.js';
import type { FlagActions } from '../flag/actions.js';
import { absoluteTime } from '../logic/time.js';
import { Link } from '../router.js';
import { managedReason, useApp, useCurrentEnvironment, useLive, useResource } from '../state.js';

export function FlagPage({ flagKey }: { flagKey: string }) {
  const { environment } = useApp();
  const env = useCurrentEnvironment();
  const flag = useResource(() => get<Flag>(`/api/flags/${enc(flagKey)}`), [flagKey]);
  const segments = useResource(() => get<{ items: Segment[] }>('/api/segments').then((r) => r.items), []);
  const [conflict, setConflict] = useState<ConflictDetails | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [historyTick, setHistoryTick] = useState(0);

  useLive((e) => {
    if (e.type === 'flag' && e.key === flagKey) {
      void flag.reload();
      setHistoryTick((t) => t + 1);
    }
    if (e.type === 'segment') void segments.reload();
  });

  const actions: FlagActions = {
    busy,
    confirm: setConfirm,
    async run(label, action) {
      setBusy(true);
      setError(undefined);
      setNotice(undefined);
      try {
        const result = await action();
        if (result && typeof result === 'object' && 'key' in result && 'environments' in result) flag.setData(result as Flag);
        setConflict(undefined);
        setNotice(label);
        setHistoryTick((t) => t + 1);
        return { ok: true };
      } catch (e) {
        if (e instanceof ApiError && e.conflict) {
          setConflict(e.conflict);
          return { ok: false, error: e };
        }
        if (e instanceof ApiError && e.fieldErrors.length > 0) {
          setError(`Not saved: ${e.message}`);
          return { ok: false, error: e };
        }
        setError(e instanceof Error ? e.message : String(e));
        return { ok: false, error: e instanceof ApiError ? e : undefined };
      } finally {
        setBusy(false);
      }
    },
    reloadSegments: () => segments.reload(),
  };

  const reloadAll = () => {
    setConflict(undefined);
    setError(undefined);
    void flag.reload();
    void segments.reload();
  };

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
  if (!flag.data) return <Loading what="the flag" />;
  const f = flag.data;
  const config = f.environments[environment];

  return (
    <article aria-labelledby="flag-title" class="flag-page">
      <p>
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
          {config && <StageBadge stage={config.stage} summary={config.stageSummary} />}
        </div>
      </header>
      {f.managedBy && (
        <Banner kind="info">
          This flag is managed by Git ({f.managedBy}): change it in the file and commit. Only the kill switch works here, for emergencies.
        </Banner>
      )}
      {f.description && <p class="desc">{f.description}</p>}
      <p class="hint">
        Version {f.version} · last changed by {f.updatedBy || 'unknown'} at {absoluteTime(f.updatedAt)}
      </p>
      {conflict && <ConflictBanner conflict={conflict} what="flag" onReload={reloadAll} />}
      {error && <Banner kind="error">{error}</Banner>}
      {notice && <Banner kind="success">{notice}</Banner>}
      {!config ? (
        <Banner kind="info">This flag has no configuration in {env?.name ?? environment}.</Banner>
      ) : (
        <>
          <section class="card release" aria-labelledby="release-title">
            <h2 id="release-title">
              Release in <span class={env?.critical ? 'env-name critical-name' : 'env-name'}>{env?.critical ? `⚠ ${env.name}` : (env?.name ?? environment)}</span>
            </h2>
            <Stepper flag={f} config={config} environment={env} actions={actions} />
            <KillSwitch flag={f} config={config} environment={env} actions={actions} />
          </section>
          <BlueGreen flag={f} config={config} environment={environment} actions={actions} />
          <CanaryConsole flag={f} environment={environment} actions={actions} />
          <DogfoodEditor segment={segments.data?.find((s) => s.key === 'internal')} loading={segments.data === undefined} actions={actions} />
          <Preview flag={f} environment={environment} segments={segments.data ?? []} />
          <TargetingForm flag={f} config={config} environment={env} actions={actions} />
        </>
      )}
      <ClientVisibility flag={f} actions={actions} />
      <VariationsForm flag={f} actions={actions} />
      <DetailsForm flag={f} actions={actions} />
      <History flag={f} tick={historyTick} actions={actions} />
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </article>
  );
}
