// YAML mappings: paths, $subject, constants, value maps, scale, defaults and match, as a config gives them.
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { mappingSchema } from '../config/schema.js';
import { compileMapping, compilePath, setDotted } from './mapping.js';
import { createNormalizer } from './normalize.js';
import { rejectOf } from '../../test/helpers/reject.js';

describe('compilePath', () => {
  const msg = { run: { id: 'r-1', steps: [{ name: 'lint' }, { name: 'test', secs: 12 }] }, 'top level': 1, zero: 0 };

  it('reads dotted paths with or without $, and array indexes', () => {
    expect(compilePath('$.run.id')(msg, undefined)).toBe('r-1');
    expect(compilePath('run.id')(msg, undefined)).toBe('r-1');
    expect(compilePath('$.run.steps[1].name')(msg, undefined)).toBe('test');
    expect(compilePath('run.steps.0.name')(msg, undefined)).toBe('lint');
    expect(compilePath('$.zero')(msg, undefined)).toBe(0);
    expect(compilePath('$')(msg, undefined)).toBe(msg);
  });

  it('gives undefined for missing segments and for paths through scalars', () => {
    expect(compilePath('$.run.nope.deeper')(msg, undefined)).toBeUndefined();
    expect(compilePath('$.run.id.length')(msg, undefined)).toBeUndefined();
    expect(compilePath('$.run.steps[7].name')(msg, undefined)).toBeUndefined();
    // inherited properties are not the message's: toString must not leak through
    expect(compilePath('$.run.toString')(msg, undefined)).toBeUndefined();
  });

  it('reads the subject whole or one token of it', () => {
    expect(compilePath('$subject')(msg, 'ci.github.run.completed')).toBe('ci.github.run.completed');
    expect(compilePath('$subject[1]')(msg, 'ci.github.run.completed')).toBe('github');
    expect(compilePath('$subject[9]')(msg, 'ci.github')).toBeUndefined();
    expect(compilePath('$subject')(msg, undefined)).toBeUndefined();
  });

  it('refuses prototype segments when compiled, naming the path', () => {
    expect(() => compilePath('$.__proto__.polluted')).toThrow('path $.__proto__.polluted: segment __proto__ is not allowed');
    expect(() => compilePath('a.constructor.prototype')).toThrow('path a.constructor.prototype: segment constructor is not allowed');
  });
});

describe('setDotted', () => {
  it('creates intermediate objects and replaces scalars in the way', () => {
    const o: Record<string, unknown> = { workflow: 'x' };
    setDotted(o, 'workflow.id', 'w1');
    setDotted(o, 'workflow.type', 'ci');
    setDotted(o, 'attributes.repo.name', 'api');
    expect(o).toEqual({ workflow: { id: 'w1', type: 'ci' }, attributes: { repo: { name: 'api' } } });
  });
});

// A CI system's run events, mapped the way an operator would write it in the config file.
const YAML = `
match:
  path: $.action
  equals: [queued, in_progress, completed]
fields:
  id: $.delivery_id
  time: $.workflow_run.updated_at
  source: { value: github-actions }
  type:
    from: $.action
    map: { queued: workflow.started, completed: workflow.completed }
    default: workflow.progress
  workflow.id: $.workflow_run.id
  workflow.type: { from: $.workflow_run.name, default: unnamed }
  stage: { from: "$subject[2]" }
  duration_ms: { from: $.workflow_run.run_duration_s, scale: 1000 }
  priority: { from: "$.workflow_run.labels[0]", map: { p0: critical, p1: high }, default: normal }
  attributes.repo: $.repository.full_name
`;

describe('compileMapping', () => {
  const cfg = mappingSchema.parse(parseYaml(YAML));
  const mapper = compileMapping(cfg);
  const run = (action: string, extra: Record<string, unknown> = {}) => ({
    action,
    delivery_id: `d-${action}`,
    workflow_run: { id: 9001, name: 'deploy', updated_at: '2025-11-20T10:00:00Z', run_duration_s: 42.5, labels: ['p1'], ...extra },
    repository: { full_name: 'acme/api' },
  });

  it('maps a message with paths, a constant, a value map, the subject, scale and nested targets', () => {
    expect(mapper(run('completed'), 'ci.github.deploy')).toEqual({
      id: 'd-completed',
      time: '2025-11-20T10:00:00Z',
      source: 'github-actions',
      type: 'workflow.completed',
      workflow: { id: 9001, type: 'deploy' },
      stage: 'deploy',
      duration_ms: 42500,
      priority: 'high',
      attributes: { repo: 'acme/api' },
    });
  });

  it('falls back to defaults: for a value the map lacks and for a missing path', () => {
    const e = mapper(run('in_progress', { name: undefined, labels: ['p9'] }), undefined);
    expect([e.type, e.workflow, e.priority, e.stage]).toEqual(['workflow.progress', { id: 9001, type: 'unnamed' }, 'normal', undefined]);
    const noLabels = mapper(run('queued', { labels: [] }), undefined);
    expect([noLabels.type, noLabels.priority]).toEqual(['workflow.started', 'normal']);
  });

  it('leaves out fields whose path is missing and that have no default', () => {
    const e = mapper({ action: 'queued' }, undefined);
    expect(e).toEqual({ source: 'github-actions', type: 'workflow.started', workflow: { type: 'unnamed' }, priority: 'normal' });
  });

  it('scales numeric text (stream fields arrive as text); other text is passed on for validation to judge', () => {
    expect(mapper(run('completed', { run_duration_s: '42.5' }), undefined).duration_ms).toBe(42500);
    expect(mapper(run('completed', { run_duration_s: 'soon' }), undefined).duration_ms).toBe('soon');
    expect(mapper(run('completed', { run_duration_s: '' }), undefined).duration_ms).toBe('');
  });

  it('rejects a message the match does not cover with reason unmapped, saying why', () => {
    const other = rejectOf(() => mapper(run('requested'), undefined));
    expect([other.reason, other.message]).toEqual(['unmapped', 'mapping does not apply: $.action is "requested"']);
    const missing = rejectOf(() => mapper({ ping: true }, undefined));
    expect([missing.reason, missing.message]).toEqual(['unmapped', 'mapping does not apply: $.action is missing']);
  });

  it('with match on a path alone, applies whenever the path exists', () => {
    const m = compileMapping({ match: { path: '$subject[0]' }, fields: { type: { value: 'queue.depth' } } });
    expect(m({}, 'queues.build')).toEqual({ type: 'queue.depth' });
    expect(rejectOf(() => m({}, undefined)).message).toBe('mapping does not apply: $subject[0] is missing');
  });

  it('keeps a constant 0 and compares match values as text', () => {
    const m = compileMapping({ match: { path: '$.code', equals: '200' }, fields: { 'queue.depth': { value: 0 }, 'queue.name': '$.q' } });
    expect(m({ code: 200, q: 'build' }, undefined)).toEqual({ queue: { depth: 0, name: 'build' } });
  });

  it('refuses prototype targets when compiled', () => {
    expect(() => compileMapping({ fields: { '__proto__.x': '$.a' } })).toThrow('mapping field __proto__.x is not allowed');
  });

  it('is what a source configured with `mapping` normalizes through, subject included', () => {
    const n = createNormalizer({ mapping: cfg });
    const e = n(run('completed'), { subject: 'ci.github.release' }, 0);
    expect([e.type, e.stage, e.duration_ms]).toEqual(['workflow.completed', 'release', 42500]);
  });
});
