// In-process cost of each pipeline stage per event (CPU ns, not wall time: the machine is shared),
// on the bench workload: where the exporter's CPU goes, without HTTP or a broker.
// node bench/.build/bench/micro/pipeline.js [bodies]
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import pino from 'pino';
import type { RawMessage } from '../../src/events/raw.js';
import { ndjsonTemplate } from '../lib/events.js';
import { cpuMs, runStages, timeSinks } from './stages.js';
import { ROOT } from '../lib/subjects.js';

// the exporter as built (dist/), typed from its sources
const dist = (m: string) => import(join(ROOT, 'dist', m));
const { createApp } = (await dist('app.js')) as typeof import('../../src/app.js');
const { configFrom } = (await dist('config/load.js')) as typeof import('../../src/config/load.js');
const { createNormalizer } = (await dist('events/normalize.js')) as typeof import('../../src/events/normalize.js');
const { decode, validateEvent } = (await dist('pipeline/validate.js')) as typeof import('../../src/pipeline/validate.js');
const { splitNdjson } = (await dist('sources/http/http.js')) as typeof import('../../src/sources/http/http.js');

const BODIES = Number(process.argv[2] ?? 2000);
/** only this stage (a name prefix), e.g. 'full' while profiling with --cpu-prof */
const ONLY = process.argv[3];
const PER_BODY = 100;
const ROUNDS = 5;

const config = configFrom({ log: { level: 'silent' }, demo: false, server: { port: 0 } });
const app = createApp(config, { logger: pino({ level: 'silent' }) });
await app.start();
const template = ndjsonTemplate(PER_BODY, new Date().toISOString());
let seq = 1;
const freshBodies = () => Array.from({ length: BODIES }, () => Buffer.from(template.render(seq++)));
const limits = config.validation;
const normalize = createNormalizer({});
const handler = app.pipeline.handler('http');

const sinkTimes = timeSinks(app.pipeline);

const stages: Record<string, (bodies: Buffer[]) => unknown> = {
  'split NDJSON': (bs) => {
    for (const b of bs) splitNdjson(b);
  },
  'split + decode (UTF-8 check, JSON.parse)': (bs) => {
    for (const b of bs) for (const m of splitNdjson(b)) decode(m.data!, limits.maxMessageBytes);
  },
  '+ normalize + validate': (bs) => {
    const now = Date.now();
    for (const b of bs) for (const m of splitNdjson(b)) validateEvent(normalize(decode(m.data!, limits.maxMessageBytes), m, now), limits, now);
  },
  'full pipeline (all sinks)': async (bs) => {
    for (const b of bs) await handler(splitNdjson(b) as RawMessage[]);
  },
};

/**
 * What parsing in a worker thread would cost the thread that keeps the state and the metrics:
 * postMessage copies with V8's serializer, so receiving a batch of validated events is a
 * v8.deserialize of it (and sending it a v8.serialize, on the worker).
 */
function handoff(): { serialize: number; deserialize: number } {
  const now = Date.now();
  const batches = freshBodies().map((b) =>
    splitNdjson(b).map((m) => validateEvent(normalize(decode(m.data!, limits.maxMessageBytes), m, now), limits, now).event),
  );
  let t = cpuMs();
  const bufs = batches.map((events) => serialize(events));
  const ser = cpuMs() - t;
  t = cpuMs();
  for (const b of bufs) deserialize(b);
  const de = cpuMs() - t;
  const per = (ms: number) => (ms * 1e6) / (BODIES * PER_BODY);
  return { serialize: per(ser), deserialize: per(de) };
}

await runStages({
  stages,
  rounds: ROUNDS,
  only: ONLY,
  bodies: freshBodies,
  perBody: PER_BODY,
  item: 'event',
  sinkTimes,
  eachRound: (results) => {
    if (ONLY && !'worker'.startsWith(ONLY)) return;
    const h = handoff();
    (results['worker hand-off: v8.serialize (sender)'] ??= []).push(h.serialize);
    (results['worker hand-off: v8.deserialize (receiver)'] ??= []).push(h.deserialize);
  },
});
await app.close();
