import { useEffect, useRef } from 'preact/hooks';
import type { FlagActions } from '../flag/actions.js';
import { Banner } from './Banner.js';
import { ConflictBanner } from './ConflictBanner.js';
import { Link } from '../router.js';

/** Whether `el` is entirely inside the window (a message half under the fold counts as out of view). */
function inView(el: Element): boolean {
  const box = el.getBoundingClientRect();
  return box.top >= 0 && box.bottom <= (window.innerHeight || document.documentElement.clientHeight);
}

/**
 * The outcome of a section's last write, rendered where the section puts it (next to its save
 * button). A new outcome that is not fully in view is scrolled into view and focused (tabIndex -1,
 * so focus does not stay on a control far away while the result is somewhere else); one already in
 * view stays put and is announced by its role (status for success, alert for errors).
 */
export function ActionMessage({ actions, what = 'flag' }: { actions: FlagActions; what?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const feedback = actions.feedback;
  useEffect(() => {
    const el = ref.current;
    if (!feedback || !el || inView(el)) return;
    el.scrollIntoView({ block: 'nearest' });
    el.focus({ preventScroll: true });
  }, [feedback?.seq]);
  if (!feedback) return null;
  return (
    <div ref={ref} class="action-message" data-scope={feedback.scope} tabIndex={-1}>
      {feedback.kind === 'conflict' ? (
        <ConflictBanner conflict={feedback.conflict} what={what} onReload={() => actions.reloadLatest?.()} />
      ) : feedback.kind === 'request' ? (
        <Banner kind={feedback.failed ? 'warning' : feedback.request.status === 'applied' ? 'success' : 'info'}>
          <span class="request-outcome">{feedback.text}</span> <Link href={`/change-requests/${feedback.request.id}`}>View change request #{feedback.request.id}</Link>
        </Banner>
      ) : (
        <Banner kind={feedback.kind}>{feedback.text}</Banner>
      )}
    </div>
  );
}
