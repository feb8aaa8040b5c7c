import type { ComponentChildren } from 'preact';

/**
 * Wraps controls a viewer may not use: the tooltip says why they are disabled. (Disabled buttons
 * get no pointer events in some browsers, so the title sits on a wrapper.)
 */
export function Guard({ reason, children }: { reason: string | undefined; children: ComponentChildren }) {
  if (!reason) return <>{children}</>;
  return (
    <span class="guard" title={reason}>
      {children}
    </span>
  );
}
