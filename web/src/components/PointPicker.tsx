import type { MouseEvent } from 'react';
import type { RecoverablePoints } from '../api';
import { formatDateTime } from '../format';
import { axisPercent, formatPoint, fromLocalInput, isRecoverable, toLocalInput } from '../rollback';

const kindLabel: Record<string, string> = { hourly: 'Hourly', weekly: 'Weekly', monthly: 'Monthly', manual: 'Manual' };

/**
 * The recoverable points on a time axis: any second of the recent window (click the axis
 * or type a local date and time), or the exact moment of a retained snapshot. `at` is the
 * ISO instant picked; a snapshot's is kept to the millisecond, since only that exact
 * instant is recoverable once it is older than the window.
 */
export function PointPicker({ points, at, onPick }: { points: RecoverablePoints; at: string | null; onPick: (at: string) => void }) {
  const inWindow = points.snapshots.filter((s) => s.takenAt >= points.from);
  const older = points.snapshots.filter((s) => s.takenAt < points.from);
  const hours = Math.round((Date.parse(points.to) - Date.parse(points.from)) / 3_600_000);
  const pickOnAxis = (event: MouseEvent<HTMLDivElement>) => {
    if (event.target !== event.currentTarget) return;
    const box = event.currentTarget.getBoundingClientRect();
    const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const t = Date.parse(points.from) + share * (Date.parse(points.to) - Date.parse(points.from));
    onPick(new Date(Math.floor(t / 1000) * 1000).toISOString());
  };
  const outside = at !== null && !isRecoverable(at, points);
  const snapshotAt = at === null ? undefined : points.snapshots.find((s) => s.takenAt === at);

  return (
    <div className="point-picker">
      <p className="muted small">
        Any second from <strong>{formatPoint(points.from)}</strong> to now (the last {hours} hours), and the exact moment of each retained snapshot. Times are in your time
        zone.
      </p>
      <div className="axis-wrap">
        <div className="axis" data-testid="axis" onClick={pickOnAxis} title="Click to pick a point in the window">
          {inWindow.map((s) => (
            <button
              type="button"
              key={s.id}
              className={`axis-snapshot kind-${s.kind}${s.takenAt === at ? ' picked' : ''}`}
              style={{ left: `${axisPercent(s.takenAt, points.from, points.to)}%` }}
              aria-label={`${kindLabel[s.kind]} snapshot ${formatPoint(s.takenAt)}`}
              title={`${kindLabel[s.kind]} snapshot ${formatPoint(s.takenAt)}`}
              onClick={() => onPick(s.takenAt)}
            />
          ))}
          {at !== null && !outside && <span className="axis-point" style={{ left: `${axisPercent(at, points.from, points.to)}%` }} aria-hidden="true" />}
        </div>
        <div className="axis-ends muted small">
          <span>{formatDateTime(points.from)}</span>
          <span>now</span>
        </div>
      </div>
      <div className="toolbar">
        <label className="date-field">
          Point in time (your local time, to the second)
          <input
            type="datetime-local"
            step={1}
            aria-label="Point in time"
            value={at ? toLocalInput(at) : ''}
            min={toLocalInput(older[older.length - 1]?.takenAt ?? points.from)}
            max={toLocalInput(points.to)}
            onChange={(event) => {
              const iso = fromLocalInput(event.target.value);
              if (iso) onPick(iso);
            }}
          />
        </label>
        {[1, 24].map((h) => (
          <button key={h} type="button" className="button ghost small" onClick={() => onPick(new Date(Math.floor((Date.parse(points.to) - h * 3_600_000) / 1000) * 1000).toISOString())}>
            {h === 1 ? '1 hour ago' : `${h} hours ago`}
          </button>
        ))}
      </div>
      {at !== null && (
        <p className="picked-point" data-testid="picked-point">
          Rolling back to <strong>{formatPoint(at)}</strong>
          {snapshotAt && ` — the ${snapshotAt.kind} snapshot`}
          <span className="muted small"> ({at})</span>
        </p>
      )}
      {outside && (
        <p className="error-text small">This point is outside the window and is not a retained snapshot: it cannot be rolled back to. Preview to see the nearest points.</p>
      )}
      {older.length > 0 && (
        <details className="older-snapshots">
          <summary>Older snapshots ({older.length}): only their exact moment can be rolled back to</summary>
          <ul className="plain">
            {older.map((s) => (
              <li key={s.id}>
                <button type="button" className={`link-button${s.takenAt === at ? ' picked' : ''}`} onClick={() => onPick(s.takenAt)}>
                  {formatPoint(s.takenAt)}
                </button>{' '}
                <span className={`badge kind-${s.kind}`}>{s.kind}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
