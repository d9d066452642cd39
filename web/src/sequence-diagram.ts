/**
 * The session sequence diagram: client, gateway and server lifelines, one request arrow and
 * (when it came) one response arrow per exchange, in order. What a reader must see without
 * the table:
 *  - which TCP connection carried each exchange: each connection has its colour (a band in
 *    the gutter and the arrows), so a reconnect, and the connection a Close came on, show;
 *  - a lost Ack: the request arrow with no answer, crossed out where the answer should be;
 *  - a retry: a packet that repeats an earlier one (same type, same range) is labelled so;
 *  - a 416 resync: the answer says where the server wants the client to resume;
 *  - violations: the exchange is marked; the mark is focusable and its explanation appears
 *    on hover (title) and on focus (the line under the diagram).
 * Everything from traffic is text content; nothing is parsed as markup.
 */
import type { PacketRecord, Violation } from '../../src/sessions/events.js';
import { el } from './dom.js';
import { clean } from './format.js';
import { svgEl, svgRoot, svgText, svgTitle } from './svg.js';

/** Most exchanges drawn; older ones are summarised (the timeline table still lists them). */
export const MAX_DIAGRAM_ROWS = 400;
const W = 820;
const X_CLIENT = 190;
const X_GATEWAY = 480;
const X_SERVER = 770;
const HEAD = 44;
const ROW = 52;
/** Distinct lane colours (CSS classes conn-c0..); connections beyond reuse them in order. */
export const CONNECTION_COLOURS = 8;

const KIND_LABEL: Record<string, string> = {
  ping: 'Ping', 'create-session': 'Create-Session', fragment: 'Fragment', 'close-session': 'Close-Session',
  'cancel-session': 'Cancel-Session', unknown: 'unknown packet',
};

