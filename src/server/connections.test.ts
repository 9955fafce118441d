// Unit tests of the connection limits' arithmetic: the open-file limit, the cap fitted under it, the timeouts as server options.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { configFrom } from '../config/load.js';
import { effectiveMaxConnections, FD_HEADROOM, openFileLimit, serverTimeouts } from './connections.js';

describe('connection limits', () => {
  test('the open-file limit is the soft one of /proc/self/limits; unreadable means unknown', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wfx-limits-'));
    try {
      const f = join(dir, 'limits');
      writeFileSync(f, 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n');
      expect(openFileLimit(f)).toBe(1024);
      expect(openFileLimit(join(dir, 'none'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('maxConnections is lowered to leave FD_HEADROOM descriptors under the limit, never below 16', () => {
    expect(FD_HEADROOM).toBe(256);
    expect(effectiveMaxConnections(4096, 1024)).toBe(768);
    expect(effectiveMaxConnections(4096, 1_048_576)).toBe(4096);
    expect(effectiveMaxConnections(4096, undefined)).toBe(4096);
    expect(effectiveMaxConnections(4096, 100)).toBe(16);
  });

  test('defaults as server options; Node checks the header and request timeouts every quarter of the shorter', () => {
    expect(serverTimeouts(configFrom({}).server)).toEqual({
      requestTimeout: 30_000,
      connectionTimeout: 120_000,
      keepAliveTimeout: 72_000,
      maxRequestsPerSocket: 0,
      http: { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2500 },
    });
    expect(serverTimeouts(configFrom({ server: { headersTimeoutMs: 200, requestTimeoutMs: 300 } }).server).http.connectionsCheckingInterval).toBe(100);
  });

  test('inconsistent settings fail at load, naming the field', () => {
    expect(() => configFrom({ server: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } })).toThrow(/server\.headersTimeoutMs: headersTimeoutMs must not exceed requestTimeoutMs/);
    expect(() => configFrom({ server: { maxConnections: 64, reservedConnections: 64 } })).toThrow(/server\.reservedConnections: reservedConnections must be below maxConnections/);
    expect(() => configFrom({ server: { connectionTimeoutMs: 20_000 } })).toThrow(/server\.connectionTimeoutMs: server\.connectionTimeoutMs must exceed tail\.heartbeatIntervalMs/);
  });
});
