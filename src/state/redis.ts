// Redis lifecycle store: start times and open runs shared by replicas and kept across restarts.
import type { Redis } from 'ioredis';
import { openRedis, type RedisTopology } from '../util/redis-client.js';
import type { ActiveRuns, AnomalyCounter, LifecycleOp, LifecycleStore, OpenRun } from './lifecycle.js';

// One round trip per batch: every op of the batch runs in one atomic script, so a start handled by
// one replica and its end by another still meet, and a redelivered start cannot count a run twice.
// An open entry holds [start, state, workflow type, run] as a JSON array: the type and run are raw
// event text, so no separator could be trusted to stay out of them. Entries written as the four
// joined by \31 (before JSON) are still read, until their TTL has passed.
// A type leaves the set of types when its last open run ends, so the set (and each scrape, which
// reads every type in it) holds the types with open runs, not every type ever seen.
const SCRIPT = `
local prefix, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local types = prefix .. ':types'
local function decode(v)
  if string.sub(v, 1, 1) == '[' then
    local a = cjson.decode(v)
    return a[1], a[2], a[3], a[4]
  end
  return string.match(v, '^([^\\31]*)\\31([^\\31]*)\\31([^\\31]*)\\31(.*)$')
end
local out = {}
local j = 4
for i = 1, n do
  local op, key, run, wt, t = ARGV[j], ARGV[j+1], ARGV[j+2], ARGV[j+3], ARGV[j+4]
  j = j + 5
  local k = prefix .. ':open:' .. key
  if op == 'W' or op == 'S' then
    if redis.call('SET', k, cjson.encode({t, 'running', wt, run}), 'NX', 'PX', ttl) then
      if op == 'W' then
        redis.call('ZADD', prefix .. ':active:' .. wt .. ':running', t, run)
        redis.call('SADD', types, wt)
      end
      out[i] = 'n'
    else
      out[i] = 'd'
    end
  else
    local v = redis.call('GET', k)
    if not v then
      out[i] = 'm'
    else
      local s, st, swt, srun = decode(v)
      local active = prefix .. ':active:' .. swt .. ':'
      if op == 'X' or op == 'E' then
        redis.call('DEL', k)
        if op == 'X' then
          redis.call('ZREM', active .. st, srun)
          if redis.call('ZCARD', active .. 'running') == 0 and redis.call('ZCARD', active .. 'paused') == 0 then redis.call('SREM', types, swt) end
        end
        -- the start is digits only: the first \\31 ends it
        out[i] = s .. '\\31' .. swt
      else
        local nx = 'running'
        if op == 'P' then nx = 'paused' end
        if st ~= nx then
          redis.call('SET', k, cjson.encode({s, nx, swt, srun}), 'KEEPTTL')
          redis.call('ZREM', active .. st, srun)
          redis.call('ZADD', active .. nx, s, srun)
        end
        out[i] = 'p'
      end
    end
  end
end
return out
`;

// A scrape's read of active runs, in one script: per type with open runs, forget those past the TTL
// (their open entry expired) and count both states; a type left with none leaves the set of types.
// Its cost follows the types open now, never the history: the old reader asked 4 commands per type
// ever seen (figures: docs/benchmarks-log.md, "Figures behind code comments").
const ACTIVE_SCRIPT = `
local prefix, cutoff = ARGV[1], ARGV[2]
local types = prefix .. ':types'
local out = {}
for _, wt in ipairs(redis.call('SMEMBERS', types)) do
  local running = prefix .. ':active:' .. wt .. ':running'
  local paused = prefix .. ':active:' .. wt .. ':paused'
  redis.call('ZREMRANGEBYSCORE', running, '-inf', cutoff)
  redis.call('ZREMRANGEBYSCORE', paused, '-inf', cutoff)
  local r, p = redis.call('ZCARD', running), redis.call('ZCARD', paused)
  if r == 0 and p == 0 then
    redis.call('SREM', types, wt)
  else
    out[#out + 1] = wt
    out[#out + 1] = r
    out[#out + 1] = p
  end
end
return out
`;

// The shared duplicate filter: one SET NX PX per id, all of a batch in one script (one round trip),
// provisional until the batch went through the sinks, then held for the window (CONFIRM_SCRIPT);
// KEYS[1] is the id keys' prefix, so under Redis Cluster the script goes to the node of its hash slot.
const CLAIM_SCRIPT = `
local ttl = ARGV[1]
local out = {}
for i = 2, #ARGV do
  if redis.call('SET', KEYS[1] .. ARGV[i], '1', 'NX', 'PX', ttl) then out[i - 1] = 1 else out[i - 1] = 0 end
end
return out
`;

