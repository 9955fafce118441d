// Opening a Redis connection for a source, a reader or the state store on any of the topologies
// users run: one server (url), a Sentinel-managed master, or a Redis Cluster, each through ioredis'
// own support, so failovers are followed by the client rather than by us.
import type { ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { loadRedis } from './bus-clients.js';
import { readSecretFile } from './secret.js';

export interface RedisTopology {
  url: string;
  /** seed nodes of a Redis Cluster; url is then unused */
  cluster?: string[];
  /** a master the sentinels monitor; url is then unused */
  sentinel?: { name: string; sentinels: string[]; passwordFile?: string };
  /** the Redis password, read from this file (for every node of a cluster, or the sentinels' master) */
  passwordFile?: string;
}

function hostPort(address: string): { host: string; port: number } {
  const u = new URL(address.includes('://') ? address : `redis://${address}`);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** Where a topology points, for log lines and errors. */
export function describeTopology(t: RedisTopology): string {
  if (t.cluster) return `Redis Cluster ${t.cluster.join(',')}`;
  if (t.sentinel) return `Sentinel master ${t.sentinel.name} via ${t.sentinel.sentinels.join(',')}`;
  return t.url;
}

/**
 * A client for `t` with `options` (per node, for a cluster). A Cluster client is returned typed as
 * Redis: it answers the same commands, events and connect()/quit(), with the rule that the keys of
 * one command (and of one script or pipeline) share a hash slot.
 */
export async function openRedis(t: RedisTopology, options: RedisOptions, clusterOptions: ClusterOptions = {}): Promise<Redis> {
  const { Redis, Cluster } = await loadRedis();
  const password = options.password ?? readSecretFile(t.passwordFile);
  const withAuth = password !== undefined ? { ...options, password } : options;
  if (t.cluster) {
    const { lazyConnect, ...perNode } = withAuth;
    return new Cluster(t.cluster.map(hostPort), { lazyConnect, ...clusterOptions, redisOptions: perNode }) as unknown as Redis;
  }
  if (t.sentinel) {
    return new Redis({ ...withAuth, sentinels: t.sentinel.sentinels.map(hostPort), name: t.sentinel.name, sentinelPassword: readSecretFile(t.sentinel.passwordFile) });
  }
  return new Redis(t.url, withAuth);
}
