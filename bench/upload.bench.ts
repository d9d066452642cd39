/**
 * Upload throughput of a 1 GiB file: client → server directly (the baseline), and
 * client → gateway → server, measured in the same run; prints MiB/s and the ratio. The gateway
 * is the forwarding engine alone (`startGateway` with no sinks), not the product as shipped.
 *
 * The server and the gateway each run in their own child process (this same script with
 * `--role`), so the three parties do not share one event loop, as in real use. Runs
 * alternate (direct, gateway, direct, gateway...) and the best of each is reported, which
 * damps noise from the two shared cores. Everything lives in a temp dir, deleted after.
 *
 *   npm run bench -- upload            (BENCH_UPLOAD_MIB=256 BENCH_UPLOAD_RUNS=2 to shorten)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MIB = 1024 * 1024;
const here = fileURLToPath(import.meta.url);

async function role(name: string, args: Record<string, string | undefined>): Promise<void> {
  if (name === 'server') {
    const { startBitsServer } = await import('../src/server/index.js');
    const s = await startBitsServer({ root: args.root!, listen: { host: '127.0.0.1', port: 0 }, allowOverwrite: true });
    process.stdout.write(JSON.stringify({ url: s.url }) + '\n');
  } else {
    const { startGateway } = await import('../src/gateway/index.js');
    const g = await startGateway({ upstream: new URL(args.upstream!), listen: { host: '127.0.0.1', port: 0 }, sinks: [] });
    process.stdout.write(JSON.stringify({ url: g.url }) + '\n');
  }
  // Stay up until the parent closes our stdin (or dies).
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function spawnRole(name: string, extra: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', here, '--role', name, ...extra], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, url: (JSON.parse(out.slice(0, nl)) as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
  const runs = Number(process.env.BENCH_UPLOAD_RUNS ?? 3);
  const fragmentSize = Number(process.env.BENCH_UPLOAD_FRAGMENT ?? 8 * MIB);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bitsgate-bench-upload-'));
  const children: ChildProcess[] = [];
  try {
    const file = path.join(dir, 'payload.bin');
    const block = randomBytes(16 * MIB);
    const fh = await fs.open(file, 'w');
    for (let written = 0; written < sizeMiB * MIB; written += block.length) {
      await fh.write(block, 0, Math.min(block.length, sizeMiB * MIB - written));
    }
    await fh.close();

    const server = await spawnRole('server', ['--root', path.join(dir, 'root')]);
    children.push(server.child);
    const gateway = await spawnRole('gateway', ['--upstream', server.url]);
    children.push(gateway.child);
    const { uploadFile } = await import('../src/client/index.js');

    // Warm-up: JIT and page cache, so the first measured run is not penalised.
    const warm = path.join(dir, 'warm.bin');
    await fs.writeFile(warm, block);
    for (const base of [server.url, gateway.url]) {
      await uploadFile({ url: new URL('warm.bin', base.endsWith('/') ? base : base + '/'), file: warm, fragmentSize });
    }

    const best: Record<'direct' | 'gateway', number> = { direct: Infinity, gateway: Infinity };
    console.log(`upload ${sizeMiB} MiB in ${fragmentSize / MIB} MiB fragments, ${runs} run(s) each, best kept`);
    for (let i = 0; i < runs; i++) {
      for (const [label, base] of [['direct', server.url], ['gateway', gateway.url]] as const) {
        const target = new URL(`bench-${label}.bin`, base.endsWith('/') ? base : base + '/');
        const t0 = process.hrtime.bigint();
        const r = await uploadFile({ url: target, file, fragmentSize });
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        if (!r.closed || r.acked !== sizeMiB * MIB) throw new Error(`${label} upload incomplete: ${JSON.stringify(r)}`);
        await fs.rm(path.join(dir, 'root', `bench-${label}.bin`), { force: true });
        best[label] = Math.min(best[label], seconds);
        console.log(`  run ${i + 1} ${label.padEnd(7)} ${seconds.toFixed(2)} s  ${(sizeMiB / seconds).toFixed(1)} MiB/s`);
      }
    }
    const direct = sizeMiB / best.direct;
    const viaGateway = sizeMiB / best.gateway;
    console.log(`direct         ${direct.toFixed(1)} MiB/s`);
    console.log(`via gateway    ${viaGateway.toFixed(1)} MiB/s (the forwarding engine alone: startGateway, no sinks)`);
    console.log(`ratio gateway/direct throughput: ${(viaGateway / direct).toFixed(3)}`);
  } finally {
    for (const c of children) c.stdin?.end();
    await new Promise((r) => setTimeout(r, 200));
    for (const c of children) c.kill();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { role: { type: 'string' }, root: { type: 'string' }, upstream: { type: 'string' } } });
if (values.role) {
  await role(values.role, values);
} else {
  await main();
}
