/**
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [N]`: the N (default 25)
 * functions with the most self time in a V8 CPU profile (node --cpu-prof), with their
 * share of the sampled time, for the profile summaries in bench/README.md. With
 * `--total NAME,NAME...`, also the inclusive time (self + callees) of those functions
 * (e.g. `drain,handle,onResponse`): what a whole stage costs.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const totalAt = args.indexOf('--total');
const totals = totalAt >= 0 ? args.splice(totalAt, 2)[1]!.split(',') : [];
const [file, n = '25'] = args;
if (!file) {
  console.error('usage: bench/profile-summary.ts FILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]!)!;
  const dt = profile.timeDeltas[i] ?? 0;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules\/|bitsgate-bench\/)/, '')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
}
const idle = self.get('(idle)') ?? 0;
console.log(`${(total / 1e6).toFixed(1)} s sampled, ${(((total - idle) / total) * 100).toFixed(0)}% busy; top self time (% of busy):`);
for (const [key, us] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  console.log(`${((us / (total - idle)) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

if (totals.length > 0) {
  // Inclusive time per node (self samples of the node and everything under it).
  const selfById = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const inclusive = new Map<number, number>();
  const visit = (id: number): number => {
    const node = byId.get(id)!;
    let t = selfById.get(id) ?? 0;
    for (const c of node.children ?? []) t += visit(c);
    inclusive.set(id, t);
    return t;
  };
  visit(profile.nodes[0]!.id);
  console.log('inclusive time (% of busy), outermost frames only:');
  for (const name of totals) {
    let t = 0;
    // Count a frame only when no ancestor has the same name (recursion is not counted twice).
    const walk = (id: number, inside: boolean): void => {
      const node = byId.get(id)!;
      const match = node.callFrame.functionName === name;
      if (match && !inside) t += inclusive.get(id)!;
      for (const c of node.children ?? []) walk(c, inside || match);
    };
    walk(profile.nodes[0]!.id, false);
    console.log(`${((t / (total - idle)) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
}
