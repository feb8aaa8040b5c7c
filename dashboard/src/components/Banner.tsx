import type { ComponentChildren } from 'preact';

export function Banner({ kind, children }: { kind: 'error' | 'warning' | 'info' | 'success'; children: ComponentChildren }) {
  return (
    <div class={`banner banner-${kind}`} role={kind === 'error' || kind === 'warning' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}
