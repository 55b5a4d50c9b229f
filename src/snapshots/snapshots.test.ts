import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedWorkspace } from '../seed/workspace.js';
import { aContact, aWorkspace, rowsRead, testApp, type TestApp, type TestWorkspace } from '../test-support/harness.js';
import { AppError } from '../http/errors.js';
import { assertRecoverable, compactHistory, recoverableRange, takeScheduledSnapshots } from './service.js';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});

const hourMs = 3_600_000;
const dayMs = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Moves the test clock forward to just after `target` (ms since the epoch). */
function advanceTo(target: number): void {
  app.clock.advance(Math.max(0, Math.ceil((target - app.clock.now().getTime()) / 1000)));
}

/** Moves the clock to half past the next hour, so no hour boundary passes while a test works. */
function toHalfPast(): number {
  const hourStart = Math.floor(app.clock.now().getTime() / hourMs) * hourMs;
  advanceTo(hourStart + hourMs + hourMs / 2);
  return hourStart + hourMs;
}

async function maintain(ws: TestWorkspace): Promise<Record<string, number>> {
  const res = await ws.api('POST', '/maintenance/run');
  expect(res.status).toBe(200);
  return res.body.ran;
}

/** Moves the clock by `hours` in steps no longer than the PITR window, running maintenance after each. */
async function passHours(ws: TestWorkspace, hours: number, stepHours = 72): Promise<Record<string, number>> {
  const total: Record<string, number> = {};
  for (let left = hours; left > 0; left -= stepHours) {
    app.clock.advance(Math.min(left, stepHours) * 3600);
    for (const [task, n] of Object.entries(await maintain(ws))) total[task] = (total[task] ?? 0) + n;
  }
  return total;
}

async function snapshots(ws: TestWorkspace): Promise<{ id: string; takenAt: string; kind: string; label: string | null; expiresAt: string | null }[]> {
  const res = await ws.api('GET', '/snapshots?limit=500');
  expect(res.status).toBe(200);
  expect(res.body.nextCursor).toBeNull();
  return res.body.data;
}

async function scheduleOnly(ws: TestWorkspace, kinds: { hourly: boolean; weekly: boolean; monthly: boolean }): Promise<void> {
  const res = await ws.api('PATCH', '/snapshots/settings', {
    hourly: { enabled: kinds.hourly },
    weekly: { enabled: kinds.weekly },
    monthly: { enabled: kinds.monthly },
  });
  expect(res.status).toBe(200);
}

/**
 * A contact's state as of `at` by the rollback's rule: the `before` of its first version
 * after `at` (null: it did not exist), else the live row.
 */
async function contactAsOf(workspaceId: string, contactId: string, at: Date): Promise<Record<string, unknown> | null> {
  const { rows } = await sql<{ image: Record<string, unknown> | null }>`
    SELECT to_jsonb(before) AS image FROM contact_history
    WHERE workspace_id = ${workspaceId} AND id = ${contactId} AND at > ${at}
    ORDER BY version LIMIT 1`.execute(app.ctx.db);
  if (rows.length > 0) return rows[0].image;
  const live = await sql<{ image: Record<string, unknown> }>`
    SELECT to_jsonb(c) AS image FROM contacts c WHERE workspace_id = ${workspaceId} AND id = ${contactId}`.execute(app.ctx.db);
  return live.rows[0]?.image ?? null;
}

/** A contact's versions in order, each with the first name it held before the change. */
async function contactVersions(workspaceId: string, contactId: string): Promise<{ op: string; before: string | null }[]> {
  const { rows } = await sql<{ op: string; first_name: string | null }>`
    SELECT op, (before).first_name FROM contact_history
    WHERE workspace_id = ${workspaceId} AND id = ${contactId}
    ORDER BY version`.execute(app.ctx.db);
  return rows.map((r) => ({ op: r.op, before: r.first_name }));
}

