// CloudEvents 1.0 structured JSON: detection, reverse-DNS types, envelope checks, and the normalizer path.
import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/schema.js';
import { validateEvent } from '../pipeline/validate.js';
import { canonicalType, fromCloudEvent, isCloudEvent } from './cloudevents.js';
import { createNormalizer } from './normalize.js';
import { rejectOf } from '../../test/helpers/reject.js';

const ce = (over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: 'ce-1',
  source: '/ci/runner-7',
  type: 'com.acme.workflow.task.completed',
  time: '2025-11-20T10:00:00Z',
  datacontenttype: 'application/json',
  data: { task: { id: 't-1' }, agent: 'coder', duration_ms: 1500, workflow: { id: 'wf-1', type: 'build' } },
  ...over,
});

describe('CloudEvents', () => {
  it('is detected by specversion alone', () => {
    expect(isCloudEvent(ce())).toBe(true);
    expect(isCloudEvent({ id: 'x', type: 'task.completed' })).toBe(false);
  });

  it('reduces reverse-DNS types to the longest canonical suffix, else keeps them', () => {
    expect(canonicalType('com.acme.workflow.task.completed')).toBe('task.completed');
    expect(canonicalType('io.example.queue.depth')).toBe('queue.depth');
    expect(canonicalType('workflow.started')).toBe('workflow.started');
    expect(canonicalType('com.acme.build.finished')).toBe('com.acme.build.finished');
    // a canonical word alone at the end is not a canonical type
    expect(canonicalType('com.acme.completed')).toBe('com.acme.completed');
  });

  it('takes id, source, type and time from the envelope and the rest from data', () => {
    expect(fromCloudEvent(ce())).toEqual({
      id: 'ce-1',
      source: '/ci/runner-7',
      type: 'task.completed',
      time: '2025-11-20T10:00:00Z',
      task: { id: 't-1' },
      agent: 'coder',
      duration_ms: 1500,
      workflow: { id: 'wf-1', type: 'build' },
    });
  });

  it('lets envelope attributes win over same-named data fields, and keeps data.time when the envelope has none', () => {
    const e = fromCloudEvent(ce({ time: undefined, data: { id: 'spoofed', type: 'workflow.failed', source: 'x', time: '2025-11-20T09:00:00Z' } }));
    expect([e.id, e.type, e.source, e.time]).toEqual(['ce-1', 'task.completed', '/ci/runner-7', '2025-11-20T09:00:00Z']);
  });

  it('rejects envelopes it cannot take, with reason invalid_cloudevent and what is wrong', () => {
    const cases: [Record<string, unknown>, string][] = [
      [ce({ specversion: '0.3' }), 'unsupported specversion "0.3"; only 1.0 is accepted'],
      [ce({ specversion: 1 }), 'unsupported specversion 1; only 1.0 is accepted'],
      [ce({ id: '' }), 'CloudEvent attribute id is required'],
      [ce({ source: undefined }), 'CloudEvent attribute source is required'],
      [ce({ type: 42 }), 'CloudEvent attribute type is required'],
      [ce({ data: undefined, data_base64: 'eyJ9' }), 'data_base64 is not supported; send JSON data'],
      [ce({ data: [1, 2] }), 'CloudEvent data must be a JSON object'],
      [ce({ data: 'text' }), 'CloudEvent data must be a JSON object'],
      [ce({ data: null }), 'CloudEvent data must be a JSON object'],
    ];
    for (const [input, message] of cases) {
      const err = rejectOf(() => fromCloudEvent(input));
      expect([err.reason, err.message]).toEqual(['invalid_cloudevent', message]);
    }
  });

  it('accepts an event without data', () => {
    expect(fromCloudEvent(ce({ data: undefined, type: 'workflow.started' }))).toEqual({ id: 'ce-1', type: 'workflow.started', source: '/ci/runner-7', time: '2025-11-20T10:00:00Z' });
  });

  describe('through the normalizer', () => {
    const NOW = Date.parse('2025-11-20T10:05:00Z');
    const limits = configSchema.parse({}).validation;

    it('auto-detects a CloudEvent and yields a valid canonical event', () => {
      const { event } = validateEvent(createNormalizer()(ce(), {}, NOW), limits, NOW);
      expect(event).toEqual({
        id: 'ce-1',
        type: 'task.completed',
        time: '2025-11-20T10:00:00Z',
        source: '/ci/runner-7',
        task: { id: 't-1' },
        agent: 'coder',
        duration_ms: 1500,
        workflow: { id: 'wf-1', type: 'build' },
        priority: 'normal',
      });
    });

    it('uses the receipt time when neither envelope nor data has one', () => {
      const e = createNormalizer()(ce({ time: undefined }), {}, NOW);
      expect(e.time).toBe(NOW);
      expect(new Date(validateEvent(e, limits, NOW).timeMs).toISOString()).toBe('2025-11-20T10:05:00.000Z');
    });

    it('with format cloudevents, rejects a plain canonical event instead of passing it through', () => {
      const plain = { id: 'x', type: 'task.completed', time: NOW, source: 's' };
      expect(rejectOf(() => createNormalizer({ format: 'cloudevents' })(plain, {}, NOW)).message).toBe('unsupported specversion undefined; only 1.0 is accepted');
      expect(createNormalizer({ format: 'canonical' })({ ...plain, specversion: '1.0' }, {}, NOW)).toEqual({ ...plain, specversion: '1.0' });
    });

    it('rejects JSON that is not an object before looking at it', () => {
      for (const [v, what] of [[null, 'null'], [[1], 'an array'], ['s', 'string'], [3, 'number']] as const) {
        const err = rejectOf(() => createNormalizer()(v, {}, NOW));
        expect([err.reason, err.message]).toEqual(['not_an_object', `expected a JSON object, got ${what}`]);
      }
    });
  });
});
