import { useEffect, useRef } from 'preact/hooks';

/** How long a page may take to show its heading (loading its data) before focus stops waiting. */
const HEADING_WAIT_MS = 10_000;

let afterSignIn = false;

/** The next page shown takes focus as after a navigation (the sign-in form it replaces is gone). */
export function focusPageAfterSignIn(): void {
  afterSignIn = true;
}

function focusWithoutScroll(el: HTMLElement, main: HTMLElement): void {
  // A heading is not focusable by itself; -1 makes it a focus target without a Tab stop.
  if (el !== main && !el.hasAttribute('tabindex')) el.tabIndex = -1;
  el.focus({ preventScroll: true });
}

/**
 * Focus the page's <h1> in <main id="main">, or <main> itself until a page that loads first shows
 * its heading (unless the person has moved focus meanwhile). A screen reader then reads the new
 * page's name, and Tab goes on from the top of its content instead of from the link clicked.
 */
function focusPage(): () => void {
  const main = document.getElementById('main');
  if (!main) return () => undefined;
  const heading = main.querySelector('h1');
  if (heading) {
    focusWithoutScroll(heading, main);
    return () => undefined;
  }
  focusWithoutScroll(main, main);
  const observer = new MutationObserver(() => {
    const h1 = main.querySelector('h1');
    if (!h1) return;
    stop();
    if (document.activeElement === main || document.activeElement === document.body) focusWithoutScroll(h1, main);
  });
  const timer = setTimeout(() => observer.disconnect(), HEADING_WAIT_MS);
  const stop = () => {
    observer.disconnect();
    clearTimeout(timer);
  };
  observer.observe(main, { childList: true, subtree: true });
  return stop;
}

/**
 * After each client-side navigation (a link, Back/Forward) and after signing in, move focus to the
 * new page. Not on the first page load: there the browser's own start (the top of the document) is right.
 */
export function useFocusOnNavigation(path: string): void {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      if (!afterSignIn) return;
    }
    afterSignIn = false;
    return focusPage();
  }, [path]);
}
