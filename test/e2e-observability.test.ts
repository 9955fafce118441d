// End to end: a real Prometheus and a real Alertmanager run the generated configs (short intervals
// substituted) against a running exporter fed by demo traffic; every dashboard panel and recording
// rule returns data, and a burst of failures reaches a local Slack webhook and a local SMTP server.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import type { DashboardDoc, RuleDoc } from '../src/ascode/check.js';
import { yamlText } from '../src/ascode/files.js';
import { generate } from '../src/ascode/generate.js';
import { expandGrafanaVariables } from '../src/ascode/promql-check.js';
import { ascodeSettings } from '../src/config/ascode.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { redisUrl, uniqueName } from './helpers/brokers.js';
import { query, startAlertmanager, startPrometheus, type Server } from './helpers/prometheus.js';
import { startSmtpSink, startWebhookSink, type SmtpSink, type WebhookSink } from './helpers/smtp.js';

const REPO = resolve(import.meta.dirname, '..');
const SMTP_USER = 'alertmanager';
const SMTP_PASSWORD = `pw-${process.pid}`; // read by Alertmanager from a file, checked by the SMTP sink
const BURST_TYPE = 'e2e-burst';

/** Quoted-printable soft breaks and escapes, as Alertmanager encodes the text part of a mail. */
function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function committedDashboards(): { file: string; doc: DashboardDoc }[] {
  const dir = join(REPO, 'grafana/dashboards');
  return readdirSync(dir)
    .sort()
    .map((f) => ({ file: f, doc: JSON.parse(readFileSync(join(dir, f), 'utf8')) as DashboardDoc }));
}

