// Headless Chromium for tests of the live page (Debian's chromium driven by playwright-core), and
// readers of what the page shows.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--headless'];

/** Starts Chromium; fails saying how to install it when it is missing. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** the connection state the page shows (connecting, connected, reconnecting, unauthorized, offline) */
export const connState = (page: Page) => page.getAttribute('#conn', 'data-state');
/** events the page holds */
export const eventCount = async (page: Page) => Number(await page.getAttribute('#count', 'data-count'));
const drawnIds = (page: Page) =>
  page.$$eval('#list .row:not([hidden])', (els) =>
    els
      .map((e) => ({ id: (e as HTMLElement).dataset.id ?? '', y: new DOMMatrix(getComputedStyle(e).transform).m42 }))
      .sort((a, b) => a.y - b.y)
      .map((r) => r.id),
  );

/**
 * ids of the rows drawn, top (newest) to bottom. The count updates at once and the rows on the next
 * animation frame, which a loaded machine delays: for a short list, wait (at most 5 s) until every
 * event it holds is drawn; a long, virtualized list draws only a window, taken as it is.
 */
export async function rowIds(page: Page): Promise<string[]> {
  const end = Date.now() + 5000;
  for (;;) {
    const ids = await drawnIds(page);
    if (ids.length >= 20 || ids.length === (await eventCount(page)) || Date.now() > end) return ids;
    await new Promise((r) => setTimeout(r, 50));
  }
}
