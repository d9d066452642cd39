/**
 * SVG elements for the dashboard pictures, built like dom.ts builds HTML: attributes through
 * setAttribute, text through textContent, never markup. Colours come from CSS classes (the
 * page's CSP allows no inline style attribute, and classes follow the light/dark scheme).
 */
const NS = 'http://www.w3.org/2000/svg';

type Attrs = Record<string, string | number | undefined>;

export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, children: Array<SVGElement | null | undefined | false> = []): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, typeof v === 'number' ? fmt(v) : v);
  for (const c of children) if (c) node.append(c);
  return node;
}

/** A `<text>` with its content set as text. */
export function svgText(text: string, attrs: Attrs = {}): SVGTextElement {
  const t = svgEl('text', attrs);
  t.textContent = text;
  return t;
}

/** A `<title>`: the browser shows it on hover; screen readers read it. */
export function svgTitle(text: string): SVGTitleElement {
  const t = svgEl('title');
  t.textContent = text;
  return t;
}

/** Numbers in attributes: short and never `NaN`. */
export function fmt(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 10) / 10) : '0';
}

/** A root `<svg>` that scales to its container width. */
export function svgRoot(width: number, height: number, cls: string, label: string, role: 'img' | 'group' = 'img'): SVGSVGElement {
  return svgEl('svg', { class: cls, viewBox: `0 0 ${fmt(width)} ${fmt(height)}`, width: '100%', role, 'aria-label': label, preserveAspectRatio: 'xMinYMin meet' });
}
