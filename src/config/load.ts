// Loads the configuration: YAML file, then WFX_* environment variables, then CLI flags; validated once.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { requireCjs } from '../util/cjs.js';
import { configSchema, type Config } from './schema.js';

export const ENV_PREFIX = 'WFX_';
/** Short names for the options people set most, beside the generic WFX_SECTION__FIELD form. */
const ENV_ALIASES: Record<string, string> = {
  WFX_PORT: 'server.port',
  WFX_HOST: 'server.host',
  WFX_LOG_LEVEL: 'log.level',
  WFX_DEMO: 'demo',
};

type Obj = Record<string, unknown>;

function snakeToCamel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** WFX_SERVER__SHUTDOWN_TIMEOUT_MS -> server.shutdownTimeoutMs; WFX_PORT via the alias table. */
export function envPath(name: string): string | undefined {
  if (ENV_ALIASES[name]) return ENV_ALIASES[name];
  if (!name.startsWith(ENV_PREFIX)) return undefined;
  return name.slice(ENV_PREFIX.length).split('__').map(snakeToCamel).join('.');
}

function coerce(raw: string): unknown {
  // JSON first so numbers, booleans, arrays (WFX_SOURCES='[...]') and objects arrive typed.
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export function setPath(target: Obj, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Obj = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i];
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') return;
    const next = cur[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Obj;
  }
  const last = parts[parts.length - 1];
  if (last === '__proto__' || last === 'constructor' || last === 'prototype') return;
  cur[last] = value;
}

export function readConfigFile(file: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${file}: ${(cause as Error).message}`, [], { cause });
  }
  let doc: unknown;
  try {
    // loaded with a file to read only: a start configured by env and flags alone never loads it
    const { parse: parseYaml } = requireCjs('yaml') as typeof import('yaml');
    doc = parseYaml(text) ?? {};
  } catch (cause) {
    throw new ConfigError(`${file}: not valid YAML: ${(cause as Error).message}`, [], { cause });
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`${file}: the top level must be a mapping`, [{ path: '', message: 'expected a mapping' }]);
  }
  return doc as Obj;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** dotted path -> value, from CLI flags; applied last */
  overrides?: Record<string, unknown>;
}

export function formatIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

/** Builds the raw (unvalidated) config: file, then env, then overrides. */
export function rawConfig(opts: LoadOptions = {}): Obj {
  const raw: Obj = opts.file ? readConfigFile(opts.file) : {};
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) continue;
    const path = envPath(name);
    if (path) setPath(raw, path, coerce(value));
  }
  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    if (value !== undefined) setPath(raw, path, value);
  }
  return raw;
}

// A config is parsed once per process: zod's generated fast path (jit) for its objects would cost
// more to build than it saves (tens of ms at start). The result is the same either way.
const ONCE = { jitless: true } as const;

export function loadConfig(opts: LoadOptions = {}): Config {
  const raw = rawConfig(opts);
  const parsed = configSchema.safeParse(raw, ONCE);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    const where = opts.file ? `${opts.file}: ` : '';
    throw new ConfigError(`${where}invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return parsed.data;
}

/** A config built from a partial object, for tests and embedding. */
export function configFrom(input: unknown): Config {
  const parsed = configSchema.safeParse(input, ONCE);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    throw new ConfigError(`invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return parsed.data;
}
