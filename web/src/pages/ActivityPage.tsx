import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { allPages } from '../api';
import { causeSentence, causeSize, rangeOf, undoCauseOf, type CauseSummary, type RangeChoice, type UndoCause } from '../activity';
import { ActivityChart } from '../components/ActivityChart';
import { ErrorNotice } from '../components/Notice';
import { UndoFlow } from '../components/UndoFlow';
import { useUserNames } from '../lookups';
import { fromLocalInput, toLocalInput } from '../rollback';
import { useSession } from '../session';

/** How many of the range's causes are listed, largest first. */
const shownCauses = 12;

/**
 * Activity (issue 17, point 6): what changed when, as a chart of records created,
 * updated and deleted, and the largest causes of the range in words, each with its undo.
 * A person sees the accident's spike, reads who did it, and undoes just that.
 */
export function ActivityPage() {
  const { api, limits, can } = useSession();
  const person = useUserNames();
  const [choice, setChoice] = useState<RangeChoice>('24h');
  // The range is fixed when chosen (not sliding with every render), so its queries are stable.
  const [now, setNow] = useState(() => Date.now());
  const [custom, setCustom] = useState(() => ({ from: new Date(now - 3 * 3_600_000).toISOString(), to: new Date(now).toISOString() }));
  const range = useMemo(() => rangeOf(choice, now, custom), [choice, now, custom]);
  const [undoing, setUndoing] = useState<{ cause: UndoCause; title: string } | null>(null);

  const causes = useQuery({
    queryKey: ['changes', 'causes', range],
    queryFn: () => allPages(api, limits.pageSize, '/api/v1/changes', { query: { from: range?.from, to: range?.to } }),
    enabled: range !== null,
  });
  const largest: CauseSummary[] = [...(causes.data?.data ?? [])].sort((a, b) => causeSize(b) - causeSize(a)).slice(0, shownCauses);
  const choose = (next: RangeChoice) => {
    setChoice(next);
    setNow(Date.now());
  };

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Activity</h1>
          <p className="muted">
            What changed in the workspace, and who or what changed it. A spike is usually one cause: an import, an integration's token, one person's bulk edit. Undo that
            cause alone; everybody else's later work is kept.
          </p>
        </div>
        <div className="page-actions range-picker" role="radiogroup" aria-label="Range">
          {(['24h', '7d', 'custom'] as const).map((c) => (
            <button key={c} type="button" role="radio" aria-checked={choice === c} className={`button small ${choice === c ? 'primary' : 'secondary'}`} onClick={() => choose(c)}>
              {c === '24h' ? 'Last 24 hours' : c === '7d' ? 'Last 7 days' : 'Custom'}
            </button>
          ))}
        </div>
      </header>

      {choice === 'custom' && (
        <div className="toolbar">
          <label className="date-field">
            From
            <input type="datetime-local" step={60} value={toLocalInput(custom.from)} onChange={(e) => setCustom((r) => ({ ...r, from: fromLocalInput(e.target.value) ?? r.from }))} />
          </label>
          <label className="date-field">
            To
            <input type="datetime-local" step={60} value={toLocalInput(custom.to)} onChange={(e) => setCustom((r) => ({ ...r, to: fromLocalInput(e.target.value) ?? r.to }))} />
          </label>
          {range === null && <span className="error-text small">From must be before To.</span>}
        </div>
      )}

      <div className="card pad">
        <h2>Changes over time{range && <span className="muted small"> · per {range.bucket}</span>}</h2>
        <ActivityChart range={range} />
      </div>

      <div className="card pad">
        <h2>Largest causes</h2>
        <ErrorNotice error={causes.error} />
        {causes.isLoading && <p className="muted">Loading…</p>}
        {causes.data && largest.length === 0 && <p className="muted">Nothing changed in this range.</p>}
        <ul className="cause-list">
          {largest.map((summary) => {
            const cause = undoCauseOf(summary);
            const sentence = causeSentence(summary, (id) => person(id));
            return (
              <li key={`${summary.cause.kind}:${summary.cause.id}:${summary.from}`} className="cause" data-testid="cause">
                <span className="cause-text">{sentence}</span>
                {cause && can('rollbacks.request') && (
                  <button type="button" className="button secondary small" onClick={() => setUndoing({ cause, title: `Undo: ${sentence}` })}>
                    Undo…
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      </div>

      {undoing && (
        <UndoFlow
          cause={undoing.cause}
          title={undoing.title}
          onClose={() => {
            setUndoing(null);
            // The undo is itself a cause: a range up to now shows it.
            if (choice !== 'custom') setNow(Date.now());
          }}
        />
      )}
    </section>
  );
}
