/**
 * Byte coverage over time for one session: each Fragment is a vertical bar at the time it was
 * sent, spanning the bytes it carried; the step line is what the server acknowledged. A
 * retransmission is a bar below the acknowledged line, a gap a bar above it, a rejected
 * fragment (e.g. 416) is drawn hollow.
 */
import type { PacketRecord } from '../../src/sessions/events.js';
import { bytes } from './format.js';
import { svgEl, svgRoot, svgText, svgTitle } from './svg.js';

const W = 820, H = 180, LEFT = 70, RIGHT = 12, TOP = 12, BOTTOM = 26;

export interface CoverageCounts { fragments: number; retransmits: number; gaps: number; ackPoints: number }

export function coverageChart(timeline: PacketRecord[], total: number | null): { root: SVGSVGElement; counts: CoverageCounts } {
  const frags = timeline.filter((p) => p.kind === 'fragment' && p.range);
  const acks = timeline.filter((p) => p.ackedOffset !== undefined);
  let top = total ?? 0;
  for (const p of frags) top = Math.max(top, p.range!.end + 1, p.range!.total);
  for (const p of acks) top = Math.max(top, p.ackedOffset!);
  const t0 = timeline[0]?.startedAt ?? 0;
  const t1 = Math.max(t0 + 1, ...timeline.map((p) => p.startedAt + p.ms));
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - RIGHT);
  const y = (b: number) => H - BOTTOM - (top > 0 ? (b / top) * (H - TOP - BOTTOM) : 0);
  const counts: CoverageCounts = { fragments: 0, retransmits: 0, gaps: 0, ackPoints: 0 };
  const svg = svgRoot(W, H, 'cov-chart', `Byte coverage over time: ${frags.length} fragments, ${bytes(acks.at(-1)?.ackedOffset ?? 0)} acknowledged of ${total === null ? 'unknown' : bytes(total)}`);

  svg.append(
    svgEl('line', { class: 'axis', x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM }),
    svgEl('line', { class: 'axis', x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM }),
    svgText(bytes(top), { x: LEFT - 6, y: TOP + 8, 'text-anchor': 'end', class: 'tick' }),
    svgText('0', { x: LEFT - 6, y: H - BOTTOM, 'text-anchor': 'end', class: 'tick' }),
    svgText(`+${((t1 - t0) / 1000).toFixed(2)} s`, { x: W - RIGHT, y: H - 8, 'text-anchor': 'end', class: 'tick' }),
  );
  if (total !== null && total > 0) svg.append(svgEl('line', { class: 'cov-total', x1: LEFT, y1: y(total), x2: W - RIGHT, y2: y(total) }));

  // Acknowledged bytes as a step line, in exchange order.
  let acked = 0;
  let d = `M${x(t0)} ${y(0)}`;
  for (const p of timeline) {
    const end = p.startedAt + p.ms;
    if (p.kind === 'fragment' && p.range) {
      const r = p.range;
      const kind = r.start < acked ? ' retransmit' : r.start > acked ? ' gap' : '';
      const rejected = p.status === undefined || p.status >= 300 ? ' rejected' : '';
      if (kind === ' retransmit') counts.retransmits++;
      if (kind === ' gap') counts.gaps++;
      counts.fragments++;
      const bx = x(p.startedAt);
      svg.append(svgEl('rect', { class: `cov-frag${kind}${rejected}`, x: bx - 1.5, y: y(r.end + 1), width: 3, height: Math.max(1, y(r.start) - y(r.end + 1)) }, [
        svgTitle(`Fragment ${r.start}-${r.end}/${r.total}${kind ? ` (${kind.trim()})` : ''}: ${p.status === undefined ? 'no answer' : `answered ${p.status}`}`),
      ]));
    }
    if (p.ackedOffset !== undefined) {
      d += ` L${x(end)} ${y(acked)} L${x(end)} ${y(p.ackedOffset)}`;
      acked = p.ackedOffset;
      counts.ackPoints++;
    }
  }
  d += ` L${x(t1)} ${y(acked)}`;
  svg.append(svgEl('path', { class: 'cov-acked-line', d }));
  return { root: svg, counts };
}
