import { useEffect, useRef } from 'react';
import { useQuery } from '@tanstack/react-query';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { answer } from '../api';
import { stackedSeries, type ActivityBucket, type Bucket } from '../activity';
import { useSession } from '../session';
import { ErrorNotice } from './Notice';

const colors = { created: '#16a34a', updated: '#4f46e5', deleted: '#dc2626' };

/** GET /changes/activity for a range: records created, updated and deleted per bucket. */
export function useActivity(range: { from: string; to: string; bucket: Bucket } | null) {
  const { api } = useSession();
  return useQuery({
    queryKey: ['changes', 'activity', range],
    queryFn: () => answer(api.GET('/api/v1/changes/activity', { params: { query: range ?? {} } })),
    enabled: range !== null,
  });
}

/**
 * Changes over time as stacked bars (uPlot): created at the bottom, updated on it,
 * deleted on top. A bar is drawn for each running sum, largest first, so each colour
 * shows its own count; the legend reads the counts themselves.
 */
export function ActivityBars({ buckets, height = 220, label = 'Changes over time' }: { buckets: ActivityBucket[]; height?: number; label?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const s = stackedSeries(buckets);
    const raw = { created: buckets.map((b) => b.created), updated: buckets.map((b) => b.updated), deleted: buckets.map((b) => b.deleted) };
    const bars = uPlot.paths.bars?.({ size: [0.9, 40], align: 0 });
    const layer = (name: keyof typeof raw, label: string): uPlot.Series => ({
      label,
      fill: colors[name],
      stroke: colors[name],
      width: 0,
      paths: bars,
      points: { show: false },
      value: (_u, _v, _si, idx) => (idx === null ? '—' : raw[name][idx].toLocaleString('en-US')),
    });
    const chart = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height,
        series: [{}, layer('deleted', 'Deleted'), layer('updated', 'Updated'), layer('created', 'Created')],
        axes: [{}, { size: 64 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        cursor: { points: { show: false } },
      },
      [s.x, s.total, s.createdAndUpdated, s.created],
      element,
    );
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(320, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [buckets, height]);
  const total = buckets.reduce((sum, b) => sum + b.created + b.updated + b.deleted, 0);
  return (
    <figure className="activity-chart" aria-label={label} data-testid="activity-chart" data-total={total}>
      <div ref={box} />
    </figure>
  );
}

/** The chart of a range, loaded. */
export function ActivityChart({ range, height }: { range: { from: string; to: string; bucket: Bucket } | null; height?: number }) {
  const activity = useActivity(range);
  if (activity.error) return <ErrorNotice error={activity.error} />;
  if (!activity.data) return <p className="muted">Loading activity…</p>;
  return <ActivityBars buckets={activity.data.buckets} height={height} />;
}
