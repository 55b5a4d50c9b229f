import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { axisPercent, describeRollbackError, formatValue, fromLocalInput, isRecoverable, nearestPoints, toLocalInput } from './rollback';

const points = {
  from: '2026-11-22T12:00:00.000Z',
  to: '2026-11-25T12:00:00.000Z',
  snapshots: [{ id: 's1', takenAt: '2026-11-01T00:00:00.123Z', kind: 'monthly' as const }],
};

describe('local date and time to the second', () => {
  it('round-trips an instant through the datetime-local value, dropping only the milliseconds', () => {
    expect(fromLocalInput(toLocalInput('2026-11-25T10:11:12.345Z'))).toBe('2026-11-25T10:11:12.000Z');
  });

  it('reads a value without seconds (the browser leaves out :00) as the start of that minute', () => {
    expect(fromLocalInput(toLocalInput('2026-11-25T10:11:00.000Z').slice(0, 16))).toBe('2026-11-25T10:11:00.000Z');
  });

  it('answers null for an incomplete value', () => {
    expect(fromLocalInput('2026-11-25')).toBeNull();
    expect(fromLocalInput('')).toBeNull();
  });
});

describe('isRecoverable', () => {
  it('takes both ends of the window and a snapshot’s exact instant, nothing else', () => {
    expect(isRecoverable(points.from, points)).toBe(true);
    expect(isRecoverable(points.to, points)).toBe(true);
    expect(isRecoverable('2026-11-01T00:00:00.123Z', points)).toBe(true);
    expect(isRecoverable('2026-11-01T00:00:00.000Z', points)).toBe(false);
    expect(isRecoverable('2026-11-22T11:59:59.999Z', points)).toBe(false);
  });
});

describe('axisPercent', () => {
  it('places a point on the window and keeps points outside it at the ends', () => {
    expect(axisPercent('2026-11-24T00:00:00.000Z', points.from, points.to)).toBe(50);
    expect(axisPercent('2026-11-01T00:00:00.000Z', points.from, points.to)).toBe(0);
  });
});

describe('formatValue', () => {
  it('shows empty values as a dash and custom fields as JSON', () => {
    expect(formatValue('phone', null)).toBe('—');
    expect(formatValue('fields', {})).toBe('—');
    expect(formatValue('fields', { plan: 'pro' })).toBe('{"plan":"pro"}');
    expect(formatValue('firstName', 'Ada')).toBe('Ada');
  });
});

describe('describeRollbackError', () => {
  it('says why the requester cannot approve their own full rollback', () => {
    expect(describeRollbackError(new ApiError(403, 'four_eyes_required', 'A full rollback must be approved by a different user', { requestedBy: 'u1' }))).toBe(
      'You requested this rollback, so you cannot approve it yourself: a full rollback needs a second admin (four eyes). Ask another admin to approve it.',
    );
    expect(describeRollbackError(new ApiError(403, 'four_eyes_required', 'Made since', { requestedBy: 'u1', reason: 'approver_newer_than_request' }))).toBe(
      'You became an admin (or this token was made) after the rollback was requested, so you cannot approve it: a full rollback needs a second admin who could approve when it was requested (four eyes).',
    );
  });

  it('says a rollback was already undone, from details.undoneBy', () => {
    expect(describeRollbackError(new ApiError(409, 'invalid_state', 'This rollback has already been undone', { undoneBy: 'r2' }))).toBe(
      'This rollback has already been undone; a rollback can be undone once.',
    );
  });

  it('offers the nearest recoverable points of a point_not_recoverable, the moving window start a minute inside', () => {
    const error = new ApiError(422, 'point_not_recoverable', 'cannot be recovered', { nearest: ['2026-11-01T00:00:00.123Z', '2026-11-22T12:00:00.456Z'], window: { from: '2026-11-22T12:00:00.456Z', to: points.to } });
    expect(nearestPoints(error)).toEqual(['2026-11-01T00:00:00.123Z', '2026-11-22T12:01:01.000Z']);
    expect(describeRollbackError(error)).toMatch(/^That point can no longer be rolled back to\. Recoverable points are the recent window \(any second from .+\)/);
  });
});
