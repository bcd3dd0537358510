// Test PKI for the Redfish fixture server, generated at test time with node-forge: a CA, a BMC
// certificate it signs (SAN IP:127.0.0.1, as `openssl req ... -addext subjectAltName=IP:127.0.0.1`
// in the research note's emulator set-up), a self-signed BMC certificate, and an unrelated CA.

import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface TestCert {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the DER as Node computes it (`AB:CD:...`), independent of the library's forge code. */
  fingerprint256: string;
}

export interface TestPki {
  ca: TestCert;
  /** Signed by `ca`, SAN 127.0.0.1. */
  bmc: TestCert;
  /** Self-signed, SAN 127.0.0.1 (what BMCs ship). */
  selfSigned: TestCert;
  /** A CA that signed nothing here. */
  otherCa: TestCert;
}

let serial = 1;

function makeCert(opts: {
  cn: string;
  isCa: boolean;
  keys: forge.pki.rsa.KeyPair;
  issuer?: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey };
}): TestCert {
  const cert = forge.pki.createCertificate();
  cert.publicKey = opts.keys.publicKey;
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: opts.cn }, { name: 'organizationName', value: 'rackboot tests' }];
  cert.setSubject(subject);
  cert.setIssuer(opts.issuer === undefined ? subject : opts.issuer.cert.subject.attributes);
  const ext: object[] = [{ name: 'basicConstraints', cA: opts.isCa, critical: true }];
  if (opts.isCa) ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  else {
    ext.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
    ext.push({ name: 'extKeyUsage', serverAuth: true });
    ext.push({ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] });
  }
  cert.setExtensions(ext);
  cert.sign(opts.issuer?.key ?? opts.keys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return { certPem, keyPem: forge.pki.privateKeyToPem(opts.keys.privateKey), fingerprint256: new X509Certificate(certPem).fingerprint256 };
}

export function generateTestPki(): TestPki {
  const caKeys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const ca = makeCert({ cn: 'rackboot test CA', isCa: true, keys: caKeys });
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const bmc = makeCert({ cn: '127.0.0.1', isCa: false, keys: forge.pki.rsa.generateKeyPair({ bits: 2048 }), issuer: { cert: caCert, key: caKeys.privateKey } });
  const selfSigned = makeCert({ cn: '127.0.0.1', isCa: false, keys: forge.pki.rsa.generateKeyPair({ bits: 2048 }) });
  const otherCa = makeCert({ cn: 'unrelated CA', isCa: true, keys: forge.pki.rsa.generateKeyPair({ bits: 2048 }) });
  return { ca, bmc, selfSigned, otherCa };
}
