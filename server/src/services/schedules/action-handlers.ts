import type { AuditContext } from '../../domain/audit.js';
import { AppError } from '../../domain/errors.js';
import type { Flag, FlagEnvironment, Managed } from '../../domain/flags.js';
import type { Schedule, StageAction } from '../../domain/schedules.js';
import { releaseVariation } from '../../domain/stages.js';
import type { Tx } from '../../store/ports.js';
import { assertDirectWriteAllowed } from '../change-requests/policy-guard.js';
import { configIn, lockedByGit, type FlagsService } from '../flags.service.js';
import type { Change, Writes } from '../write.js';

/**
 * How a kind of action is checked when it is scheduled and applied when it runs. Applying an
 * approved change request at a time is a new member of `ScheduleAction` and a new handler here:
 * claiming, the late policy, conflicts, auditing and failures stay as they are.
 */
export interface ActionHandler {
  /** When scheduling or editing: throws what a manual change would (404, 423 for Git-managed flags, 400). */
  check(flag: Managed<Flag>, config: FlagEnvironment, action: StageAction): void;
  /** In the claiming transaction: make the change, through the same service the manual change uses. */
  apply(tx: Tx, at: number, ctx: AuditContext, schedule: Schedule): Promise<{ flagVersion: number; config: FlagEnvironment; change: Change }>;
}

/** The handlers of stage moves and the kill switch: checked and applied as the manual change is. */
export function actionHandlers(w: Writes, flags: FlagsService): Record<StageAction['type'], ActionHandler> {
  const stageHandler: ActionHandler = {
    check(flag, config, action) {
      // The kill switch works on Git-managed flags (an incident must not wait for a merge); nothing else does.
      if (flag.managedBy !== null && action.type !== 'kill') throw lockedByGit('flag', flag.value.key, flag.managedBy);
      if (action.type !== 'stage' || action.stage === 'off') return;
      const release = releaseVariation(flag.value, config, action.variation);
      if (release === undefined || !flag.value.variations.some((v) => v.key === release)) {
        throw AppError.invalid('body.action.variation', release === undefined ? 'this flag has no variation to release; name one in "variation"' : `unknown variation "${release}"`);
      }
    },
    async apply(tx, at, ctx, schedule) {
      const action = schedule.action as StageAction;
      const stage = action.type === 'kill' ? 'kill' : action.stage;
      const variation = action.type === 'stage' ? action.variation : undefined;
      // A policy set after scheduling wins: the run fails with the reason instead of skipping approval.
      if (stage !== 'kill') await assertDirectWriteAllowed(w.repos, tx, `moving flag "${schedule.flagKey}" to ${stage} as scheduled`, schedule.environment);
      const { value, change } = await flags.stageIn(tx, at, ctx, schedule.flagKey, schedule.environment, stage, variation, undefined);
      return { flagVersion: value.value.version, config: configIn(value.value, schedule.environment), change };
    },
  };
  return { stage: stageHandler, kill: stageHandler };
}
