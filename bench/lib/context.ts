// What every scenario gets from the harness: mode, timings, a scratch dir, brokers and an error log.
import type { Broker } from './brokers.js';
import type { ScenarioResult, TargetResult } from './results.js';

export interface Ctx {
  quick: boolean;
  /** measured runs per subject */
  runs: number;
  warmupS: number;
  measureS: number;
  dir: string;
  nats: () => Promise<Broker>;
  redis: () => Promise<Broker>;
  errors: string[];
  /** extra node flags for the exporter process (--profile adds --cpu-prof) */
  exporterNodeArgs: string[];
  /** the V8 flags of --exporter-node-args alone (no profiling): reference servers that run on the exporter's flags take them too */
  v8Args: string[];
  log(msg: string): void;
}

export interface ScenarioOutput {
  scenario: ScenarioResult;
  targets: TargetResult[];
}

export type Scenario = (ctx: Ctx) => Promise<ScenarioOutput>;
