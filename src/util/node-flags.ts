// The V8 flags every launcher the project ships starts the exporter with: the image's ENTRYPOINT,
// `npm start`, and the workflow-exporter command's shebang (test/node-flags.test.ts keeps the three
// equal to this list). Without them V8 sizes the heap for the machine: on 24 GiB it let the young
// generation grow to 2 x 64 MiB and the old one to four times its live data, 430-470 MiB RSS at full
// OTLP load against 234 MiB with them, for about a quarter more CPU per span (BENCHMARKS.md,
// otlp-ingest and docs/benchmarks-log.md).
export const NODE_FLAGS = [
  // semi-spaces of at most 8 MiB (V8 grows them to 64 MiB on a large machine)
  '--max-semi-space-size=8',
  // the old generation may grow to 1.3 x its live data before a full collection, not up to 4 x
  '--heap-growing-percent=30',
  // no allocation-site pretenuring: with the old generation held that small, V8 saw a decoded OTLP
  // body survive a scavenge or two, began allocating what those sites make straight in the old
  // generation, and decoding alone then ran 4-5x slower, in most runs and for the rest of the process
  // (docs/benchmarks-log.md, 2026-12-04)
  '--no-allocation-site-pretenuring',
] as const;
