// One HTTP request over a keep-alive agent, the whole response read as text: the load processes'
// (bench/load/http.ts, bench/load/scrape.ts) only client call.
import { type Agent, request } from 'node:http';

export interface TextResponse {
  status: number;
  text: string;
}

export function requestText(agent: Agent, url: URL, method: 'GET' | 'POST', headers: Record<string, string | number> = {}, body?: string | Buffer): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
