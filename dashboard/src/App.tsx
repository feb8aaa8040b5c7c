import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, del, get, onReachability, setUnauthorizedHandler } from './api/client.js';
import type { Environment, LiveEvent, Me } from './api/types.js';
import { Banner, Loading } from './components/Banner.js';
import { Layout } from './components/Layout.js';
import { AuditLogPage } from './pages/AuditLogPage.js';
import { ChangeRequestPage } from './pages/ChangeRequestPage.js';
import { ChangeRequestsPage } from './pages/ChangeRequestsPage.js';
import { ComparePage } from './pages/ComparePage.js';
import { CreateFlagPage } from './pages/CreateFlagPage.js';
import { FlagPage } from './pages/FlagPage.js';
import { FlagsPage } from './pages/FlagsPage.js';
import { SegmentPage } from './pages/SegmentPage.js';
import { SegmentsPage } from './pages/SegmentsPage.js';
import { SignInPage } from './pages/SignInPage.js';
import { TokensPage } from './pages/TokensPage.js';
import { UpcomingPage } from './pages/UpcomingPage.js';
import { navigate, usePath } from './router.js';
import { decodeSegment, pageTitle, titleForPath, usePageTitle, useRouteTitle } from './title.js';
import { AppContext, emitLive, type AppState } from './state.js';

const ENV_STORAGE = 'switchyard.environment';

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [bootError, setBootError] = useState<string | undefined>(undefined);
  const [environments, setEnvironments] = useState<Environment[]>([]);
  const [environment, setEnvironmentState] = useState<string>(() => localStorage.getItem(ENV_STORAGE) ?? 'production');
  const [reachable, setReachable] = useState(true);
  const path = usePath();

  useEffect(() => onReachability(setReachable), []);
  useEffect(() => setUnauthorizedHandler(() => setMe(null)), []);

  const loadEnvironments = async () => {
    const { items } = await get<{ items: Environment[] }>('/api/environments');
    const sorted = [...items].sort((a, b) => a.sortOrder - b.sortOrder || a.key.localeCompare(b.key));
    setEnvironments(sorted);
    setEnvironmentState((current) => (sorted.some((e) => e.key === current) ? current : (sorted.find((e) => e.critical)?.key ?? sorted[0]?.key ?? current)));
  };

  const boot = async () => {
    setBootError(undefined);
    try {
      const who = await get<Me>('/api/me');
      await loadEnvironments();
      setMe(who);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setMe(null);
      else setBootError(e instanceof Error ? e.message : String(e));
    }
  };
  useEffect(() => {
    void boot();
  }, []);

  // Live updates: one EventSource while signed in; the browser reconnects it by itself.
  const [live, setLive] = useState<'connecting' | 'open' | 'closed'>('connecting');
  useEffect(() => {
    if (!me) return;
    const source = new EventSource('/api/events');
    source.addEventListener('ready', () => {
      setLive('open');
      setReachable(true);
    });
    source.addEventListener('change', (e) => {
      const event = JSON.parse((e as MessageEvent<string>).data) as LiveEvent;
      if (event.type === 'environment') void loadEnvironments().catch(() => undefined);
      emitLive(event);
    });
    // The token was revoked or the session signed out (here or anywhere): back to the sign-in page,
    // instead of an EventSource retrying into 401s under an "Offline" dot.
    source.addEventListener('revoked', () => {
      source.close();
      setMe(null);
    });
    source.onerror = () => setLive(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
    return () => source.close();
  }, [me]);

  const state = useMemo<AppState | null>(
    () =>
      me
        ? {
            me,
            environments,
            environment,
            setEnvironment: (key: string) => {
              localStorage.setItem(ENV_STORAGE, key);
              setEnvironmentState(key);
            },
            signOut: () => {
              void del('/api/session').finally(() => {
                setMe(null);
                navigate('/');
              });
            },
          }
        : null,
    [me, environments, environment],
  );

  const downBanner = !reachable && (
    <Banner kind="error">
      The Switchyard server cannot be reached. What you see may be out of date; changes cannot be saved until it is back.{' '}
      <button type="button" class="button" onClick={() => void boot()}>
        Retry
      </button>
    </Banner>
  );

  if (me === undefined) {
    return (
      <main class="boot">
        {bootError ? (
          <Banner kind="error">
            {bootError}{' '}
            <button type="button" class="button" onClick={() => void boot()}>
              Retry
            </button>
          </Banner>
        ) : (
          <Loading what="Switchyard" />
        )}
      </main>
    );
  }
  if (me === null || !state) {
    return (
      <>
        {downBanner}
        <SignInPage onSignedIn={() => void boot()} />
      </>
    );
  }

  return (
    <AppContext.Provider value={state}>
      <Layout live={live} banner={downBanner}>
        <Route path={path} />
      </Layout>
    </AppContext.Provider>
  );
}

function Route({ path }: { path: string }) {
  useRouteTitle(titleForPath(path));
  if (path === '/' || path === '/flags') return <FlagsPage />;
  if (path === '/flags/new') return <CreateFlagPage />;
  const flag = /^\/flags\/([^/]+)$/.exec(path);
  if (flag) return <FlagPage flagKey={decodeSegment(flag[1]!)} />;
  if (path === '/audit') return <AuditLogPage />;
  if (path === '/tokens') return <TokensPage />;
  if (path === '/segments') return <SegmentsPage />;
  const segment = /^\/segments\/([^/]+)$/.exec(path);
  if (segment) return <SegmentPage segmentKey={decodeSegment(segment[1]!)} />;
  if (path === '/compare') return <ComparePage />;
  if (path === '/change-requests') return <ChangeRequestsPage />;
  const changeRequest = /^\/change-requests\/(\d+)$/.exec(path);
  if (changeRequest) return <ChangeRequestPage id={changeRequest[1]!} />;
  if (path === '/schedules') return <UpcomingPage />;
  return <NotFound path={path} />;
}

function NotFound({ path }: { path: string }) {
  usePageTitle(pageTitle('Page not found'));
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <a href="/">Go to flags</a>.
      </p>
    </section>
  );
}
