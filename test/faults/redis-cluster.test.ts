// Redis Cluster and Sentinel under exporter processes: the redis-streams source and the Redis state
// on a test-started cluster (3 masters, 1 replica each) and on a Sentinel-managed master; the master
// holding the stream and the state is SIGKILLed under steady publishing and its replica takes over.
// Counted: events lost (of what Redis acknowledged as replicated), duplicates, time until flowing again.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { value } from '../helpers/metrics.js';
import { Processes, seeds, sleep, until, type Exporter } from '../helpers/processes.js';
import { countedBy, readiness, report, Traffic, type FaultFigures } from './traffic.js';

const RATE = 150;
const procs = new Processes();
afterAll(() => procs.cleanup());

let lastSendError = '';

/**
 * Publishes to `key` on its master, found by `master()` (and found again after any error). An event
 * counts as published once Redis stored it *and* a replica has it (WAIT 1 on the connection that
 * wrote it): Redis replicates asynchronously, and an entry only the dead master held is the
 * failover's loss, not the exporter's. Explicit ids make a retried XADD refuse a duplicate.
 */
function replicatedTraffic(master: () => Promise<{ host: string; port: number }>, key: string, password?: string): Traffic {
  let conn: Redis | undefined;
  return new Traffic({
    async send(events, firstSeq) {
      try {
        if (!conn) {
          const at = await master();
          conn = new Redis({ ...at, password, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
          conn.on('error', () => {});
          await conn.connect();
        }
        const m = conn.multi();
        events.forEach((e, i) => m.xadd(key, `0-${firstSeq + i + 1}`, 'data', JSON.stringify(e)));
        const res = (await m.exec()) ?? [];
        let n = 0;
        for (const [err] of res) {
          if (err && !String(err.message).includes('equal or smaller')) throw err;
          n++;
        }
        const replicas = await conn.wait(1, 1000);
        if (replicas < 1) {
          lastSendError = 'WAIT answered 0';
          return 0; // sent again: refused as stored, and WAITed for
        }
        return n;
      } catch (err) {
        lastSendError = (err as Error).message;
        conn?.disconnect();
        conn = undefined;
        return 0;
      }
    },
    async close() {
      conn?.disconnect();
    },
  });
}

interface FailoverFigures extends FaultFigures {
  /** master SIGKILLed -> its replica answers as master, ms */
  promotedAfterMs: number;
  lifecycleAnomalies: number;
}

async function failover(opts: {
  fault: string;
  exporters: Exporter[];
  traffic: Traffic;
  kill: () => Promise<void>;
  promoted: () => Promise<boolean> | boolean;
  /** after the promotion: the killed master started again (it rejoins as a replica, so WAIT 1 is met again) */
  restore: () => Promise<void>;
  debug?: () => string;
}): Promise<FailoverFigures> {
  const { exporters, traffic } = opts;
  const watch = procs.watch(exporters[0], 50);
  const total = () => countedBy(exporters).catch(() => -1);
  traffic.start(RATE);
  await until('warm-up traffic counted', async () => (await total()) >= RATE, 30_000, 100);
  const before = traffic.published;
  const killedAt = Date.now();
  await opts.kill();
  const promotedAfterMs = await until('the replica promoted', opts.promoted, 60_000, 100);
  await opts.restore();
  await until('events flowing again', async () => (await total()) > before, 60_000, 50).catch((err: Error) => {
    throw new Error(`${err.message}: counted ${before} before the kill, ${traffic.published} published, ${traffic.errors} failed sends (last: ${lastSendError})\n${opts.debug?.() ?? ''}\n${procs.logs(25)}`);
  });
  const recoveredAfterMs = Date.now() - killedAt;
  await sleep(2000);
  const published = await traffic.stop();
  const stoppedAt = Date.now();
  await until(`all ${published} published events counted`, async () => (await total()) >= published, 60_000, 100).catch(() => undefined);
  const caughtUpAfterMs = Date.now() - stoppedAt;
  // entries whose XACK the dead master took with it come again once claimed (claimIdleMs)
  await sleep(7000);
  watch.stop();
  let anomalies = 0;
  for (const e of exporters) anomalies += value(await e.metrics(), 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_without_start' });
  const f = report({
    fault: opts.fault,
    published,
    counted: await total(),
    recoveredAfterMs,
    caughtUpAfterMs,
    ...readiness(watch, killedAt, killedAt + promotedAfterMs),
  });
  const out = { ...f, promotedAfterMs, lifecycleAnomalies: anomalies };
  process.stdout.write(`REDIS-FAILOVER-FIGURES ${JSON.stringify(out)}\n`);
  return out;
}

function exporterConfig(where: Record<string, unknown>, key: string, prefix: string, consumer: string) {
  return {
    sources: [{ kind: 'redis-streams', url: 'redis://127.0.0.1:1', ...where, keys: [key], group: 'wfx', consumer, batch: 64, blockMs: 200, startId: '0', claimIdleMs: 3000, claimIntervalMs: 1000 }],
    state: { backend: 'redis', redisUrl: 'redis://127.0.0.1:1', ...where, prefix },
  };
}

describe('Redis Cluster (3 masters, 1 replica each, a password on every node): the stream and the state on one slot', () => {
  it('loses nothing Redis replicated when the master of that slot is killed; the exporters follow the promoted replica', async () => {
    const password = 'cluster-secret';
    const nodes = await procs.redisCluster(3, 2000, password);
    const secrets = procs.dir('secrets');
    writeFileSync(join(secrets, 'redis'), `${password}\n`);
    // one hash tag for the stream and the state prefix: both live on one master, killed below
    const key = '{wfx-run}:events';
    const prefix = '{wfx-run}';
    const client = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), { redisOptions: { maxRetriesPerRequest: 1, password }, clusterRetryStrategy: () => 200 });
    client.on('error', () => {});
    await until('the cluster client ready', () => client.status === 'ready', 20_000, 50);
    const masterOf = async () => {
      const slot = Number(await client.cluster('KEYSLOT', key));
      const slots = await client.cluster('SLOTS');
      const owner = slots.find(([from, to]) => slot >= from && slot <= to)!;
      return nodes.find((n) => n.port === owner[2][1])!;
    };
    const master = await masterOf();
    const exporters = [
      await procs.exporter(exporterConfig({ cluster: seeds(nodes), passwordFile: join(secrets, 'redis') }, key, prefix, 'replica-0')),
      await procs.exporter(exporterConfig({ cluster: seeds(nodes), passwordFile: join(secrets, 'redis') }, key, prefix, 'replica-1')),
    ];
    const traffic = replicatedTraffic(async () => ({ host: '127.0.0.1', port: (await masterOf()).port }), key, password);
    const f = await failover({
      fault: 'Redis Cluster master of the stream and state slot SIGKILLed',
      exporters,
      traffic,
      kill: () => master.kill(),
      promoted: async () => {
        try {
          return (await masterOf()) !== master;
        } catch {
          return false;
        }
      },
      restore: () => master.start(),
      debug: () => nodes.filter((n) => n.alive).map((n) => n.cli('cluster', 'nodes')).join('\n'),
    }).finally(() => traffic.close());
    client.disconnect();
    // every end met its start in the state on the cluster, across the failover: one duration per run,
    // and one more per run whose start and end were both redelivered (an ack the killed master had
    // not replicated; counted in f.duplicated, which RELIABILITY.md reports)
    let durations = 0;
    for (const e of exporters) durations += value(await e.metrics(), 'workflow_run_duration_seconds_count', { workflow_type: 'fault-test', outcome: 'completed' });
    const runs = Math.floor(f.published / 2);
    expect(f.lifecycleAnomalies).toBe(0);
    expect(durations).toBeGreaterThanOrEqual(runs);
    expect(durations - runs).toBeLessThanOrEqual(Math.floor(f.duplicated / 2));
    expect(f.lost).toBe(0);
    expect(exporters.every((e) => e.alive)).toBe(true);
    for (const e of exporters) expect(await e.ready()).toBe(true);
  }, 240_000);
});

describe('Sentinel-managed Redis (master, replica, one sentinel, each with a password)', () => {
  it('follows the sentinel to the promoted replica: nothing replicated lost', async () => {
    const passwords = { redis: 'redis-secret', sentinel: 'sentinel-secret' };
    const { master, replica, sentinel } = await procs.redisSentinel('wfx', 1000, passwords);
    // passwords from files, as the exporter takes every secret
    const secrets = procs.dir('secrets');
    writeFileSync(join(secrets, 'redis'), `${passwords.redis}\n`);
    writeFileSync(join(secrets, 'sentinel'), `${passwords.sentinel}\n`);
    const where = { passwordFile: join(secrets, 'redis'), sentinel: { name: 'wfx', sentinels: [sentinel.url], passwordFile: join(secrets, 'sentinel') } };
    const key = 'wfx:sentinel:events';
    const exporters = [await procs.exporter(exporterConfig(where, key, 'wfx_sentinel', 'replica-0'))];
    const traffic = replicatedTraffic(async () => {
      const [host, port] = sentinel.cli('--raw', 'sentinel', 'get-master-addr-by-name', 'wfx').trim().split('\n');
      return { host, port: Number(port) };
    }, key, passwords.redis);
    const f = await failover({
      fault: 'Sentinel-managed master SIGKILLed',
      exporters,
      traffic,
      kill: () => master.kill(),
      promoted: () => replica.cli('role').startsWith('master'),
      // the sentinel turns the old master into a replica of the new one when it is back
      restore: () => master.start(),
    }).finally(() => traffic.close());
    expect(f.lost).toBe(0);
    expect(await exporters[0].ready()).toBe(true);
  }, 240_000);
});
