/**
 * Fault injection's cost on the request path: Pings per second through startGateway with no
 * policy (the default: no per-request work), and with a registry whose one rule never matches
 * (every request's head decoded once, for the rule, and that decoding handed on as the
 * observation's, then checked against the rule). Same process, same
 * upstream, rounds alternated so the machine's load drifts equally over both; reported as a
 * ratio to the no-policy rows.
 *
 *   npm run bench -- inject        (or: node --import tsx bench/inject.bench.ts)
 */
import net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { startGateway } from '../src/gateway/index.js';
import { InjectionRegistry } from '../src/inject/registry.js';
import { parseInjectionRule } from '../src/inject/rule-syntax.js';

const CONNECTIONS = 16;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PING = Buffer.from('BITS_POST /up/f.bin HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n', 'latin1');
const ACK = Buffer.from('HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n', 'latin1');

/** A minimal upstream: one Ack per request head. */
function upstream(): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, (s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
        buf = buf.slice(i + 4);
        s.write(ACK);
      }
    });
    s.on('error', () => {});
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/** Pings answered in ROUND_MS over CONNECTIONS kept-alive connections, one outstanding each. */
async function round(port: number): Promise<number> {
  let done = 0;
  const deadline = Date.now() + ROUND_MS;
  await Promise.all(Array.from({ length: CONNECTIONS }, () => new Promise<void>((resolve) => {
    const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => c.write(PING));
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
        buf = buf.slice(i + 4);
        done++;
        if (Date.now() < deadline) c.write(PING);
        else {
          c.destroy();
          resolve();
        }
      }
    });
    c.on('error', () => resolve());
  })));
  return done / (ROUND_MS / 1000);
}

const up = await upstream();
const url = new URL(`http://127.0.0.1:${(up.address() as net.AddressInfo).port}`);
const registry = new InjectionRegistry();
registry.add(parseInjectionRule('close: drop-ack url=/never/*'), 'cli');
const rows = {
  'no policy': await startGateway({ upstream: url, listen: { host: '127.0.0.1', port: 0 }, sinks: [{ onObservation() {} }] }),
  'policy, no match': await startGateway({ upstream: url, listen: { host: '127.0.0.1', port: 0 }, sinks: [{ onObservation() {} }], injections: registry }),
};
const results: Record<string, number[]> = { 'no policy': [], 'policy, no match': [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, gw] of Object.entries(rows)) results[name]!.push(await round(gw.address.port));
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const base = median(results['no policy']!);
console.log(`startGateway with a no-op sink (not as shipped); ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}; ${CONNECTIONS} connections, ${ROUNDS} alternated rounds of ${ROUND_MS} ms`);
for (const [name, list] of Object.entries(results)) {
  console.log(`${name.padEnd(18)} ${median(list).toFixed(0).padStart(7)} Ping/s (median; rounds ${list.map((x) => x.toFixed(0)).join(', ')})  ratio ${(median(list) / base).toFixed(3)}`);
}
for (const gw of Object.values(rows)) await gw.close();
up.close();
