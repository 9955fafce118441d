// Fastify's answer to a request Node could not parse (headers too large, a timeout, bad bytes), without
// logging the bytes received: Node hands them over as the error's rawPacket, Authorization header and all.
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';

const ANSWERS: Record<string, [status: number, label: string, message: string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'timeout', 'Client Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'header_overflow', 'Exceeded maximum allowed HTTP header size'],
};
const OTHER: [number, string, string] = [400, 'error', 'Client Error'];

/**
 * A clientErrorHandler for Fastify: the same answers as its default (408, 431, else 400; the same
 * bodies), but the trace line names only the error's code and message, never `rawPacket`.
 */
export function clientErrorHandler(this: { log: FastifyBaseLogger }, err: NodeJS.ErrnoException, socket: Socket): void {
  // a reset connection is gone: nothing to answer, nothing worth a line
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, label, message] = (err.code !== undefined && ANSWERS[err.code]) || OTHER;
  this.log.trace({ err: { code: err.code, message: err.message } }, `client ${label}`);
  if (socket.writable) {
    const body = JSON.stringify({ error: STATUS_CODES[status], message, statusCode: status });
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