async function notRecoverable(workspaceId: string, at: Date, now: Date): Promise<AppError> {
  const error = await assertRecoverable(app.ctx.db, workspaceId, at, now).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('the snapshot schedule (seed 003)', () => {
  it('takes an hourly snapshot at each UTC hour boundary the clock passes and expires it after 72 hours', async () => {
    const h0 = toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: true, weekly: false, monthly: false });
    // The workspace was created at h0 + 30 min: the boundary h0 is before it.
    expect((await maintain(ws)).snapshots).toBe(0);

    expect((await passHours(ws, 1)).snapshots).toBe(1);
    const [first] = await snapshots(ws);
    expect(first).toMatchObject({ takenAt: iso(h0 + hourMs), kind: 'hourly', label: null, expiresAt: iso(h0 + 73 * hourMs) });

    expect((await passHours(ws, 48, 24)).snapshots).toBe(48);
    const ran = await passHours(ws, 24);
    expect(ran).toMatchObject({ snapshots: 24, expiredSnapshots: 1 });
    const kept = await snapshots(ws);
    const hours = Array.from({ length: 72 }, (_, i) => 73 - i);
    expect(kept.map((s) => s.takenAt)).toEqual(hours.map((h) => iso(h0 + h * hourMs)));
    expect(kept.map((s) => s.expiresAt)).toEqual(hours.map((h) => iso(h0 + (h + 72) * hourMs)));
    expect(new Set(kept.map((s) => s.kind))).toEqual(new Set(['hourly']));
    expect((await ws.api('GET', `/snapshots/${first.id}`)).status).toBe(404);
    const audit = (await ws.api('GET', '/audit-log?action=snapshot.expired')).body.data;
    expect(audit.map((e: { targetId: string; actorId: string | null }) => [e.targetId, e.actorId])).toEqual([[first.id, null]]);
  });

  it('after a long pause takes only the boundaries still inside the recoverable window', async () => {
    const h0 = toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: true, weekly: false, monthly: false });
    await maintain(ws);
    app.clock.advance(100 * 3600);
    expect((await maintain(ws)).snapshots).toBe(72);
    // now is h0 + 100 h 30 min: the window starts at h0 + 28 h 30 min.
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual(Array.from({ length: 72 }, (_, i) => iso(h0 + (100 - i) * hourMs)));
  });

  it('never takes more than the retention keeps', async () => {
    const h0 = toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: true, weekly: false, monthly: false });
    await ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: 5 } });
    app.clock.advance(10 * 3600);
    // now is h0 + 10 h 30 min: a boundary at or before h0 + 5 h 30 min would already be expired.
    expect((await maintain(ws)).snapshots).toBe(5);
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual([10, 9, 8, 7, 6].map((h) => iso(h0 + h * hourMs)));
  });

  it('takes a Saturday snapshot (00:00 UTC) and keeps it 31 days', async () => {
    let saturday = Math.floor((app.clock.now().getTime() + 2 * hourMs) / dayMs) * dayMs + dayMs;
    while (new Date(saturday).getUTCDay() !== 6) saturday += dayMs;
    advanceTo(saturday - 90 * 60_000);
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: false, weekly: true, monthly: false });
    expect((await passHours(ws, 2)).snapshots).toBe(1);
    expect(await snapshots(ws)).toEqual([
      expect.objectContaining({ takenAt: iso(saturday), kind: 'weekly', expiresAt: iso(saturday + 31 * dayMs) }),
    ]);
    // now: Saturday 00:30; 30 days later the first is still kept, a day after that it is gone.
    await passHours(ws, 30 * 24);
    const weeks = (ns: number[]) => ns.map((n) => iso(saturday + n * 7 * dayMs));
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual(weeks([4, 3, 2, 1, 0]));
    expect((await passHours(ws, 24)).expiredSnapshots).toBe(1);
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual(weeks([4, 3, 2, 1]));
  });

  it('takes a month-end snapshot (00:00 UTC on the 1st) and keeps it 365 days', async () => {
    const now = app.clock.now();
    let monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    if (monthEnd - now.getTime() < 2 * hourMs) monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1);
    advanceTo(monthEnd - 90 * 60_000);
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: false, weekly: false, monthly: true });
    expect((await passHours(ws, 2)).snapshots).toBe(1);
    expect(await snapshots(ws)).toEqual([
      expect.objectContaining({ takenAt: iso(monthEnd), kind: 'monthly', expiresAt: iso(monthEnd + 365 * dayMs) }),
    ]);
    const month = (n: number) => {
      const d = new Date(monthEnd);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1);
    };
    // now: 00:30 on the 1st; 364 days later the first is still kept, a day after that it is gone.
    await passHours(ws, 364 * 24);
    const expected = Array.from({ length: 13 }, (_, i) => month(12 - i)).filter((t) => t <= monthEnd + 364 * dayMs);
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual(expected.map(iso));
    expect((await passHours(ws, 24)).expiredSnapshots).toBe(1);
    const after = Array.from({ length: 12 }, (_, i) => month(12 - i)).filter((t) => t <= monthEnd + 365 * dayMs);
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual(after.map(iso));
  });

  it('takes each boundary once when two maintenance passes run at the same time', async () => {
    const h0 = toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: true, weekly: false, monthly: false });
    app.clock.advance(5 * 3600);
    const [a, b] = await Promise.all([takeScheduledSnapshots(app.ctx, ws.id), takeScheduledSnapshots(app.ctx, ws.id)]);
    expect(a + b).toBe(5);
    expect((await snapshots(ws)).map((s) => s.takenAt)).toEqual([5, 4, 3, 2, 1].map((h) => iso(h0 + h * hourMs)));
    expect((await ws.api('GET', '/audit-log?action=snapshot.created')).body.data).toHaveLength(5);
  });

  it('does not take again a scheduled snapshot that was deleted', async () => {
    toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: true, weekly: false, monthly: false });
    await passHours(ws, 2);
    const [latest, earlier] = await snapshots(ws);
    expect((await ws.api('DELETE', `/snapshots/${latest.id}`)).status).toBe(204);
    expect((await maintain(ws)).snapshots).toBe(0);
    expect((await snapshots(ws)).map((s) => s.id)).toEqual([earlier.id]);
  });
});

