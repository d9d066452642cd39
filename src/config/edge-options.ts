/**
 * The gateway's deployment options (TLS on both sides, farm routes, shutdown grace): their
 * flag definitions for parseArgs, their help text, and their parsing into the structured
 * form src/app.ts takes. Kept apart from src/commands/gateway.ts so that file stays about
 * the command; the config file (config-file.ts) goes through the same parsing.
 */
import { UsageError, parseDuration, parsePositiveDuration, parseUpstreamUrl } from '../util/option-values.js';
import type { CertificateSource, TlsCredentials } from '../gateway/tls-credentials.js';

export const EDGE_OPTION_SPECS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-pfx': { type: 'string' },
  'tls-passphrase-file': { type: 'string' },
  'tls-sni': { type: 'string', multiple: true },
  'tls-client-ca': { type: 'string' },
  'tls-handshake-timeout': { type: 'string' },
  'dashboard-tls': { type: 'boolean' },
  'dashboard-tls-cert': { type: 'string' },
  'dashboard-tls-key': { type: 'string' },
  'upstream-ca': { type: 'string' },
  'upstream-servername': { type: 'string' },
  'upstream-insecure': { type: 'boolean' },
  'upstream-cert': { type: 'string' },
  'upstream-key': { type: 'string' },
  route: { type: 'string', multiple: true },
  'shutdown-grace': { type: 'string' },
} as const;

export const EDGE_DEFAULTS = {
  /** systemd's default TimeoutStopSec is 90 s: finish well before it sends SIGKILL. */
  shutdownGraceMs: 30_000,
} as const;

export const EDGE_HELP = `TLS towards clients:
  --tls-cert FILE --tls-key FILE
                            serve HTTPS with this PEM certificate (chain included) and key
  --tls-pfx FILE [--tls-passphrase-file FILE]
                            or with a PKCS#12 file exported from Windows
  --tls-sni NAME=CERT,KEY   another certificate for clients asking for NAME (repeatable;
                            *.example.com matches one label)
  --tls-client-ca FILE      require client certificates issued by this CA
  --tls-handshake-timeout DUR
                            a TLS handshake not complete in time is closed (default 10s)
  --dashboard-tls           serve the dashboard over HTTPS with the listener's certificate
  --dashboard-tls-cert FILE --dashboard-tls-key FILE
                            or with its own
  Certificates reload on SIGHUP and when their files change, without dropping connections.

TLS towards the upstream (an https:// --upstream or --route):
  --upstream-ca FILE        trust this private CA too (beside the bundled public roots)
  --upstream-servername NAME
                            SNI and certificate name of --upstream when its URL has an IP
  --upstream-insecure       accept any upstream certificate (warned about at start)
  --upstream-cert FILE --upstream-key FILE
                            present this client certificate to the upstream

A farm:
  --route HOST=URL          send requests for HOST (the Host header, or an absolute-form
                            target's authority: a farm's BITS-Host-Id names) to URL
                            (repeatable); --upstream is the default; an unknown HOST with
                            no default gets 421

Service:
  --config FILE             read options from a JSON or YAML file (keys are these flag
                            names); flags given on the command line win
  --shutdown-grace DUR      on SIGTERM, stop accepting and give exchanges in flight this
                            long to finish (default ${EDGE_DEFAULTS.shutdownGraceMs / 1000}s)`;

export interface UpstreamTlsFiles {
  caFile?: string;
  servername?: string;
  insecure: boolean;
  certFile?: string;
  keyFile?: string;
}

export interface EdgeOptions {
  /** TLS on the gateway listener. */
  tls?: { credentials: TlsCredentials; handshakeTimeoutMs?: number };
  /** The dashboard's certificate (the listener's with --dashboard-tls). */
  dashboardTls?: CertificateSource;
  upstreamTls: UpstreamTlsFiles;
  /** `--route HOST=URL` in order. */
  routes: Array<[host: string, url: URL]>;
  shutdownGraceMs: number;
}

type EdgeValues = { [K in keyof typeof EDGE_OPTION_SPECS]?: (typeof EDGE_OPTION_SPECS)[K] extends { multiple: true } ? string[] : (typeof EDGE_OPTION_SPECS)[K] extends { type: 'boolean' } ? boolean : string };

