import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface TabSpec {
  /** Also the URL hash that opens it: /flags/checkout#history. */
  id: string;
  label: string;
  panel: ComponentChildren;
}

const fromHash = () => decodeURIComponent(location.hash.replace(/^#/, ''));

/**
 * The chosen tab, kept in the URL hash so a link (or a reload) opens it. Choosing a tab replaces
 * the hash without scrolling and without a history entry per click; following a link to another
 * hash (`hashchange`) switches tab.
 */
export function useHashTab(ids: readonly string[], fallback: string): [string, (id: string) => void] {
  const [hash, setHash] = useState(fromHash);
  useEffect(() => {
    const update = () => setHash(fromHash());
    window.addEventListener('hashchange', update);
    window.addEventListener('popstate', update);
    return () => {
      window.removeEventListener('hashchange', update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  const choose = (id: string) => {
    history.replaceState(history.state, '', `${location.pathname}${location.search}#${encodeURIComponent(id)}`);
    setHash(id);
  };
  return [ids.includes(hash) ? hash : fallback, choose];
}

/**
 * An accessible tab list (WAI-ARIA tabs, automatic activation): ←/→ move between tabs and open
 * them, Home/End jump to the first/last; only the chosen tab is in the Tab order. Every panel stays
 * mounted (hidden when not chosen) so unsaved edits survive a look at another tab.
 */
export function Tabs({ tabs, selected, onSelect, label, idPrefix = 'tab' }: { tabs: readonly TabSpec[]; selected: string; onSelect(id: string): void; label: string; idPrefix?: string }) {
  const list = useRef<HTMLDivElement>(null);
  const focusTab = (id: string) => list.current?.querySelector<HTMLElement>(`#${idPrefix}-${id}`)?.focus();
  const onKeyDown = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.id === selected);
    let next: number | undefined;
    if (e.key === 'ArrowRight') next = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    if (next === undefined) return;
    e.preventDefault();
    const id = tabs[next]!.id;
    onSelect(id);
    focusTab(id);
  };
  return (
    <div class="tabs">
      <div class="tablist" role="tablist" aria-label={label} ref={list} onKeyDown={onKeyDown}>
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`${idPrefix}-${t.id}`}
            class="tab"
            aria-selected={t.id === selected ? 'true' : 'false'}
            aria-controls={`${idPrefix}-panel-${t.id}`}
            tabIndex={t.id === selected ? 0 : -1}
            onClick={() => onSelect(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tabs.map((t) => (
        <div key={t.id} role="tabpanel" class="tabpanel" id={`${idPrefix}-panel-${t.id}`} aria-labelledby={`${idPrefix}-${t.id}`} hidden={t.id !== selected}>
          {t.panel}
        </div>
      ))}
    </div>
  );
}
