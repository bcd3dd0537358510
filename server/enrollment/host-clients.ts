// Local API clients for machines: the address from the machine record, the port and login from
// config, and TLS trust from the store. A machine seen for the first time is trusted on first use
// and its certificate fingerprint recorded; every later client insists on that fingerprint.

import type { Logger } from 'pino';
import { LocalApiClient, type LocalApiResult } from '../../local-api/index.js';
import type { Machine } from '../inventory/machine.js';
import type { ClusterRepo } from '../store/types.js';

export interface HostClientSettings {
  port: number;
  username: string;
  password: string;
}

export type HostClientFactory = (m: Machine, signal: AbortSignal) => Promise<LocalApiResult<LocalApiClient>>;

export function hostClientFactory(clusters: ClusterRepo, settings: () => HostClientSettings, log: Logger): HostClientFactory {
  return async (m, signal) => {
    const ip = m.network?.ip;
    if (ip === undefined) return { ok: false, error: { code: 'RB_LOCALAPI_BAD_CONFIG', message: `${m.name} has no network.ip: the Local API address is unknown` } };
    const pin = await clusters.pin(m.id);
    const s = settings();
    return LocalApiClient.create({
      host: ip,
      port: s.port,
      username: s.username,
      password: s.password,
      signal,
      tls:
        pin !== null
          ? { pinSha256: pin }
          : {
              trustOnFirstUse: true,
              onPinned: (fp) => {
                log.info({ machine: m.name, fingerprint: fp }, 'Local API certificate pinned on first contact');
                clusters.setPin(m.id, fp).catch((err: unknown) => log.error({ err, machine: m.name }, 'could not record the certificate pin'));
              },
            },
      logger: {
        debug: (o, msg) => log.debug(o, msg),
        info: (o, msg) => log.info(o, msg),
        warn: (o, msg) => log.warn(o, msg),
      },
    });
  };
}
