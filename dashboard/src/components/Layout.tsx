import type { ComponentChildren } from 'preact';
import { useFocusOnNavigation } from '../focus.js';
import { Link, usePath } from '../router.js';
import { GitOpsStatus } from './GitOpsStatus.js';
import { useApp, useCurrentEnvironment } from '../state.js';

export function Layout({ children, live, banner }: { children: ComponentChildren; live: 'connecting' | 'open' | 'closed'; banner: ComponentChildren }) {
  const { me, environments, environment, setEnvironment, signOut } = useApp();
  const current = useCurrentEnvironment();
  const path = usePath();
  useFocusOnNavigation(path);
  const nav = [
    { href: '/', label: 'Flags', active: path === '/' || path.startsWith('/flags') },
    { href: '/segments', label: 'Segments', active: path === '/segments' || path.startsWith('/segments/') },
    { href: '/schedules', label: 'Upcoming changes', active: path === '/schedules' },
    { href: '/change-requests', label: 'Change requests', active: path === '/change-requests' || path.startsWith('/change-requests/') },
    { href: '/audit', label: 'Audit log', active: path === '/audit' },
    { href: '/tokens', label: 'Keys & tokens', active: path === '/tokens' },
  ];
  return (
    <div class={current?.critical ? 'shell critical' : 'shell'}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <Link href="/">Switchyard</Link>
        </div>
        <nav aria-label="Main">
          {nav.map((n) => (
            <Link key={n.href} href={n.href} class={n.active ? 'nav active' : 'nav'} aria-current={n.active ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div class="env-switch">
          <label for="env-select">Environment</label>
          <select id="env-select" value={environment} onChange={(e) => setEnvironment(e.currentTarget.value)}>
            {environments.map((e) => (
              <option key={e.key} value={e.key}>
                {e.critical ? `⚠ ${e.name} (critical)` : e.name}
              </option>
            ))}
          </select>
        </div>
        <div class="who">
          <span title={`Signed in with token "${me.name}"`}>
            {me.name} · <span class="role">{me.role}</span>
          </span>
          <span class={`live live-${live}`} title={live === 'open' ? 'Live updates on' : 'Live updates reconnecting'}>
            <span aria-hidden="true">{live === 'open' ? '●' : '○'}</span> {live === 'open' ? 'Live' : 'Offline'}
          </span>
          <button type="button" class="button small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {current?.critical && (
        <div class="env-strip" role="note">
          <span aria-hidden="true">⚠</span> You are viewing <strong>{current.name}</strong>: changes here reach real users.
        </div>
      )}
      {banner}
      <GitOpsStatus />
      {me.role === 'viewer' && (
        <div class="readonly-note" role="note">
          Read-only: you are signed in with a viewer token.
        </div>
      )}
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
