import { createReadStream } from 'node:fs';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { parse, type Options } from 'csv-parse';
import { parse as parseNow } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/**
 * How an import reads CSV (csv-parse): quotes inside unquoted cells are kept as text
 * (`5" screen`), lines of only empty cells are skipped, cells are trimmed, a row may have
 * any number of cells (the import says which count is wrong), and a record larger than
 * maxRecordChars stops the reading rather than filling memory (an unclosed quote would
 * otherwise take the rest of the file into one cell).
 */
const readOptions: Options = {
  trim: true,
  relax_quotes: true,
  relax_column_count: true,
  record_delimiter: ['\r\n', '\n'],
  skip_empty_lines: true,
  skip_records_with_empty_values: true,
};

/** The longest record read (characters); csv-parse's own default is 128,000. */
export const maxRecordChars = 1024 * 1024;

/** The header row of an uploaded file, and where the data after it starts. */
export interface CsvHeader {
  cells: string[];
  /** Byte offset of the first data byte (after a byte order mark and the header). */
  dataOffset: number;
  /** Line breaks before dataOffset: the header's last line number. */
  newlines: number;
}

/**
 * Reads the header from the file's first bytes: null while `prefix` may not hold all of
 * it yet (`final` says it is the whole file). Throws a sentence for the client when it
 * cannot be read at all.
 */
export function headerOf(prefix: Buffer, final: boolean): CsvHeader | null {
  let header: { cells: string[]; end: number } | undefined;
  try {
    const [first] = parseNow(prefix, { ...readOptions, bom: true, to: 1, info: true }) as unknown as ({ record: string[]; info: { bytes: number } } | undefined)[];
    header = first && { cells: first.record, end: first.info.bytes };
  } catch (error) {
    if (!final && prefix.length < maxRecordChars) return null;
    throw new Error(`its header row cannot be read: ${(error as Error).message}`);
  }
  // A header that runs to the end of what was read may go on in the next bytes.
  if (!final && (!header || header.end >= prefix.length)) {
    if (prefix.length >= maxRecordChars) throw new Error(`its header row is longer than ${maxRecordChars} characters`);
    return null;
  }
  if (!header) throw new Error('it has no header row');
  return { cells: header.cells, dataOffset: header.end, newlines: countNewlines(prefix, 0, header.end) };
}

function countNewlines(buffer: Buffer, from: number, to: number): number {
  let count = 0;
  for (let at = buffer.indexOf(10, from); at !== -1 && at < to; at = buffer.indexOf(10, at + 1)) count += 1;
  return count;
}

/** A place in the file between two records: its byte offset and the line breaks before it. */
export interface CsvPosition {
  offset: number;
  newlines: number;
}

export interface CsvRecord {
  /** The line the record starts on (1 is the header). */
  line: number;
  cells: string[];
}

export interface CsvBatch {
  records: CsvRecord[];
  /** Records csv-parse could not read, by the line after the record before them. */
  unreadable: { line: number; message: string }[];
  /** Just after the last record read: where the next batch starts. */
  end: CsvPosition;
  /** No record is left after this batch. */
  done: boolean;
}

/**
 * Counts line breaks in the bytes passing through, for records whose end offsets come
 * later and in order: csv-parse's own line count is off by one for every CRLF inside a
 * quoted cell. Keeps only the chunks not yet counted.
 */
class LineBreakCounter extends Transform {
  private readonly chunks: { start: number; bytes: Buffer }[] = [];
  private received: number;
  private countedTo: number;
  private counted: number;

  constructor(from: CsvPosition) {
    super();
    this.received = from.offset;
    this.countedTo = from.offset;
    this.counted = from.newlines;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.chunks.push({ start: this.received, bytes: chunk });
    this.received += chunk.length;
    done(null, chunk);
  }

  /** Line breaks before `offset` (not before an offset already asked about), and whether the byte before it is one. */
  before(offset: number): { newlines: number; endsLine: boolean } {
    let endsLine = false;
    while (this.countedTo < offset && this.chunks.length > 0) {
      const { start, bytes } = this.chunks[0];
      const to = Math.min(start + bytes.length, offset);
      this.counted += countNewlines(bytes, this.countedTo - start, to - start);
      endsLine = bytes[to - start - 1] === 10;
      this.countedTo = to;
      if (to === start + bytes.length) this.chunks.shift();
    }
    return { newlines: this.counted, endsLine };
  }
}

const lineBreaksIn = (cells: string[]) => cells.reduce((n, cell) => n + (cell.includes('\n') ? cell.split('\n').length - 1 : 0), 0);

/**
 * Reads up to `max` records of the file at `path` from `from` (a position after the
 * header or after an earlier batch), each with the line it starts on.
 */
export async function readCsvBatch(path: string, from: CsvPosition, max: number): Promise<CsvBatch> {
  const counter = new LineBreakCounter(from);
  // Each record comes with the bytes read up to its end: asked for as `info: true`, a copy
  // of all the parser's counters per record cost a third of the reading.
  const withEnd = (cells: string[], context: { bytes: number }): [string[], number] => [cells, context.bytes];
  const parser = parse({ ...readOptions, skip_records_with_error: true, max_record_size: maxRecordChars, on_record: withEnd as unknown as Options['on_record'] });
  // `info.records` counts the records made so far: a skip comes after that many.
  const skipped: { after: number; message: string }[] = [];
  parser.on('skip', (error: Error) => skipped.push({ after: parser.info.records, message: error.message }));
  const stream = pipeline(createReadStream(path, { start: from.offset }), counter, parser, () => undefined);
  const records: CsvRecord[] = [];
  const lastLines: number[] = [];
  let end = from;
  let done = true;
  for await (const [cells, bytes] of stream as AsyncIterable<[string[], number]>) {
    const offset = from.offset + bytes;
    const { newlines, endsLine } = counter.before(offset);
    const lastLine = endsLine ? newlines : newlines + 1;
    records.push({ line: lastLine - lineBreaksIn(cells), cells });
    lastLines.push(lastLine);
    end = { offset, newlines };
    if (records.length === max) {
      done = false;
      break;
    }
  }
  stream.destroy();
  // Unreadable records after the last one read belong to the next batch, which meets them again.
  const unreadable = skipped
    .filter((s) => done || s.after < records.length)
    .map((s) => ({ line: (s.after === 0 ? from.newlines : lastLines[s.after - 1]) + 1, message: s.message }));
  return { records, unreadable, end, done };
}

/**
 * A cell as a spreadsheet will not run it: text starting with =, +, -, @, a tab or a
 * carriage return gets a leading apostrophe (CSV formula injection). unescapeCell undoes it.
 */
export function escapeCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** An exported cell read back: the apostrophe escapeCell put before a formula character goes. */
export function unescapeCell(value: string): string {
  return /^'[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
}

/**
 * CSV text of rows (RFC 4180 quoting, CRLF line ends), every cell escaped against
 * formulas. A cell with any line break is quoted (csv-stringify would quote only CRLF).
 */
export function csvLines(rows: (string | number | null)[][]): string {
  return stringify(
    rows.map((row) => row.map((cell) => (typeof cell === 'string' ? escapeCell(cell) : cell))),
    { record_delimiter: 'windows', quoted_match: /[\r\n]/ },
  );
}
