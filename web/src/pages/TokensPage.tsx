import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { allPages, answer, type IntegrationToken } from '../api';
import { Dialog } from '../components/Dialog';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { formatDateTime } from '../format';
import { useUserNames } from '../lookups';
import { useSession } from '../session';

/**
 * API tokens for integrations (issue 17 point 2): each integration gets a named token
 * with a role of its own, whose changes are attributed to it, and which an admin revokes
 * here (its next request is refused). The secret is shown once, when it is made.
 */
export function TokensPage() {
  const { api, limits } = useSession();
  const queryClient = useQueryClient();
  const person = useUserNames();
  const tokens = usePagedQuery('/api/v1/tokens', {});
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => allPages(api, limits.pageSize, '/api/v1/roles'), staleTime: 60_000 });
  const [name, setName] = useState('');
  const [role, setRole] = useState('member');
  const [made, setMade] = useState<{ name: string; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<IntegrationToken | null>(null);
  const [news, setNews] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['page', '/api/v1/tokens'] });

  const create = useMutation({
    mutationFn: () => answer(api.POST('/api/v1/tokens', { body: { name: name.trim(), role } })),
    onSuccess: async (created) => {
      setMade({ name: created.token.name, secret: created.secret });
      setNews(null);
      setName('');
      await refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => answer(api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } })),
    onSuccess: async (revoked) => {
      setNews(`Revoked “${revoked.name}”: its next request is refused.`);
      setRevoking(null);
      await refresh();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>API tokens</h1>
          <p className="muted">
            Give each integration its own token rather than a person’s. A token acts with the role you give it, everything it changes is attributed to it (and can be undone
            by it), and it stops working the moment you revoke it, or when the person who made it is deactivated.
          </p>
        </div>
        <form className="page-actions" onSubmit={submit} aria-label="New token">
          <input value={name} onChange={(event) => setName(event.target.value)} placeholder="Name, e.g. Zapier sync" aria-label="Token name" maxLength={200} required />
          <select value={role} onChange={(event) => setRole(event.target.value)} aria-label="Token role">
            {(roles.data?.data ?? []).map((r) => (
              <option key={r.id} value={r.name}>
                {r.name}
              </option>
            ))}
          </select>
          <button type="submit" className="button primary" disabled={create.isPending || name.trim() === ''}>
            {create.isPending ? 'Creating…' : 'Create token'}
          </button>
        </form>
      </header>
      {made && (
        <Notice tone="warning" onDismiss={() => setMade(null)}>
          <span data-testid="new-token">
            Token “{made.name}” created. Copy it now, it is not shown again: <code data-testid="new-token-secret">{made.secret}</code>
          </span>
        </Notice>
      )}
      {news && (
        <Notice tone="success" onDismiss={() => setNews(null)}>
          {news}
        </Notice>
      )}
      <ErrorNotice error={create.error} onDismiss={create.reset} />
      <ErrorNotice error={tokens.error} />

      <div className="card">
        <table className="table" aria-label="API tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Status</th>
              <th className="actions" aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {tokens.rows.map((t) => (
              <tr key={t.id} data-testid="token-row">
                <td>{t.name}</td>
                <td>{t.role}</td>
                <td>
                  {formatDateTime(t.createdAt)}
                  <div className="muted">by {person(t.createdBy)}</div>
                </td>
                <td className="date">{t.lastUsedAt ? formatDateTime(t.lastUsedAt) : 'Never'}</td>
                <td>{t.revokedAt ? `Revoked ${formatDateTime(t.revokedAt)}` : 'Working'}</td>
                <td className="actions nowrap">
                  {!t.revokedAt && (
                    <button type="button" className="button danger small" onClick={() => setRevoking(t)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {tokens.empty && <EmptyRow columns={6}>No API tokens yet.</EmptyRow>}
          </tbody>
        </table>
        <Pager {...tokens.pager} />
      </div>

      {revoking && (
        <Dialog
          title={`Revoke “${revoking.name}”?`}
          confirmLabel="Revoke"
          tone="danger"
          busy={revoke.isPending}
          onConfirm={() => revoke.mutate(revoking.id)}
          onCancel={() => {
            setRevoking(null);
            revoke.reset();
          }}
        >
          <p>Its next request is refused, and jobs it queued that have not started will not run. What it changed stays, attributed to it; undo it from its changes if needed.</p>
          <ErrorNotice error={revoke.error} />
        </Dialog>
      )}
    </section>
  );
}