describe('snapshots taken by hand', () => {
  it('takes one now, kept a year, lists it newest first, and deletes it', async () => {
    const ws = await aWorkspace(app);
    const before = app.clock.now().getTime();
    const first = await ws.api('POST', '/snapshots', { label: 'Before the import' });
    expect(first.status).toBe(201);
    const takenAt = Date.parse(first.body.takenAt);
    expect(takenAt).toBeGreaterThanOrEqual(before);
    expect(takenAt).toBeLessThanOrEqual(app.clock.now().getTime());
    expect(first.body).toEqual({
      id: first.body.id,
      takenAt: first.body.takenAt,
      kind: 'manual',
      label: 'Before the import',
      expiresAt: iso(takenAt + 365 * dayMs),
      createdBy: ws.adminId,
      createdAt: first.body.takenAt,
    });
    app.clock.advance(60);
    const second = await ws.api('POST', '/snapshots');
    expect(second).toMatchObject({ status: 201, body: { kind: 'manual', label: null } });

    expect((await snapshots(ws)).map((s) => s.id)).toEqual([second.body.id, first.body.id]);
    const page1 = await ws.api('GET', '/snapshots?limit=1');
    expect(page1.body.data.map((s: { id: string }) => s.id)).toEqual([second.body.id]);
    const page2 = await ws.api('GET', `/snapshots?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toEqual({ data: [expect.objectContaining({ id: first.body.id })], nextCursor: null });
    expect((await ws.api('GET', `/snapshots/${first.body.id}`)).body).toEqual(first.body);

    const deleted = await ws.api('DELETE', `/snapshots/${first.body.id}`);
    expect(deleted.status).toBe(204);
    expect(deleted.raw.body).toBe('');
    expect((await ws.api('GET', `/snapshots/${first.body.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', `/snapshots/${first.body.id}`)).status).toBe(404);
    expect((await snapshots(ws)).map((s) => s.id)).toEqual([second.body.id]);

    const audit = (await ws.api('GET', '/audit-log')).body.data.filter((e: { action: string }) => e.action.startsWith('snapshot.'));
    expect(audit.map((e: { action: string; targetId: string; actorId: string }) => [e.action, e.targetId, e.actorId])).toEqual([
      ['snapshot.deleted', first.body.id, ws.adminId],
      ['snapshot.created', second.body.id, ws.adminId],
      ['snapshot.created', first.body.id, ws.adminId],
    ]);
  });

  it('refuses a bad label or unknown fields with 400', async () => {
    const ws = await aWorkspace(app);
    for (const body of [{ label: '' }, { label: 'x'.repeat(201) }, { label: 5 }, { name: 'x' }, []]) {
      const res = await ws.api('POST', '/snapshots', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(await snapshots(ws)).toEqual([]);
  });

  it('lets anyone who reads contacts list them, and only snapshots.manage take, delete or reschedule them', async () => {
    const ws = await aWorkspace(app);
    const snapshot = (await ws.api('POST', '/snapshots', {})).body;
    for (const role of ['manager', 'member']) {
      const user = await ws.userWithRole(role);
      expect((await user.api('GET', '/snapshots')).body.data.map((s: { id: string }) => s.id)).toEqual([snapshot.id]);
      expect((await user.api('GET', `/snapshots/${snapshot.id}`)).status).toBe(200);
      expect((await user.api('GET', '/snapshots/settings')).status).toBe(200);
      for (const [method, url, body] of [
        ['POST', '/snapshots', { label: 'mine' }],
        ['DELETE', `/snapshots/${snapshot.id}`, undefined],
        ['PATCH', '/snapshots/settings', { hourly: { enabled: false } }],
      ] as const) {
        const res = await user.api(method, url, body);
        expect(res.status, `${role} ${method} ${url}`).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'forbidden', details: { permission: 'snapshots.manage' } });
      }
    }
    expect((await snapshots(ws)).map((s) => s.id)).toEqual([snapshot.id]);
    expect((await ws.api('GET', '/snapshots/settings')).body.hourly.enabled).toBe(true);
  });

  it('answers 404 for another workspace’s snapshot', async () => {
    const ws = await aWorkspace(app);
    const other = await aWorkspace(app);
    const theirs = (await other.api('POST', '/snapshots', {})).body;
    expect((await ws.api('GET', `/snapshots/${theirs.id}`)).status).toBe(404);
    expect((await ws.api('DELETE', `/snapshots/${theirs.id}`)).status).toBe(404);
    expect((await ws.api('GET', '/snapshots/no-such-id')).status).toBe(404);
    expect(await snapshots(ws)).toEqual([]);
    expect((await snapshots(other)).map((s) => s.id)).toEqual([theirs.id]);
  });
});

describe('snapshot settings', () => {
  it('start with seed 003’s schedule and change field by field, audited', async () => {
    const ws = await aWorkspace(app);
    const defaults = {
      hourly: { enabled: true, keepHours: 72 },
      weekly: { enabled: true, keepDays: 31 },
      monthly: { enabled: true, keepDays: 365 },
    };
    expect((await ws.api('GET', '/snapshots/settings')).body).toEqual(defaults);
    const changed = await ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: 24 }, monthly: { enabled: false } });
    const expected = { ...defaults, hourly: { enabled: true, keepHours: 24 }, monthly: { enabled: false, keepDays: 365 } };
    expect(changed).toMatchObject({ status: 200, body: expected });
    expect((await ws.api('GET', '/snapshots/settings')).body).toEqual(expected);
    const [entry] = (await ws.api('GET', '/audit-log?action=snapshot_settings.updated')).body.data;
    expect(entry).toMatchObject({ actorId: ws.adminId, details: { before: defaults, after: expected } });
  });

  it('keeps both of two changes made at the same time', async () => {
    const ws = await aWorkspace(app);
    const results = await Promise.all([
      ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: 24 } }),
      ws.api('PATCH', '/snapshots/settings', { weekly: { keepDays: 10 } }),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect((await ws.api('GET', '/snapshots/settings')).body).toEqual({
      hourly: { enabled: true, keepHours: 24 },
      weekly: { enabled: true, keepDays: 10 },
      monthly: { enabled: true, keepDays: 365 },
    });
  });

  it('refuses bad settings with 400 naming the field, and changes nothing', async () => {
    const ws = await aWorkspace(app);
    for (const [body, path] of [
      [{}, []],
      [{ hourly: {} }, ['hourly']],
      [{ hourly: { keepHours: 0 } }, ['hourly', 'keepHours']],
      [{ hourly: { keepHours: 1.5 } }, ['hourly', 'keepHours']],
      [{ hourly: { keepDays: 3 } }, ['hourly']],
      [{ weekly: { enabled: 'yes' } }, ['weekly', 'enabled']],
      [{ monthly: { keepDays: 100_000 } }, ['monthly', 'keepDays']],
      [{ daily: { enabled: true } }, []],
      [{ hourly: { enabled: false }, weekly: { keepDays: -1 } }, ['weekly', 'keepDays']],
    ] as const) {
      const res = await ws.api('PATCH', '/snapshots/settings', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.details.issues[0]).toMatchObject({ in: 'body', path });
    }
    expect((await ws.api('GET', '/snapshots/settings')).body.hourly).toEqual({ enabled: true, keepHours: 72 });
  });

  it('applies a new keep to the snapshots already taken, but never revives an expired one', async () => {
    const h0 = toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: true, weekly: false, monthly: false });
    await passHours(ws, 2);
    await ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: 1 } });
    expect((await snapshots(ws)).map((s) => [s.takenAt, s.expiresAt])).toEqual([[iso(h0 + 2 * hourMs), iso(h0 + 3 * hourMs)]]);
    // The one that expired stays expired when the keep grows again: what it pinned may be gone.
    await ws.api('PATCH', '/snapshots/settings', { hourly: { keepHours: 72 } });
    expect((await snapshots(ws)).map((s) => [s.takenAt, s.expiresAt])).toEqual([[iso(h0 + 2 * hourMs), iso(h0 + 74 * hourMs)]]);
    expect((await maintain(ws)).expiredSnapshots).toBe(1);
  });
});

