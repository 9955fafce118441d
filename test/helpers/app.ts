// Builds an exporter in-process for a test: a fresh registry and a silent logger, listening on a free port.
import pino from 'pino';
import { createApp, type App } from '../../src/app.js';
import { configFrom } from '../../src/config/load.js';

export interface TestApp {
  app: App;
  url: string;
  scrape(): Promise<string>;
  close(): Promise<void>;
}

export async function startApp(
  config: Record<string, unknown>,
  opts: { listen?: boolean; now?: () => number; /** runs after createApp, before the sources start */ beforeStart?: (app: App) => void } = {},
): Promise<TestApp> {
  const cfg = configFrom({ log: { level: 'silent' }, ...config, server: { host: '127.0.0.1', port: 0, ...(config.server as object) } });
  const app = createApp(cfg, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), now: opts.now });
  opts.beforeStart?.(app);
  await app.start();
  let url = '';
  if (opts.listen !== false) url = await app.server.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url,
    scrape: async () => (await app.server.inject({ method: 'GET', url: '/metrics' })).body,
    close: () => app.close(),
  };
}

/** Polls `fn` until it returns true, every `stepMs`, for at most `timeoutMs`; then throws with `what`. */
export async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 15_000, stepMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
