// Runs one HTTP load-generator pass against a server and measures the server over the load's
// measured window; shared by the ingest, scrape and tail scenarios.
import { join } from 'node:path';
import type { HttpLoadOptions, HttpLoadResult } from '../load/http.js';
import { nextMessage, start } from './proc.js';
import { BUILD, openWindow, type Server, type Window } from './subjects.js';

export interface LoadRun {
  load: HttpLoadResult;
  window: Window;
}

export async function httpLoad(server: Server, opts: Omit<HttpLoadOptions, 'url'> & { path?: string }, onMeasureStart?: () => void): Promise<LoadRun> {
  const full: HttpLoadOptions = { ...opts, url: `${server.url}${opts.path ?? '/api/events'}` };
  const log: string[] = [];
  const gen = start(process.execPath, [join(BUILD, 'load', 'http.js'), JSON.stringify(full)], { name: 'load-http', logTo: log });
  await nextMessage(gen, (m) => ((m as { phase?: string }).phase === 'measure-start' ? true : undefined), (opts.warmupS + 60) * 1000);
  const w = openWindow(server);
  onMeasureStart?.();
  await nextMessage(gen, (m) => ((m as { phase?: string }).phase === 'measure-end' ? true : undefined), (opts.measureS + 60) * 1000);
  const window = await w.end();
  const load = await nextMessage(gen, (m) => {
    const x = m as { result?: HttpLoadResult; failed?: string };
    if (x.failed) throw new Error(`load generator failed: ${x.failed}`);
    return x.result;
  });
  return { load, window };
}
