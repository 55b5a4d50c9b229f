import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { allPages, answer, ApiError, type ApiClient } from '../api';
import type { components, paths } from '../api-schema';
import { ErrorNotice, Notice } from '../components/Notice';
import { EmptyRow, Pager, usePagedQuery } from '../components/Pager';
import { UndoFlow } from '../components/UndoFlow';
import { formatBytes, formatDateTime, plural } from '../format';
import { guessTarget, mappedColumns, parseCsvRows, type ImportTarget } from '../importMapping';
import { useUserNames } from '../lookups';
import { useSession } from '../session';

type Import = components['schemas']['Import'];
type Mode = Import['mode'];
/** POST /imports's multipart body: the mapping part and the file. */
type ImportUpload = paths['/api/v1/imports']['post']['requestBody']['content']['multipart/form-data'];
type Mapping = ImportUpload['mapping'];
type ListStatus = NonNullable<Mapping['listStatus']>;

const previewRows = 5;
/** The bad rows an import's panel lists (at most a page, GET /limits pageSize); the CSV download holds them all. */
const badRowsShown = 100;
/** The preview reads this much of the file's start: enough for the header and a few rows. */
const previewBytes = 64 * 1024;

const isFinished = (status: Import['status'] | undefined) => status === 'succeeded' || status === 'failed';
const modeText: Record<Mode, string> = {
  create: 'Create only (rows whose email exists are reported)',
  update: 'Update only (rows whose email is unknown are reported)',
  upsert: 'Create or update by email',
};
const statusText: Record<Import['status'], string> = {
  awaiting_approval: 'Waiting for approval',
  queued: 'Queued',
  running: 'Importing…',
  succeeded: 'Finished',
  failed: 'Failed',
};

interface Preview {
  file: File;
  headers: string[];
  rows: string[][];
}

async function readPreview(file: File): Promise<Preview> {
  const text = await file.slice(0, previewBytes).text();
  const rows = parseCsvRows(text, previewRows + 1, file.size > previewBytes);
  return { file, headers: rows[0] ?? [], rows: rows.slice(1) };
}

/** POST /imports: multipart, the mapping part first (JSON), then the file under its own name. */
function postImport(api: ApiClient, file: File, mapping: Mapping): Promise<Import> {
  return answer(
    api.POST('/api/v1/imports', {
      body: { mapping, file },
      bodySerializer: (body) => {
        const form = new FormData();
        form.append('mapping', JSON.stringify(body.mapping));
        form.append('file', body.file, file.name);
        return form;
      },
    }),
  );
}

