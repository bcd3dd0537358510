// TLS policy for one BMC. Three ways to trust a BMC, and no way to trust nothing:
//   - caBundle: normal chain and host name verification against the given CA(s) only;
//   - pinSha256: the leaf certificate's SHA-256 fingerprint must match (chain not checked, which is
//     what a self-signed BMC certificate needs);
//   - allowTofu: trust on first use; the first certificate seen is reported to the caller and then
//     pinned for the lifetime of the client.
// With none of them, Node's default verification against the system CAs applies.
//
// Pins are checked before the socket is handed to the HTTP request, so no request byte (no
// credential) is written to a peer that failed the check.

import https from 'node:https';
import type { ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import forge from 'node-forge';
import { RedfishError } from './errors.js';

export interface RedfishTlsOptions {
  /** PEM CA certificate(s) that sign the BMC certificate. */
  caBundle?: string | Buffer;
  /** SHA-256 fingerprint of the BMC's leaf certificate: hex, with or without colons, any case. */
  pinSha256?: string;
  /** Accept an unknown certificate once, report it through `onTofu`/the 'tofu' event, then pin it. */
  allowTofu?: boolean;
  /** Called with the certificate observed under trust-on-first-use. */
  onTofu?: (info: TofuInfo) => void;
}

export interface TofuInfo {
  /** Upper-case, colon-separated SHA-256 of the certificate DER (as `openssl x509 -fingerprint -sha256`). */
  fingerprintSha256: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  host: string;
}

/** `ab12...` / `AB:12:...` → `AB:12:...`; throws on anything that is not 32 bytes of hex. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/^sha256[:/=]?/i, '').replace(/[:\s-]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', 'tls.pinSha256 must be a SHA-256 fingerprint (64 hex digits, colons optional)');
  }
  return hex.match(/../g)!.join(':');
}

/** SHA-256 fingerprint of a DER certificate, computed with node-forge. */
export function certificateFingerprint(der: Buffer): string {
  const md = forge.md.sha256.create();
  md.update(der.toString('binary'));
  return normalizeFingerprint(md.digest().toHex());
}

function describe(name: tls.PeerCertificate['subject'] | undefined): string {
  if (name === undefined || name === null) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

type PinCheck = (socket: tls.TLSSocket, host: string) => RedfishError | undefined;

/**
 * https.Agent that runs a pin check once the handshake is done and only then gives the socket to
 * the request. keepAlive is off and one socket at a time: BMCs drop pooled connections and have
 * few request slots (sushy and gofish both avoid reuse).
 */
class PinningAgent extends https.Agent {
  constructor(
    options: https.AgentOptions,
    private readonly check: PinCheck,
    private readonly handshakeTimeoutMs: number,
  ) {
    super(options);
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = options.host ?? options.hostname ?? 'localhost';
    const connectOpts: tls.ConnectionOptions = {
      ...(options as tls.ConnectionOptions),
      host,
      port: Number(options.port ?? 443),
    };
    const socket = tls.connect(connectOpts);
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      socket.setTimeout(0);
      socket.removeListener('error', onError);
      if (err !== null) socket.destroy();
      callback?.(err, socket);
    };
    const onError = (err: Error) => finish(err);
    socket.once('error', onError);
    socket.setTimeout(this.handshakeTimeoutMs, () =>
      finish(new RedfishError('RB_REDFISH_TIMEOUT', `TLS handshake with ${host} took longer than ${this.handshakeTimeoutMs} ms`)),
    );
    socket.once('secureConnect', () => finish(this.check(socket, host) ?? null));
    return undefined;
  }
}

export interface TlsAgentHandle {
  agent: https.Agent;
  /** The fingerprint in force (configured or learnt by TOFU), if any. */
  pinned(): string | undefined;
}

export function createTlsAgent(opts: RedfishTlsOptions, emitTofu: (info: TofuInfo) => void, handshakeTimeoutMs = 30_000): TlsAgentHandle {
  const base: https.AgentOptions = { keepAlive: false, maxSockets: 1 };
  let pin = opts.pinSha256 === undefined ? undefined : normalizeFingerprint(opts.pinSha256);
  const hasCa = opts.caBundle !== undefined && opts.caBundle.length > 0;

  if (pin === undefined && !opts.allowTofu) {
    // Chain verification only: against the bundle when given, else the system store.
    const agent = new https.Agent({ ...base, rejectUnauthorized: true, ...(hasCa ? { ca: opts.caBundle } : {}) });
    return { agent, pinned: () => undefined };
  }

  const check: PinCheck = (socket, host) => {
    const cert = socket.getPeerCertificate();
    const raw = cert && Buffer.isBuffer(cert.raw) ? cert.raw : undefined;
    if (raw === undefined || raw.length === 0) {
      return new RedfishError('RB_REDFISH_TLS', `no peer certificate from ${host}`);
    }
    const seen = certificateFingerprint(raw);
    if (pin === undefined) {
      // Trust on first use: learn it, report it, and hold every later connection to it.
      pin = seen;
      emitTofu({
        fingerprintSha256: seen,
        subject: describe(cert.subject),
        issuer: describe(cert.issuer),
        validFrom: cert.valid_from,
        validTo: cert.valid_to,
        host,
      });
      return undefined;
    }
    if (seen !== pin) {
      return new RedfishError('RB_REDFISH_TLS_PIN', `certificate of ${host} has SHA-256 ${seen}, expected the pinned ${pin}`);
    }
    return undefined;
  };

  // With a CA bundle the chain is verified too and the pin is an extra check; without one, the pin
  // (or TOFU) is what authenticates the BMC, so the chain check is off for this agent only.
  const agent = new PinningAgent({ ...base, ...(hasCa ? { ca: opts.caBundle, rejectUnauthorized: true } : { rejectUnauthorized: false }) }, check, handshakeTimeoutMs);
  return { agent, pinned: () => pin };
}
