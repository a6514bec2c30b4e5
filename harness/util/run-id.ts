// Run ids: 1–8 characters of [a-z0-9], part of every namespace name.
import { createHash } from 'node:crypto';

/** The default run id is derived from the file's path, so up/status/exec/down on the same file find the same run. */
export function defaultRunId(file: string): string {
  return `f${createHash('sha256').update(file).digest('hex').slice(0, 5)}`;
}

export function randomRunId(): string {
  return `r${Math.random().toString(36).slice(2, 7).replace(/[^a-z0-9]/g, '0')}`;
}
