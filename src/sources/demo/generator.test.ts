import { describe, expect, it } from 'vitest';
import { configFrom } from '../../config/load.js';
import { validateEvent } from '../../pipeline/validate.js';
import { demoBudgets, DemoGenerator, FLAKY_AGENT, MODEL_PRICES, TOOLS } from './generator.js';

const limits = configFrom({}).validation;

/** Runs the generator over `seconds` of simulated time in 100 ms ticks. */
function runFor(gen: DemoGenerator, start: number, seconds: number) {
  const events = [];
  for (let t = start; t <= start + seconds * 1000; t += 100) events.push(...gen.tick(t).map((e) => ({ e, t })));
  return events;
}

describe('DemoGenerator', () => {
  const start = Date.parse('2026-11-20T10:00:00Z');

  it('is reproducible from its seed', () => {
    const a = runFor(new DemoGenerator({ rate: 50, seed: 42 }, start), start, 30).map((x) => x.e);
    const b = runFor(new DemoGenerator({ rate: 50, seed: 42 }, start), start, 30).map((x) => x.e);
    expect(a).toEqual(b);
  });

  it('emits only valid canonical events, never ahead of time, close to the requested rate', () => {
    const gen = new DemoGenerator({ rate: 60, seed: 1, timeScale: 4 }, start);
    const events = runFor(gen, start, 300);
    for (const { e, t } of events) {
      const v = validateEvent({ ...e } as Record<string, unknown>, limits, t);
      expect(v.timeMs).toBeLessThanOrEqual(t);
    }
    const rate = events.length / 300;
    expect(rate).toBeGreaterThan(30);
    expect(rate).toBeLessThan(120);
  });

  it('covers several workflow types, agents with different failure rates, pauses and outcomes', () => {
    const gen = new DemoGenerator({ rate: 200, seed: 3, timeScale: 10 }, start);
    const events = runFor(gen, start, 600).map((x) => x.e);
    const types = new Set(events.map((e) => e.workflow?.type).filter(Boolean));
    expect(types.size).toBe(4);
    const byType = (t: string) => events.filter((e) => e.type === t).length;
    expect(byType('workflow.completed')).toBeGreaterThan(byType('workflow.failed'));
    expect(byType('workflow.failed')).toBeGreaterThan(0);
    expect(byType('workflow.paused')).toBeGreaterThan(0);
    expect(byType('workflow.paused')).toBe(byType('workflow.resumed') + events.filter((e) => e.type === 'workflow.paused' && !events.some((r) => r.type === 'workflow.resumed' && r.workflow?.id === e.workflow?.id)).length);
    const failRate = (agent: string) => {
      const done = events.filter((e) => e.agent === agent && (e.type === 'task.completed' || e.type === 'task.failed'));
      return done.filter((e) => e.type === 'task.failed').length / done.length;
    };
    expect(failRate('tester')).toBeGreaterThan(failRate('reviewer'));
  });

  it('lets one agent go silent for a minute every five, and moves queue depth up and down', () => {
    const gen = new DemoGenerator({ rate: 100, seed: 5 }, start);
    const events = runFor(gen, start, 600);
    const flaky = events.filter(({ e }) => e.agent === FLAKY_AGENT).map(({ t }) => t);
    // silent windows: the last 60 s of each 300 s cycle
    const inSilence = flaky.filter((t) => (t - start) % 300_000 > 241_000);
    expect(inSilence).toEqual([]);
    expect(flaky.length).toBeGreaterThan(10);
    const depths = events.filter(({ e }) => e.type === 'queue.depth' && e.queue?.name === 'tasks').map(({ e }) => e.queue!.depth);
    expect(Math.max(...depths) - Math.min(...depths)).toBeGreaterThan(40);
  });

  it('calls tools inside tasks, prices the tokens, and says when each task was enqueued', () => {
    const gen = new DemoGenerator({ rate: 40, seed: 9 }, start);
    const events = runFor(gen, start, 600).map((x) => x.e);
    const ms = (time: unknown) => Date.parse(time as string);
    const tasks = new Map<string, { agent?: string; started: number; ended?: number }>();
    for (const e of events) {
      if (e.type === 'task.started') {
        expect(ms(e.enqueued_at)).toBeLessThan(ms(e.time));
        tasks.set(e.task!.id, { agent: e.agent, started: ms(e.time) });
      }
      if (e.type === 'task.completed' || e.type === 'task.failed') {
        tasks.get(e.task!.id)!.ended = ms(e.time);
        const price = MODEL_PRICES[e.model!];
        expect(e.cost_usd).toBe(Math.round(e.tokens_in! * price.in + e.tokens_out! * price.out) / 1e6);
      }
    }
    const tools = events.filter((e) => e.type === 'tool.called' || e.type === 'tool.failed');
    expect(tools.length).toBeGreaterThan(tasks.size);
    expect(tools.some((e) => e.type === 'tool.failed')).toBe(true);
    for (const e of tools) {
      // a tool call belongs to a task of its agent, returns within it, and reports its own latency
      const task = tasks.get(e.task!.id)!;
      expect(e.agent).toBe(task.agent);
      expect(TOOLS[e.agent!].map((x) => x.tool)).toContain(e.tool);
      expect(e.duration_ms).toBeGreaterThan(0);
      expect(ms(e.time)).toBeGreaterThan(task.started);
      if (task.ended !== undefined) expect(ms(e.time)).toBeLessThanOrEqual(task.ended);
    }
  });

  it('spends about half of the demo budget a day, at any rate', () => {
    for (const rate of [10, 40]) {
      const hours = 1;
      const gen = new DemoGenerator({ rate, seed: 11 }, start);
      const spent: Record<string, number> = {};
      for (const { e } of runFor(gen, start, hours * 3600)) if (e.cost_usd !== undefined) spent[e.agent!] = (spent[e.agent!] ?? 0) + e.cost_usd;
      const budgets = demoBudgets(rate);
      expect(Object.keys(spent).sort()).toEqual(Object.keys(budgets).sort());
      for (const [agent, usd] of Object.entries(spent)) {
        const share = (usd * (24 / hours)) / budgets[agent];
        expect(share, agent).toBeGreaterThan(0.3);
        expect(share, agent).toBeLessThan(0.7);
      }
    }
  });
});
