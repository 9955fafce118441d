// The NATS reference (its own process): an un-acked consumer (AckPolicy.None) on the same stream,
// consume({callback}) and refHandler per message (reference: JSON.parse + zod + prom-client; floor: JSON.parse).
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { refHandler, type RefMode } from './common.js';

const [mode, url, stream, durable, subject] = process.argv.slice(2) as [RefMode, string, string, string, string];
const handle = refHandler(mode);
const BATCH = 256; // the exporter's default pull size, so both pull the same way

const nc = await connect({ servers: url });
const jsm = await jetstreamManager(nc);
await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: `${subject}.>` });
const consumer = await jetstream(nc).consumers.get(stream, durable);
await consumer.consume({ max_messages: BATCH * 2, callback: (m) => handle(m.string()) });
process.send?.({ ready: url });
