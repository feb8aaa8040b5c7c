import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, enc, get, post } from '../api/client.js';
import type { ApiToken, Environment, Role, SdkKey, SdkKeyKind } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { ConfirmDialog, type ConfirmRequest } from '../components/ConfirmDialog.js';
import { CopyButton } from '../components/CopyButton.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { useApp, useLive, useResource } from '../state.js';

/** A secret shown once: what it is, the value, and what to do with it. */
interface ShownSecret {
  label: string;
  value: string;
  note?: ComponentChildren;
}

const KIND_LABELS: Record<SdkKeyKind, string> = { server: 'Server (secret)', client: 'Client (public)' };

/**
 * SDK keys, API tokens and client-key secure mode (admin only): a secret is shown once, right
 * after creation (or rotation).
 */
export function TokensPage() {
  const { me, environments } = useApp();
  const tokens = useResource(() => get<{ items: ApiToken[] }>('/api/tokens').then((r) => r.items), []);
  const keys = useResource(() => get<{ items: SdkKey[] }>('/api/sdk-keys').then((r) => r.items), []);
  const [secret, setSecret] = useState<ShownSecret | undefined>(undefined);
  const secretRef = useRef<HTMLDivElement>(null);
  // A secret appears at the top of the page, often far from the button that made it: take focus there.
  useEffect(() => {
    if (secret) secretRef.current?.focus();
  }, [secret]);
  // Dismissing the secret returns focus to the control that made it (the "Done" button goes away).
  const secretOpener = useRef<HTMLElement | null>(null);
  const showSecret = (shown: ShownSecret) => {
    secretOpener.current = document.activeElement instanceof HTMLElement && document.activeElement !== document.body ? document.activeElement : null;
    setSecret(shown);
  };
  const dismissSecret = () => {
    const back = secretOpener.current;
    if (back?.isConnected) back.focus();
    else document.getElementById('tokens-title')?.focus();
    setSecret(undefined);
  };
  // A revoked row loses its Revoke button: focus goes to its "Revoked" mark instead of the top of the page.
  const [revokedFocus, setRevokedFocus] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [tokenName, setTokenName] = useState('');
  const [tokenRole, setTokenRole] = useState<Role>('editor');
  const [keyName, setKeyName] = useState('');
  const [keyEnv, setKeyEnv] = useState(environments[0]?.key ?? '');
  const [keyKind, setKeyKind] = useState<SdkKeyKind>('server');
  useEffect(() => {
    const mark = revokedFocus ? document.getElementById(revokedFocus) : null;
    if (!mark) return;
    mark.focus();
    setRevokedFocus(undefined);
  }, [revokedFocus, tokens.data, keys.data]);

  if (me.role !== 'admin') {
    return (
      <section>
        <h1>Keys & tokens</h1>
        <Banner kind="info">Only admins can see and manage SDK keys and API tokens. You are signed in as {me.role}.</Banner>
      </section>
    );
  }
  const attempt = async (fn: () => Promise<void>) => {
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const createToken = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      const created = await post<ApiToken & { token: string }>('/api/tokens', { name: tokenName.trim(), role: tokenRole });
      showSecret({ label: `API token "${created.name}" (${created.role})`, value: created.token });
      setTokenName('');
      await tokens.reload();
    });
  };
  const createKey = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      const created = await post<SdkKey & { key: string }>('/api/sdk-keys', { name: keyName.trim(), environment: keyEnv, kind: keyKind });
      showSecret(
        created.kind === 'client'
          ? {
              label: `Client key "${created.name}" for ${created.environment}`,
              value: created.key,
              note: 'A client key is public: it may ship in your web or mobile app. It evaluates only flags marked visible to client keys, and never sees their rules.',
            }
          : { label: `Server SDK key "${created.name}" for ${created.environment}`, value: created.key, note: 'Keep it secret: it reads the environment\'s whole rule set.' },
      );
      setKeyName('');
      await keys.reload();
    });
  };
  const revoke = (what: string, path: string, reload: () => Promise<void>, mark: string) =>
    setConfirm({
      title: `Revoke ${what}?`,
      body: <p>Anything using it stops working immediately. This cannot be undone.</p>,
      confirmLabel: 'Revoke',
      danger: true,
      onConfirm: () => void attempt(async () => {
        await del(path);
        await reload();
        setRevokedFocus(mark);
      }),
    });

  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title" tabIndex={-1}>
        Keys & tokens
      </h1>
      {error && <Banner kind="error">{error}</Banner>}
      {secret && (
        <div class="banner banner-success secret" role="status" tabIndex={-1} ref={secretRef}>
          <p>
            <strong>{secret.label}</strong> created. Copy it now: it will not be shown again.
          </p>
          {secret.note && <p>{secret.note}</p>}
          <code class="secret-value" data-testid="new-secret">
            {secret.value}
          </code>{' '}
          <CopyButton text={secret.value} />{' '}
          <button type="button" class="button small" onClick={dismissSecret}>
            Done
          </button>
        </div>
      )}

      <div class="card">
        <h2>SDK keys</h2>
        <p class="hint">
          Read-only keys for applications, one environment each. <strong>Server keys</strong> are secrets for server-side SDKs and read the whole rule set.{' '}
          <strong>Client keys</strong> are public, for browsers and mobile apps: they get only the evaluated values of flags marked visible to client keys.
        </p>
        <form class="inline wrap" aria-label="New SDK key" onSubmit={createKey}>
          <label for="key-name">Name</label>
          <input id="key-name" value={keyName} required onInput={(e) => setKeyName(e.currentTarget.value)} />
          <label for="key-env">Environment</label>
          <select id="key-env" value={keyEnv} onChange={(e) => setKeyEnv(e.currentTarget.value)}>
            {environments.map((env) => (
              <option key={env.key} value={env.key}>
                {env.name}
              </option>
            ))}
          </select>
          <fieldset class="kind-choice">
            <legend>Kind</legend>
            <label>
              <input type="radio" name="key-kind" value="server" checked={keyKind === 'server'} onChange={() => setKeyKind('server')} /> Server key (secret)
            </label>
            <label>
              <input type="radio" name="key-kind" value="client" checked={keyKind === 'client'} onChange={() => setKeyKind('client')} /> Client key (public, for browsers)
            </label>
          </fieldset>
          <button type="submit" class="button primary">
            Create SDK key
          </button>
        </form>
        {!keys.data && !keys.error && <Loading what="SDK keys" />}
        {keys.error && <Banner kind="error">{keys.error.message}</Banner>}
        <CredentialTable
          caption="SDK keys"
          rows={(keys.data ?? []).map((k) => ({ id: k.id, name: k.name, detail: k.environment, kind: KIND_LABELS[k.kind], prefix: k.prefix, createdAt: k.createdAt, createdBy: k.createdBy, revokedAt: k.revokedAt, lastUsedAt: null }))}
          detailLabel="Environment"
          kindLabel="Kind"
          idPrefix="sdk-key"
          onRevoke={(row) => revoke(`SDK key "${row.name}"`, `/api/sdk-keys/${row.id}`, keys.reload, revokedMarkId('sdk-key', row.id))}
        />
      </div>

      <SecureModeCard attempt={attempt} confirm={setConfirm} showSecret={showSecret} />

      <div class="card">
        <h2>API tokens</h2>
        <p class="hint">For the dashboard, the CLI and scripts. Viewers read, editors change flags, admins also manage tokens and environments.</p>
        <form class="inline wrap" onSubmit={createToken}>
          <label for="token-name">Name</label>
          <input id="token-name" value={tokenName} required onInput={(e) => setTokenName(e.currentTarget.value)} />
          <label for="token-role">Role</label>
          <select id="token-role" value={tokenRole} onChange={(e) => setTokenRole(e.currentTarget.value as Role)}>
            <option value="viewer">viewer</option>
            <option value="editor">editor</option>
            <option value="admin">admin</option>
          </select>
          <button type="submit" class="button primary">
            Create API token
          </button>
        </form>
        {!tokens.data && !tokens.error && <Loading what="API tokens" />}
        {tokens.error && <Banner kind="error">{tokens.error.message}</Banner>}
        <CredentialTable
          caption="API tokens"
          rows={(tokens.data ?? []).map((t) => ({ id: t.id, name: t.name, detail: t.role, prefix: t.prefix, createdAt: t.createdAt, createdBy: t.createdBy, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt }))}
          detailLabel="Role"
          idPrefix="api-token"
          onRevoke={(row) => revoke(`API token "${row.name}"`, `/api/tokens/${row.id}`, tokens.reload, revokedMarkId('api-token', row.id))}
        />
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </section>
  );
}

