import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvLines, escapeCell, headerOf, readCsvBatch, unescapeCell, type CsvPosition } from './csv.js';

const dir = mkdtempSync(path.join(tmpdir(), 'retrace-csv-'));
let files = 0;

function aFile(text: string | Buffer): string {
  files += 1;
  const file = path.join(dir, `${files}.csv`);
  writeFileSync(file, text);
  return file;
}

/** Every batch of the file, `size` records each, from just after its header. */
async function batchesOf(text: string, size: number) {
  const file = aFile(text);
  const header = headerOf(Buffer.from(text), true);
  if (!header) throw new Error('no header');
  const batches = [];
  let at: CsvPosition = { offset: header.dataOffset, newlines: header.newlines };
  for (;;) {
    const batch = await readCsvBatch(file, at, size);
    batches.push(batch);
    at = batch.end;
    if (batch.done) return batches;
  }
}

describe('reading an import file', () => {
  it('numbers each record by the line it starts on, across CRLF cells, multi-line cells and blank lines', async () => {
    const text = 'Email,Note\r\na@x.test,"two\r\nlines"\r\n\r\nb@x.test,B\r\n,\r\nc@x.test,C\nd@x.test,"D\n\nD"\ne@x.test,E';
    const [batch] = await batchesOf(text, 100);
    expect(batch.records.map((r) => [r.line, r.cells[0]])).toEqual([
      [2, 'a@x.test'],
      [5, 'b@x.test'],
      [7, 'c@x.test'],
      [8, 'd@x.test'],
      [11, 'e@x.test'],
    ]);
    expect(batch.records[0].cells[1]).toBe('two\r\nlines');
  });

  it('reads the file in batches that resume exactly where the one before ended', async () => {
    const text = 'Email\n' + Array.from({ length: 7 }, (_, i) => (i === 3 ? `"p${i}\n@x.test"` : `p${i}@x.test`)).join('\n') + '\n';
    const batches = await batchesOf(text, 3);
    expect(batches.map((b) => b.records.map((r) => r.line))).toEqual([[2, 3, 4], [5, 7, 8], [9]]);
    expect(batches.flatMap((b) => b.records.map((r) => r.cells[0]))).toEqual(['p0@x.test', 'p1@x.test', 'p2@x.test', 'p3\n@x.test', 'p4@x.test', 'p5@x.test', 'p6@x.test']);
    expect(batches.at(-1)?.done).toBe(true);
  });

  it('reports a record that never ends (an unclosed quote) at the line after the last good one, and stops there', async () => {
    const [batch] = await batchesOf('Email,Name\na@x.test,A\nb@x.test,"B\nc@x.test,C\n', 100);
    expect(batch.records.map((r) => r.cells[0])).toEqual(['a@x.test']);
    expect(batch.unreadable).toEqual([{ line: 3, message: expect.stringMatching(/Quote Not Closed/) }]);
    expect(batch.done).toBe(true);
  });

  it('keeps a quote inside an unquoted cell as text', async () => {
    const [batch] = await batchesOf('Email,Screen\na@x.test,15" wide\n', 100);
    expect(batch.records[0].cells).toEqual(['a@x.test', '15" wide']);
  });

  it('finds the header after a byte order mark, and only once its row has ended', () => {
    expect(headerOf(Buffer.from('\uFEFFEmail,Na'), false)).toBeNull();
    expect(headerOf(Buffer.from('\uFEFFEmail,Name\n'), false)).toBeNull();
    expect(headerOf(Buffer.from('\uFEFFEmail,Name\nx'), false)).toEqual({ cells: ['Email', 'Name'], dataOffset: 14, newlines: 1 });
    expect(headerOf(Buffer.from('Email,Name'), true)).toEqual({ cells: ['Email', 'Name'], dataOffset: 10, newlines: 0 });
  });

  it('says a file of blank lines has no header row', () => {
    expect(() => headerOf(Buffer.from('\n\n'), true)).toThrow('it has no header row');
  });
});

describe('writing CSV', () => {
  it('escapes cells a spreadsheet would run as formulas, and reading them back undoes it', () => {
    for (const value of ['=1+1', '+44 20', '-5', '@SUM(A1)', '\tx']) {
      expect(escapeCell(value)).toBe(`'${value}`);
      expect(unescapeCell(escapeCell(value))).toBe(value);
    }
    expect(escapeCell('Ada')).toBe('Ada');
    expect(unescapeCell("'quoted")).toBe("'quoted");
  });

  it('quotes cells with commas, quotes and line breaks, with CRLF line ends', () => {
    expect(csvLines([['a,b', 'say "hi"', 'two\nlines', 3, null]])).toBe('"a,b","say ""hi""","two\nlines",3,\r\n');
  });
});
