import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';

/** A tiny history router: paths and query strings; the server answers deep links with index.html. */
const listeners = new Set<() => void>();

export function navigate(path: string, replace = false): void {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return path;
}

/**
 * The query string as URLSearchParams, re-rendering on every change (setSearchParams, navigate,
 * back/forward). `setSearchParams` replaces the history entry unless `push` is set: typing in a
 * filter box must not leave one entry per keystroke.
 */
export function useSearchParams(): [URLSearchParams, typeof setSearchParams] {
  const [search, setSearch] = useState(location.search);
  useEffect(() => {
    const update = () => setSearch(location.search);
    update();
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  const params = useMemo(() => new URLSearchParams(search), [search]);
  return [params, setSearchParams];
}

/** Change the query string of the current page (no scroll, unlike navigate). */
export function setSearchParams(params: URLSearchParams, options: { push?: boolean } = {}): void {
  const search = params.toString();
  const path = location.pathname + (search ? `?${search}` : '');
  if (path === location.pathname + location.search) return;
  if (options.push) history.pushState(null, '', path);
  else history.replaceState(null, '', path);
  listeners.forEach((l) => l());
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  const { href, children, ...rest } = props;
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
