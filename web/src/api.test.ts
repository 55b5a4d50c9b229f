import { describe, expect, it } from 'vitest';
import { ApiError, describeError, queryString } from './api';

describe('describeError', () => {
  it('names the missing permission of a 403', () => {
    const error = new ApiError(403, 'forbidden', 'This action needs the permission contacts.restore', { permission: 'contacts.restore' });
    expect(describeError(error)).toBe('You are not allowed to do this: it needs the permission “contacts.restore”. Ask an admin.');
  });

  it('says where invalid input is, from details.issues', () => {
    const error = new ApiError(400, 'invalid_request', 'The request query is not valid', { issues: [{ in: 'query', path: ['deletedFrom'], message: 'Invalid ISO datetime' }] });
    expect(describeError(error)).toBe('The request query is not valid: deletedFrom — Invalid ISO datetime');
  });

  it('explains the pick limit with the server’s maximum', () => {
    expect(describeError(new ApiError(422, 'too_many_contacts', 'Pick at most 100 contacts', { max: 100, given: 101 }))).toBe(
      'At most 100 contacts can be picked at a time. Use “Restore all matching” for more.',
    );
  });

  it('passes on the server’s message for other codes, and a plain one for network failures', () => {
    expect(describeError(new ApiError(409, 'invalid_state', 'The contact is not active', { status: 'deleted' }))).toBe('The contact is not active');
    expect(describeError(new ApiError(0, 'network', 'The server could not be reached.'))).toBe('The server could not be reached.');
  });
});

describe('queryString', () => {
  it('leaves out empty and undefined values and encodes the rest', () => {
    expect(queryString({ q: 'a b&c', from: undefined, to: '', limit: 50 })).toBe('?q=a+b%26c&limit=50');
    expect(queryString({ q: '' })).toBe('');
  });
});
