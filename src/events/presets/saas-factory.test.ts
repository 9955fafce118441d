// The saas-factory preset on the event dashboard's own messages: agent events as tasks, system events kept.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { validateEvent } from '../../pipeline/validate.js';
import { mapPriority } from './common.js';
import { saasFactory } from './saas-factory.js';
import { rejectOf } from '../../../test/helpers/reject.js';

type Msg = Record<string, unknown>;
const load = (f: string): Msg[] =>
  readFileSync(new URL(`../../../test/fixtures/presets/saas-factory/${f}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Msg);
const events = load('events.ndjson');
const NOW = Date.parse('2025-11-20T10:35:00Z');
const limits = configSchema.parse({}).validation;
const map = (m: Msg) => saasFactory.normalize(m, {}, NOW);

describe('saas-factory preset', () => {
  it('maps every fixture message onto the expected canonical fields', () => {
    const got = events.map((m) => {
      const e = map(m);
      return [e.type, e.source, e.task, e.agent, e.duration_ms, e.priority];
    });
    expect(got).toEqual([
      ['task.started', 'orchestrator', { id: 'req-1' }, 'idea_agent', undefined, 'normal'],
      ['task.started', 'orchestrator', { id: 'req-2' }, 'market_agent', undefined, 'high'],
      ['task.completed', 'idea_agent', { id: 'req-1' }, 'idea_agent', undefined, 'normal'],
      ['task.failed', 'market_agent', { id: 'req-2' }, 'market_agent', undefined, 'high'],
      ['task.started', 'orchestrator', { id: 'req-3' }, 'requirements_agent', undefined, 'low'],
      ['task.completed', 'requirements_agent', { id: 'req-3' }, 'requirements_agent', 1200, 'low'],
      ['system.health', 'system', undefined, undefined, undefined, 'low'],
      ['system.metrics', 'websocket_manager', undefined, undefined, undefined, 'low'],
      ['system.alerts', 'system', undefined, undefined, undefined, 'critical'],
    ]);
  });

  it('produces events the canonical schema accepts, at the message times', () => {
    const times = events.map((m) => new Date(validateEvent(map(m), limits, NOW).timeMs).toISOString().slice(11, 23));
    expect(times).toEqual(['10:00:00.000', '10:00:01.000', '10:00:02.500', '10:00:04.000', '10:00:05.000', '10:00:06.300', '10:00:10.000', '10:00:11.000', '10:00:12.000']);
  });

  it('carries model and token usage of an agent response', () => {
    expect(map(events[2])).toEqual({
      id: map(events[2]).id,
      type: 'task.completed',
      time: '2025-11-20T10:00:02.500000+00:00',
      source: 'idea_agent',
      task: { id: 'req-1' },
      agent: 'idea_agent',
      model: 'gpt-4o-mini',
      tokens_in: 812,
      tokens_out: 240,
      priority: 'normal',
      attributes: { request_id: 'req-1', status: 'success' },
    });
  });

  it('keeps a system event whole in attributes', () => {
    expect(map(events[8])).toEqual({
      id: map(events[8]).id,
      type: 'system.alerts',
      time: '2025-11-20T10:00:12+00:00',
      source: 'system',
      priority: 'critical',
      attributes: {
        severity: 'critical',
        title: 'Budget guard tripped',
        description: 'LLM spend for tenant t-acme exceeded 95% of the monthly budget',
        tenant_id: 't-acme',
      },
    });
  });

  it('derives a deterministic id: the dashboard messages carry none', () => {
    const id = map(events[0]).id as string;
    expect(id).toMatch(/^saas-factory:[0-9a-f]{32}$/);
    expect(map(structuredClone(events[0])).id).toBe(id);
    expect(map({ ...events[0], timestamp: '2025-11-20T10:00:00.001+00:00' }).id).not.toBe(id);
    expect(new Set(events.map((m) => map(m).id)).size).toBe(events.length);
  });

  it('reads the Next.js manager shape: camelCase eventType, its own id and correlationId', () => {
    const e = map({
      id: '6f9619ff-8b86-4d01-b42d-00cf4fc964ff',
      eventType: 'agent_started',
      data: { agentName: 'idea_agent' },
      timestamp: '2025-11-20T10:01:00.000Z',
      source: 'ai_agent_service',
      priority: 'normal',
      tenantId: 't-acme',
      correlationId: 'corr-77',
    });
    expect(e).toEqual({
      id: '6f9619ff-8b86-4d01-b42d-00cf4fc964ff',
      type: 'task.started',
      time: '2025-11-20T10:01:00.000Z',
      source: 'ai_agent_service',
      task: { id: 'corr-77' },
      agent: 'idea_agent',
      priority: 'normal',
      attributes: { tenantId: 't-acme' },
    });
  });

  it('takes the agent from the source when data names none, and the time from receipt when absent', () => {
    const e = map({ event_type: 'agent_error', data: { request_id: 'r' }, source: 'market_agent' });
    expect([e.agent, e.time, e.source]).toEqual(['market_agent', NOW, 'market_agent']);
    expect(map({ event_type: 'metrics', data: {} }).source).toBe('saas-factory');
  });

  it('maps priority words and the 1-4 scale; keeps an unknown word aside', () => {
    expect(['low', 'NORMAL', 'medium', 'info', 'high', 'urgent', 'critical', 1, 2, 3, 4, '4', 'bogus', undefined].map(mapPriority)).toEqual([
      'low', 'normal', 'normal', 'normal', 'high', 'high', 'critical', 'low', 'normal', 'high', 'critical', 'critical', undefined, undefined,
    ]);
    const e = map({ event_type: 'system_health', data: { status: 'degraded' }, priority: 'p0' });
    expect([e.priority, e.attributes]).toEqual([undefined, { status: 'degraded', priority_raw: 'p0' }]);
    // an alert without priority takes it from its severity
    expect(map({ event_type: 'alerts', data: { severity: 'warning' } }).priority).toBe('high');
  });

  it('rejects messages it does not know with reason unmapped, naming the event_type', () => {
    const errs = load('unmapped.ndjson').map((m) => rejectOf(() => map(m)));
    expect(errs.map((e) => [e.reason, e.message])).toEqual([
      ['unmapped', 'preset saas-factory: event_type connection is not one of agent_request, agent_started, agent_response, agent_completed, agent_error, system_health, metrics, alerts'],
      ['unmapped', 'preset saas-factory: message has no event_type'],
    ]);
  });
});
