import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const check = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.ci/check-migrations');

/** A repository of its own in a temporary directory, with git run in it. */
function aRepository() {
  const root = mkdtempSync(path.join(tmpdir(), 'retrace-landed-'));
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
  const git = (dir: string, ...args: string[]) => {
    const run = spawnSync('git', args, { cwd: dir, env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
    return run.stdout.trim();
  };
  const repo = path.join(root, 'repo');
  mkdirSync(path.join(repo, 'src/db/migrations'), { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  return {
    root,
    repo,
    git: (...args: string[]) => git(repo, ...args),
    cloneOf: () => {
      git(root, 'clone', '-q', repo, 'clone');
      return path.join(root, 'clone');
    },
    commit: (files: Record<string, string | null>, message: string) => {
      for (const [name, content] of Object.entries(files)) {
        const file = path.join(repo, 'src/db/migrations', name);
        if (content === null) rmSync(file);
        else writeFileSync(file, content);
      }
      git(repo, 'add', '-A');
      git(repo, 'commit', '-q', '-m', message);
    },
    check: (dir = repo) => spawnSync('bash', [check], { cwd: dir, env, encoding: 'utf8' }),
  };
}

let repositories: string[] = [];
afterEach(() => {
  for (const root of repositories) rmSync(root, { recursive: true, force: true });
  repositories = [];
});
const landedOnMain = () => {
  const repository = aRepository();
  repositories.push(repository.root);
  repository.commit({ '001_first.sql': 'CREATE TABLE first ();\n' }, 'first migration');
  return repository;
};

describe('the CI check of landed migrations', () => {
  it('fails a branch that edits a migration on main, naming it', () => {
    const repository = landedOnMain();
    repository.git('checkout', '-q', '-b', 'h/edit');
    repository.commit({ '001_first.sql': 'CREATE TABLE first (id int);\n' }, 'edit');

    const run = repository.check();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('src/db/migrations/001_first.sql has landed on main and was changed');
  });

  it('fails a branch that deletes a migration on main, naming it', () => {
    const repository = landedOnMain();
    repository.git('checkout', '-q', '-b', 'h/delete');
    repository.commit({ '001_first.sql': null }, 'delete');

    const run = repository.check();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('src/db/migrations/001_first.sql has landed on main and is gone');
  });

  it('passes a branch that adds migrations and changes its own before they land', () => {
    const repository = landedOnMain();
    repository.git('checkout', '-q', '-b', 'h/add');
    repository.commit({ '002_second.sql': 'CREATE TABLE second ();\n' }, 'add');
    repository.commit({ '002_second.sql': 'CREATE TABLE second (id int);\n' }, 'fix the new one');

    const run = repository.check();
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('check-migrations: 1 landed migrations checked: none changed or deleted\n');
  });

  it('fails a clean clone of main whose last commit edited a migration an earlier commit added', () => {
    const repository = landedOnMain();
    repository.commit({ '002_second.sql': 'CREATE TABLE second ();\n' }, 'second migration');
    repository.commit({ '001_first.sql': 'CREATE TABLE first (id int);\n' }, 'edit on main');

    const run = repository.check(repository.cloneOf());
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('src/db/migrations/001_first.sql has landed on main and was changed');
    expect(run.stderr).not.toContain('002_second.sql');
  });

  it('passes a clean clone of main whose migrations are as they were added', () => {
    const repository = landedOnMain();
    repository.commit({ '002_second.sql': 'CREATE TABLE second ();\n' }, 'second migration');

    const run = repository.check(repository.cloneOf());
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('check-migrations: 2 landed migrations checked: none changed or deleted\n');
  });
});
