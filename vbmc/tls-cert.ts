// A self-signed certificate for one virtual BMC, as real BMCs ship (node-forge), with the listen
// address and 127.0.0.1 as IP SANs. The SHA-256 fingerprint is reported so clients can pin it.

import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface BmcCertificate {
  certPem: string;
  keyPem: string;
  /** `AB:CD:...` as Node prints it. */
  fingerprint256: string;
}

export function selfSignedCertificate(commonName: string, hosts: string[]): BmcCertificate {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'rackboot virtual BMC' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const altNames = [...new Set(['127.0.0.1', ...hosts])]
    .filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::')
    .map((h) => (isIP(h) !== 0 ? { type: 7, ip: h } : { type: 2, value: h }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return { certPem, keyPem: forge.pki.privateKeyToPem(keys.privateKey), fingerprint256: new X509Certificate(certPem).fingerprint256 };
}
