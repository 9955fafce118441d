// GET /api/events/export: CSV escaping (RFC 4180 plus formula neutralising) and an NDJSON round trip.
import { afterEach, describe, expect, test } from 'vitest';
import { CSV_COLUMNS, csvCell } from '../src/server/api-export.js';
import { startApp, type TestApp } from './helpers/app.js';
import { publish, tailEvent } from './helpers/tail.js';

const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
async function app(config: Record<string, unknown> = {}): Promise<TestApp> {
  const a = await startApp(config);
  apps.push(a);
  return a;
}

/** An RFC 4180 reader, written here so the test does not trust the writer's own assumptions. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

describe('csvCell', () => {
  test('quotes what needs quoting and neutralises formulas in text', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('cr\r\nlf')).toBe('"cr\r\nlf"');
    expect(csvCell('=1+2')).toBe("'=1+2");
    expect(csvCell('+SUM(A1)')).toBe("'+SUM(A1)");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@cmd')).toBe("'@cmd");
    expect(csvCell('\t=x')).toBe("'\t=x");
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe('"\'=HYPERLINK(""http://x"",""y"")"');
    expect(csvCell('a=b')).toBe('a=b');
    expect(csvCell(-5)).toBe('-5'); // a number we wrote is a number, not a formula
    expect(csvCell(1.5)).toBe('1.5');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell({ k: '=x', n: 1 })).toBe('"{""k"":""=x"",""n"":1}"');
  });

  test('neutralises formulas after a separator too, for locales that split on ";" (issue 14 item 10)', () => {
    expect(csvCell('x;=HYPERLINK("http://evil","click")')).toBe('"x;\'=HYPERLINK(""http://evil"",""click"")"');
    expect(csvCell('a; +1')).toBe('"a; \'+1"');
    expect(csvCell('a;"@SUM(1)')).toBe('"a;""\'@SUM(1)"');
    expect(csvCell('a,-2+3')).toBe('"a,\'-2+3"');
    expect(csvCell('line\n=cmd')).toBe('"line\n\'=cmd"');
    expect(csvCell('=a;=b')).toBe('"\'=a;\'=b"');
    expect(csvCell('\u0000=x')).toBe("'\u0000=x");
    expect(csvCell({ note: 'x;=1+1' })).toBe('"{""note"":""x;\'=1+1""}"');
    expect(csvCell('a;b')).toBe('"a;b"'); // one cell in a ";" locale as well
    expect(csvCell('a=b;c')).toBe('"a=b;c"');
    // read the way such a spreadsheet reads it: split on ";", no piece may start a formula
    for (const v of ['x;=HYPERLINK("http://evil")', 'x; "=1', 'a;-1;@b', 'x\r\n+1']) {
      for (const piece of csvCell(v).split(/[;\r\n]/)) expect(piece.replace(/^[ "]+/, '')).not.toMatch(/^[=+\-@\t\0]/);
    }
  });
});

describe('GET /api/events/export', () => {
  test('CSV: header from the canonical schema, hostile text survives a real CSV reader as inert text', async () => {
    const a = await app();
    const hostile = tailEvent('csv-1', {
      type: 'task.failed',
      source: '=cmd|\' /C calc\'!A0',
      agent: '+agent,with,commas',
      stage: '-"quoted" stage',
      workflow: { id: '@wf\n2', type: 'feature, dev' },
      task: { id: 't-1', name: 'line1\r\nline2' },
      duration_ms: 1234.5,
      priority: 'high',
      attributes: { note: '=1+1', list: [1, 'two'] },
    });
    await publish(a.url, [hostile, tailEvent('csv-2', { agent: 'plain' })]);
    const res = await fetch(`${a.url}/api/events/export?format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="workflow-events-[0-9TZ-]+\.csv"$/);
    expect(res.headers.get('x-events-count')).toBe('2');
    const rows = parseCsv(await res.text());
    expect(rows[0]).toEqual(CSV_COLUMNS.map((c) => c.name));
    expect(rows[0].slice(0, 10)).toEqual(['id', 'type', 'time', 'source', 'workflow_id', 'workflow_type', 'stage', 'task_id', 'task_name', 'agent']);
    expect(rows).toHaveLength(3);
    const r = Object.fromEntries(rows[0].map((k, i) => [k, rows[1][i]]));
    expect(r).toMatchObject({
      id: 'csv-1',
      type: 'task.failed',
      time: hostile.time,
      source: "'=cmd|' /C calc'!A0",
      agent: "'+agent,with,commas",
      stage: '\'-"quoted" stage',
      workflow_id: "'@wf\n2",
      workflow_type: 'feature, dev',
      task_id: 't-1',
      task_name: 'line1\r\nline2',
      duration_ms: '1234.5',
      priority: 'high',
      attributes: '{"note":"=1+1","list":[1,"two"]}',
    });
    for (const cell of rows.flat()) expect(/^[=+\-@\t\r]/.test(cell), cell).toBe(false);
    expect(Object.fromEntries(rows[0].map((k, i) => [k, rows[2][i]]))).toMatchObject({ id: 'csv-2', agent: 'plain', workflow_id: '', attributes: '' });
  });

  test('NDJSON round trip: export, ingest into a fresh exporter, export again: identical', async () => {
    const a = await app();
    const events = Array.from({ length: 60 }, (_, i) =>
      tailEvent(`nd-${i}`, {
        type: ['workflow.started', 'task.completed', 'agent.response', 'queue.depth'][i % 4],
        workflow: i % 4 === 3 ? undefined : { id: `wf-${i % 7}`, type: i % 2 ? 'feature-dev' : 'bug-fix' },
        agent: i % 3 ? 'coder' : undefined,
        queue: i % 4 === 3 ? { name: 'jobs', depth: i } : undefined,
        duration_ms: i % 5 ? i * 10 : undefined,
        tokens_in: i % 4 === 2 ? 100 + i : undefined,
        attributes: { unicode: 'päivää 🚀', quote: '"', newline: 'a\nb', n: i },
      }),
    );
    await publish(a.url, events);
    const first = await (await fetch(`${a.url}/api/events/export?format=ndjson`)).text();
    const lines = first.trimEnd().split('\n');
    expect(lines).toHaveLength(60);
    const parsed = lines.map((l) => JSON.parse(l) as { id: string });
    expect(parsed.map((e) => e.id)).toEqual(events.map((e) => e.id));
    // what the history API returns is what the export wrote
    const hist = (await (await fetch(`${a.url}/api/events?limit=100`)).json()) as { events: unknown[] };
    expect(parsed).toEqual([...hist.events].reverse());
    expect(parsed[5]).toEqual({ ...events[5], priority: 'normal' });

    const b = await app();
    const ingest = await fetch(`${b.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: first });
    expect(ingest.status).toBe(202);
    const second = await (await fetch(`${b.url}/api/events/export?format=ndjson`)).text();
    expect(second).toBe(first);
  });

  test('filters and limit apply; bad parameters are 400', async () => {
    const a = await app();
    await publish(a.url, Array.from({ length: 10 }, (_, i) => tailEvent(`f${i}`, { type: i % 2 ? 'task.failed' : 'task.completed' })));
    const text = await (await fetch(`${a.url}/api/events/export?format=ndjson&types=*.failed&limit=3`)).text();
    expect(text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['f5', 'f7', 'f9']);
    const csv = await (await fetch(`${a.url}/api/events/export?format=csv&agents=nobody`)).text();
    expect(parseCsv(csv)).toHaveLength(1); // the header alone
    for (const q of ['format=xml', 'format=csv&limit=0', 'format=csv&types=']) {
      const res = await fetch(`${a.url}/api/events/export?${q}`);
      if (q === 'format=csv&types=') {
        expect(res.status).toBe(200); // an empty list constrains nothing
        continue;
      }
      expect(res.status, q).toBe(400);
    }
  });

  test('a large export streams in chunks', async () => {
    const a = await app({ tail: { historySize: 20_000 } });
    for (let k = 0; k < 20; k++) await publish(a.url, Array.from({ length: 1000 }, (_, i) => tailEvent(`big-${k}-${i}`, { attributes: { pad: 'x'.repeat(100) } })));
    const res = await fetch(`${a.url}/api/events/export?format=ndjson`);
    expect(res.headers.get('x-events-count')).toBe('20000');
    expect(res.headers.get('content-length')).toBeNull(); // streamed, not buffered whole
    const reader = res.body!.getReader();
    let chunks = 0;
    let lines = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      for (const b of value) if (b === 0x0a) lines++;
    }
    expect(lines).toBe(20_000);
    expect(chunks).toBeGreaterThan(10);
  });
});