function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, 9)}…` : id;
}

function requestLabel(p: PacketRecord, retry: boolean): string {
  const name = p.kind === 'http' ? clean(p.method, 20) : KIND_LABEL[p.kind] ?? p.kind;
  const range = p.range ? ` ${p.range.start}-${p.range.end}/${p.range.total}` : '';
  return `${retry ? 'retry ' : ''}${name}${range}`;
}

function responseLabel(p: PacketRecord): string {
  const parts = [String(p.status)];
  if (p.kind !== 'http') parts.push('Ack');
  if (p.ackedOffset !== undefined) parts.push(`received ${p.ackedOffset}`);
  if (p.status === 416) parts.push('(resync)');
  if (p.errorCode) parts.push(clean(p.errorCode, 60));
  if (p.kind === 'create-session' && p.responseHeaders) {
    const sid = p.responseHeaders.find(([k]) => k.toLowerCase() === 'bits-session-id')?.[1];
    if (sid) parts.push(`session ${clean(shortId(sid), 20)}`);
  }
  return parts.join(' · ');
}

/** A horizontal arrow from x1 to x2 at y through the gateway, head at x2. */
function arrow(x1: number, x2: number, y: number, cls: string, label: string, title: string): SVGGElement {
  const dir = x2 > x1 ? 1 : -1;
  const g = svgEl('g', { class: `msg ${cls}` }, [
    svgEl('line', { x1, y1: y, x2: X_GATEWAY, y2: y }),
    svgEl('line', { x1: X_GATEWAY, y1: y, x2: x2 - dir * 2, y2: y }),
    svgEl('path', { class: 'head', d: `M${x2} ${y} l${-dir * 9} -4.5 v9 z` }),
    svgText(label, { x: (x1 + x2) / 2, y: y - 5, 'text-anchor': 'middle', class: 'msg-label' }),
    svgTitle(title),
  ]);
  return g;
}

export interface DiagramParts {
  root: HTMLElement;
  /** Exchanges drawn, request arrows, response arrows, lost answers, violation marks, connections. */
  counts: { rows: number; requests: number; responses: number; lost: number; marks: number; connections: number };
}

export function sequenceDiagram(all: PacketRecord[], violations: Violation[]): DiagramParts {
  const packets = all.length > MAX_DIAGRAM_ROWS ? all.slice(-MAX_DIAGRAM_ROWS) : all;
  const byExchange = new Map<number, Violation[]>();
  for (const v of violations) for (const x of v.exchanges) {
    const list = byExchange.get(x);
    if (list) list.push(v);
    else byExchange.set(x, [v]);
  }
  const connIndex = new Map<number, number>();
  for (const p of packets) if (!connIndex.has(p.connectionId)) connIndex.set(p.connectionId, connIndex.size);
  const t0 = packets[0]?.startedAt ?? 0;
  const height = HEAD + packets.length * ROW + 10;
  const svg = svgRoot(W, height, 'seq', `Sequence diagram: ${packets.length} exchanges on ${connIndex.size} connections`, 'group');

  const explain = el('p', { class: 'seq-explain', attrs: { 'aria-live': 'polite' }, text: '' });
  const lanes = svgEl('g', { class: 'lifelines' });
  for (const [x, name] of [[X_CLIENT, 'Client'], [X_GATEWAY, 'Gateway'], [X_SERVER, 'Server']] as const) {
    lanes.append(svgEl('g', { class: 'lifeline', 'data-lane': name.toLowerCase() }, [
      svgText(name, { x, y: 18, 'text-anchor': 'middle', class: 'lane-head' }),
      svgEl('line', { x1: x, y1: 26, x2: x, y2: height - 4 }),
    ]));
  }
  svg.append(lanes);

  const seen = new Map<string, number>(); // packet signature -> times sent
  let requests = 0, responses = 0, lost = 0, marks = 0;
  packets.forEach((p, i) => {
    const y = HEAD + i * ROW + 14;
    const c = connIndex.get(p.connectionId)! % CONNECTION_COLOURS;
    const sig = `${p.kind}|${p.range ? `${p.range.start}-${p.range.end}` : ''}`;
    const sent = seen.get(sig) ?? 0;
    seen.set(sig, sent + 1);
    // A repeated Fragment range, or a repeated Create/Close/Cancel, is a retry; Pings repeat by design.
    const retry = sent > 0 && p.kind !== 'ping' && p.kind !== 'http';
    const row = svgEl('g', { class: `xrow conn-c${c}${retry ? ' retry' : ''}`, 'data-exchange': String(p.exchange), 'data-connection': String(p.connectionId), 'data-kind': p.kind });
    const vs = byExchange.get(p.exchange);
    if (vs) row.append(svgEl('rect', { class: 'row-violation', x: 2, y: y - 16, width: W - 4, height: ROW - 6, rx: 4 }));
    row.append(
      svgEl('rect', { class: 'conn-band', x: 4, y: y - 16, width: 6, height: ROW - 6 }),
      svgText(`+${((p.startedAt - t0) / 1000).toFixed(3)} s`, { x: 16, y: y + 4, class: 'row-time' }),
      svgText(`conn ${p.connectionId}`, { x: 16, y: y + 20, class: 'row-conn' }),
    );
    const reqTitle = `${requestLabel(p, retry)} on connection ${p.connectionId}, ${p.requestBytes} body bytes`;
    row.append(arrow(X_CLIENT, X_SERVER, y, 'req', requestLabel(p, retry), reqTitle));
    requests++;
    if (p.status !== undefined && p.error !== undefined) {
      // The gateway answered itself (upstream refused, reset or timed out): the server sent nothing.
      const label = `${p.status} from gateway: ${clean(p.error, 40)}`;
      row.append(arrow(X_GATEWAY, X_CLIENT, y + 22, 'resp bad from-gateway', label, `The gateway answered ${p.status} (${clean(p.error, 60)}): no answer came from the server.`));
      responses++;
    } else if (p.status !== undefined) {
      const label = responseLabel(p);
      row.append(arrow(X_SERVER, X_CLIENT, y + 22, p.status >= 400 ? 'resp bad' : 'resp', label, `answer: ${label} after ${Math.round(p.ms)} ms`));
      responses++;
    } else {
      // No answer reached the client: the Ack is lost (the client will retry or give up).
      const why = p.error ? clean(p.error, 60) : 'no response';
      row.append(svgEl('g', { class: 'lost' }, [
        svgEl('path', { d: `M${X_GATEWAY - 70} ${y + 15} l12 12 m0 -12 l-12 12` }),
        svgText(`no Ack: ${why}`, { x: X_GATEWAY - 50, y: y + 26, class: 'msg-label' }),
        svgTitle(`The client got no answer (${why}): its Ack is lost. BITS retries the packet, on a new connection if this one died.`),
      ]));
      lost++;
    }
    if (vs) {
      const text = vs.map((v) => `${v.code}: ${clean(v.message, 300)} ${clean(v.explain, 400)}`).join('\n');
      const worst = vs.some((v) => v.severity === 'error') ? 'error' : vs.some((v) => v.severity === 'warning') ? 'warning' : 'info';
      const mark = svgEl('g', { class: `mark sev-${worst}`, tabindex: '0', role: 'button', 'aria-label': text, 'data-codes': vs.map((v) => v.code).join(' ') }, [
        svgEl('circle', { cx: X_CLIENT - 22, cy: y + 8, r: 9 }),
        svgText('!', { x: X_CLIENT - 22, y: y + 12.5, 'text-anchor': 'middle' }),
        svgTitle(text),
      ]);
      const show = () => { explain.textContent = text; explain.dataset.codes = vs.map((v) => v.code).join(' '); };
      mark.addEventListener('focus', show);
      mark.addEventListener('mouseenter', show);
      mark.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); show(); } });
      row.append(mark);
      marks++;
    }
    svg.append(row);
  });

  const legend = el('ul', { class: 'seq-legend', attrs: { 'aria-label': 'TCP connections' } });
  for (const [id, idx] of connIndex) {
    const n = packets.filter((p) => p.connectionId === id).length;
    legend.append(el('li', { class: `conn-lane conn-c${idx % CONNECTION_COLOURS}`, data: { connection: String(id) } }, [
      el('span', { class: 'swatch' }), el('span', { text: `connection ${id}: ${n} exchange${n === 1 ? '' : 's'}` }),
    ]));
  }
  const note = all.length > packets.length ? el('p', { class: 'muted', text: `Showing the last ${packets.length} of ${all.length} exchanges.` }) : null;
  const scroller = el('div', { class: 'seq-scroll', attrs: { tabindex: '0', 'aria-label': 'Sequence diagram (scrollable)' } }, [svg]);
  const root = el('div', { class: 'seq-wrap' }, [el('h3', { text: 'Sequence' }), legend, note, scroller, explain]);
  root.dataset.rows = String(packets.length);
  return { root, counts: { rows: packets.length, requests, responses, lost, marks, connections: connIndex.size } };
}
