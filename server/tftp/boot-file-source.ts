import { normalizeMac } from '../inventory/identity.js';
import type { MachineRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import type { TftpEvent, TftpOpenResult, TftpRequestInfo } from './server.js';

type Open = (req: TftpRequestInfo) => Promise<TftpOpenResult>;

/**
 * Serves first-stage binaries, whose TFTP name is `<mac>/<binary>` (the DHCP answer puts the MAC there
 * because TFTP carries no other identity), and ties each transfer to its machine's timeline.
 */
export class BootFileSource {
  // Transfers are keyed by client address and port so their end events find the machine again.
  private readonly owners = new Map<string, { machineId: string; mac: string }>();

  constructor(
    private readonly openBinary: Open,
    private readonly machines: MachineRepo,
    private readonly timeline: Timeline,
  ) {}

  readonly open = async (req: TftpRequestInfo): Promise<TftpOpenResult> => {
    const [first, ...rest] = req.filename.replace(/^\/+/, '').split('/');
    const mac = rest.length === 1 && first !== undefined ? normalizeMac(first) : null;
    const binary = mac !== null ? rest[0]! : req.filename;
    const machine = mac !== null ? await this.machines.findByMac(mac) : null;
    const result = await this.openBinary({ ...req, filename: binary });
    if (machine !== null && mac !== null) {
      const key = `${req.remoteAddress}:${req.remotePort}`;
      if (result.ok) this.owners.set(key, { machineId: machine.id, mac });
      await this.timeline.record({
        machineId: machine.id,
        mac,
        source: 'tftp',
        kind: result.ok ? 'tftp.started' : 'tftp.denied',
        outcome: result.ok ? 'ok' : 'error',
        message: result.ok ? `TFTP transfer of ${binary} started` : `TFTP request for ${binary} refused: ${result.message}`,
        detail: { remote: req.remoteAddress, file: binary, options: req.options, ...(result.ok ? { size: result.file.size } : {}) },
      });
    }
    return result;
  };

  readonly onEvent = (ev: TftpEvent): void => {
    if (ev.type !== 'complete' && ev.type !== 'aborted') return;
    const key = `${ev.remoteAddress}:${ev.remotePort}`;
    const owner = this.owners.get(key);
    if (owner === undefined) return;
    this.owners.delete(key);
    const probe = ev.type === 'aborted' && ev.bytesSent === 0;
    void this.timeline.record({
      machineId: owner.machineId,
      mac: owner.mac,
      source: 'tftp',
      kind: ev.type === 'complete' ? 'tftp.completed' : probe ? 'tftp.size-probe' : 'tftp.aborted',
      // EDK2 reads the size and aborts on purpose before every real transfer; that is not a failure.
      outcome: ev.type === 'complete' || probe ? 'ok' : 'error',
      message:
        ev.type === 'complete'
          ? `TFTP sent ${ev.filename} (${ev.bytes} bytes, blksize ${ev.blksize}, windowsize ${ev.windowsize}) in ${ev.durationMs} ms`
          : probe
            ? `TFTP size probe for ${ev.filename} (client aborted after the option reply, as UEFI does)`
            : `TFTP transfer of ${ev.filename} aborted after ${ev.bytesSent} bytes: ${ev.reason}`,
      detail: { ...ev },
    });
  };
}
