/**
 * Certificates of a TLS listener: where they come from (PEM files or a PFX exported from the
 * Windows certificate store) and how they become secure contexts. Reading is separate from
 * serving so a reload can build every context first and swap only when all of them loaded:
 * a half-written renewal never replaces working certificates.
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';

/** PEM certificate (chain included, leaf first) and key, or a PKCS#12 file. */
export type CertificateSource =
  | { certFile: string; keyFile: string }
  | { pfxFile: string; passphraseFile?: string };

export interface TlsCredentials {
  /** The certificate for clients without SNI or with a name no `sni` entry matches. */
  default: CertificateSource;
  /** Extra certificates by server name (exact name, or `*.example.com` for one label). */
  sni?: ReadonlyArray<{ name: string; source: CertificateSource }>;
  /** Client certificates: ask for one, and verify it against this CA (PEM file). */
  clientCaFile?: string;
}

/** Options every context shares. setSecureContext rebuilds the whole context, so they are always passed. */
const COMMON: tls.SecureContextOptions = { minVersion: 'TLSv1.2' };

export class CredentialError extends Error {
  override name = 'CredentialError';
}

/** Every file a source reads (what a reload watches). */
export function credentialFiles(creds: TlsCredentials): string[] {
  const files = [...sourceFiles(creds.default)];
  for (const entry of creds.sni ?? []) files.push(...sourceFiles(entry.source));
  if (creds.clientCaFile) files.push(creds.clientCaFile);
  return [...new Set(files)];
}

function sourceFiles(source: CertificateSource): string[] {
  if ('pfxFile' in source) return source.passphraseFile ? [source.pfxFile, source.passphraseFile] : [source.pfxFile];
  return [source.certFile, source.keyFile];
}

/** Secure-context options of one source; errors name the file and say what to do. */
export async function loadSource(source: CertificateSource): Promise<tls.SecureContextOptions> {
  if ('pfxFile' in source) {
    const pfx = await readNamed(source.pfxFile);
    // A passphrase file ends with a newline when written by an editor or `echo`.
    const passphrase = source.passphraseFile ? (await readNamed(source.passphraseFile)).toString('utf8').replace(/\r?\n$/, '') : undefined;
    const options: tls.SecureContextOptions = { ...COMMON, pfx, ...(passphrase !== undefined && { passphrase }) };
    tryContext(options, source.pfxFile);
    return options;
  }
  const options: tls.SecureContextOptions = { ...COMMON, cert: await readNamed(source.certFile), key: await readNamed(source.keyFile) };
  tryContext(options, `${source.certFile} / ${source.keyFile}`);
  return options;
}

export interface LoadedCredentials {
  defaultOptions: tls.SecureContextOptions;
  /** Contexts by lower-case server name. */
  byName: Map<string, tls.SecureContext>;
}

export async function loadCredentials(creds: TlsCredentials): Promise<LoadedCredentials> {
  const defaultOptions = await loadSource(creds.default);
  if (creds.clientCaFile) {
    defaultOptions.ca = await readNamed(creds.clientCaFile);
  }
  const byName = new Map<string, tls.SecureContext>();
  for (const { name, source } of creds.sni ?? []) {
    const options = await loadSource(source);
    if (defaultOptions.ca) options.ca = defaultOptions.ca;
    byName.set(name.toLowerCase(), tls.createSecureContext(options));
  }
  return { defaultOptions, byName };
}

/** SNI lookup: exact name first, then a `*.` entry for the first label. */
export function contextForName(byName: ReadonlyMap<string, tls.SecureContext>, servername: string): tls.SecureContext | undefined {
  const name = servername.toLowerCase();
  const exact = byName.get(name);
  if (exact) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? byName.get(`*${name.slice(dot)}`) : undefined;
}

async function readNamed(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new CredentialError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Builds the context once so a bad file fails at load time with a useful message, not at the first handshake. */
function tryContext(options: tls.SecureContextOptions, what: string): void {
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new CredentialError(`${what}: ${explainCredentialError(err)}`);
  }
}

/** What went wrong with a certificate or key, in words an IIS administrator can act on. */
export function explainCredentialError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  if (e.code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION' || /Unsupported PKCS12 PFX data/i.test(message)) {
    return `${message}: this PFX uses legacy RC2-40 encryption (older Windows export), which OpenSSL 3 refuses. ` +
      'Re-export it with TripleDES-SHA1 or AES256-SHA256, or convert it: ' +
      'openssl pkcs12 -legacy -in old.pfx -nodes -out all.pem, then use --tls-cert/--tls-key';
  }
  if (/mac verify failure/i.test(message)) return `${message}: wrong passphrase (--tls-passphrase-file)`;
  if (/key values mismatch/i.test(message)) return `${message}: the key does not belong to the certificate`;
  return message;
}