const CONFIRM_SCRIPT = `
local ttl = ARGV[1]
for i = 2, #ARGV do redis.call('PEXPIRE', KEYS[1] .. ARGV[i], ttl) end
return 0
`;

type ScriptRedis = Redis & {
  wfxLifecycle(...args: (string | number)[]): Promise<string[]>;
  wfxActive(...args: (string | number)[]): Promise<(string | number)[]>;
  wfxClaim(...args: (string | number)[]): Promise<number[]>;
  wfxConfirm(...args: (string | number)[]): Promise<number>;
};

// Reads made for a scrape (active runs, overdue counts) wait this long, then answer with the last
// known values: a stalled state Redis must not hang /metrics and make the whole exporter look down.
export const SCRAPE_READ_TIMEOUT_MS = 1000;
const TIMED_OUT = Symbol('timed out');

export class RedisLifecycleStore implements LifecycleStore {
  /** the client, once the library is loaded (a tick or so after construction) */
  private redis?: ScriptRedis;
  private readonly opened: Promise<ScriptRedis>;
  private readonly ttlMs: number;
  private readonly lastRead = new Map<string, unknown>();

  private readonly prefix: string;

  constructor(
    where: string | RedisTopology,
    prefix: string,
    ttlSeconds: number,
    private readonly countAnomaly: AnomalyCounter,
  ) {
    this.ttlMs = ttlSeconds * 1000;
    const topology = typeof where === 'string' ? { url: where } : where;
    // on a cluster every key of the state must live in one hash slot, or a script could not touch
    // them together: the prefix becomes the hash tag unless it carries one
    this.prefix = topology.cluster && !/\{[^}]+\}/.test(prefix) ? `{${prefix}}` : prefix;
    // ioredis is loaded on demand (an exporter with in-memory state never imports it); the client
    // connects as soon as it is loaded, and commands issued before then wait for it
    this.opened = openRedis(topology, { lazyConnect: false, maxRetriesPerRequest: null, enableAutoPipelining: false }).then((client) => {
      const redis = client as ScriptRedis;
      // KEYS[1] (a key of the state's slot) routes each script to the node that owns the slot
      redis.defineCommand('wfxLifecycle', { numberOfKeys: 1, lua: SCRIPT });
      redis.defineCommand('wfxActive', { numberOfKeys: 1, lua: ACTIVE_SCRIPT });
      redis.defineCommand('wfxClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
      redis.defineCommand('wfxConfirm', { numberOfKeys: 1, lua: CONFIRM_SCRIPT });
      redis.on('error', () => {}); // reconnects on its own; failures surface as rejected commands
      return (this.redis = redis);
    });
  }

  async apply(ops: LifecycleOp[]): Promise<number[]> {
    if (ops.length === 0) return [];
    const redis = this.redis ?? (await this.opened);
    const args: (string | number)[] = [`${this.prefix}:types`, this.prefix, this.ttlMs, ops.length];
    for (const o of ops) args.push(o.op, o.key, o.run, o.workflowType, Math.round(o.timeMs));
    const res = await redis.wfxLifecycle(...args);
    const out = new Array<number>(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const r = res[i];
      out[i] = NaN;
      if (r === 'd') this.countAnomaly('duplicate_start');
      else if (r === 'm') this.countAnomaly('end_without_start');
      else if (r === 'q') this.countAnomaly('pause_without_start');
      else if (r !== 'n' && r !== 'p') {
        // a matched end answers "<start ms>\x1f<workflow type at start>"
        const sep = r.indexOf('\x1f');
        out[i] = Number(sep < 0 ? r : r.slice(0, sep));
        if (sep >= 0) ops[i].startType = r.slice(sep + 1);
      }
    }
    return out;
  }

