// Realistic multi-agent workflow traffic for the embedded demo and `simulate`: several workflow
// types, stages run by agents with their own latency and failure rates, tool calls, model tokens
// and cost, queue waits, pauses, cancellations, an agent that goes silent now and then, and
// queues whose depth rises and falls. Every metric a generated dashboard or rule reads gets data.
import type { CanonicalEventInput, Priority } from '../../events/schema.js';

/** mulberry32: small, fast, seedable; good enough for traffic shapes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface AgentProfile {
  /** median task latency in seconds, and the lognormal spread */
  median: number;
  sigma: number;
  failure: number;
}

export const AGENTS: Record<string, AgentProfile> = {
  planner: { median: 2, sigma: 0.4, failure: 0.02 },
  researcher: { median: 9, sigma: 0.7, failure: 0.08 },
  coder: { median: 6, sigma: 0.6, failure: 0.06 },
  tester: { median: 3.5, sigma: 0.5, failure: 0.12 },
  reviewer: { median: 2.5, sigma: 0.3, failure: 0.03 },
  deployer: { median: 4, sigma: 0.3, failure: 0.04 },
};

/** Tools each agent calls during a task, with a median latency (seconds) and a failure rate. */
export const TOOLS: Record<string, { tool: string; median: number; failure: number }[]> = {
  planner: [{ tool: 'search_docs', median: 0.4, failure: 0.02 }],
  researcher: [
    { tool: 'web_search', median: 1.8, failure: 0.06 },
    { tool: 'read_file', median: 0.02, failure: 0.005 },
  ],
  coder: [
    { tool: 'read_file', median: 0.02, failure: 0.005 },
    { tool: 'edit_file', median: 0.03, failure: 0.01 },
    { tool: 'run_shell', median: 2.5, failure: 0.08 },
  ],
  tester: [{ tool: 'run_tests', median: 1.5, failure: 0.1 }],
  reviewer: [
    { tool: 'git_diff', median: 0.15, failure: 0.01 },
    { tool: 'read_file', median: 0.02, failure: 0.005 },
  ],
  deployer: [{ tool: 'kubectl_apply', median: 3, failure: 0.05 }],
};

/** US dollars per million tokens, in and out, by model (list prices of the day, roughly). */
export const MODEL_PRICES: Record<string, { in: number; out: number }> = {
  large: { in: 3, out: 15 },
  small: { in: 0.25, out: 1.25 },
};

/**
 * The demo's daily budget per agent, in US dollars per (event per second) of demo rate: about twice
 * what the demo spends, so the budget-burn panel shows about half used and its alert stays quiet
 * at any rate. Measured from the generator over simulated hours (generator.test.ts checks it).
 */
export const DEMO_BUDGET_PER_RATE: Record<string, number> = {
  planner: 5.2,
  researcher: 115,
  coder: 110,
  tester: 11,
  reviewer: 10,
  deployer: 2.8,
};

/** Daily budgets for the demo's agents at `rate` events per second (rounded to cents). */
export function demoBudgets(rate: number): Record<string, number> {
  return Object.fromEntries(Object.entries(DEMO_BUDGET_PER_RATE).map(([agent, usd]) => [agent, Math.round(usd * rate * 100) / 100]));
}

/** The agent that goes silent: no heartbeats and no tasks for a while, every few minutes. */
export const FLAKY_AGENT = 'researcher';

export const WORKFLOWS: Record<string, { weight: number; stages: [stage: string, agent: string][] }> = {
  'feature-dev': { weight: 4, stages: [['planning', 'planner'], ['research', 'researcher'], ['coding', 'coder'], ['testing', 'tester'], ['review', 'reviewer']] },
  'bug-fix': { weight: 3, stages: [['triage', 'researcher'], ['coding', 'coder'], ['testing', 'tester']] },
  'code-review': { weight: 2, stages: [['analysis', 'reviewer'], ['review', 'reviewer']] },
  'release': { weight: 1, stages: [['build', 'deployer'], ['testing', 'tester'], ['deploy', 'deployer']] },
};

const QUEUES = [
  { name: 'tasks', base: 40, amplitude: 35, periodS: 180 },
  { name: 'reviews', base: 8, amplitude: 7, periodS: 95 },
  { name: 'deployments', base: 2, amplitude: 2, periodS: 300 },
];

const PRIORITY_WEIGHTS: [Priority, number][] = [
  ['low', 0.2],
  ['normal', 0.6],
  ['high', 0.15],
  ['critical', 0.05],
];

// A run emits about this many events: started/ended, per stage 2, per task 2 and 1–3 tool calls
// (1–3 tasks a stage). Measured 38.5 over simulated hours; rounded up for heartbeats and queue samples.
const EVENTS_PER_RUN_ESTIMATE = 40;

