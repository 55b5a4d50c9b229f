/** `%q%` for LIKE and ILIKE: `q` anywhere in the text, its own wildcards taken literally. */
export const containing = (q: string): string => `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
