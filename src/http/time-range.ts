import { z } from 'zod';

const dateTime = z.iso.datetime({ offset: true });
const dateOnly = z.iso.date();

/**
 * One end of an inclusive time filter (`from`/`to`, `deletedFrom`/`deletedTo`, …): an
 * ISO-8601 date-time with `Z` or an offset, or a whole UTC day (`2026-11-26`), which
 * starts at its first millisecond when it is the start and ends at its last when it is
 * the end. Parsed into the date-time it stands for.
 */
function rangeEnd(end: 'start' | 'end') {
  return z
    .string()
    .refine((value) => dateTime.safeParse(value).success || dateOnly.safeParse(value).success, {
      message: 'Expected an ISO-8601 date-time with Z or an offset, or a date (YYYY-MM-DD)',
    })
    .transform((value) => (dateOnly.safeParse(value).success ? `${value}T${end === 'start' ? '00:00:00.000' : '23:59:59.999'}Z` : value));
}

export const rangeFrom = rangeEnd('start');
export const rangeTo = rangeEnd('end');
