import { decodeAck, decodeRequest } from '../../src/protocol/index.js';
import { SessionTracker } from '../../src/sessions/index.js';
import { Wire } from './factory.js';
const w = new Wire();
const list: any[] = [];
for (let i = 0; i < 5000; i++) list.push(...w.upload('/up/' + i, '{0f2e52b4-6d1c-4b3a-9d3e-' + String(i).padStart(12, '0') + '}', 8 << 20, 1 << 20));
function time(name: string, fn: () => void) {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  for (let i = 0; i < 7; i++) { (globalThis as any).gc?.(); const t0 = performance.now(); fn(); best = Math.min(best, performance.now() - t0); }
  console.log(name.padEnd(20), (best / list.length * 1e6).toFixed(0), 'ns/obs');
}
let sink = 0;
time('decodeRequest', () => { for (const o of list) sink += decodeRequest(o.method, o.requestHeaders, o.requestBodyBytes)!.problems.length; });
time('decodeAck', () => { for (const o of list) sink += decodeAck(o.status, o.responseHeaders).problems.length; });
time('observe', () => { const t = new SessionTracker(); for (const o of list) sink += t.observe(o).length; });
console.log(sink > 0);
