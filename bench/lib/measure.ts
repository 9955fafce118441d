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
  // every listener is attached before the load starts: IPC messages nobody listens for are lost
  const started = nextMessage(gen, (m) => ((m as { phase?: string }).phase === 'measure-start' ? true : undefined), (opts.warmupS + 60) * 1000);
  const ended = nextMessage(gen, (m) => ((m as { phase?: string }).phase === 'measure-end' ? true : undefined), (opts.warmupS + opts.measureS + 120) * 1000);
  const result = nextMessage(
    gen,
    (m) => {
      const x = m as { result?: HttpLoadResult; failed?: string };
      if (x.failed) throw new Error(`load generator failed: ${x.failed}`);
      return x.result;
    },
    (opts.warmupS + opts.measureS + 180) * 1000,
  );
  ended.catch(() => {});
  result.catch(() => {});
  await started;
  const w = openWindow(server);
  onMeasureStart?.();
  await ended;
  const window = await w.end();
  const load = await result;
  return { load, window };
}