/** Saves the import's bad rows as a CSV file (GET /imports/:id/errors?format=csv, which needs the token, so not a plain link). */
async function downloadErrors(token: string, job: Import): Promise<void> {
  const response = await fetch(`/api/v1/imports/${encodeURIComponent(job.id)}/errors?format=csv`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new ApiError(response.status, 'internal', `The server answered ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = `${(job.fileName ?? 'import').replace(/\.csv$/i, '')}-bad-rows.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * Imports (issue 17, point 6): upload a CSV, map its columns while seeing its first rows,
 * pick a mode, then follow the import to its end, read the rows it could not load, and
 * undo it as one cause if it went wrong.
 */
export function ImportsPage() {
  const { api, limits, can } = useSession();
  const queryClient = useQueryClient();
  const lists = useQuery({ queryKey: ['lists'], queryFn: () => allPages(api, limits.pageSize, '/api/v1/lists'), staleTime: 60_000 });
  const [preview, setPreview] = useState<Preview | null>(null);
  const [targets, setTargets] = useState<ImportTarget[]>([]);
  const [mode, setMode] = useState<Mode>('upsert');
  const [listStatus, setListStatus] = useState<ListStatus>('subscribed');
  const [followed, setFollowed] = useState<string | null>(null);
  const [readError, setReadError] = useState<unknown>(null);
  // A new key empties the file input once its file is submitted.
  const [inputKey, setInputKey] = useState(0);
  const listOptions = lists.data?.data ?? [];

  const choose = async (file: File | undefined) => {
    setReadError(null);
    if (!file) return setPreview(null);
    try {
      const read = await readPreview(file);
      setPreview(read);
      setTargets(read.headers.map((h) => guessTarget(h, listOptions)));
    } catch (error) {
      setReadError(error);
    }
  };

  const submit = useMutation({
    mutationFn: () => {
      if (!preview) throw new Error('Choose a CSV file first.');
      const columns = mappedColumns(preview.headers, targets);
      const usesLists = Object.values(columns).some((t) => t.startsWith('list:'));
      return postImport(api, preview.file, { columns, mode, ...(usesLists ? { listStatus } : {}) });
    },
    onSuccess: (job) => {
      setFollowed(job.id);
      setPreview(null);
      setInputKey((k) => k + 1);
      void queryClient.invalidateQueries({ queryKey: ['page', '/api/v1/imports'] });
    },
  });

  const history = usePagedQuery('/api/v1/imports', {}, { pollWhile: (rows) => rows.some((r) => !isFinished(r.status)) });

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Imports</h1>
          <p className="muted">
            Load contacts from a CSV file with a header row. Each bad row is reported with its line and does not stop the others. An import is one cause: if it went wrong,
            undo it, and everybody's later work is kept.
          </p>
        </div>
      </header>

      {followed && <ImportPanel id={followed} onDismiss={() => setFollowed(null)} />}

      {can('contacts.write') && (
        <div className="card pad">
          <h2>New import</h2>
          <label className="field">
            CSV file
            <input key={inputKey} type="file" accept=".csv,text/csv" aria-label="CSV file" onChange={(event) => void choose(event.target.files?.[0])} />
          </label>
          <ErrorNotice error={readError ?? submit.error} />
          {preview && (
            <>
              <p className="muted small">
                {preview.file.name} · {formatBytes(preview.file.size)} · the first {plural(preview.rows.length, 'row')} below. Pick what each column is loaded into.
              </p>
              <div className="card mapping">
                <table className="table compact" aria-label="Column mapping">
                  <thead>
                    <tr>
                      {preview.headers.map((header, i) => (
                        <th key={`${header}-${i}`}>
                          <div>{header}</div>
                          <select
                            aria-label={`Map ${header}`}
                            value={targets[i] ?? ''}
                            onChange={(event) => setTargets((t) => t.map((v, j) => (j === i ? (event.target.value as ImportTarget) : v)))}
                          >
                            <option value="">Skip this column</option>
                            <option value="email">Email</option>
                            <option value="firstName">First name</option>
                            <option value="lastName">Last name</option>
                            <option value="phone">Phone</option>
                            <option value="tag">Tags (separated by ;)</option>
                            <option value="account">Account (company)</option>
                            <option value="jobTitle">Job title</option>
                            <option value={`fields.${header.trim().replace(/\s+/g, '_')}`}>Custom field “{header.trim()}”</option>
                            {listOptions.map((list) => (
                              <option key={list.id} value={`list:${list.id}`}>
                                List: {list.name}
                              </option>
                            ))}
                          </select>
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {preview.rows.map((row, r) => (
                      <tr key={r}>
                        {preview.headers.map((_, i) => (
                          <td key={i}>{row[i] ?? ''}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div className="toolbar import-options">
                <label className="date-field">
                  Mode
                  <select value={mode} onChange={(event) => setMode(event.target.value as Mode)} aria-label="Mode">
                    {(Object.keys(modeText) as Mode[]).map((m) => (
                      <option key={m} value={m}>
                        {modeText[m]}
                      </option>
                    ))}
                  </select>
                </label>
                {targets.some((t) => t.startsWith('list:')) && (
                  <label className="date-field">
                    A list cell that holds no status (yes, x) means
                    <select value={listStatus} onChange={(event) => setListStatus(event.target.value as ListStatus)} aria-label="List status">
                      <option value="subscribed">subscribed</option>
                      <option value="unconfirmed">unconfirmed</option>
                      <option value="unsubscribed">unsubscribed</option>
                      <option value="bounced">bounced</option>
                    </select>
                  </label>
                )}
                <button type="button" className="button primary" disabled={submit.isPending || !targets.includes('email')} onClick={() => submit.mutate()}>
                  {submit.isPending ? 'Uploading…' : 'Import'}
                </button>
                {!targets.includes('email') && <span className="muted small">Map a column to Email.</span>}
              </div>
            </>
          )}
        </div>
      )}

      <div className="card">
        <div className="card-head">
          <h2>Past imports</h2>
        </div>
        <ErrorNotice error={history.error} />
        <table className="table" aria-label="Imports">
          <thead>
            <tr>
              <th>File</th>
              <th>Status</th>
              <th>Rows</th>
              <th>Created</th>
              <th>Updated</th>
              <th>Bad rows</th>
              <th>Started</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {history.rows.map((job) => (
              <tr key={job.id}>
                <td>{job.fileName ?? '—'}</td>
                <td>{statusText[job.status]}</td>
                <td>{job.rows.toLocaleString('en-US')}</td>
                <td>{job.created.toLocaleString('en-US')}</td>
                <td>{job.updated.toLocaleString('en-US')}</td>
                <td>{job.failed.toLocaleString('en-US')}</td>
                <td className="date">{formatDateTime(job.createdAt)}</td>
                <td className="actions">
                  <button type="button" className="button secondary small" onClick={() => setFollowed(job.id)}>
                    Open
                  </button>
                </td>
              </tr>
            ))}
            {history.empty && <EmptyRow columns={8}>No imports yet.</EmptyRow>}
          </tbody>
        </table>
        <Pager {...history.pager} />
      </div>
    </section>
  );
}

/** One import: its progress while it runs, its counts and bad rows at the end, and its undo. */
function ImportPanel({ id, onDismiss }: { id: string; onDismiss: () => void }) {
  const { api, token, can, limits } = useSession();
  const person = useUserNames();
  const queryClient = useQueryClient();
  const [undoing, setUndoing] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const job = useQuery({
    queryKey: ['import', id],
    queryFn: () => answer(api.GET('/api/v1/imports/{id}', { params: { path: { id } } })),
    refetchInterval: (query) => (isFinished(query.state.data?.status) ? false : 500),
  });
  const finished = isFinished(job.data?.status);
  const errors = useQuery({
    queryKey: ['import', id, 'errors'],
    queryFn: () => answer(api.GET('/api/v1/imports/{id}/errors', { params: { path: { id }, query: { limit: Math.min(badRowsShown, limits.pageSize) } } })),
    enabled: finished,
  });
  useEffect(() => {
    // New and changed contacts show everywhere once it ends.
    if (finished) void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'import' });
  }, [finished, queryClient]);

  if (job.error) return <ErrorNotice error={job.error} onDismiss={onDismiss} />;
  const data = job.data;
  if (!data) return null;
  const percent = data.byteSize === 0 ? 100 : Math.round((data.bytesRead / data.byteSize) * 100);
  const bad = errors.data && typeof errors.data === 'object' ? errors.data : null;
  return (
    <div className={`card pad job ${data.status}`} data-testid="import-job">
      <div className="job-head">
        <h2 data-testid="import-status">
          {data.fileName ?? 'Import'}: {statusText[data.status]}
        </h2>
        <div className="page-actions">
          {finished && data.status === 'succeeded' && can('rollbacks.request') && data.created + data.updated > 0 && (
            <button type="button" className="button warning small" onClick={() => setUndoing(true)}>
              Undo this import…
            </button>
          )}
          <button type="button" className="button secondary small" onClick={onDismiss}>
            Close
          </button>
        </div>
      </div>
      <div className="progress" role="progressbar" aria-label="Import progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={finished ? 100 : percent}>
        <div className="progress-bar" style={{ width: `${finished ? 100 : percent}%` }} />
      </div>
      <p className="muted small" data-testid="import-counts">
        {plural(data.rows, 'row')} read · {data.created} created · {data.updated} updated · {data.failed} bad · {formatBytes(data.bytesRead)} of {formatBytes(data.byteSize)} · by{' '}
        {person(data.createdBy)} {formatDateTime(data.createdAt)}
        {data.finishedAt && ` · finished ${formatDateTime(data.finishedAt)}`}
      </p>
      {data.error && <p className="error-text">{data.error}</p>}
      {data.status === 'succeeded' && data.failed === 0 && <Notice tone="success">Every row was loaded.</Notice>}
      {bad && bad.data.length > 0 && (
        <>
          <div className="job-head">
            <h3>Rows not loaded</h3>
            <button type="button" className="button secondary small" onClick={() => downloadErrors(token, data).catch(setDownloadError)}>
              Download bad rows (CSV)
            </button>
          </div>
          <ErrorNotice error={downloadError} />
          <table className="table compact" aria-label="Bad rows">
            <thead>
              <tr>
                <th>Line</th>
                <th>Why</th>
              </tr>
            </thead>
            <tbody>
              {bad.data.map((row) => (
                <tr key={row.line} data-testid="bad-row">
                  <td>{row.line}</td>
                  <td>{row.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {bad.nextCursor && <p className="muted small">The first {bad.data.length} are shown; download the CSV for all {data.failed}.</p>}
        </>
      )}
      {undoing && <UndoFlow cause={{ importId: data.id }} title={`Undo the import of ${data.fileName ?? 'a file'}`} onClose={() => setUndoing(false)} />}
    </div>
  );
}
