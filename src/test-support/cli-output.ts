import { afterEach, vi } from 'vitest';

/**
 * For tests of CLI commands: after each test, console and process.exitCode are as they
 * were. Call once at the top of the test file.
 */
export function restoreConsoleAfterEach(): void {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });
}

/** Collects what a command prints (stdout and stderr lines), keeping the progress bar quiet. */
export function captureOutput(): string[] {
  const printed: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
  vi.spyOn(console, 'error').mockImplementation((line: string) => void printed.push(line));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return printed;
}