const HOST_NAME = /^(?:\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?(:\d{1,5})?$|^\[[0-9a-fA-F:.]+\](:\d{1,5})?$/;

function nonEmpty(option: string, value: string | undefined): string | undefined {
  if (value === '') throw new UsageError(`--${option}: expected a file name`);
  return value;
}

export function parseEdgeOptions(values: EdgeValues): EdgeOptions {
  const file = (name: keyof typeof EDGE_OPTION_SPECS) => nonEmpty(name, values[name] as string | undefined);
  const pair = (a: keyof typeof EDGE_OPTION_SPECS, b: keyof typeof EDGE_OPTION_SPECS) => {
    if ((values[a] === undefined) !== (values[b] === undefined)) throw new UsageError(`--${a} and --${b} go together`);
  };
  pair('tls-cert', 'tls-key');
  pair('dashboard-tls-cert', 'dashboard-tls-key');
  pair('upstream-cert', 'upstream-key');
  const certFile = file('tls-cert');
  const keyFile = file('tls-key');
  const pfxFile = file('tls-pfx');
  if (pfxFile !== undefined && certFile !== undefined) throw new UsageError('--tls-pfx: give either --tls-pfx or --tls-cert/--tls-key, not both');
  if (values['tls-passphrase-file'] !== undefined && pfxFile === undefined) throw new UsageError('--tls-passphrase-file: only with --tls-pfx');
  const passphraseFile = file('tls-passphrase-file');
  const source: CertificateSource | undefined = pfxFile !== undefined
    ? { pfxFile, ...(passphraseFile !== undefined && { passphraseFile }) }
    : certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
  const sni = (values['tls-sni'] ?? []).map((entry) => {
    const m = /^([^=]+)=([^,]+),(.+)$/.exec(entry);
    if (!m || !HOST_NAME.test(m[1]!)) throw new UsageError(`--tls-sni: expected NAME=CERT,KEY, got ${JSON.stringify(entry)}`);
    return { name: m[1]!.toLowerCase(), source: { certFile: m[2]!, keyFile: m[3]! } };
  });
  const needsListenerTls = ['tls-sni', 'tls-client-ca', 'tls-handshake-timeout', 'dashboard-tls'] as const;
  for (const name of needsListenerTls) {
    if (values[name] !== undefined && values[name] !== false && !source) throw new UsageError(`--${name}: needs --tls-cert/--tls-key or --tls-pfx`);
  }
  if (values['dashboard-tls'] && values['dashboard-tls-cert'] !== undefined) {
    throw new UsageError('--dashboard-tls: reuses the listener\'s certificate; it cannot go with --dashboard-tls-cert');
  }
  const clientCaFile = file('tls-client-ca');
  const handshake = values['tls-handshake-timeout'];
  const routes = (values.route ?? []).map((entry): [string, URL] => {
    const at = entry.indexOf('=');
    const host = entry.slice(0, at).trim();
    if (at <= 0 || !HOST_NAME.test(host) || host.startsWith('*')) throw new UsageError(`--route: expected HOST=URL, got ${JSON.stringify(entry)}`);
    return [host.toLowerCase(), parseUpstreamUrl('--route', entry.slice(at + 1).trim())];
  });
  const seen = new Set<string>();
  for (const [host] of routes) {
    if (seen.has(host)) throw new UsageError(`--route: ${host} is routed twice`);
    seen.add(host);
  }
  const dashboardCert = file('dashboard-tls-cert');
  const dashboardKey = file('dashboard-tls-key');
  const grace = values['shutdown-grace'];
  return {
    ...(source && {
      tls: {
        credentials: { default: source, ...(sni.length && { sni }), ...(clientCaFile !== undefined && { clientCaFile }) },
        ...(handshake !== undefined && { handshakeTimeoutMs: parsePositiveDuration('--tls-handshake-timeout', handshake) }),
      },
    }),
    ...(values['dashboard-tls'] && source && { dashboardTls: source }),
    ...(dashboardCert !== undefined && dashboardKey !== undefined && { dashboardTls: { certFile: dashboardCert, keyFile: dashboardKey } }),
    upstreamTls: {
      ...(file('upstream-ca') !== undefined && { caFile: values['upstream-ca'] }),
      ...(values['upstream-servername'] !== undefined && { servername: checkedServername(values['upstream-servername']) }),
      insecure: values['upstream-insecure'] === true,
      ...(file('upstream-cert') !== undefined && { certFile: values['upstream-cert'], keyFile: values['upstream-key'] }),
    },
    routes,
    shutdownGraceMs: grace !== undefined ? parseDuration('--shutdown-grace', grace) : EDGE_DEFAULTS.shutdownGraceMs,
  };
}

function checkedServername(name: string): string {
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(name) || /^[\d.]+$/.test(name)) {
    throw new UsageError(`--upstream-servername: expected a DNS name (SNI cannot be an IP address), got ${JSON.stringify(name)}`);
  }
  return name.toLowerCase();
}
