import { enc, post } from '../api/client.js';
import type { ChangeRequest, Environment, Flag, FlagEnvironment } from '../api/types.js';
import { Guard } from '../components/Guard.js';
import { describeStage } from '../logic/stages.js';
import { absoluteTime } from '../logic/time.js';
import { useActivePlan } from '../release/hooks.js';
import { useCanEdit } from '../state.js';
import type { FlagActions } from './actions.js';

/**
 * The red button: off for everyone immediately, from any stage, always confirmed. After a kill it
 * offers to restore the stage the flag was at (`killedFrom`: the kill keeps the targeting) — one
 * audited stage change, confirmed in critical environments like every other stage change. A kill of
 * a Git-managed flag holds it against the file (`incident`) until someone resumes it here.
 */
export function KillSwitch({ flag, config, environment, actions }: { flag: Flag; config: FlagEnvironment; environment: Environment | undefined; actions: FlagActions }) {
  const { canEdit, reason } = useCanEdit(flag, { emergency: true });
  const restoreRights = useCanEdit(flag);
  const killed = config.stage === 'kill';
  const envName = environment?.name ?? 'this environment';
  // A kill moves the flag away from a running canary's step: the guard pauses the plan.
  const plan = useActivePlan(flag.key, environment?.key, flag.version);
  const canaryRunning = plan === undefined ? Boolean(config.guarded) : plan?.status === 'running';
  const kill = () =>
    actions.confirm({
      title: `Kill ${flag.name} in ${envName}?`,
      body: (
        <p>
          Everyone gets the off value immediately, including dogfood users. You can release it again from any stage afterwards.
          {canaryRunning && ` This also pauses the running canary on ${envName}.`}
        </p>
      ),
      confirmLabel: 'Kill now',
      danger: true,
      onConfirm: () => void actions.run(`${flag.name} was killed in ${envName}.`, () => post<Flag>(`/api/flags/${enc(flag.key)}/environments/${enc(environment?.key ?? '')}/kill`, {})),
    });

  // A Git-managed flag is restored by resuming the file's configuration, not by a stage change here.
  const from = killed && !flag.managedBy && config.killedFrom && config.killedFrom !== 'off' ? config.killedFrom : undefined;
  const fromLabel = from ? describeStage(from).label : '';
  const restore = () => {
    // Restoring is a stage move: where a policy governs the environment it opens a change request.
    if (actions.policy) {
      void actions.propose(
        (r) => `Change request #${r.id} opened: restore ${flag.name} to ${fromLabel} in ${envName}. It stays killed until the request is approved and applied.`,
        () =>
          post<ChangeRequest>(`/api/flags/${enc(flag.key)}/environments/${enc(environment?.key ?? '')}/stage?changeRequest=true`, { stage: from, version: flag.version, message: `Restore ${flag.key} to ${from} after a kill` }),
      );
      return;
    }
    const write = () =>
      actions.run(`${flag.name} is back at ${fromLabel} in ${envName}.`, () =>
        post<Flag>(`/api/flags/${enc(flag.key)}/environments/${enc(environment?.key ?? '')}/stage`, { stage: from, version: flag.version, message: `restored to ${from} after a kill` }),
      );
    if (!environment?.critical) return void write();
    actions.confirm({
      title: `Restore ${flag.name} to ${fromLabel} in ${envName}?`,
      body: (
        <p>
          <strong>{envName}</strong> is a critical environment. {flag.name} goes from Killed back to {fromLabel} for real users right away; its other rules and individual targets stay as they are.
        </p>
      ),
      confirmLabel: `Restore to ${fromLabel}`,
      onConfirm: () => void write(),
    });
  };

  const incident = config.incident;
  const resume = () => {
    const write = () =>
      actions.run(`${flag.name} is back at the Git file's configuration in ${envName}.`, () =>
        post<Flag>(`/api/flags/${enc(flag.key)}/environments/${enc(environment?.key ?? '')}/resume`, { version: flag.version }),
      );
    if (!environment?.critical) return void write();
    actions.confirm({
      title: `Resume ${flag.name} from Git in ${envName}?`,
      body: (
        <p>
          <strong>{envName}</strong> is a critical environment. {flag.name} leaves the kill and gets what the Git file ({flag.managedBy}) asks for here, for real users right away; later commits apply again.
        </p>
      ),
      confirmLabel: 'Resume from Git',
      onConfirm: () => void write(),
    });
  };

  return (
    <div class="kill">
      {incident && (
        <div class="incident-hold" role="status">
          <p class="incident-hold-text">
            Killed during an incident by {incident.killedBy} at {absoluteTime(incident.killedAt)} — Git changes to this flag are held until resumed.
            {incident.message && <span class="incident-hold-message"> “{incident.message}”</span>}
          </p>
          {/* Like the kill itself, allowed on a Git-managed flag: it is how the incident ends. */}
          <Guard reason={reason}>
            <button type="button" class="button" data-resume="git" disabled={!canEdit || actions.busy} onClick={resume}>
              Resume from Git
            </button>
          </Guard>
        </div>
      )}
      <Guard reason={reason ?? (killed ? 'Already killed: choose a stage above to release again' : undefined)}>
        <button type="button" class="button danger kill-button" disabled={!canEdit || killed || actions.busy} onClick={kill}>
          <span aria-hidden="true">✕ </span>
          {killed ? 'Killed' : 'Kill switch'}
        </button>
      </Guard>
      <span class="hint">
        {killed ? 'This flag is killed: everyone gets the off value.' : 'Turns the flag off for everyone, right now.'}
        {actions.policy && !killed && ` No approval needed, even in ${envName}: incidents do not wait.`}
      </span>
      {from && (
        <div class="kill-restore">
          <Guard reason={restoreRights.reason}>
            <button type="button" class="button" data-restore={from} disabled={!restoreRights.canEdit || actions.busy} onClick={restore}>
              {actions.policy ? `Request restore to ${fromLabel}` : `Restore to ${fromLabel}`}
            </button>
          </Guard>
          <span class="hint">
            Before the kill it was at {fromLabel}; restoring brings that back, with its other rules and targets.
            {actions.policy && ` ${envName} requires approval: this opens a change request.`}
          </span>
        </div>
      )}
    </div>
  );
}
