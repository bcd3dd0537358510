// TLS trust for one appliance. Each host serves the Local Management API with its own self-signed
// certificate, so the chain cannot be verified; the leaf certificate's SHA-256 fingerprint is what
// authenticates it. Either the caller passes the fingerprint it recorded earlier (pinSha256), or it
// opts in to trust on first use: the first certificate seen is pinned for the client's lifetime and
// handed to onPinned so the caller can record it. With neither, the client refuses to start: there
// is no silently insecure mode.
//
// The check runs after the handshake and before the socket reaches the HTTP request, so no request
// byte (no password, no JWT) goes to a peer that failed it.

import { X509Certificate } from 'node:crypto';
import type { ClientRequestArgs } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface LocalApiTlsOptions {
  /** SHA-256 fingerprint of the host's certificate, hex with or without colons. */
  pinSha256?: string;
  /** Accept the first certificate seen, pin it and report it through onPinned. */
  trustOnFirstUse?: boolean;
  /** Called once with the fingerprint learnt under trust on first use (`AB:CD:...`). */
  onPinned?: (fingerprintSha256: string) => void;
  /** A peer that accepts TCP and never finishes the TLS handshake is given up after this. Default 30 s. */
  handshakeTimeoutMs?: number;
}

/** Marker error the agent raises; the client maps it to RB_LOCALAPI_TLS_PIN. */
export class PinMismatchError extends Error {
  constructor(readonly seen: string, readonly expected: string, host: string) {
    super(`certificate of ${host} has SHA-256 ${seen}, pinned is ${expected}`);
    this.name = 'PinMismatchError';
  }
}

/** `ab12…` / `AB:12:…` → `AB:12:…`; undefined when it is not 32 bytes of hex. */
export function normalizeFingerprint(fp: string): string | undefined {
  const hex = fp.replace(/^sha256[:=]?/i, '').replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

export interface PinnedAgent {
  agent: https.Agent;
  /** The fingerprint in force, configured or learnt. */
  pinned(): string | undefined;
}

class PinCheckingAgent extends https.Agent {
  /** Sockets still in the handshake: not yet the agent's, so destroy() would miss them. */
  private readonly handshaking = new Set<tls.TLSSocket>();

  constructor(
    options: https.AgentOptions,
    private readonly check: (socket: tls.TLSSocket, host: string) => Error | undefined,
    private readonly handshakeTimeoutMs: number,
  ) {
    super(options);
  }

  override createConnection(options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = options.host ?? options.hostname ?? 'localhost';
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), host, port: Number(options.port ?? 443) });
    this.handshaking.add(socket);
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      this.handshaking.delete(socket);
      socket.removeListener('error', finish);
      if (err !== null) socket.destroy();
      callback?.(err, socket);
    };
    socket.once('error', finish);
    // The request's own timeout only starts once it has the socket, so the handshake needs its own.
    socket.setTimeout(this.handshakeTimeoutMs, () => finish(new Error(`TLS handshake with ${host} timed out after ${this.handshakeTimeoutMs} ms`)));
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      finish(this.check(socket, host) ?? null);
    });
    return undefined;
  }

  /** Also ends handshakes a peer never completes (it accepted TCP and went silent). */
  override destroy(): void {
    for (const s of this.handshaking) s.destroy();
    this.handshaking.clear();
    super.destroy();
  }
}

/** Returns undefined when the options make no trust decision (the caller reports BAD_CONFIG). */
export function createPinnedAgent(opts: LocalApiTlsOptions): PinnedAgent | undefined {
  let pin = opts.pinSha256 === undefined ? undefined : normalizeFingerprint(opts.pinSha256);
  if (opts.pinSha256 !== undefined && pin === undefined) return undefined;
  if (pin === undefined && opts.trustOnFirstUse !== true) return undefined;

  const check = (socket: tls.TLSSocket, host: string): Error | undefined => {
    const raw = socket.getPeerCertificate()?.raw;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return new Error(`no certificate from ${host}`);
    const seen = new X509Certificate(raw).fingerprint256;
    if (pin === undefined) {
      pin = seen;
      opts.onPinned?.(seen);
      return undefined;
    }
    return seen === pin ? undefined : new PinMismatchError(seen, pin, host);
  };
  // The pin authenticates the host, so chain verification (which a self-signed certificate fails)
  // is off for this agent only. keepAlive keeps the one TLS session across polls.
  const agent = new PinCheckingAgent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false }, check, opts.handshakeTimeoutMs ?? 30_000);
  return { agent, pinned: () => pin };
}
