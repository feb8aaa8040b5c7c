import { describeStage } from '../logic/stages.js';

/** Stage as icon + text (never colour alone). */
export function StageBadge({ stage }: { stage: string }) {
  const view = describeStage(stage);
  return (
    <span class={`badge stage-${view.kind}`} data-stage={stage}>
      <span aria-hidden="true" class="badge-icon">
        {view.icon}
      </span>
      {view.label}
    </span>
  );
}
