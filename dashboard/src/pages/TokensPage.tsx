import { useState } from 'preact/hooks';
import { del, get, post } from '../api/client.js';
import type { ApiToken, Role, SdkKey } from '../api/types.js';
import { Banner, Loading } from '../components/Banner.js';
import { ConfirmDialog, type ConfirmRequest } from '../components/ConfirmDialog.js';
import { CopyButton } from '../components/CopyButton.js';
import { absoluteTime, relativeTime } from '../logic/time.js';
import { useApp, useResource } from '../state.js';

/** SDK keys and API tokens (admin only): a secret is shown once, right after creation. */
export function TokensPage() {
  const { me, environments } = useApp();
  const tokens = useResource(() => get<{ items: ApiToken[] }>('/api/tokens').then((r) => r.items), []);
  const keys = useResource(() => get<{ items: SdkKey[] }>('/api/sdk-keys').then((r) => r.items), []);
  const [secret, setSecret] = useState<{ label: string; value: string } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [tokenName, setTokenName] = useState('');
  const [tokenRole, setTokenRole] = useState<Role>('editor');
  const [keyName, setKeyName] = useState('');
  const [keyEnv, setKeyEnv] = useState(environments[0]?.key ?? '');

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
      setSecret({ label: `API token "${created.name}" (${created.role})`, value: created.token });
      setTokenName('');
      await tokens.reload();
    });
  };
  const createKey = (e: Event) => {
    e.preventDefault();
    void attempt(async () => {
      const created = await post<SdkKey & { key: string }>('/api/sdk-keys', { name: keyName.trim(), environment: keyEnv });
      setSecret({ label: `SDK key "${created.name}" for ${created.environment}`, value: created.key });
      setKeyName('');
      await keys.reload();
    });
  };
  const revoke = (what: string, path: string, reload: () => Promise<void>) =>
    setConfirm({
      title: `Revoke ${what}?`,
      body: <p>Anything using it stops working immediately. This cannot be undone.</p>,
      confirmLabel: 'Revoke',
      danger: true,
      onConfirm: () => void attempt(async () => {
        await del(path);
        await reload();
      }),
    });

  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">Keys & tokens</h1>
      {error && <Banner kind="error">{error}</Banner>}
      {secret && (
        <div class="banner banner-success secret" role="status">
          <p>
            <strong>{secret.label}</strong> created. Copy it now: it will not be shown again.
          </p>
          <code class="secret-value" data-testid="new-secret">
            {secret.value}
          </code>{' '}
          <CopyButton text={secret.value} />{' '}
          <button type="button" class="button small" onClick={() => setSecret(undefined)}>
            Done
          </button>
        </div>
      )}

      <div class="card">
        <h2>SDK keys</h2>
        <p class="hint">Read-only keys for applications, one environment each.</p>
        <form class="inline wrap" onSubmit={createKey}>
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
          <button type="submit" class="button primary">
            Create SDK key
          </button>
        </form>
        {!keys.data && !keys.error && <Loading what="SDK keys" />}
        {keys.error && <Banner kind="error">{keys.error.message}</Banner>}
        <CredentialTable
          rows={(keys.data ?? []).map((k) => ({ id: k.id, name: k.name, detail: k.environment, prefix: k.prefix, createdAt: k.createdAt, createdBy: k.createdBy, revokedAt: k.revokedAt, lastUsedAt: null }))}
          detailLabel="Environment"
          onRevoke={(row) => revoke(`SDK key "${row.name}"`, `/api/sdk-keys/${row.id}`, keys.reload)}
        />
      </div>

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
          rows={(tokens.data ?? []).map((t) => ({ id: t.id, name: t.name, detail: t.role, prefix: t.prefix, createdAt: t.createdAt, createdBy: t.createdBy, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt }))}
          detailLabel="Role"
          onRevoke={(row) => revoke(`API token "${row.name}"`, `/api/tokens/${row.id}`, tokens.reload)}
        />
      </div>
      <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />
    </section>
  );
}

interface CredentialRow {
  id: number;
  name: string;
  detail: string;
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

function CredentialTable({ rows, detailLabel, onRevoke }: { rows: CredentialRow[]; detailLabel: string; onRevoke(row: CredentialRow): void }) {
  if (rows.length === 0) return <p class="empty">None yet.</p>;
  return (
    <table class="flags-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">{detailLabel}</th>
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
                <span class="badge stage-kill">
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
