import type { Lifecycle } from '../api/types.js';

export const LIFECYCLE_LABELS: Record<Lifecycle, string> = {
  new: 'New',
  active: 'Active',
  launched: 'Launched',
  stale: 'Stale',
  'ready-to-remove': 'Ready to remove',
};

/** What each lifecycle means, in the words a tooltip has room for (the days are the server's defaults). */
export const LIFECYCLE_HINTS: Record<Lifecycle, string> = {
  new: 'Created recently and not evaluated yet',
  active: 'In use: being rolled out, targeted, or not settled on one value',
  launched: 'Serves one variation to everyone in every environment: plan to remove it',
  stale: 'Archived, not evaluated for a long time, or launched long ago: technical debt',
  'ready-to-remove': 'Stale, and no scanned repository references it any more: safe to delete',
};

/** The flag's lifecycle; "active" is the usual case and is shown only where asked (`always`). */
export function LifecycleBadge({ lifecycle, always = false }: { lifecycle: Lifecycle; always?: boolean }) {
  if (lifecycle === 'active' && !always) return null;
  return (
    <span class={`badge badge-lifecycle lifecycle-${lifecycle} small`} data-lifecycle={lifecycle} title={LIFECYCLE_HINTS[lifecycle]}>
      {LIFECYCLE_LABELS[lifecycle]}
    </span>
  );
}
