import { useQueries, useQuery } from '@tanstack/react-query';
import { allPages, answer, type Workspace } from './api';
import { contactName } from './format';
import { useSession } from './session';

/**
 * Names for the ids the API answers: users (who deleted, who changed), lists, accounts,
 * tags and deals. Each is one small request, cached for a minute.
 */
export function useUserNames(): (id: string | null | undefined, origin?: string) => string {
  const { me, can, api, limits } = useSession();
  const users = useQuery({
    queryKey: ['users'],
    queryFn: () => allPages(api, limits.pageSize, '/api/v1/users'),
    enabled: can('users.manage'),
    staleTime: 60_000,
  });
  return (id, origin) => {
    if (!id) return originLabel[origin ?? 'system'] ?? 'System';
    if (id === me.user.id) return `${me.user.name ?? me.user.email} (you)`;
    const user = users.data?.data.find((u) => u.id === id);
    return user ? (user.name ?? user.email) : `User ${id.slice(0, 8)}`;
  };
}

/** Who made a change that no user made (history `origin`, audit entries without actor). */
const originLabel: Record<string, string> = {
  system: 'System',
  import: 'Import',
  form: 'A form submission',
  sql: 'A change outside Retrace (SQL)',
  restore: 'A restore',
  rollback: 'A rollback',
  user: 'System',
};

type NamedKind = 'lists' | 'accounts' | 'tags';

export function useNames(kind: NamedKind): Map<string, string> {
  const { api, can, limits } = useSession();
  const query = useQuery({
    queryKey: [kind],
    queryFn: () => allPages(api, limits.pageSize, `/api/v1/${kind}`),
    enabled: can('contacts.read'),
    staleTime: 60_000,
  });
  return new Map((query.data?.data ?? []).map((item) => [item.id, item.name]));
}

export function useDealTitles(): Map<string, string> {
  const { api, can, limits } = useSession();
  const query = useQuery({
    queryKey: ['deals'],
    queryFn: () => allPages(api, limits.pageSize, '/api/v1/deals'),
    enabled: can('contacts.read'),
    staleTime: 60_000,
  });
  return new Map((query.data?.data ?? []).map((deal) => [deal.id, deal.title]));
}

/** The workspace's limit, usage and retention (GET /workspace). */
export function useWorkspace(): Workspace | undefined {
  const { api } = useSession();
  return useQuery({ queryKey: ['workspace'], queryFn: () => answer(api.GET('/api/v1/workspace')), staleTime: 10_000 }).data;
}

/**
 * "Name (email)" for contacts known only by id (a rollback's sample and skipped ones),
 * each one GET /contacts/:id, cached; an erased contact keeps its id.
 */
export function useContactLabels(ids: string[]): Map<string, string> {
  const { api } = useSession();
  const results = useQueries({
    queries: ids.map((id) => ({
      queryKey: ['contact', id],
      queryFn: () => answer(api.GET('/api/v1/contacts/{id}', { params: { path: { id } } })),
      staleTime: 10_000,
    })),
  });
  const labels = new Map<string, string>();
  results.forEach((result, i) => {
    if (result.data) labels.set(ids[i], `${contactName(result.data)} (${result.data.email})`);
  });
  return labels;
}
