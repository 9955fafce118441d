// Alerting rules, each with its promtool cases (fires when it should, stays silent when it should
// not) built from the same thresholds, so a changed threshold changes the rule and its proof together.
// One file per rule group; this list is the order of the generated rule and test files.
import type { AscodeSettings } from '../../config/ascode.js';
import { alertContext, type AlertFamily } from './common.js';
import { connectionsRefused, eventLagHigh, eventsLost, exporterDown, rejectingEvents, seriesBudgetFull, sourceDown, sourceLagGrowing, sourceSilent } from './exporter.js';
import { checkBurnRates, errorBudgetFastBurn, errorBudgetSlowBurn } from './slo.js';
import { agentBudgetBurn, agentSilent, errorRatioHigh, queueDepthHigh, runLatencyHigh, runsOverdue } from './workflow.js';

export function alertFamilies(s: AscodeSettings): AlertFamily[] {
  checkBurnRates(s);
  const cx = alertContext(s);
  return [
    runLatencyHigh(cx),
    errorRatioHigh(cx),
    agentSilent(cx),
    errorBudgetFastBurn(cx),
    errorBudgetSlowBurn(cx),
    runsOverdue(cx),
    agentBudgetBurn(cx),
    queueDepthHigh(cx),
    exporterDown(cx),
    sourceDown(cx),
    eventsLost(cx),
    rejectingEvents(cx),
    sourceLagGrowing(cx),
    sourceSilent(cx),
    eventLagHigh(cx),
    connectionsRefused(cx),
    seriesBudgetFull(cx),
  ];
}