/**
 * Secure mode per environment: client keys are public, so without it anyone holding one may ask
 * for any user's values. On, a context with a user key must carry the application server's
 * signature of it. Every switch is confirmed: each one breaks someone's requests at once.
 */
function SecureModeCard({ attempt, confirm, showSecret }: { attempt(fn: () => Promise<void>): Promise<void>; confirm(request: ConfirmRequest): void; showSecret(secret: ShownSecret): void }) {
  const environments = useResource(
    () => get<{ items: Environment[] }>('/api/environments').then((r) => [...r.items].sort((a, b) => a.sortOrder - b.sortOrder || a.key.localeCompare(b.key))),
    [],
  );
  useLive((e) => {
    if (e.type === 'environment') void environments.reload();
  });
  const rotate = (env: Environment) => {
    const turningOn = !env.clientSecureMode;
    confirm({
      title: turningOn ? `Turn secure mode on in ${env.name}?` : `Rotate the secure-mode secret of ${env.name}?`,
      body: turningOn ? (
        <p>From now on, a client-key request with a user key (targetingKey or userId) must carry its signature, made with the new secret; unsigned requests get 403. The secret is shown once.</p>
      ) : (
        <p>The current secret stops working at once: every signature made with it is refused (403) until your application server signs with the new secret. The new secret is shown once.</p>
      ),
      confirmLabel: turningOn ? 'Turn on' : 'Rotate secret',
      danger: !turningOn || env.critical,
      onConfirm: () =>
        void attempt(async () => {
          const result = await post<Environment & { secret: string }>(`/api/environments/${enc(env.key)}/secure-mode`);
          showSecret({
            label: `Secure-mode secret for ${env.name}`,
            value: result.secret,
            note: (
              <>
                Give it to your application server, never to the browser: it signs each user key with <code>signUserKey(secret, userKey)</code> from{' '}
                <code>@switchyard/sdk/node</code> and passes the result as <code>switchyardSignature</code> in the client's context.{' '}
                <strong>Rotating this secret breaks every existing signature</strong>: signed requests get 403 until your server signs with the new one.
              </>
            ),
          });
          await environments.reload();
        }),
    });
  };
  const turnOff = (env: Environment) =>
    confirm({
      title: `Turn secure mode off in ${env.name}?`,
      body: <p>Client keys may then ask for any user key's values, without a signature. The secret is discarded: turning secure mode on again makes a new one.</p>,
      confirmLabel: 'Turn off',
      danger: true,
      onConfirm: () =>
        void attempt(async () => {
          await del(`/api/environments/${enc(env.key)}/secure-mode`);
          await environments.reload();
        }),
    });

  return (
    <section class="card" aria-labelledby="secure-mode-title">
      <h2 id="secure-mode-title">Secure mode for client keys</h2>
      <p class="hint">
        Client keys are public, so anyone holding one could ask for any user's values. With secure mode on, a request whose context has a user key (
        <code>targetingKey</code> or <code>userId</code>) must carry <code>switchyardSignature</code>, the user key signed by your server with the
        environment's secret; otherwise it gets 403. Anonymous contexts need no signature.
      </p>
      {!environments.data && !environments.error && <Loading what="environments" />}
      {environments.error && <Banner kind="error">{environments.error.message}</Banner>}
      {environments.data && (
        <table class="flags-table">
          <caption class="visually-hidden">Secure mode per environment</caption>
          <thead>
            <tr>
              <th scope="col">Environment</th>
              <th scope="col">Secure mode</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {environments.data.map((env) => (
              <tr key={env.key} data-environment={env.key}>
                <td data-label="Environment">
                  {env.name} <span class="mono small">{env.key}</span>
                </td>
                <td data-label="Secure mode">
                  {env.clientSecureMode ? (
                    <span class="badge secure-on" data-testid="secure-mode-state">
                      <span aria-hidden="true">✓ </span>On
                    </span>
                  ) : (
                    <span class="badge secure-off" data-testid="secure-mode-state">
                      Off
                    </span>
                  )}
                </td>
                <td data-label="Actions">
                  <div class="row-actions">
                    <button type="button" class="button small" onClick={() => rotate(env)}>
                      {env.clientSecureMode ? 'Rotate secret' : 'Turn on'}
                      <span class="visually-hidden"> {env.clientSecureMode ? `in ${env.name}` : `secure mode in ${env.name}`}</span>
                    </button>
                    {env.clientSecureMode && (
                      <button type="button" class="button small danger" onClick={() => turnOff(env)}>
                        Turn off<span class="visually-hidden"> secure mode in {env.name}</span>
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface CredentialRow {
  id: number;
  name: string;
  detail: string;
  /** Shown in its own column when the table has a `kindLabel`. */
  kind?: string;
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const revokedMarkId = (prefix: string, id: number) => `${prefix}-${id}-revoked`;

function CredentialTable({ caption, rows, detailLabel, kindLabel, idPrefix, onRevoke }: { caption: string; rows: CredentialRow[]; detailLabel: string; kindLabel?: string; idPrefix: string; onRevoke(row: CredentialRow): void }) {
  if (rows.length === 0) return <p class="empty">None yet.</p>;
  return (
    <table class="flags-table">
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">{detailLabel}</th>
          {kindLabel && <th scope="col">{kindLabel}</th>}
          <th scope="col">Secret</th>
          <th scope="col">Created</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id}>
            <td data-label="Name">{r.name}</td>
            <td data-label={detailLabel}>{r.detail}</td>
            {kindLabel && <td data-label={kindLabel}>{r.kind}</td>}
            <td data-label="Secret" class="mono">
              {r.prefix}
            </td>
            <td data-label="Created">
              <span title={absoluteTime(r.createdAt)}>
                {relativeTime(r.createdAt)} by {r.createdBy}
              </span>
              {r.lastUsedAt && <div class="hint">last used {relativeTime(r.lastUsedAt)}</div>}
            </td>
            <td data-label="Status">
              {r.revokedAt ? (
                <span class="badge stage-kill" id={revokedMarkId(idPrefix, r.id)} tabIndex={-1}>
                  <span aria-hidden="true">✕ </span>Revoked
                </span>
              ) : (
                <button type="button" class="button small danger" onClick={() => onRevoke(r)}>
                  Revoke
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
