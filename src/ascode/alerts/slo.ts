// The workflow-slo-alerts group: multi-window burn rates of the run success SLO's error budget.
import type { AscodeSettings } from '../../config/ascode.js';
import { num, rec } from '../promql.js';
import { R, type SloWindow } from '../recording.js';
import { durationSeconds } from '../template.js';
import { input, minutesOf, ratioCounts, rising, WT, type AlertContext, type AlertFamily } from './common.js';

/** Burn-rate pairs of the Google SRE workbook: share of the budget spent in the long window. */
export function burnRates(s: AscodeSettings) {
  const hours = s.slo.windowDays * 24;
  const budget = 1 - s.slo.successRatio;
  const pair = (long: SloWindow, short: SloWindow, budgetShare: number) => {
    const factor = (budgetShare * hours) / (durationSeconds(long) / 3600);
    return { long, short, factor, threshold: factor * budget };
  };
  return {
    budget,
    fast: [pair('1h', '5m', 0.02), pair('6h', '30m', 0.05)],
    slow: [pair('1d', '2h', 0.1), pair('3d', '6h', 0.1)],
  };
}

function burnExpr(pairs: ReturnType<typeof burnRates>['fast']): string {
  return pairs.map((p) => `(${rec(R.runsErrorRatio(p.long))} > ${num(p.threshold)} and ${rec(R.runsErrorRatio(p.short))} > ${num(p.threshold)})`).join(' or ');
}


/** Fails generation when the SLO target and window ask for a burn rate no error ratio can reach. */
export function checkBurnRates(s: AscodeSettings): void {
  const burn = burnRates(s);
  for (const p of [...burn.fast, ...burn.slow]) {
    if (p.threshold >= 1) {
      throw new Error(
        `ascode.slo: a ${s.slo.successRatio} target over ${s.slo.windowDays}d needs an error ratio above ${num(p.threshold)} over ${p.long} to burn ${num(p.factor)}x, which cannot happen; raise slo.successRatio or slo.windowDays`,
      );
    }
  }
}

export function errorBudgetFastBurn({ s, f, c, pct }: AlertContext): AlertFamily {
  const burn = burnRates(s);
  return {
    name: 'WorkflowErrorBudgetFastBurn',
    file: 'workflow-alerts',
    group: 'workflow-slo-alerts',
    rules: [{ severity: 'critical', expr: burnExpr(burn.fast), for: f.sloFastBurn }],
    value: 'percent',
    summary: (x) => `${x.label('workflow_type')} is burning its error budget fast`,
    description: (x) =>
      `${x.value} of ${x.label('workflow_type')} runs failed over the alert window: at this rate the ${s.slo.windowDays}-day error budget of the ${pct(s.slo.successRatio)} success SLO is gone within days (fast burn: ${burn.fast.map((p) => `${num(p.factor)}x over ${p.long} and ${p.short}`).join(', or ')}).`,
    dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
    cases: (() => {
      const at = 70 + minutesOf(f.sloFastBurn);
      return [
        {
          name: 'every run failing for an hour',
          series: [input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(10, at + 5))],
          atMinutes: at,
          expect: [{ severity: 'critical' as const, labels: { workflow_type: WT }, value: 1 }],
        },
        {
          // the long windows still remember the failures, the short windows show recovery: quiet
          name: 'failures stopped 35 minutes ago',
          series: [
            input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, `0+10x${at - 35} ${(at - 35) * 10}+0x40`),
            input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, `0+0x${at - 35} 0+10x40`),
          ],
          atMinutes: at,
          expect: [],
        },
      ];
    })(),
  };
}

export function errorBudgetSlowBurn({ s, f, c, pct }: AlertContext): AlertFamily {
  const burn = burnRates(s);
  const slowFire = ratioCounts(Math.min(0.999, (burn.slow[0].threshold + Math.min(1, burn.fast[1].threshold)) / 2));
  const sloLow = ratioCounts(burn.slow[1].threshold / 2);
  return {
    name: 'WorkflowErrorBudgetSlowBurn',
    file: 'workflow-alerts',
    group: 'workflow-slo-alerts',
    rules: [{ severity: 'warning', expr: burnExpr(burn.slow), for: f.sloSlowBurn }],
    value: 'percent',
    summary: (x) => `${x.label('workflow_type')} is burning its error budget`,
    description: (x) =>
      `${x.value} of ${x.label('workflow_type')} runs failed over the alert window: at this rate the ${s.slo.windowDays}-day error budget of the ${pct(s.slo.successRatio)} success SLO runs out before the period ends (slow burn: ${burn.slow.map((p) => `${num(p.factor)}x over ${p.long} and ${p.short}`).join(', or ')}).`,
    dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
    cases: (() => {
      const at = 125 + minutesOf(f.sloSlowBurn);
      return [
        {
          name: 'error ratio above the slow-burn rate for two hours',
          series: [
            input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(slowFire.bad, at + 5)),
            input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, rising(slowFire.good, at + 5)),
          ],
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: { workflow_type: WT }, value: slowFire.bad / 1000 }],
        },
        {
          name: 'error ratio within budget',
          series: [
            input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(sloLow.bad, at + 5)),
            input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, rising(sloLow.good, at + 5)),
          ],
          atMinutes: at,
          expect: [],
        },
      ];
    })(),
  };
}
