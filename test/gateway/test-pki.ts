/**
 * Certificates made at test time with the openssl CLI, in a temp directory removed after the
 * file's tests: a private CA, server certificates for chosen names, an expired one, a PFX.
 * No key is ever committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Leaf {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export class TestPki {
  readonly dir: string;
  readonly caFile: string;
  readonly ca: Buffer;
  private serial = 1;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'bitsgate-pki-'));
    mkdirSync(join(this.dir, 'newcerts'));
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'serial'), '1000\n');
    writeFileSync(join(this.dir, 'ca.cnf'), caConfig(this.dir));
    this.caFile = join(this.dir, 'ca.crt');
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(this.dir, 'ca.key'), '-out', this.caFile, '-days', '30', '-subj', '/CN=bitsgate test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    this.ca = readFileSync(this.caFile);
  }

  /**
   * A certificate signed by the CA for `names` (DNS names or IP addresses). `expired`: valid
   * only in January 2020. `client`: for client authentication.
   */
  leaf(names: string[], options: { expired?: boolean; client?: boolean; file?: string } = {}): Leaf {
    const base = join(this.dir, options.file ?? `leaf-${this.serial++}`);
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    writeFileSync(`${base}.ext`, [
      '[ext]',
      `subjectAltName=${san}`,
      `extendedKeyUsage=${options.client ? 'clientAuth' : 'serverAuth'}`,
      'basicConstraints=CA:FALSE',
      '',
    ].join('\n'));
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`,
      '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`);
    const validity = options.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z'] : ['-days', '30'];
    openssl('ca', '-batch', '-config', join(this.dir, 'ca.cnf'), '-cert', this.caFile, '-keyfile', join(this.dir, 'ca.key'),
      '-in', `${base}.csr`, '-out', `${base}.crt`, '-notext', '-extfile', `${base}.ext`, '-extensions', 'ext', ...validity);
    return { certFile: `${base}.crt`, keyFile: `${base}.key`, cert: readFileSync(`${base}.crt`), key: readFileSync(`${base}.key`) };
  }

  /** The leaf (with the CA in its chain) as a PKCS#12 file protected by `passphrase`. */
  pfx(leaf: Leaf, passphrase: string): { pfxFile: string; passphraseFile: string } {
    const pfxFile = leaf.certFile.replace(/\.crt$/, '.pfx');
    const passphraseFile = leaf.certFile.replace(/\.crt$/, '.pass');
    writeFileSync(passphraseFile, `${passphrase}\n`);
    openssl('pkcs12', '-export', '-in', leaf.certFile, '-inkey', leaf.keyFile, '-certfile', this.caFile,
      '-out', pfxFile, '-passout', `pass:${passphrase}`);
    return { pfxFile, passphraseFile };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function caConfig(dir: string): string {
  return [
    '[ca]', 'default_ca = test_ca',
    '[test_ca]',
    `dir = ${dir}`,
    'database = $dir/index.txt', 'new_certs_dir = $dir/newcerts', 'serial = $dir/serial',
    'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
    '[any]', 'commonName = supplied',
    '',
  ].join('\n');
}