function committedRecordingRules(): string[] {
  const dir = join(REPO, 'prometheus/rules');
  return readdirSync(dir)
    .sort()
    .flatMap((f) => (parseYaml(readFileSync(join(dir, f), 'utf8')) as RuleDoc).groups.flatMap((g) => g.rules.filter((r) => r.record).map((r) => r.record!)));
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

describe('observability end to end (real Prometheus, Alertmanager, exporter)', () => {
  it('every panel and recording rule returns data; a failure burst pages Slack and email', { timeout: 170_000 }, async () => {
    const deadline = Date.now() + 160_000;
    const left = () => Math.max(1000, deadline - Date.now());
    const dir = mkdtempSync(join(tmpdir(), 'wfx-e2e-obs-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    // the bus source (Redis Streams) gives the pending, source-up and source-error series real values
    const redisURL = await redisUrl();
    const key = uniqueName('wfx_e2e_obs');
    const group = uniqueName('wfx_e2e_grp');
    const redis = new Redis(redisURL, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    cleanups.push(async () => {
      await redis.del(key);
      redis.disconnect();
    });

    const slack: WebhookSink = await startWebhookSink();
    cleanups.push(() => slack.close());
    const smtp: SmtpSink = await startSmtpSink(SMTP_USER, SMTP_PASSWORD);
    cleanups.push(() => smtp.close());
    const slackUrlFile = join(dir, 'slack_api_url');
    const smtpPasswordFile = join(dir, 'smtp_password');
    writeFileSync(slackUrlFile, slack.url);
    writeFileSync(smtpPasswordFile, SMTP_PASSWORD);

    const app: TestApp = await startApp({
      sources: [
        { kind: 'demo', name: 'demo', rate: 300, timeScale: 100, seed: 4242 },
        { kind: 'redis-streams', name: 'redis', url: redisURL, keys: [key], group, startId: '0', blockMs: 200 },
      ],
      http: true,
      // two queue names fit, the demo's third overflows: label overflow gets a real series
      // and a budget of 2 series for agent last-seen: series overflow gets a real series
      metrics: { labels: { queue: { maxValues: 2 } }, seriesBudgets: { workflow_agent_last_seen_timestamp_seconds: 2 } },
      runs: { deadlines: { 'e2e-stuck': 1 } },
      agents: { budgets: { coder: 50 } },
      // an event larger than a client's whole queue is dropped for it: tail drops get a real series
      tail: { maxQueueBytes: 1024 },
    });
    cleanups.push(() => app.close());
    const exporter = new URL(app.url);

    // the generated configuration, through the same settings a user overrides: short intervals,
    // a short `for` on the error-ratio alert, and notifications to the local sinks
    const settingsFor = (alertmanagerTarget: string) =>
      ascodeSettings({
        for: { errorRatio: '5s' },
        prometheus: { scrapeInterval: '1s', evaluationInterval: '1s', exporterTarget: exporter.host, alertmanagerTarget },
        alertmanager: {
          groupWait: '1s',
          groupInterval: '2s',
          slackApiUrlFile: slackUrlFile,
          smtpSmarthost: `127.0.0.1:${smtp.port}`,
          smtpAuthUsername: SMTP_USER,
          smtpAuthPasswordFile: smtpPasswordFile,
          smtpRequireTls: false,
          emailDomain: 'example.test',
        },
      });
    const amFiles = generate(settingsFor('127.0.0.1:1'));
    const am: Server = await startAlertmanager(join(dir, 'alertmanager'), amFiles.get('alertmanager/alertmanager.yml')!, left());
    cleanups.push(() => am.stop());

    const files = generate(settingsFor(`127.0.0.1:${am.port}`));
    for (const [rel, text] of files) {
      if (!rel.startsWith('prometheus/rules/')) continue;
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    const promConfig = parseYaml(files.get('prometheus/prometheus.yml')!) as { scrape_configs: { job_name: string }[]; global: Record<string, string> };
    expect(promConfig.global).toEqual({ scrape_interval: '1s', evaluation_interval: '1s' });
    // Prometheus's self-scrape points at its compose address; here only the exporter is scraped
    promConfig.scrape_configs = promConfig.scrape_configs.filter((s) => s.job_name === 'workflow-exporter');
    const prom: Server = await startPrometheus(join(dir, 'prometheus'), yamlText(promConfig), left());
    cleanups.push(() => prom.stop());

    // --- traffic beyond the demo, so every panel has a series -----------------------------------
    const ws = new WebSocket(`ws://${exporter.host}/ws/events`);
    cleanups.push(() => ws.close());
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(JSON.stringify({ type: 'subscribe', filter: {}, replay: 0 }));

    let seq = 0;
    const id = () => `e2e-${process.pid}-${seq++}`;
    const now = () => new Date().toISOString();
    const post = async (body: string) => {
      const r = await fetch(`${app.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return r.status;
    };
    const src = 'e2e-producer';
    const extra = [
      // tokens, cost, tool calls and queue wait for an agent with a budget
      { id: id(), type: 'task.started', time: now(), source: src, agent: 'coder', workflow: { id: 'wf-x', type: 'feature-dev' }, task: { id: 't-x', name: 'write' }, queue_wait_ms: 1500 },
      { id: id(), type: 'task.completed', time: now(), source: src, agent: 'coder', workflow: { id: 'wf-x', type: 'feature-dev' }, task: { id: 't-x', name: 'write' }, duration_ms: 2000, tokens_in: 1200, tokens_out: 400, model: 'large', cost_usd: 0.42 },
      { id: id(), type: 'tool.called', time: now(), source: src, agent: 'coder', tool: 'search', duration_ms: 300 },
      { id: id(), type: 'tool.failed', time: now(), source: src, agent: 'coder', tool: 'search', duration_ms: 900 },
      // a run past its 1 s deadline, and an end without a start (a lifecycle anomaly)
      { id: id(), type: 'workflow.started', time: now(), source: src, workflow: { id: `stuck-${process.pid}`, type: 'e2e-stuck' } },
      { id: id(), type: 'workflow.failed', time: now(), source: src, workflow: { id: `orphan-${process.pid}`, type: 'e2e-orphan' } },
      // larger than a live-tail client's whole queue: dropped for the connected client
      { id: id(), type: 'agent.heartbeat', time: now(), source: src, agent: 'coder', attributes: { note: 'x'.repeat(2000) } },
    ];
    expect(await post(JSON.stringify(extra))).toBe(202);
    // rejected by reason: one event missing its id, and a body that is not JSON
    expect(await post(JSON.stringify([{ type: 'task.completed', time: now(), source: src }]))).toBe(400);
    expect(await post('{"not json')).toBe(400);
    // the bus: events through Redis, then the stream deleted under the consumer (it recreates the group)
    for (let i = 0; i < 5; i++) await redis.xadd(key, '*', 'data', JSON.stringify({ id: id(), type: 'agent.heartbeat', time: now(), source: 'redis-producer', agent: 'planner' }));
    await waitFor('redis events consumed', async () => /workflow_exporter_events_received_total\{source="redis"\} 5/.test(await app.scrape()), left());
    await redis.del(key);
    await waitFor('the redis source recreated its group', async () => /workflow_exporter_source_errors_total\{source="redis",kind="group_recreated"\} [1-9]/.test(await app.scrape()), left());
    await redis.xadd(key, '*', 'data', JSON.stringify({ id: id(), type: 'agent.heartbeat', time: now(), source: 'redis-producer', agent: 'planner' }));

    await waitFor('Prometheus scraping the exporter', async () => (await query(prom.url, 'up{job="workflow-exporter"} == 1').catch(() => [])).length === 1, left(), 250);

    // --- the failure burst: failing runs of one workflow type, a few every half second, so the
    // counter is seen rising (a series born at its final value shows no rate) ---------------------
    let runs = 0;
    const failingRuns = (n: number) => {
      const out: object[] = [];
      for (let i = 0; i < n; i++) {
        const wf = { id: `burst-${process.pid}-${runs++}`, type: BURST_TYPE };
        const t0 = Date.now() - 2000;
        const at = (ms: number) => new Date(t0 + ms).toISOString();
        out.push(
          { id: id(), type: 'workflow.started', time: at(0), source: src, workflow: wf },
          { id: id(), type: 'stage.started', time: at(100), source: src, workflow: wf, stage: 'deploy' },
          { id: id(), type: 'task.started', time: at(200), source: src, workflow: wf, stage: 'deploy', agent: 'deployer', task: { id: `${wf.id}-t`, name: 'ship' } },
          { id: id(), type: 'task.failed', time: at(1200), source: src, workflow: wf, stage: 'deploy', agent: 'deployer', task: { id: `${wf.id}-t`, name: 'ship' } },
          { id: id(), type: 'stage.failed', time: at(1300), source: src, workflow: wf, stage: 'deploy' },
          { id: id(), type: 'workflow.failed', time: at(1400), source: src, workflow: wf },
        );
      }
      return out;
    };
    let bursting = true;
    const burst = (async () => {
      for (let k = 0; bursting && k < 300 && Date.now() < deadline; k++) {
        expect(await post(JSON.stringify(failingRuns(3)))).toBe(202);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    cleanups.push(() => {
      bursting = false;
      return burst;
    });

    // --- every recording rule and every panel expression returns data ----------------------------
    const records = committedRecordingRules();
    expect(records.length).toBeGreaterThanOrEqual(31);
    const panels = committedDashboards().flatMap(({ file, doc }) =>
      (doc.panels ?? []).flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ where: `${file} "${p.title}"`, expr: expandGrafanaVariables(t.expr!, { __rate_interval: '1m', __range: '5m' }) }))),
    );
    expect(panels.length).toBeGreaterThan(40);
    const missing = async () => {
      const out: string[] = [];
      for (const r of records) if ((await query(prom.url, r)).length === 0) out.push(`recording rule ${r}`);
      for (const p of panels) if ((await query(prom.url, p.expr)).length === 0) out.push(`${p.where}: ${p.expr}`);
      return out;
    };
    let empty: string[] = [];
    await waitFor(
      'data for every recording rule and panel',
      async () => {
        empty = await missing();
        return empty.length === 0;
      },
      Math.min(90_000, left()),
      1000,
    ).catch(() => undefined);
    expect(empty).toEqual([]);

    // no rule failed to evaluate
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const unhealthy = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok' || r.lastError);
    expect(unhealthy).toEqual([]);
    expect(rules.data.groups.flatMap((g) => g.rules).length).toBe(
      readdirSync(join(dir, 'prometheus/rules')).reduce((n, f) => n + (parseYaml(readFileSync(join(dir, 'prometheus/rules', f), 'utf8')) as RuleDoc).groups.reduce((m, g) => m + g.rules.length, 0), 0),
    );

    // --- the alert fires and is delivered ------------------------------------------------------------

    type SlackBody = { channel: string; attachments: { title: string; text: string; title_link: string }[] };
    const slackMatch = () =>
      (slack.bodies as SlackBody[]).find((b) => b.attachments?.some((a) => a.title.includes('WorkflowErrorRatioHigh (critical)') && a.text.includes(`100% of ${BURST_TYPE} runs are failing`)));
    await waitFor('the critical alert in the Slack sink', () => slackMatch() !== undefined, left(), 250);
    const sb = slackMatch()!;
    expect(sb.channel).toBe('#alerts-platform');
    const att = sb.attachments[0];
    expect(att.title).toMatch(/^\[FIRING:\d+\] WorkflowErrorRatioHigh \(critical\)$/);
    expect(att.text).toContain(`*100% of ${BURST_TYPE} runs are failing*`);
    expect(att.text).toContain('warning above 10%, critical above 25%');
    expect(att.text).toContain('#workflowerrorratiohigh');

    // every run of the type failed: the recorded error ratio is exactly 1
    const ratio = await query(prom.url, `workflow:runs_error_ratio:rate5m{workflow_type="${BURST_TYPE}"}`);
    expect(ratio.map((x) => x.value![1])).toEqual(['1']);

    const mailMatch = () => smtp.mails.find((m) => m.headers.subject?.includes('WorkflowErrorRatioHigh (critical)') && decodeQuotedPrintable(m.raw).includes(`100% of ${BURST_TYPE} runs are failing`));
    await waitFor('the critical alert in the SMTP sink', () => mailMatch() !== undefined, left(), 250);
    const mail = mailMatch()!;
    expect(mail.headers.subject).toMatch(/^\[FIRING\] WorkflowErrorRatioHigh \(critical\): /);
    expect(mail.to).toEqual(['platform-oncall@example.test']);
    expect(mail.user).toBe(SMTP_USER); // authenticated with the password from auth_password_file
    expect(smtp.logins).toContainEqual({ user: SMTP_USER, password: SMTP_PASSWORD });

    // the warning of the same alert is inhibited by the critical one, and never reaches Slack
    const amAlerts = (await (await fetch(`${am.url}/api/v2/alerts?filter=alertname%3D%22WorkflowErrorRatioHigh%22&filter=workflow_type%3D%22${BURST_TYPE}%22`)).json()) as {
      labels: Record<string, string>;
      status: { state: string; inhibitedBy: string[] };
    }[];
    const bySeverity = Object.fromEntries(amAlerts.map((a) => [a.labels.severity, a.status]));
    expect(bySeverity.critical).toMatchObject({ state: 'active', inhibitedBy: [] });
    expect(bySeverity.warning.state).toBe('suppressed');
    expect(bySeverity.warning.inhibitedBy).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 3000)); // one more group interval
    const warned = (slack.bodies as SlackBody[]).filter((b) => b.attachments?.some((a) => a.title.includes('(warning)') && a.text.includes(BURST_TYPE)));
    expect(warned).toEqual([]);
    bursting = false;
    await burst;
    expect(runs).toBeGreaterThan(0);
  });
});