describe('recoverable points', () => {
  it('are every instant of the last pitrHours and the takenAt of each retained snapshot', async () => {
    const ws = await aWorkspace(app);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'kept' })).body;
    const takenAt = new Date(snapshot.takenAt);
    app.clock.advance(80 * 3600);
    const now = app.clock.now();
    const from = new Date(now.getTime() - 72 * hourMs);

    await expect(assertRecoverable(app.ctx.db, ws.id, now, now)).resolves.toBeUndefined();
    await expect(assertRecoverable(app.ctx.db, ws.id, from, now)).resolves.toBeUndefined();
    await expect(assertRecoverable(app.ctx.db, ws.id, new Date(now.getTime() - hourMs), now)).resolves.toBeUndefined();
    await expect(assertRecoverable(app.ctx.db, ws.id, takenAt, now)).resolves.toBeUndefined();
    expect(await recoverableRange(app.ctx.db, ws.id, now)).toEqual({ from, to: now, snapshots: [{ id: snapshot.id, takenAt, kind: 'manual' }] });
    expect((await ws.api('GET', '/snapshots/recoverable')).body).toMatchObject({ snapshots: [{ id: snapshot.id, takenAt: snapshot.takenAt, kind: 'manual' }] });

    const between = await notRecoverable(ws.id, new Date(takenAt.getTime() + hourMs), now);
    expect(between).toMatchObject({
      status: 422,
      code: 'point_not_recoverable',
      details: { nearest: [snapshot.takenAt, iso(from.getTime() + 60_000)], window: { from: from.toISOString(), to: now.toISOString() } },
    });
    const justBefore = await notRecoverable(ws.id, new Date(takenAt.getTime() - 1), now);
    expect(justBefore.details.nearest).toEqual([snapshot.takenAt, iso(from.getTime() + 60_000)]);
    const future = await notRecoverable(ws.id, new Date(now.getTime() + 1), now);
    expect(future.details.nearest).toEqual([snapshot.takenAt, now.toISOString()]);
    expect(future.message).toContain('last 72 hours');
  });

  it('lose a snapshot’s takenAt once it is deleted', async () => {
    const ws = await aWorkspace(app);
    const snapshot = (await ws.api('POST', '/snapshots', {})).body;
    app.clock.advance(73 * 3600);
    const now = app.clock.now();
    await ws.api('DELETE', `/snapshots/${snapshot.id}`);
    const error = await notRecoverable(ws.id, new Date(snapshot.takenAt), now);
    expect(error.details.nearest).toEqual([iso(now.getTime() - 72 * hourMs + 60_000)]);
  });
});

