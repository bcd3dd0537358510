import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  /** PEM: the server certificate, then its issuer when rackboot issued it. */
  cert: string;
  key: string;
  /** The CA certificate clients should trust, when rackboot's own CA issued the server certificate. */
  caFile: string | null;
  /** Why the server certificate was (re)issued, or null when the stored one was still good. */
  issued: string | null;
}

const CA_DAYS = 3650;
// Clients such as Apple's refuse server certificates valid for longer than 825 days.
const SERVER_DAYS = 825;
const RENEW_BEFORE_DAYS = 30;

/**
 * rackboot's own certificate authority in `<dataDir>/tls`: created at first start, then kept. It
 * issues the HTTPS server certificate for the names the API is reached by, and reissues it when those
 * names change or it nears expiry. Operators trust `ca.crt` once.
 */
export async function localCaMaterial(dataDir: string, names: readonly string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.crt');
  let ca = await readPair(join(dir, 'ca.crt'), join(dir, 'ca.key'));
  if (ca === null) {
    ca = createCa();
    await writeAtomic(join(dir, 'ca.key'), ca.key, 0o600);
    await writeAtomic(caFile, ca.cert, 0o644);
  }
  const wanted = [...new Set(names.map(canonicalName))].sort();
  const server = await readPair(join(dir, 'server.crt'), join(dir, 'server.key'));
  const why = server === null ? 'none stored' : staleReason(server.cert, ca.cert, wanted);
  if (server !== null && why === null) return { cert: `${server.cert}${ca.cert}`, key: server.key, caFile, issued: null };
  const fresh = issueServer(ca, wanted);
  await writeAtomic(join(dir, 'server.key'), fresh.key, 0o600);
  await writeAtomic(join(dir, 'server.crt'), fresh.cert, 0o644);
  return { cert: `${fresh.cert}${ca.cert}`, key: fresh.key, caFile, issued: why };
}

/** Operator-supplied PEM files, checked to belong together before anything listens with them. */
export async function operatorMaterial(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  const x = new X509Certificate(cert);
  if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error(`${keyFile} is not the private key of the certificate in ${certFile}`);
  return { cert, key, caFile: null, issued: null };
}

interface Pair {
  cert: string;
  key: string;
}

async function readPair(certPath: string, keyPath: string): Promise<Pair | null> {
  try {
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function staleReason(certPem: string, caPem: string, names: readonly string[]): string | null {
  const x = new X509Certificate(certPem);
  if (!x.checkIssued(new X509Certificate(caPem))) return 'not issued by the stored CA';
  if (Date.parse(x.validTo) - Date.now() < RENEW_BEFORE_DAYS * 86_400_000) return `expires ${x.validTo}`;
  const have = (x.subjectAltName ?? '')
    .split(', ')
    .map((s) => canonicalName(s.replace(/^(DNS|IP Address):/, '')))
    .filter((s) => s !== '')
    .sort();
  return have.join(',') === names.join(',') ? null : `names changed (${have.join(', ')} → ${names.join(', ')})`;
}

/** IPv6 addresses in their short form: certificates print them long (0:0:0:0:0:0:0:1 for ::1). */
function canonicalName(n: string): string {
  return isIP(n) === 6 ? new URL(`http://[${n}]`).hostname.slice(1, -1) : n.toLowerCase();
}

function rsaPair(): { privatePem: string; key: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey } {
  // Node generates the key natively (forge's pure-JS generator takes seconds); forge builds the certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = forge.pki.privateKeyFromPem(privateKey);
  return { privatePem: privateKey, key, pub: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number): void {
  cert.validity.notBefore = new Date(Date.now() - 5 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
}

function createCa(): Pair {
  const k = rsaPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = k.pub;
  cert.serialNumber = serial();
  validity(cert, CA_DAYS);
  const subject = [
    { name: 'commonName', value: `rackboot local CA ${serial().slice(0, 8)}` },
    { name: 'organizationName', value: 'rackboot' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(k.key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: k.privatePem };
}

function issueServer(ca: Pair, names: readonly string[]): Pair {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const k = rsaPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = k.pub;
  cert.serialNumber = serial();
  validity(cert, SERVER_DAYS);
  cert.setSubject([{ name: 'commonName', value: names[0] ?? 'rackboot' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) !== 0 ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: k.privatePem };
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}