export interface DemoOptions {
  /** target events per second, heartbeats and queue samples included */
  rate: number;
  seed?: number;
  /** >1 makes runs finish faster than real time (latencies divided by it) */
  timeScale?: number;
  source?: string;
  /** silent period of the flaky agent, and how often it happens (seconds) */
  silenceS?: number;
  silenceEveryS?: number;
}

interface Pending {
  due: number;
  event: CanonicalEventInput;
}

/** A binary min-heap on `due`. */
class Heap {
  private readonly a: Pending[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Pending | undefined {
    return this.a[0];
  }
  push(p: Pending): void {
    const a = this.a;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent].due <= a[i].due) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }
  pop(): Pending | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].due < a[m].due) m = l;
        if (r < a.length && a[r].due < a[m].due) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

export class DemoGenerator {
  private readonly rnd: () => number;
  private readonly heap = new Heap();
  private readonly scale: number;
  private readonly source: string;
  private readonly idPrefix: string;
  private seq = 0;
  private runSeq = 0;
  private last: number | undefined;
  private nextHeartbeat = 0;
  private nextQueue = 0;
  private runCredit = 0;
  private readonly startedAt: number;

  constructor(
    private readonly opts: DemoOptions,
    now: number = Date.now(),
  ) {
    this.rnd = prng(opts.seed ?? (now & 0x7fffffff));
    this.scale = opts.timeScale ?? 1;
    this.source = opts.source ?? 'demo-orchestrator';
    this.idPrefix = Math.floor(this.rnd() * 36 ** 6).toString(36).padStart(6, '0');
    this.startedAt = now;
  }

  /** Whether the flaky agent is silent at `t` (deterministic windows). */
  silent(t: number): boolean {
    const every = (this.opts.silenceEveryS ?? 300) * 1000;
    const len = (this.opts.silenceS ?? 60) * 1000;
    const phase = (t - this.startedAt) % every;
    return phase > every - len;
  }

  private silenceEnd(t: number): number {
    const every = (this.opts.silenceEveryS ?? 300) * 1000;
    return t - ((t - this.startedAt) % every) + every;
  }

  private id(): string {
    return `${this.idPrefix}-${(this.seq++).toString(36)}`;
  }

  private lognormal(median: number, sigma: number): number {
    // Box–Muller
    const u = 1 - this.rnd();
    const v = this.rnd();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(sigma * z);
  }

