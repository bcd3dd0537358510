// The appliance ISO as one machine boots it whole (UEFI HTTP Boot, iPXE sanboot): its /config.yaml
// (Kairos reads the cloud-config at the ISO root) is the machine's user-data, and every bootloader
// entry that boots the Kairos kernel also gets `config_url=` (Kairos fetches and merges it, and keeps
// reading it after install). Built as a remastered view, so nothing of the multi-GB ISO is copied.
import { createHash } from 'node:crypto';
import type { ApplianceIsoArtifact } from '../artifacts/artifact.js';
import { GRUB_PATHS } from '../artifacts/ingest.js';
import { openIso } from '../iso9660/reader.js';
import { remasterIso, type RemasteredIso, type RemasterErrorCode } from '../iso9660/remaster.js';
import { addGrubKernelArg, addIsolinuxKernelArg } from './iso-boot-config.js';

/** Where isolinux looks for its config, in its own search order (syslinux docs, ISOLINUX). */
export const ISOLINUX_PATHS = ['/boot/isolinux/isolinux.cfg', '/isolinux/isolinux.cfg', '/isolinux.cfg'];
const CONFIG_PATH = '/config.yaml';
const MAX_BOOT_CONFIG = 1024 * 1024;

export interface MachineIso {
  image: RemasteredIso;
  /** Strong validator: changes with the base ISO and with every replaced file's content. */
  etag: string;
  /** ISO paths replaced for this machine. */
  replaced: string[];
}

export type MachineIsoResult = { ok: true; iso: MachineIso } | { ok: false; code: RemasterErrorCode; reason: string };

/** Lays out the machine's view of the appliance ISO stored at `isoPath`. */
export async function machineIso(isoPath: string, artifact: ApplianceIsoArtifact, userData: string, configUrl: string): Promise<MachineIsoResult> {
  const opened = await openIso(isoPath);
  if (!opened.ok) return opened;
  const iso = opened.iso;
  const replacements = new Map<string, Buffer>();
  const kernel = artifact.meta.files.kernel.isoPath;
  const arg = `config_url=${configUrl}`;
  try {
    const config = await iso.stat(CONFIG_PATH);
    if (config !== null && !config.isDirectory) replacements.set(CONFIG_PATH, Buffer.from(userData));
    const edits = [
      ...GRUB_PATHS.map((p) => ({ p, edit: (text: string) => addGrubKernelArg(text, kernel, arg) })),
      ...ISOLINUX_PATHS.map((p) => ({ p, edit: (text: string) => addIsolinuxKernelArg(text, kernel, arg, p) })),
    ];
    for (const { p, edit } of edits) {
      const e = await iso.stat(p);
      if (e === null || e.isDirectory) continue;
      const r = await iso.readFile(e, { maxBytes: MAX_BOOT_CONFIG });
      if (!r.ok) return { ok: false, code: r.code === 'RB_ISO_CLOSED' ? 'RB_ISO_IO' : r.code, reason: r.reason };
      const edited = edit(r.data.toString('utf8'));
      if (edited.changed > 0) replacements.set(p, Buffer.from(edited.text));
    }
  } finally {
    await iso.close();
  }
  const r = await remasterIso(isoPath, replacements);
  if (!r.ok) return r;
  const h = createHash('sha256').update(artifact.sha256);
  for (const [p, data] of replacements) h.update(`\0${p}\0`).update(createHash('sha256').update(data).digest());
  return { ok: true, iso: { image: r.image, etag: `"m-${h.digest('hex').slice(0, 32)}"`, replaced: [...replacements.keys()] } };
}
