import { useState } from 'preact/hooks';
import { ApiError, post } from '../api/client.js';
import type { Me } from '../api/types.js';
import { focusPageAfterSignIn } from '../focus.js';
import { pageTitle, usePageTitle } from '../title.js';

export function SignInPage({ onSignedIn }: { onSignedIn(me: Me): void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  usePageTitle(pageTitle('Sign in'));
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const me = await post<Me>('/api/session', { token: token.trim() });
      setToken('');
      focusPageAfterSignIn();
      onSignedIn(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid (or was revoked). Check it and try again.' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Switchyard</h1>
        <p class="hint">Paste an API token. It is exchanged for a session cookie and never stored in the browser.</p>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'signin-error' : undefined}
          required
        />
        {error && (
          <p id="signin-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="button primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
