import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { answer, apiClient, ApiError, type ApiClient, type Limits, type Me, type Permission } from './api';

const tokenKey = 'retrace.token';

/**
 * A token handed over in the address (`/#token=…`, the link `npm start` prints) is kept
 * and taken out of the address at once, so it stays out of history and bookmarks.
 */
export function takeTokenFromAddress(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  window.localStorage.setItem(tokenKey, decodeURIComponent(match[1]));
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

export interface Session {
  token: string;
  me: Me;
  /** Whether the signed-in user's role holds the permission: actions they may not take are not shown. */
  can: (permission: Permission) => boolean;
  /** The API as this user: a call answering 401 signs them out. */
  api: ApiClient;
  /** What the server accepts (GET /limits): how many contacts a restore picks, a page holds, … */
  limits: Limits;
  signOut: () => void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

interface SignInState {
  token: string | null;
  signIn: (token: string) => void;
  signOut: (reason?: string) => void;
  /** Why the last session ended, to show on the sign-in page. */
  reason: string | null;
}

export function useStoredToken(): SignInState {
  const [token, setToken] = useState<string | null>(() => window.localStorage.getItem(tokenKey));
  const [reason, setReason] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const signIn = useCallback((next: string) => {
    window.localStorage.setItem(tokenKey, next);
    setReason(null);
    setToken(next);
  }, []);
  const signOut = useCallback(
    (why?: string) => {
      window.localStorage.removeItem(tokenKey);
      queryClient.clear();
      setReason(why ?? null);
      setToken(null);
    },
    [queryClient],
  );
  return { token, signIn, signOut, reason };
}

/** Loads who the token belongs to (GET /me) and the server's limits (GET /limits), and provides the session to the pages. */
export function SessionProvider({ token, onSignOut, children, fallback }: {
  token: string;
  onSignOut: (reason?: string) => void;
  children: ReactNode;
  fallback: ReactNode;
}) {
  // Who the token is, asked without signing out on a 401: the sign-in page says why instead.
  const plain = useMemo(() => apiClient(token), [token]);
  const me = useQuery<Me>({
    queryKey: ['me', token],
    queryFn: () => answer(plain.GET('/api/v1/me')),
    retry: false,
    staleTime: 60_000,
  });
  const limits = useQuery<Limits>({
    queryKey: ['limits', token],
    queryFn: () => answer(plain.GET('/api/v1/limits')),
    staleTime: Infinity,
  });
  const api = useMemo(() => apiClient(token, () => onSignOut('Your API token is no longer valid. Sign in again.')), [token, onSignOut]);
  const session = useMemo<Session | null>(() => {
    if (!me.data || !limits.data) return null;
    const held = new Set(me.data.permissions);
    return { token, me: me.data, can: (p) => held.has(p), api, limits: limits.data, signOut: () => onSignOut() };
  }, [me.data, limits.data, token, api, onSignOut]);

  // Both questions carry the token and either can answer first: a refused token from
  // either one sends the user back to sign in with why, not to a failed page.
  const refused = [me.error, limits.error].find((error): error is ApiError => error instanceof ApiError && (error.status === 401 || error.status === 403));
  if (refused) {
    queueMicrotask(() => onSignOut(refused.status === 401 ? 'This API token is not valid. Check it and try again.' : 'This is not a workspace user’s token (the operator token cannot sign in here).'));
    return fallback;
  }
  const failed = me.error ?? limits.error;
  if (!session) return failed ? <div className="boot-error" role="alert">Could not load your session: {failed.message}</div> : fallback;
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}
