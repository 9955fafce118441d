import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { envPath, loadConfig, rawConfig } from './load.js';
import { configSchema } from './schema.js';

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wfx-config-'));
  const p = join(dir, 'config.yaml');
  writeFileSync(p, text);
  return p;
}

describe('loadConfig', () => {
  it('gives the documented defaults with no file', () => {
    const c = loadConfig();
    expect(c.server.port).toBe(9477);
    expect(c.server.host).toBe('0.0.0.0');
    expect(c.state.backend).toBe('memory');
    expect(c.metrics.buckets.run[0]).toBe(1);
  });

  it('layers file, then WFX_ environment, then flags', () => {
    const p = file('server:\n  port: 1000\n  host: 127.0.0.1\nlog:\n  level: debug\n');
    const c = loadConfig({ file: p, env: { WFX_PORT: '2000', WFX_LOG__LEVEL: 'warn', WFX_STATE__MAX_ENTRIES: '5000' }, overrides: { 'server.port': 3000 } });
    expect(c.server.port).toBe(3000);
    expect(c.server.host).toBe('127.0.0.1');
    expect(c.log.level).toBe('warn');
    expect(c.state.maxEntries).toBe(5000);
  });

  it('takes sources as JSON from the environment', () => {
    const c = loadConfig({ env: { WFX_SOURCES: '[{"kind":"redis-streams","keys":["k"]}]' } });
    expect(c.sources[0]).toMatchObject({ kind: 'redis-streams', keys: ['k'], group: 'workflow-exporter', batch: 500 });
  });

  it('maps env names to config paths', () => {
    expect(envPath('WFX_SERVER__SHUTDOWN_TIMEOUT_MS')).toBe('server.shutdownTimeoutMs');
    expect(envPath('WFX_DEMO')).toBe('demo');
    expect(envPath('HOME')).toBeUndefined();
  });

  it('fails naming the path and the reason', () => {
    const p = file('server:\n  port: 70000\nsources:\n  - kind: nats-jetstream\n    streams: []\n');
    try {
      loadConfig({ file: p });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const paths = (e as ConfigError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['server.port', 'sources.0.streams']));
      expect((e as Error).message).toContain(p);
    }
  });

  it('on a Redis Cluster, wants the keys one source reads under one hash tag', () => {
    const src = (keys: string[]) => ({ sources: [{ kind: 'redis-streams', cluster: ['redis://r0:6379'], keys }] });
    try {
      configSchema.parse(src(['workflow:events', 'agents:events']));
      expect.unreachable();
    } catch (e) {
      expect((e as { issues: { path: (string | number)[]; message: string }[] }).issues.map((i) => [i.path.join('.'), i.message])).toEqual([
        ['sources.0.keys', 'on a Redis Cluster the keys read together need one hash tag, e.g. {workflow}:events; workflow:events, agents:events may be on different slots'],
      ]);
    }
    expect(configSchema.parse(src(['{wf}:events', '{wf}:agents'])).sources[0]).toMatchObject({ keys: ['{wf}:events', '{wf}:agents'] });
    // one key, or no cluster: nothing to share
    expect(() => configSchema.parse(src(['workflow:events']))).not.toThrow();
    expect(() => configSchema.parse({ sources: [{ kind: 'redis-streams', keys: ['a', 'b'] }] })).not.toThrow();
  });

  it('rejects unknown keys and bad YAML', () => {
    expect(() => loadConfig({ file: file('sever:\n  port: 1\n') })).toThrow(/Unrecognized key/);
    expect(() => loadConfig({ file: file('a: [\n') })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ file: '/nonexistent/wfx.yaml' })).toThrow(/cannot read config file/);
  });

  it('parses without zod\'s generated fast path to exactly what the schema parses with it', () => {
    const good = file(
      [
        'server: { port: 1000 }',
        'sources:',
        '  - kind: nats-jetstream',
        '    servers: [nats://127.0.0.1:4222]',
        '    streams: [{ stream: S, subjects: [s.>], durable: d }]',
        '  - kind: redis-streams',
        '    keys: [k]',
        'tail: { follow: on }',
        'redact: { fields: [attributes.token] }',
        '',
      ].join('\n'),
    );
    expect(loadConfig({ file: good })).toEqual(configSchema.parse(rawConfig({ file: good })));
    const bad = file('server:\n  port: x\nsources:\n  - kind: redis-streams\nsever: 1\n');
    const jit = configSchema.safeParse(rawConfig({ file: bad }));
    expect(jit.success).toBe(false);
    try {
      loadConfig({ file: bad });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).issues).toEqual(jit.error!.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message })));
    }
  });
});
