/**
 * The one Ping load of the benches: kept-alive connections, each sending a literal
 * BITS_POST Ping and the next one as soon as the answer's head is in (lock-step, one
 * outstanding per connection). Shared by gateway.bench.ts, ping-ab.ts, ping-syscalls.ts and
 * workers-ping.ts so that their Ping figures come from the same client loop.
 */
import net from 'node:net';

export const PING = Buffer.from('BITS_POST /bench/f.bin HTTP/1.1\r\nHost: bench\r\nBITS-Packet-Type: Ping\r\nContent-Length: 0\r\n\r\n', 'latin1');

/** `n` connections to 127.0.0.1:`port`, Nagle off. */
export function connectAll(port: number, n: number): Promise<net.Socket[]> {
  return Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  })));
}

export interface PingLoad {
  /** Answers are counted (and passed to `onAnswer`) only while this is true. */
  measuring: boolean;
  /** Answers counted while measuring. */
  readonly count: number;
  /** Stops sending and waits (at most 2 s) for the outstanding answers. */
  stop(): Promise<void>;
  /** Stops (as `stop`), then destroys the sockets. */
  close(): Promise<void>;
}

/** Starts the lock-step Ping loop on every socket; `onAnswer` gets each measured answer's round trip in ms. */
export function startPingLoad(sockets: net.Socket[], onAnswer?: (ms: number) => void): PingLoad {
  let stopping = false;
  const load = { measuring: false, count: 0, stop, close };
  const loops = sockets.map((socket) => new Promise<void>((resolve) => {
    let sent = 0n;
    let pending = '';
    const send = () => {
      if (stopping) return resolve();
      sent = process.hrtime.bigint();
      socket.write(PING);
    };
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      let i: number;
      while ((i = pending.indexOf('\r\n\r\n')) >= 0) {
        pending = pending.slice(i + 4);
        if (load.measuring) {
          load.count++;
          onAnswer?.(Number(process.hrtime.bigint() - sent) / 1e6);
        }
        send();
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => resolve());
    send();
  }));
  async function stop(): Promise<void> {
    stopping = true;
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))]);
  }
  async function close(): Promise<void> {
    await stop();
    for (const s of sockets) s.destroy();
  }
  return load;
}
