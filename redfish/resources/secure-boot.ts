// SecureBoot: whether UEFI Secure Boot is enabled and in force for the current boot.

import { bool, isRecord, text } from '../json.js';

export interface SecureBootState {
  path: string;
  /** `SecureBootEnable`: enabled for the next boot. */
  enabled?: boolean;
  /** `SecureBootCurrentBoot`: `Enabled` | `Disabled` for the boot in progress. */
  currentBoot?: string;
  /** `SetupMode` | `UserMode` | `AuditMode` | `DeployedMode`. */
  mode?: string;
}

export function parseSecureBoot(body: unknown, path: string): SecureBootState {
  const raw = isRecord(body) ? body : {};
  const s: SecureBootState = { path };
  const en = bool(raw['SecureBootEnable']);
  if (en !== undefined) s.enabled = en;
  const cur = text(raw['SecureBootCurrentBoot']);
  if (cur !== undefined) s.currentBoot = cur;
  const mode = text(raw['SecureBootMode']);
  if (mode !== undefined) s.mode = mode;
  return s;
}
