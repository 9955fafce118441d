// The exporter's V8 flags (src/util/node-flags.ts) are the ones every shipped launcher passes: the image's
// ENTRYPOINT, `npm start` and the command's shebang; and this Node accepts them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const read = (f: string) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8');
const root = new URL('..', import.meta.url).pathname;

describe('node flags', () => {
  it("the Dockerfile's ENTRYPOINT starts node with them", () => {
    const line = read('Dockerfile').split('\n').find((l) => l.startsWith('ENTRYPOINT'))!;
    expect(JSON.parse(line.slice('ENTRYPOINT'.length))).toEqual(['node', ...NODE_FLAGS, 'dist/cli.js']);
  });

  it('npm start passes them', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start;
    expect(start.split(' ')).toEqual(['node', ...NODE_FLAGS, 'dist/cli.js', 'serve', '--demo']);
  });

  it("the command's shebang passes them, and the built command runs through it", () => {
    const shebang = read('src/cli.ts').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    expect(readFileSync(new URL('../dist/cli.js', import.meta.url), 'utf8').split('\n')[0]).toBe(shebang);
    // as the kernel runs an installed bin: env -S splits the line, node takes the flags
    const out = execFileSync('/usr/bin/env', ['-S', shebang.slice('#!/usr/bin/env -S '.length), 'dist/cli.js', '--help'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/serve/);
  });

  it('node takes them and V8 applies them: a young generation that churns stays under 48 MiB (semi-spaces of 8 plus page rounding; V8 lets it grow to 2 x 64 MiB on a large machine)', () => {
    // enough surviving allocation that V8 would grow its semi-spaces to their maximum
    const script = `const keep = []; for (let r = 0; r < 60; r++) { const a = []; for (let i = 0; i < 200000; i++) a.push({ i, s: 'x' + i }); keep.push(a); if (keep.length > 3) keep.shift(); }
      process.stdout.write(String(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))`;
    const size = Number(execFileSync(process.execPath, [...NODE_FLAGS, '-e', script], { encoding: 'utf8' }));
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(48 * 2 ** 20);
  });
});
