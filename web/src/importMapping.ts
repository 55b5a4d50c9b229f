/**
 * The Imports page's preview of a CSV file, read in the browser: the header and the first
 * rows of its first bytes, and a guess of each column's target from its header. The
 * server reads the whole file again with its own parser; this is only what a person
 * sees while mapping.
 */

/** Parses CSV text (RFC 4180: quoted cells, doubled quotes, CRLF or LF) into rows; a last line cut short is dropped when `partial`. */
export function parseCsvRows(text: string, maxRows: number, partial = false): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length && rows.length < maxRows; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (rows.length < maxRows && !partial && (cell !== '' || row.length > 0)) rows.push([...row, cell]);
  return rows;
}

export type ImportTarget = '' | 'email' | 'firstName' | 'lastName' | 'phone' | 'tag' | 'account' | 'jobTitle' | `fields.${string}` | `list:${string}`;

const byHeader: [RegExp, ImportTarget][] = [
  [/^e-?mail( address)?$/, 'email'],
  [/^(first[ _-]?name|given[ _-]?name|first|forename)$/, 'firstName'],
  [/^(last[ _-]?name|surname|family[ _-]?name|last)$/, 'lastName'],
  [/^(phone|phone[ _-]?number|mobile|tel|telephone)$/, 'phone'],
  [/^(tags?|labels?)$/, 'tag'],
  [/^(account|company|organi[sz]ation|employer)$/, 'account'],
  [/^(job[ _-]?title|title|position|role)$/, 'jobTitle'],
];

/**
 * What a column is loaded into, guessed from its header: the known ones by name, a
 * header naming a list (`list: Newsletter`, or the list's name) its membership, any
 * other a custom field of that name.
 */
export function guessTarget(header: string, lists: { id: string; name: string }[]): ImportTarget {
  const plain = header.trim().toLowerCase();
  for (const [pattern, target] of byHeader) if (pattern.test(plain)) return target;
  const listName = plain.replace(/^list:\s*/, '');
  const list = lists.find((l) => l.name.toLowerCase() === listName);
  if (list) return `list:${list.id}`;
  const field = header.trim().replace(/\s+/g, '_').slice(0, 100);
  return field ? `fields.${field}` : '';
}

/** The mapping part's `columns`: the mapped headers only (a skipped column is left out). */
export function mappedColumns(headers: string[], targets: ImportTarget[]): Record<string, string> {
  const columns: Record<string, string> = {};
  headers.forEach((header, i) => {
    if (targets[i]) columns[header] = targets[i];
  });
  return columns;
}