describe('history compaction', () => {
  it('keeps the versions retained snapshots and the window need, and removes the rest', async () => {
    toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: false, weekly: false, monthly: false });
    const c = await aContact(ws, { firstName: 'A' });
    const untouched = await aContact(ws, { firstName: 'Still' });
    const removed = await aContact(ws, { firstName: 'Gone' });
    app.clock.advance(3600);
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'B' });
    await ws.api('DELETE', `/contacts/${removed.id}`);
    app.clock.advance(3600);
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'C' });
    app.clock.advance(60);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'pins C' })).body;
    const atSnapshot = (await ws.api('GET', `/contacts/${c.id}`)).body;
    const imageAtSnapshot = await contactAsOf(ws.id, c.id, new Date(snapshot.takenAt));
    app.clock.advance(3600);
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'D' });
    app.clock.advance(3600);
    await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'E' });
    expect(await contactVersions(ws.id, c.id)).toEqual([null, 'A', 'B', 'C', 'D'].map((n, i) => ({ op: i === 0 ? 'insert' : 'update', before: n })));

    // Once the inserts are older than the window, no point needs the time before them.
    expect((await passHours(ws, 68, 24)).compactedHistory).toBe(3);
    expect((await contactVersions(ws.id, c.id)).map((v) => v.before)).toEqual(['A', 'B', 'C', 'D']);
    // Once E is older than the window, only the version that holds C (the snapshot's
    // state, until D) stays; the live rows are the state now.
    expect((await passHours(ws, 5)).compactedHistory).toBe(4);
    expect(await contactVersions(ws.id, c.id)).toEqual([{ op: 'update', before: 'C' }]);
    expect(await contactVersions(ws.id, untouched.id)).toEqual([]);
    expect(await contactVersions(ws.id, removed.id)).toEqual([]);

    const image = await contactAsOf(ws.id, c.id, new Date(snapshot.takenAt));
    expect(image).toEqual(imageAtSnapshot);
    expect(image).toMatchObject({ id: c.id, first_name: 'C', email: atSnapshot.email, status: 'active' });
    expect(new Date(String(image?.updated_at)).toISOString()).toBe(atSnapshot.updatedAt);
    expect(await contactAsOf(ws.id, c.id, app.clock.now())).toMatchObject({ first_name: 'E' });
    expect(await contactAsOf(ws.id, removed.id, new Date(snapshot.takenAt))).toMatchObject({ first_name: 'Gone', status: 'deleted' });
    const [entry] = (await ws.api('GET', '/audit-log?action=history.compacted')).body.data;
    expect(entry).toMatchObject({ actorId: null, details: { removed: 4 } });

    // Deleting the snapshot releases C: the next pass removes it at once.
    await ws.api('DELETE', `/snapshots/${snapshot.id}`);
    expect((await maintain(ws)).compactedHistory).toBe(1);
    expect(await contactVersions(ws.id, c.id)).toEqual([]);
  });

  it('hour after hour, keeps exactly what the recoverable points need', async () => {
    toHalfPast();
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: false, weekly: false, monthly: false });
    const people = [await aContact(ws), await aContact(ws), await aContact(ws)];
    const pins: string[] = [];
    for (let step = 1; step <= 20; step += 1) {
      app.clock.advance(1800);
      await ws.api('PATCH', `/contacts/${people[step % 3].id}`, { firstName: `N${step}` });
      if (step === 7 || step === 13) pins.push((await ws.api('POST', '/snapshots', {})).body.takenAt);
      if (step % 2 === 0) await maintain(ws);
    }
    const { rows: written } = await sql<{ version: number; id: string; at: Date }>`
      SELECT version, id, at FROM contact_history WHERE workspace_id = ${ws.id} ORDER BY version`.execute(app.ctx.db);
    let removedTotal = 0;
    for (let hour = 0; hour < 76; hour += 1) removedTotal += (await passHours(ws, 1)).compactedHistory;
    const through = app.clock.now().getTime() - 72 * hourMs;
    const pinned = pins.map((t) => Date.parse(t));
    // A version holds its contact from its predecessor's time until its own.
    const needed = written.filter((e) => {
      const earlier = written.filter((p) => p.id === e.id && p.version < e.version).map((p) => p.at.getTime());
      const since = earlier.length === 0 ? -Infinity : Math.max(...earlier);
      const at = e.at.getTime();
      return at > through || pinned.some((p) => since <= p && p < at);
    });
    const { rows: kept } = await sql<{ version: number }>`
      SELECT version FROM contact_history WHERE workspace_id = ${ws.id} ORDER BY version`.execute(app.ctx.db);
    expect(kept.map((r) => r.version)).toEqual(needed.map((e) => e.version));
    expect(removedTotal).toBe(written.length - needed.length);
    // Each contact: its state at each of the two snapshots (the live rows are the state now).
    expect(needed.length).toBe(3 * 2);
  });

  it('ends a first pass over a workspace whose history is all inside the window without reading its versions', async () => {
    const ws = await aWorkspace(app);
    await seedWorkspace(app.ctx.db, { workspaceId: ws.id, actorId: ws.adminId, origin: 'import', at: app.clock.now() }, { contacts: 2000 });
    const read = await rowsRead(app.ctx.database, ['contact_history', 'history_entries'], async () => {
      expect(await compactHistory(app.ctx, ws.id, { batchSize: 100 })).toBe(0);
    });
    // It walked every version before, 100 at a time, to remove none.
    expect(read.contact_history + read.history_entries).toBeLessThan(100);
  });

  it('compacts in batches, with the same result, also when two passes run at once', async () => {
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: false, weekly: false, monthly: false });
    const contacts = [await aContact(ws), await aContact(ws), await aContact(ws)];
    for (const name of ['B', 'C']) {
      for (const c of contacts) await ws.api('PATCH', `/contacts/${c.id}`, { firstName: name });
    }
    app.clock.advance(60);
    const snapshot = (await ws.api('POST', '/snapshots', { label: 'pins C' })).body;
    app.clock.advance(60);
    for (const c of contacts) await ws.api('PATCH', `/contacts/${c.id}`, { firstName: 'D' });
    app.clock.advance(73 * 3600);
    // Two passes at once (the background loop beside POST /maintenance/run) remove each
    // version once: the inserts and the changes to B and C; the change from C to D holds
    // the snapshot's state.
    const [a, b] = await Promise.all([compactHistory(app.ctx, ws.id, { batchSize: 2 }), compactHistory(app.ctx, ws.id, { batchSize: 2 })]);
    expect(a + b).toBe(9);
    for (const c of contacts) expect(await contactVersions(ws.id, c.id)).toEqual([{ op: 'update', before: 'C' }]);
    // The next pass looks only at the versions written since, in batches of instants.
    for (const name of ['E', 'F']) {
      app.clock.advance(60);
      for (const c of contacts) await ws.api('PATCH', `/contacts/${c.id}`, { firstName: name });
    }
    app.clock.advance(73 * 3600);
    expect(await compactHistory(app.ctx, ws.id, { batchSize: 2 })).toBe(6);
    for (const c of contacts) expect(await contactVersions(ws.id, c.id)).toEqual([{ op: 'update', before: 'C' }]);
    await ws.api('DELETE', `/snapshots/${snapshot.id}`);
    expect(await compactHistory(app.ctx, ws.id, { batchSize: 2 })).toBe(3);
    for (const c of contacts) expect(await contactVersions(ws.id, c.id)).toEqual([]);
  });

  it('moves the recoverable window’s start no earlier than history was compacted, even if pitrHours grows', async () => {
    const ws = await aWorkspace(app);
    await scheduleOnly(ws, { hourly: false, weekly: false, monthly: false });
    app.clock.advance(73 * 3600);
    await maintain(ws);
    const compactedThrough = app.clock.now().getTime() - 72 * hourMs;
    await sql`UPDATE workspaces SET pitr_hours = 200 WHERE id = ${ws.id}`.execute(app.ctx.db);
    const now = app.clock.now();
    const range = await recoverableRange(app.ctx.db, ws.id, now);
    expect(Math.abs(range.from.getTime() - compactedThrough)).toBeLessThan(1000);
    const error = await notRecoverable(ws.id, new Date(now.getTime() - 100 * hourMs), now);
    expect(error.details.nearest).toEqual([iso(range.from.getTime() + 60_000)]);
  });
});