  private pick<T>(items: [T, number][]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.rnd() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r <= 0) return v;
    }
    return items[items.length - 1][0];
  }

  private emit(due: number, e: Omit<CanonicalEventInput, 'id' | 'time' | 'source'>): void {
    this.heap.push({ due, event: { id: this.id(), time: new Date(due).toISOString(), source: this.source, ...e } });
  }

  /** Schedules one whole run's timeline from `t0`. */
  private startRun(t0: number): void {
    const type = this.pick(Object.entries(WORKFLOWS).map(([k, v]) => [k, v.weight] as [string, number]));
    const runId = `wf-${this.idPrefix}-${(this.runSeq++).toString(36)}`;
    const workflow = { id: runId, type };
    const priority = this.pick(PRIORITY_WEIGHTS);
    let t = t0;
    this.emit(t, { type: 'workflow.started', workflow, priority });
    let outcome: 'completed' | 'failed' | 'cancelled' = 'completed';
    for (const [stage, agent] of WORKFLOWS[type].stages) {
      const profile = AGENTS[agent];
      t += 50 / this.scale;
      this.emit(t, { type: 'stage.started', workflow, stage, priority });
      const stageStart = t;
      const tasks = 1 + Math.floor(this.rnd() * 3);
      let stageFailed = false;
      for (let k = 0; k < tasks && !stageFailed; k++) {
        for (let attempt = 0; attempt < 2; attempt++) {
          const task = { id: `t-${this.id()}`, name: `${stage}-${k + 1}` };
          const enqueued = t;
          // queue wait before the agent picks it up
          t += (200 + this.rnd() * 800) / this.scale;
          // work for the silent agent waits in its queue until it comes back
          if (agent === FLAKY_AGENT && this.silent(t)) t = this.silenceEnd(t) + 1;
          this.emit(t, { type: 'task.started', workflow, stage, task, agent, priority, enqueued_at: new Date(enqueued).toISOString() });
          let latency = this.lognormal(profile.median, profile.sigma) * 1000;
          // the flaky agent is slow and error-prone while it is silent
          const failed = this.rnd() < profile.failure;
          if (failed) latency *= 0.4;
          this.toolCalls(t, latency, { workflow, stage, task, agent, priority });
          t += latency / this.scale;
          // an agent that went quiet mid-task reports back only when it returns
          if (agent === FLAKY_AGENT && this.silent(t)) t = this.silenceEnd(t) + 1 + this.rnd() * 500;
          const model = agent === 'coder' || agent === 'researcher' ? 'large' : 'small';
          const tokensIn = Math.round(300 + this.rnd() * 3000);
          const tokensOut = Math.round(100 + this.rnd() * 1500);
          const price = MODEL_PRICES[model];
          this.emit(t, {
            type: failed ? 'task.failed' : 'task.completed',
            workflow,
            stage,
            task,
            agent,
            priority,
            tokens_in: tokensIn,
            tokens_out: tokensOut,
            model,
            cost_usd: Math.round(tokensIn * price.in + tokensOut * price.out) / 1e6,
          });
          if (!failed) break;
          if (attempt === 1) stageFailed = true;
        }
      }
      t += 20 / this.scale;
      this.emit(t, {
        type: stageFailed ? 'stage.failed' : 'stage.completed',
        workflow,
        stage,
        priority,
        duration_ms: Math.round((t - stageStart) * this.scale),
      });
      if (stageFailed) {
        outcome = 'failed';
        break;
      }
      if (this.rnd() < 0.03) {
        // an operator pauses the run for a while
        this.emit(t + 10 / this.scale, { type: 'workflow.paused', workflow, priority });
        t += (3000 + this.rnd() * 7000) / this.scale;
        this.emit(t, { type: 'workflow.resumed', workflow, priority });
      }
      if (this.rnd() < 0.01) {
        outcome = 'cancelled';
        break;
      }
    }
    t += 30 / this.scale;
    this.emit(t, { type: `workflow.${outcome}`, workflow, priority });
  }

  /**
   * One to three tool calls spread over a task that started at `t0` and works for `latencyMs`
   * (unscaled); each reports when it returns, with its own duration, and none outlasts its share of
   * the task. The silent agent's calls during its silence are never heard.
   */
  private toolCalls(t0: number, latencyMs: number, e: Pick<CanonicalEventInput, 'workflow' | 'stage' | 'task' | 'agent' | 'priority'>): void {
    const tools = TOOLS[e.agent!];
    const n = 1 + Math.floor(this.rnd() * 3);
    const slot = latencyMs / n;
    for (let j = 0; j < n; j++) {
      const spec = tools[Math.floor(this.rnd() * tools.length)];
      const durationMs = Math.round(Math.min(this.lognormal(spec.median, 0.5) * 1000, slot * 0.9));
      const at = t0 + (j * slot + durationMs) / this.scale;
      const failed = this.rnd() < spec.failure;
      if (e.agent === FLAKY_AGENT && this.silent(at)) continue;
      this.emit(at, { ...e, type: failed ? 'tool.failed' : 'tool.called', tool: spec.tool, duration_ms: durationMs });
    }
  }

  /** Events due by `now`, in time order; call often (every 50–250 ms). */
  tick(now: number = Date.now()): CanonicalEventInput[] {
    const last = this.last ?? now;
    this.last = now;
    const dt = Math.max(0, now - last) / 1000;
    // new runs arrive as a Poisson process sized so that all traffic is about `rate` events/s
    this.runCredit += (dt * this.opts.rate) / EVENTS_PER_RUN_ESTIMATE;
    while (this.runCredit >= 1) {
      this.runCredit -= 1;
      this.startRun(now - this.rnd() * dt * 1000);
    }
    if (this.runSeq === 0) this.startRun(now); // first tick shows a run at once
    if (now >= this.nextHeartbeat) {
      this.nextHeartbeat = now + 5000;
      for (const agent of Object.keys(AGENTS)) {
        if (agent === FLAKY_AGENT && this.silent(now)) continue;
        this.emit(now, { type: 'agent.heartbeat', agent });
      }
    }
    if (now >= this.nextQueue) {
      this.nextQueue = now + 2000;
      const s = (now - this.startedAt) / 1000;
      for (const q of QUEUES) {
        const depth = Math.max(0, Math.round(q.base + q.amplitude * Math.sin((2 * Math.PI * s) / q.periodS) + (this.rnd() - 0.5) * q.base * 0.2));
        this.emit(now, { type: 'queue.depth', queue: { name: q.name, depth } });
      }
    }
    const out: CanonicalEventInput[] = [];
    for (let p = this.heap.peek(); p && p.due <= now; p = this.heap.peek()) {
      out.push(this.heap.pop()!.event);
    }
    return out;
  }

  /** Events scheduled but not yet due (bounded by rate × run length). */
  get backlog(): number {
    return this.heap.size;
  }
}
