// The tail clients' frame scan finds every send stamp an events frame carries, exactly: the same
// count and values JSON.parse reads, in frames the exporter's tail builds from the bench workload.
import { describe, expect, it } from 'vitest';
import { ndjsonTemplate } from '../bench/lib/events.js';
import { readStamp, scanStamps } from '../bench/load/stamps.js';
import { eventsFrame } from '../src/sinks/tail/client.js';
import type { TailEntry } from '../src/sinks/tail/history.js';

function frameOf(events: unknown[]): Buffer {
  return Buffer.from(eventsFrame(events.map((e) => ({ json: () => JSON.stringify(e) }) as TailEntry)));
}

function stampsOf(buf: Buffer): number[] {
  const out: number[] = [];
  const n = scanStamps(buf, (ms) => out.push(ms));
  expect(n).toBe(out.length);
  return out;
}

describe('tail clients: send stamps in an events frame', () => {
  it('finds one stamp per event of the bench workload, with the value JSON.parse reads', () => {
    const body = ndjsonTemplate(40, '2026-11-23T21:00:00.000Z', true).render(7);
    const events = body.split('\n').map((line, i) => JSON.parse(line.replace('"sent_ms":0', `"sent_ms":${1795469433978.7896 + i}`)) as { attributes: { sent_ms: number } });
    const frame = frameOf(events);
    const want = (JSON.parse(frame.toString()) as { events: typeof events }).events.map((e) => e.attributes.sent_ms);
    expect(want.length).toBe(40);
    const got = stampsOf(frame);
    expect(got.length).toBe(40);
    // the digits are summed as decimals, which can differ from JSON.parse in a float's last bits:
    // the same to the microsecond (the histogram's buckets are 50 us)
    const us = (ms: number) => Math.round(ms * 1000);
    expect(got.map(us)).toEqual(want.map(us));
    expect(scanStamps(frame)).toBe(40);
  });

  it('counts only "sent_ms": keys: not other _ms keys, not the text inside a string, not a prefix', () => {
    const frame = frameOf([
      { id: 'a', duration_ms: 5, attributes: { sent_ms: 10 } },
      { id: 'b', attributes: { present_ms: 1, sent_msx: 2, note: '"sent_ms":3', _: 4, 'x_': 5 } },
      { id: 'c_', attributes: { sent_ms: 11.5 }, tokens_in: 3 },
      { id: '_sent_ms', attributes: { 'sent_ms': 12, sent_ms_2: 6 } },
    ]);
    expect(stampsOf(frame)).toEqual([10, 11.5, 12]);
  });

  it('reads a stamp at the very start or end of a buffer, and integers and decimals', () => {
    expect(stampsOf(Buffer.from('"sent_ms":1795469433978'))).toEqual([1795469433978]);
    expect(stampsOf(Buffer.from('_ms":1,"sent_ms":2.25}'))).toEqual([2.25]);
    expect(stampsOf(Buffer.from('{"sent_ms"'))).toEqual([]);
    expect(readStamp(Buffer.from('x 12.5.3'), 2)).toBe(12.5);
    expect(readStamp(Buffer.from('0}'), 0)).toBe(0);
  });
});