  /** The shared duplicate filter (accounting.sharedDedupe): claims the ids for `pendingMs`; true where an id was new. */
  async claimIds(ids: string[], pendingMs: number): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const redis = this.redis ?? (await this.opened);
    const res = await redis.wfxClaim(`${this.prefix}:id:`, Math.max(1, Math.round(pendingMs)), ...ids);
    return res.map((r) => r === 1);
  }

  /** Holds the claims of a batch the sinks took for the whole dedupe window. */
  async confirmIds(ids: string[], windowMs: number): Promise<void> {
    if (ids.length === 0) return;
    const redis = this.redis ?? (await this.opened);
    await redis.wfxConfirm(`${this.prefix}:id:`, Math.max(1, Math.round(windowMs)), ...ids);
  }

  /** Releases claims of a failed batch, so its redelivery counts. */
  async releaseIds(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const redis = this.redis ?? (await this.opened);
    await redis.del(...ids.map((id) => `${this.prefix}:id:${id}`));
  }

  /** Runs `read`; past SCRAPE_READ_TIMEOUT_MS answers with its last result instead (the read goes on). */
  private async bounded<T>(what: string, read: () => Promise<T>, initial: T): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof TIMED_OUT>((r) => {
      timer = setTimeout(() => r(TIMED_OUT), SCRAPE_READ_TIMEOUT_MS);
    });
    const done = read().then((v) => {
      this.lastRead.set(what, v);
      return v;
    });
    try {
      const res = await Promise.race([done, late]);
      return res === TIMED_OUT ? ((this.lastRead.get(what) as T | undefined) ?? initial) : res;
    } finally {
      clearTimeout(timer);
    }
  }

  activeRuns(): Promise<ActiveRuns[]> {
    return this.bounded('activeRuns', () => this.readActiveRuns(), []);
  }

  private async readActiveRuns(): Promise<ActiveRuns[]> {
    const redis = this.redis ?? (await this.opened);
    // runs whose start is older than the TTL lost their open entry: forget them here too
    const r = await redis.wfxActive(`${this.prefix}:types`, this.prefix, Date.now() - this.ttlMs);
    const out: ActiveRuns[] = [];
    // only states with open runs: a 0 would keep a series for a state nobody is in
    for (let i = 0; i + 2 < r.length; i += 3) {
      const workflow_type = String(r[i]);
      if (Number(r[i + 1]) > 0) out.push({ workflow_type, state: 'running', count: Number(r[i + 1]) });
      if (Number(r[i + 2]) > 0) out.push({ workflow_type, state: 'paused', count: Number(r[i + 2]) });
    }
    return out;
  }

  async openRunsBefore(beforeMs: number): Promise<OpenRun[]> {
    const redis = this.redis ?? (await this.opened);
    const types = await redis.smembers(`${this.prefix}:types`);
    const out: OpenRun[] = [];
    const oldest = Date.now() - this.ttlMs; // older runs lost their open entry to the TTL
    for (const t of types) {
      for (const s of ['running', 'paused'] as const) {
        const r = await redis.zrangebyscore(`${this.prefix}:active:${t}:${s}`, `(${oldest}`, `(${beforeMs}`, 'WITHSCORES');
        for (let i = 0; i < r.length; i += 2) out.push({ run: r[i], workflowType: t, startMs: Number(r[i + 1]), state: s });
      }
    }
    return out;
  }

  overdueCounts(cutoff: (workflowType: string) => number | undefined): Promise<{ workflowType: string; count: number }[]> {
    return this.bounded('overdueCounts', () => this.readOverdueCounts(cutoff), []);
  }

  private async readOverdueCounts(cutoff: (workflowType: string) => number | undefined): Promise<{ workflowType: string; count: number }[]> {
    const redis = this.redis ?? (await this.opened);
    const types = await redis.smembers(`${this.prefix}:types`);
    const oldest = Date.now() - this.ttlMs;
    const p = redis.pipeline();
    const asked: string[] = [];
    for (const t of types) {
      const c = cutoff(t);
      if (c === undefined) continue;
      // one ZCOUNT per state: the score is the start time, so this never reads the runs themselves
      p.zcount(`${this.prefix}:active:${t}:running`, `(${oldest}`, `(${c}`);
      p.zcount(`${this.prefix}:active:${t}:paused`, `(${oldest}`, `(${c}`);
      asked.push(t);
    }
    if (asked.length === 0) return [];
    const res = (await p.exec()) ?? [];
    return asked.map((workflowType, i) => ({ workflowType, count: Number(res[i * 2]?.[1] ?? 0) + Number(res[i * 2 + 1]?.[1] ?? 0) }));
  }

  async close(): Promise<void> {
    const redis = this.redis ?? (await this.opened);
    await redis.quit().catch(() => redis.disconnect());
  }
}
