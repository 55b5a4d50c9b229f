import { useState, type FormEvent } from 'react';
import { Notice } from '../components/Notice';

/** Sign in with an API token; `npm start` prints a link that signs in the demo admin directly. */
export function SignInPage({ onSignIn, reason }: { onSignIn: (token: string) => void; reason: string | null }) {
  const [token, setToken] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onSignIn(token.trim());
  };
  return (
    <div className="signin">
      <form className="signin-card" onSubmit={submit}>
        <div className="brand signin-brand">
          <span className="brand-mark" aria-hidden="true">
            R
          </span>
          <div className="brand-name">Retrace</div>
        </div>
        <h1>Sign in</h1>
        <p className="muted">Paste your API token. Your workspace admin can issue one (<code>retrace token create</code>); the demo’s sign-in link is printed by <code>npm start</code>.</p>
        {reason && <Notice tone="error">{reason}</Notice>}
        <label className="field">
          <span>API token</span>
          <input type="password" autoComplete="off" placeholder="rt.…" value={token} onChange={(event) => setToken(event.target.value)} autoFocus />
        </label>
        <button type="submit" className="button primary wide" disabled={!token.trim()}>
          Sign in
        </button>
        <p className="fine-print">The token is kept in this browser only, until you sign out.</p>
      </form>
    </div>
  );
}
