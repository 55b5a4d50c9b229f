import { describe, expect, it } from 'vitest';
import { statementsOf } from './statements.js';

describe('the statements of a migration script', () => {
  it('splits at semicolons and leaves out pieces of nothing but space and comments', () => {
    expect(statementsOf('CREATE TABLE t (a text);\n\n-- the end\n')).toEqual(['CREATE TABLE t (a text)']);
    expect(statementsOf('SELECT 1; /* two */ SELECT 2')).toEqual(['SELECT 1', '/* two */ SELECT 2']);
  });

  it('keeps semicolons inside strings, quoted names, dollar-quoted bodies and comments', () => {
    const body = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$\nBEGIN\n  PERFORM 1; -- one; two\nEND $fn$";
    expect(statementsOf(`SELECT 'a;b', 'it''s;'; ${body};\nSELECT "odd;name" FROM t; -- x; y\n/* z; */SELECT $$;$$`)).toEqual([
      "SELECT 'a;b', 'it''s;'",
      body,
      'SELECT "odd;name" FROM t',
      '-- x; y\n/* z; */SELECT $$;$$',
    ]);
  });

  it('reads $1 in a body as a parameter, not a dollar quote', () => {
    expect(statementsOf("CREATE FUNCTION g(int) RETURNS int LANGUAGE sql AS $$ SELECT $1; $$; SELECT 'x'")).toEqual([
      'CREATE FUNCTION g(int) RETURNS int LANGUAGE sql AS $$ SELECT $1; $$',
      "SELECT 'x'",
    ]);
  });
});
