import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { getPage, type CollectionPath, type FilterOf, type ItemOf } from '../api';
import { useSession } from '../session';

/**
 * Cursor paging (the API's `nextCursor`): a stack of the cursors that led to each page,
 * so "Previous" goes back without offsets. Any change of filter starts again at page 1.
 */
function useCursorPages(resetKey: string) {
  const [state, setState] = useState<{ key: string; cursors: (string | undefined)[] }>({ key: resetKey, cursors: [undefined] });
  const cursors = state.key === resetKey ? state.cursors : [undefined];
  if (state.key !== resetKey) setState({ key: resetKey, cursors });
  return {
    cursor: cursors[cursors.length - 1],
    pageNumber: cursors.length,
    next: (cursor: string) => setState({ key: resetKey, cursors: [...cursors, cursor] }),
    previous: () => setState({ key: resetKey, cursors: cursors.slice(0, -1) }),
  };
}

/** The page sizes offered, of those the server takes (GET /limits pageSize). */
const pageSizeChoices = [25, 50, 100];
const pageSizesUpTo = (max: number) => {
  const sizes = pageSizeChoices.filter((size) => size <= max);
  return sizes.length > 0 ? sizes : [max];
};

export interface PagedQuery<T> {
  rows: T[];
  /** Loaded, and the page is empty. */
  empty: boolean;
  error: unknown;
  pager: PagerProps;
}

/**
 * One page of a collection (`GET path?…filter&limit&cursor`), its page size and its
 * place among the pages; the page shown stays until the next one arrives. With
 * `pollWhile`, the page is read again every second while it answers true for the rows.
 */
export function usePagedQuery<P extends CollectionPath>(
  path: P,
  filter: FilterOf<P>,
  options: { pollWhile?: (rows: ItemOf<P>[]) => boolean } = {},
): PagedQuery<ItemOf<P>> {
  const { api, limits } = useSession();
  const [pageSize, setPageSize] = useState<number>(() => Math.min(50, limits.pageSize));
  const pages = useCursorPages(`${path}|${JSON.stringify(filter)}|${pageSize}`);
  const { pollWhile } = options;
  const query = useQuery({
    queryKey: ['page', path, filter, pageSize, pages.cursor],
    queryFn: () => getPage(api, path, { query: { ...filter, limit: pageSize, cursor: pages.cursor } }),
    placeholderData: keepPreviousData,
    // A page of work under way (a running rollback) is read again until it settles.
    refetchInterval: (q) => (pollWhile && q.state.data && pollWhile(q.state.data.data) ? 1000 : false),
  });
  const rows = query.data?.data ?? [];
  return {
    rows,
    empty: query.isSuccess && rows.length === 0,
    error: query.error,
    pager: { pageNumber: pages.pageNumber, nextCursor: query.data?.nextCursor, onNext: pages.next, onPrevious: pages.previous, pageSize, onPageSize: setPageSize, shown: rows.length },
  };
}

interface PagerProps {
  pageNumber: number;
  nextCursor: string | null | undefined;
  onNext: (cursor: string) => void;
  onPrevious: () => void;
  pageSize: number;
  onPageSize: (size: number) => void;
  shown: number;
}

export function Pager({ pageNumber, nextCursor, onNext, onPrevious, pageSize, onPageSize, shown }: PagerProps) {
  const { limits } = useSession();
  return (
    <nav className="pager" aria-label="Pages">
      <label className="page-size">
        Rows per page{' '}
        <select value={pageSize} onChange={(event) => onPageSize(Number(event.target.value))}>
          {pageSizesUpTo(limits.pageSize).map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </select>
      </label>
      <span className="page-number">
        Page {pageNumber} · {shown} shown
      </span>
      <button type="button" className="button secondary small" onClick={onPrevious} disabled={pageNumber <= 1}>
        ← Previous
      </button>
      <button type="button" className="button secondary small" onClick={() => nextCursor && onNext(nextCursor)} disabled={!nextCursor}>
        Next →
      </button>
    </nav>
  );
}

/** The row a table shows when its page is empty. */
export function EmptyRow({ columns, children }: { columns: number; children: string }) {
  return (
    <tr>
      <td colSpan={columns} className="empty">
        {children}
      </td>
    </tr>
  );
}
