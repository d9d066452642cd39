import { SessionTracker } from '../../src/sessions/index.js';
import { Wire } from './factory.js';
const w = new Wire();
const list: any[] = [];
for (let i = 0; i < 5000; i++) list.push(...w.upload('/up/' + i, '{0f2e52b4-6d1c-4b3a-9d3e-' + String(i).padStart(12, '0') + '}', 8 << 20, 1 << 20));
let sink = 0;
for (let r = 0; r < 40; r++) { const t = new SessionTracker(); for (const o of list) sink += t.observe(o).length; }
console.log(sink);
