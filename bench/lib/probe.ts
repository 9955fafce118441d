// Loaded with --import into every measured server process (exporter and references alike): reports
// event-loop delay and memory over IPC when the harness asks, so all subjects are observed the same way.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProbeReading {
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  samples: number;
  rssMiB: number;
  heapUsedMiB: number;
}

const RESOLUTION_MS = 10;
const lag = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

if (process.send) {
  // a timer every 10 ms (prom-client's resolution too); the histogram records whole intervals, so
  // the lag is what exceeds the 10 ms
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  process.on('message', (m: unknown) => {
    const msg = m as { probe?: 'read' | 'reset' };
    if (msg?.probe === 'reset') {
      h.reset();
      return;
    }
    if (msg?.probe !== 'read') return;
    const mem = process.memoryUsage();
    const reading: ProbeReading = {
      lagP50Ms: lag(h.percentile(50)),
      lagP99Ms: lag(h.percentile(99)),
      lagMaxMs: lag(h.max),
      samples: h.count,
      rssMiB: mem.rss / 1048576,
      heapUsedMiB: mem.heapUsed / 1048576,
    };
    h.reset();
    process.send!({ probeReading: reading });
  });
  process.channel?.unref();
}
