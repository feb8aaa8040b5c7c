import { describeStage } from '../logic/stages.js';

/**
 * The badge's words. With the server's summary, a custom configuration says what it is ("Custom:
 * dogfood + 1 rule") and a killed one where it was ("Killed (was 100%)"): a bare "Custom" hides
 * who gets the flag, and a stage name is shown only when the targeting is exactly that stage.
 */
export function stageLabel(stage: string, summary?: string): string {
  const view = describeStage(stage);
  if (!summary) return view.label;
  if (view.kind === 'custom') return `Custom: ${summary}`;
  if (view.kind === 'kill') return summary.charAt(0).toUpperCase() + summary.slice(1);
  return view.label;
}

/** Stage as icon + text (never colour alone). */
export function StageBadge({ stage, summary }: { stage: string; summary?: string }) {
  const view = describeStage(stage);
  const label = stageLabel(stage, summary);
  return (
    <span class={`badge stage-${view.kind}`} data-stage={stage} title={label === view.label ? undefined : label}>
      <span aria-hidden="true" class="badge-icon">
        {view.icon}
      </span>
      {label}
    </span>
  );
}
