/**
 * The statements of a SQL script, split at each `;` that is not inside a string, a quoted
 * name, a dollar-quoted body or a comment; pieces that hold nothing but space and comments
 * are left out. For Citus (issue 20), which refuses a script of several statements once
 * tables are distributed (`cannot insert multiple commands into a prepared statement`):
 * the migrator sends a file's statements one at a time there. Escape strings with a
 * backslash before a quote (`E'it\'s'`) are not read as such: no migration has one.
 *
 * ```ts
 * statementsOf("CREATE TABLE t (a text); -- done\nSELECT ';'"); // ['CREATE TABLE t (a text)', "-- done\nSELECT ';'"]
 * ```
 */
export function statementsOf(script: string): string[] {
  const statements: string[] = [];
  const past = (from: number, token: string) => {
    const at = script.indexOf(token, from);
    return at < 0 ? script.length : at + token.length;
  };
  let start = 0;
  // whether the piece since `start` holds more than space and comments
  let code = false;
  let i = 0;
  while (i < script.length) {
    const c = script[i];
    if (c === '-' && script[i + 1] === '-') {
      i = past(i, '\n');
    } else if (c === '/' && script[i + 1] === '*') {
      i = past(i + 2, '*/');
    } else if (c === ';') {
      if (code) statements.push(script.slice(start, i).trim());
      start = i + 1;
      code = false;
      i += 1;
    } else {
      if (!/\s/.test(c)) code = true;
      const tag = c === '$' ? /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 64)) : null;
      if (c === "'" || c === '"') i = pastQuoted(script, i);
      else if (tag) i = past(i + tag[0].length, tag[0]);
      else i += 1;
    }
  }
  if (code) statements.push(script.slice(start).trim());
  return statements;
}

/** Past the string or quoted name that opens at `at`; a doubled quote is one inside it. */
function pastQuoted(script: string, at: number): number {
  const quote = script[at];
  let i = at + 1;
  for (;;) {
    i = script.indexOf(quote, i);
    if (i < 0) return script.length;
    if (script[i + 1] !== quote) return i + 1;
    i += 2;
  }
}
