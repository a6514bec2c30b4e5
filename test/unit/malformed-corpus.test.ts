// The malformed-input corpus (test/fixtures/malformed/): every file is rejected by `vxlab validate` with the exit code
// and the file:line:col, key and message its first line names — never a stack trace, never without a location.
// Plus inputs that are not files at all (devices, FIFOs, directories, oversized files), which must not hang.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { main } from '../../harness/cli/main.ts';
import { MAX_FILE_BYTES, MAX_NODES } from '../../harness/topology/load.ts';

const DIR = resolve(import.meta.dirname, '../fixtures/malformed');
const HEADER = /^# expect: exit=(\d+) at=(\S+):(\d+):(\d+) key=(\S+) match=(.*)$/;

async function validate(file: string): Promise<{ rc: number; err: string; out: string }> {
  const err: string[] = [];
  const out: string[] = [];
  const e = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const l = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  try {
    const rc = await main(['validate', file]);
    return { rc, err: err.join('\n'), out: out.join('\n') };
  } finally {
    e.mockRestore();
    l.mockRestore();
  }
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('malformed-input corpus', () => {
  afterEach(() => vi.restoreAllMocks());

  it('holds at least 100 files, each naming its exit code and location', () => {
    expect(files.length).toBeGreaterThanOrEqual(100);
    for (const f of files) expect(readFileSync(join(DIR, f), 'utf8').split('\n')[0], f).toMatch(HEADER);
  });

  it.each(files)('%s', async (f) => {
    const [, exit, at, line, col, key, match] = HEADER.exec(readFileSync(join(DIR, f), 'utf8').split('\n')[0]!)!;
    const r = await validate(join(DIR, f));
    expect(r.rc).toBe(Number(exit));
    expect(r.out).toBe('');
    const first = r.err.split('\n')[0]!;
    const where = relative(process.cwd(), join(DIR, at!));
    expect(first.startsWith(`${where}:${line}:${col}: ${key === '-' ? '' : `${key}: `}`), `${first}\nexpected at ${where}:${line}:${col} key ${key}`).toBe(true);
    expect(first).toContain(match!.trim());
    expect(r.err).not.toMatch(/\n\s+at \S/); // no stack frames
  });
});

describe('inputs that are not (reasonable) files', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vxlab-hostile-'));

  it('/dev/zero is refused at once, as the file and through extends', async () => {
    const r = await validate('/dev/zero');
    expect(r.rc).toBe(2);
    expect(r.err).toMatch(/\/dev\/zero: a character device, not a regular file/);
    const f = join(tmp, 'ext-zero.yaml');
    writeFileSync(f, 'name: x\nextends: /dev/zero\nnodes: [{name: a}]\n');
    const r2 = await validate(f);
    expect(r2.rc).toBe(2);
    expect(r2.err).toMatch(/ext-zero\.yaml:2:10: extends: cannot read topology file \/dev\/zero: a character device/);
  });

  it('a FIFO (no writer) is refused without blocking; a directory is refused', async () => {
    const fifo = join(tmp, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const r = await validate(fifo);
    expect(r.rc).toBe(2);
    expect(r.err).toMatch(/a FIFO, not a regular file/);
    const d = join(tmp, 'dir.yaml');
    mkdirSync(d);
    const r2 = await validate(d);
    expect(r2.rc).toBe(2);
    expect(r2.err).toMatch(/a directory, not a regular file/);
  });

  it(`a file over ${MAX_FILE_BYTES} bytes is refused before it is parsed`, async () => {
    const f = join(tmp, 'big.yaml');
    writeFileSync(f, `name: x\nnodes:\n${'  - {name: n}\n'.repeat(Math.ceil(MAX_FILE_BYTES / 14) + 1)}`);
    const r = await validate(f);
    expect(r.rc).toBe(2);
    expect(r.err).toMatch(new RegExp(`big\\.yaml: \\d+ bytes; at most ${MAX_FILE_BYTES} bytes`));
  });

  it(`more than ${MAX_NODES} nodes through extends is refused at the nodes key`, async () => {
    const base = join(tmp, 'base.yaml');
    const half = (from: number) => Array.from({ length: MAX_NODES / 2 + 1 }, (_, i) => `  - {name: n${from + i}}\n`).join('');
    writeFileSync(base, `name: x\noverlay: {podCidr: 10.0.0.0/8}\nunderlay: {segments: [{name: s, cidr: 172.16.0.0/12}]}\nnodes:\n${half(0)}`);
    const child = join(tmp, 'child.yaml');
    writeFileSync(child, `extends: base.yaml\nname: y\nnodes:\n${half(100_000)}`);
    const r = await validate(child);
    expect(r.rc).toBe(2);
    expect(r.err).toMatch(new RegExp(`child\\.yaml:3:1: nodes: ${MAX_NODES + 2} nodes \\(with extends\\); at most ${MAX_NODES}`));
  });

  it(`a ${1000}-node topology (the bench's largest) is accepted`, async () => {
    const f = join(tmp, 'k.yaml');
    writeFileSync(f, `name: k\noverlay: {podCidr: 10.0.0.0/8}\nunderlay: {segments: [{name: s, cidr: 172.16.0.0/12}]}\nnodes:\n${Array.from({ length: 1000 }, (_, i) => `  - {name: n${i}, pods: 2}\n`).join('')}`);
    const r = await validate(f);
    expect(r.err).toBe('');
    expect(r.rc).toBe(0);
    expect(r.out).toMatch(/1000 nodes, 2000 pods/);
  });
});
