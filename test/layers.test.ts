// The import graph of src/, read with the TypeScript compiler: no module imports itself through
// others (a cycle), and no folder imports one in a higher layer. The layers are the intended shape
// of the code, lowest first; a folder on the same layer as another may import it (the cycle check
// still applies), and a new folder must be given its layer here before it can import anything.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * Each entry is a folder of src/ (or a file at its top, without .ts), lowest first:
 * - util: helpers with no knowledge of the exporter (lazy client loading, sliced batches, CommonJS)
 * - errors: the error classes and reject reasons
 * - config: the config schema, its defaults (buckets, ascode thresholds) and loading
 * - events, control: the canonical event and its mappings; the control command and its bus contract
 * - metrics: the metric catalog, registry, series handles, renderer, series budgets, cardinality guard
 * - state: lifecycle state (memory, Redis), active and overdue runs
 * - pipeline: decode, validate, accounting, dead letters, the runner, the Source and Sink contracts
 * - sources: one folder per kind and the list of descriptors
 * - sinks: the metric sinks and the live tail (which reads history and follows through the descriptors)
 * - otel, server: OpenTelemetry output; the Fastify plugins
 * - ascode: the generators of dashboards, rules and manifests (they read only config and the catalog)
 * - app: createApp wires everything
 * - cli: the command line
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['util'],
  ['errors'],
  ['config'],
  ['events', 'control'],
  ['metrics'],
  ['state'],
  ['pipeline'],
  ['sources'],
  ['sinks'],
  ['otel', 'server'],
  ['ascode'],
  ['app'],
  ['cli'],
];

/** src/ modules (without tests and the browser page's scripts) and the src/ modules each imports. */
function importGraph(): Map<string, Set<string>> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== join(SRC, 'page')) walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) files.push(p);
    }
  };
  walk(SRC);
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const specs: string[] = [];
    const visit = (n: ts.Node) => {
      // import and export declarations (type-only ones too), import('…') calls and import('…') types
      if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) specs.push(n.moduleSpecifier.text);
      else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) specs.push(n.arguments[0].text);
      else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) specs.push(n.argument.literal.text);
      ts.forEachChild(n, visit);
    };
    visit(sf);
    const from = relative(SRC, file);
    const to = new Set<string>();
    for (const s of specs) if (s.startsWith('.')) to.add(relative(SRC, normalize(join(dirname(file), s))).replace(/\.js$/, '.ts'));
    graph.set(from, to);
  }
  return graph;
}

/** The folder (or top-level file) a module belongs to. */
const unitOf = (module: string): string => (module.includes('/') ? module.slice(0, module.indexOf('/')) : module.replace(/\.ts$/, ''));

/** Every cycle's modules, one list per strongly connected component of more than one module (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) connect(v);
  return out;
}

describe('the import graph of src/', () => {
  const graph = importGraph();
  const layer = new Map(LAYERS.flatMap((units, i) => units.map((u) => [u, i] as const)));

  it('is read: every module is found, and the graph has the arrows it should', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('app.ts')).toContain('sources/index.ts');
    expect(graph.get('sources/index.ts')).toContain('sources/nats-jetstream/index.ts');
    // a type-only import is an arrow too
    expect(graph.get('pipeline/types.ts')).toContain('events/raw.ts');
  });

  it('gives every folder of src/ a layer', () => {
    const units = new Set([...graph.keys()].map(unitOf));
    expect([...units].filter((u) => !layer.has(u)).sort()).toEqual([]);
  });

  it('has no cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no arrow from a lower layer to a higher one', () => {
    const up: string[] = [];
    for (const [from, tos] of graph) {
      for (const to of tos) {
        const a = layer.get(unitOf(from));
        const b = layer.get(unitOf(to));
        if (a !== undefined && b !== undefined && b > a) up.push(`${from} -> ${to}`);
      }
    }
    expect(up.sort()).toEqual([]);
  });

  it('finds a cycle and an arrow up when there is one (the checks can fail)', () => {
    const bad = new Map([
      ['a/x.ts', new Set(['a/y.ts'])],
      ['a/y.ts', new Set(['a/x.ts'])],
      ['b.ts', new Set<string>()],
    ]);
    expect(cycles(bad)).toEqual([['a/x.ts', 'a/y.ts']]);
    // metrics/ is below pipeline/: an import of the pipeline from the metrics code would be refused
    expect(layer.get(unitOf('metrics/registry.ts'))!).toBeLessThan(layer.get(unitOf('pipeline/pipeline.ts'))!);
  });
});
