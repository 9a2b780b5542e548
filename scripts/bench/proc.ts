// What the kernel counts for a process: peak resident memory (VmHWM) and CPU time used.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Peak resident memory, in MB with one decimal. */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

let ticksPerSecond: number | undefined;

/** CPU time (user + system) the process has used so far, in ms (its threads included, not its children). */
export function cpuMs(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Math.round(((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond);
}
