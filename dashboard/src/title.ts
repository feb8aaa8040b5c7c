import { useLayoutEffect } from 'preact/hooks';

/**
 * Page titles (`document.title`): what a screen reader announces after navigation and what a tab,
 * a bookmark and the history list show. Most specific first, the app last:
 * `pageTitle('Checkout v2', 'Flags')` is "Checkout v2 · Flags · Switchyard".
 */
const APP = 'Switchyard';

export function pageTitle(...parts: string[]): string {
  return [...parts.filter((p) => p.trim() !== ''), APP].join(' · ');
}

/** A path segment as text: a malformed escape (`%E0`) stays as typed instead of throwing. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The title the router knows from the path alone; a page may refine it (`usePageTitle`). */
export function titleForPath(path: string): string {
  if (path === '/' || path === '/flags') return pageTitle('Flags');
  if (path === '/flags/new') return pageTitle('New flag');
  const flag = /^\/flags\/([^/]+)$/.exec(path);
  if (flag) return pageTitle(decodeSegment(flag[1]!), 'Flags');
  if (path === '/audit') return pageTitle('Audit log');
  if (path === '/tokens') return pageTitle('Keys & tokens');
  if (path === '/segments' || path.startsWith('/segments/')) return pageTitle('Segments');
  if (path === '/compare' || path.startsWith('/compare/')) return pageTitle('Compare');
  if (path === '/change-requests') return pageTitle('Change requests');
  const request = /^\/change-requests\/(\d+)$/.exec(path);
  if (request) return pageTitle(`#${request[1]!}`, 'Change requests');
  if (path === '/schedules') return pageTitle('Upcoming changes');
  return pageTitle('Page not found');
}

let routeTitle = APP;
/** Titles set by mounted pages, newest last; the newest wins over the route's. */
const refinements: { title: string }[] = [];

function apply(): void {
  document.title = refinements.at(-1)?.title ?? routeTitle;
}

/** The router's title for the current path (App's Route). */
export function useRouteTitle(title: string): void {
  // A layout effect: the title changes in the same task as the DOM it names, never a frame later
  // (a test, or a screen reader, reading both after the page appears saw the old title).
  useLayoutEffect(() => {
    routeTitle = title;
    apply();
  }, [title]);
}

/**
 * A page's own title while it is mounted, e.g. the flag page with the flag's name once it has
 * loaded: `usePageTitle(flag ? pageTitle(flag.name, 'Flags') : undefined)`. Undefined: the route's.
 */
export function usePageTitle(title: string | undefined): void {
  useLayoutEffect(() => {
    if (title === undefined) return;
    const entry = { title };
    refinements.push(entry);
    apply();
    return () => {
      refinements.splice(refinements.indexOf(entry), 1);
      apply();
    };
  }, [title]);
}
