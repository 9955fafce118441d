// The live page's operator controls in headless Chromium: pause a run from its row with a
// confirmation step, see its state change when the platform's workflow.paused event arrives, resume
// it from the event detail, and see no controls with a read-only token.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ControlCommand } from '../src/control/command.js';
import type { CanonicalEventInput } from '../src/events/schema.js';
import type { AuditEntry } from '../src/server/audit.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { launchChromium } from './helpers/browser.js';

const OPERATOR = 'operator-token-0123456789abcdef';
const READER = 'read-only-token-0123456789abcdef';
const auth = {
  tokens: [
    { name: 'alice', role: 'operator', token: OPERATOR },
    { name: 'dashboard', role: 'read', token: READER },
  ],
};

let browser: Browser;
let t: TestApp | undefined;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function post(events: CanonicalEventInput[]) {
  const res = await fetch(`${t!.url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR}` },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(202);
}

async function commands(): Promise<ControlCommand[]> {
  const r = await fetch(`${t!.url}/api/control/commands?after=0`, { headers: { authorization: `Bearer ${READER}` } });
  return ((await r.json()) as { commands: ControlCommand[] }).commands;
}

async function openPage(token: string): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript((tok) => sessionStorage.setItem('wfx-token', tok), token);
  const page = await context.newPage();
  await page.goto(t!.url);
  return page;
}

const wf = { id: 'wf-page-1', type: 'feature-dev' };
const iso = (ms: number) => new Date(ms).toISOString();

describe('operator controls on the live page', () => {
  it('pauses a run from its row after confirmation, follows the platform event, resumes from the detail', async () => {
    t = await startApp({ auth });
    const now = Date.now();
    await post([{ id: 'p-start', type: 'workflow.started', time: iso(now - 5000), source: 'orchestrator', workflow: wf }]);
    const page = await openPage(OPERATOR);
    try {
      const row = page.locator(`#runs tr[data-run="${wf.id}"]`);
      await row.waitFor({ state: 'visible', timeout: 15_000 });
      expect(await row.locator('[data-role="state"]').textContent()).toBe('running');

      // the first click only asks: nothing is sent until the operator confirms
      await row.locator('button[data-action="pause"]').click();
      await row.locator('[data-role="confirm"]').waitFor();
      expect(await commands()).toEqual([]);
      await row.locator('input.run-reason').fill('agent looping on tests');
      await row.locator('[data-role="confirm"]').click();

      await waitFor('the pause command', async () => (await commands()).length === 1);
      const [cmd] = await commands();
      expect(cmd).toMatchObject({ action: 'pause', workflow_id: wf.id, reason: 'agent looping on tests', requested_by: 'alice' });
      await row.locator('[data-role="pending"]').waitFor();
      // a request is not a fact: the run is still running until the platform says otherwise
      expect(await row.locator('[data-role="state"]').textContent()).toBe('running');

      await post([{ id: 'p-paused', type: 'workflow.paused', time: iso(Date.now()), source: 'orchestrator', workflow: wf }]);
      await page.waitForFunction((id) => document.querySelector(`#runs tr[data-run="${id}"] [data-role="state"]`)?.textContent === 'paused', wf.id, { timeout: 15_000 });
      expect(await row.locator('[data-role="pending"]').count()).toBe(0);
      expect(await row.locator('button[data-action]').evaluateAll((bs) => bs.map((b) => (b as HTMLElement).dataset.action))).toEqual(['resume', 'cancel']);

      // the event detail of the pause event carries the same control
      await page.locator('.row[data-id="p-paused"]').click();
      const detail = page.locator('#detail-actions .run-control');
      await detail.waitFor();
      expect(await detail.locator('[data-role="state"]').textContent()).toBe('paused');
      await detail.locator('button[data-action="resume"]').click();
      await detail.locator('[data-role="confirm"]').click();
      await waitFor('the resume command', async () => (await commands()).length === 2);
      expect((await commands())[1]).toMatchObject({ action: 'resume', workflow_id: wf.id, requested_by: 'alice' });

      await post([{ id: 'p-resumed', type: 'workflow.resumed', time: iso(Date.now()), source: 'orchestrator', workflow: wf }]);
      await page.waitForFunction(() => document.querySelector('#detail-actions [data-role="state"]')?.textContent === 'running', undefined, { timeout: 15_000 });

      const audit = (await (await fetch(`${t.url}/api/audit`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { items: AuditEntry[] };
      expect(audit.items.map((e) => [e.action, e.outcome, e.who.name, e.workflow_id])).toEqual([
        ['resume', 'published', 'alice', wf.id],
        ['pause', 'published', 'alice', wf.id],
      ]);
    } finally {
      await page.context().close();
    }
  });

  it('lists runs with how overdue they are, but shows no controls to a read-only token', async () => {
    t = await startApp({ auth, runs: { deadlines: { 'feature-dev': 60 } } });
    // started 5 minutes ago with a 1-minute deadline: 4 minutes overdue
    await post([{ id: 'r-start', type: 'workflow.started', time: iso(Date.now() - 300_000), source: 'orchestrator', workflow: wf }]);
    const page = await openPage(READER);
    try {
      await page.locator('.row[data-id="r-start"]').click();
      await page.locator('#detail:not([hidden])').waitFor();
      // control.js has checked the role: the run is listed with its state, and nothing offers a button
      await page.locator('html[data-control="none"]').waitFor({ state: 'attached' });
      const row = page.locator(`#runs tr[data-run="${wf.id}"]`);
      await row.waitFor({ state: 'visible' });
      expect(await row.locator('[data-role="state"]').textContent()).toBe('running');
      expect(await row.locator('td.overdue').textContent()).toMatch(/^4m \d+s$/);
      expect(await page.locator('#runs button').count()).toBe(0);
      expect(await page.locator('#detail-actions button').count()).toBe(0);
      expect(await commands()).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
