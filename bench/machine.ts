import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** What a figure was measured on: results are only comparable on the same machine. */
export interface Machine {
  cores: number;
  ramGiB: number;
  cpu: string;
  node: string;
  date: string;
  /** The 1-minute load average at the start: other work on the machine skews the figures. */
  load: number;
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    cores: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpu: model.trim(),
    node: process.version,
    date: new Date().toISOString(),
    load: Math.round(os.loadavg()[0] * 10) / 10,
  };
}
