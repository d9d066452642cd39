/**
 * Benchmark of the HTTP/1.1 listener alone.
 * Run: npm run bench -- http1
 *
 * Each server runs in its own child process; this process is the load generator.
 *   (a) one 1 GiB BITS_POST body (Content-Length): throughput, listener / raw-socket baseline
 *       that only counts bytes (the ceiling of any parser), and the listener's peak RSS;
 *   (b) the same with a chunked body (64 KiB chunks);
 *   (c) small requests/s over 16 kept-alive connections: listener / Node's http server
 *       (which must be sent POST: it refuses BITS_POST).
 * Env: BENCH_HTTP1_MB (default 1024), BENCH_HTTP1_SECONDS (default 3), BENCH_HTTP1_ROUNDS (default 2;
 * rounds are interleaved and the best of each is kept, since the machine is shared).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const ACK = 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\n\r\n';
const MB = Number(process.env.BENCH_HTTP1_MB ?? 1024);
const SECONDS = Number(process.env.BENCH_HTTP1_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_HTTP1_ROUNDS ?? 2);

// ---------------------------------------------------------------- child roles

async function runServer(kind: string): Promise<void> {
  let server: net.Server;
  if (kind === 'http1') {
    const { createHttp1Server } = await import('../src/gateway/http1/index.js');
    server = createHttp1Server((req, res) => {
      req.on('data', () => {});
      req.on('end', () => {
        res.writeHead(200, [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']]);
        res.end();
      });
    });
  } else if (kind === 'node') {
    server = http.createServer((req, res) => {
      req.on('data', () => {});
      req.on('end', () => {
        res.writeHead(200, { 'BITS-Packet-Type': 'Ack', 'Content-Length': '0' });
        res.end();
      });
    });
    (server as http.Server).keepAliveTimeout = 60_000;
  } else {
    // raw: no parsing at all, counts body bytes announced by the one bulk request
    server = net.createServer((socket) => {
      let head = '';
      let left = -1;
      socket.on('data', (chunk: Buffer) => {
        if (left < 0) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          left = Number(/content-length: (\d+)/i.exec(head)![1]) - (head.length - end - 4);
        } else {
          left -= chunk.length;
        }
        if (left === 0) socket.write(ACK);
      });
      socket.on('error', () => {});
    });
  }
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as net.AddressInfo).port });
  });
  process.on('message', (m) => {
    if (m === 'rss') process.send!({ maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) });
  });
}

// ---------------------------------------------------------------- load generator

interface Child { proc: ChildProcess; port: number }

function startChild(kind: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', here, 'server', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) => proc.once('message', (m: { port: number }) => resolve({ proc, port: m.port })));
}

function askRss(c: Child): Promise<number> {
  return new Promise((resolve) => {
    c.proc.once('message', (m: { maxRssMB: number }) => resolve(m.maxRssMB));
    c.proc.send('rss');
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.on('error', (e) => console.error('client socket error', e.message));
  });
}

async function bulk(port: number, totalBytes: number, chunked: boolean, method = 'BITS_POST'): Promise<number> {
  const s = await connect(port);
  const done = new Promise<void>((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) resolve();
    });
  });
  const t0 = process.hrtime.bigint();
  s.write(`${method} /bench/big.bin HTTP/1.1\r\nHost: bench\r\nBITS-Packet-Type: Fragment\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${totalBytes}`}\r\n\r\n`);
  const block = Buffer.alloc(1024 * 1024, 0x61);
  const chunkHead = Buffer.from(`${(64 * 1024).toString(16)}\r\n`);
  const crlf = Buffer.from('\r\n');
  for (let sent = 0; sent < totalBytes; sent += block.length) {
    let ok = true;
    if (chunked) {
      for (let i = 0; i < block.length; i += 64 * 1024) {
        s.write(chunkHead);
        s.write(block.subarray(i, i + 64 * 1024));
        ok = s.write(crlf);
      }
    } else {
      ok = s.write(block);
    }
    if (!ok) await new Promise((r) => s.once('drain', r));
  }
  if (chunked) s.write('0\r\n\r\n');
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  return totalBytes / 1024 / 1024 / seconds;
}

async function requestsPerSecond(port: number, method: string, conns: number, seconds: number): Promise<number> {
  const req = Buffer.from(`${method} /bench/f.bin HTTP/1.1\r\nHost: bench\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n`);
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: conns }, async () => {
    const s = await connect(port);
    await new Promise<void>((resolve) => {
      let pending = '';
      s.on('data', (d: Buffer) => {
        pending += d.toString('latin1');
        let i;
        while ((i = pending.indexOf('\r\n\r\n')) >= 0) {
          pending = pending.slice(i + 4);
          count++;
          if (Date.now() >= deadline) { s.destroy(); resolve(); return; }
          s.write(req);
        }
      });
      s.write(req);
    });
  }));
  return count / seconds;
}

async function main(): Promise<void> {
  const total = MB * 1024 * 1024;
  const [raw, listener, node] = await Promise.all([startChild('raw'), startChild('http1'), startChild('node')]);
  const rssIdle = await askRss(listener);
  // Interleaved rounds, best of each: the machine is shared, so a single run says little.
  const best = { raw: 0, l1: 0, l2: 0, node: 0, lRps: 0, nRps: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    best.raw = Math.max(best.raw, await bulk(raw.port, total, false));
    best.l1 = Math.max(best.l1, await bulk(listener.port, total, false));
    best.node = Math.max(best.node, await bulk(node.port, total, false, 'POST'));
    best.l2 = Math.max(best.l2, await bulk(listener.port, total, true));
    best.lRps = Math.max(best.lRps, await requestsPerSecond(listener.port, 'BITS_POST', 16, SECONDS));
    best.nRps = Math.max(best.nRps, await requestsPerSecond(node.port, 'POST', 16, SECONDS));
  }
  const rss = await askRss(listener);
  for (const c of [raw, listener, node]) c.proc.kill();
  console.log([
    `best of ${ROUNDS} rounds, ${MB} MiB bodies`,
    `(a) Content-Length body: listener ${best.l1.toFixed(0)} MiB/s, raw socket ${best.raw.toFixed(0)} MiB/s, Node http ${best.node.toFixed(0)} MiB/s -> listener/raw ${(best.l1 / best.raw).toFixed(2)}, listener/Node ${(best.l1 / best.node).toFixed(2)}`,
    `(b) chunked body (64 KiB chunks): listener ${best.l2.toFixed(0)} MiB/s -> /raw ${(best.l2 / best.raw).toFixed(2)}`,
    `(c) small requests, 16 keep-alive connections, ${SECONDS}s: listener ${best.lRps.toFixed(0)} req/s, Node http ${best.nRps.toFixed(0)} req/s -> ${(best.lRps / best.nRps).toFixed(2)}`,
    `listener peak RSS ${rss} MB after all rounds (idle ${rssIdle} MB)`,
  ].join('\n'));
}

if (process.argv[2] === 'server') void runServer(process.argv[3]!);
else void main();
