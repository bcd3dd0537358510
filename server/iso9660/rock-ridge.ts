// Rock Ridge (RRIP 1.10/1.12) entries on top of SUSP: names (NM), POSIX attributes (PX), symlinks
// (SL), times (TF) and directory relocation (RE/CL/PL), plus detection through ER.
import { recordDate, decDate, u32both } from './bytes.js';
import type { SuspEntry } from './susp.js';

export interface RockRidgeInfo {
  name?: string;
  mode?: number;
  symlinkTarget?: string;
  mtime?: Date | null;
  /** RE: this directory was moved here (rr_moved); its real place is a CL elsewhere. */
  relocated: boolean;
  /** CL: this placeholder stands for the directory at that block. */
  childLink?: number;
}

const RRIP_IDS = new Set(['RRIP_1991A', 'IEEE_P1282', 'IEEE_1282']);
const RR_SIGS = new Set(['PX', 'PN', 'SL', 'NM', 'CL', 'PL', 'RE', 'TF', 'SF', 'RR']);

/** True when the root's '.' entries announce Rock Ridge (ER) or already carry RR entries. */
export function announcesRockRidge(rootEntries: SuspEntry[]): boolean {
  for (const e of rootEntries) {
    if (e.sig === 'ER' && e.raw.length >= 8) {
      const idLen = e.raw[4] ?? 0;
      if (RRIP_IDS.has(e.raw.toString('latin1', 8, 8 + idLen))) return true;
    }
    if (RR_SIGS.has(e.sig)) return true;
  }
  return false;
}

const NM_CONTINUE = 1;
const NM_CURRENT = 2;
const NM_PARENT = 4;
const SL_CONTINUE = 1;
const SLC_CURRENT = 2;
const SLC_PARENT = 4;
const SLC_ROOT = 8;
const SLC_VOLROOT = 16;
const TF_MODIFY = 2;
const TF_LONG = 0x80;

export function interpretRockRidge(entries: SuspEntry[]): RockRidgeInfo {
  const info: RockRidgeInfo = { relocated: false };
  const nameParts: Buffer[] = [];
  let nameDone = false;
  let link = '';
  let linkSeen = false;
  let linkDone = false;
  // Whether the previous SL component ended a path element (so the next one needs a '/').
  let linkNeedsSlash = false;
  for (const e of entries) {
    const r = e.raw;
    switch (e.sig) {
      case 'NM': {
        if (nameDone || r.length < 5) break;
        const flags = r[4] ?? 0;
        if (flags & (NM_CURRENT | NM_PARENT)) break;
        nameParts.push(r.subarray(5));
        if ((flags & NM_CONTINUE) === 0) nameDone = true;
        break;
      }
      case 'PX':
        if (r.length >= 12) info.mode = u32both(r, 4);
        break;
      case 'SL': {
        if (linkDone || r.length < 5) break;
        linkSeen = true;
        let at = 5;
        while (at + 2 <= r.length) {
          const cf = r[at] ?? 0;
          const cl = r[at + 1] ?? 0;
          if (at + 2 + cl > r.length) break;
          let text: string;
          if (cf & SLC_ROOT || cf & SLC_VOLROOT) text = '/';
          else if (cf & SLC_CURRENT) text = '.';
          else if (cf & SLC_PARENT) text = '..';
          else text = r.toString('utf8', at + 2, at + 2 + cl);
          if (text === '/') {
            link = '/';
            linkNeedsSlash = false;
          } else {
            if (linkNeedsSlash) link += '/';
            link += text;
            // A component with CONTINUE goes on in the next component without a separator.
            linkNeedsSlash = (cf & SL_CONTINUE) === 0;
          }
          at += 2 + cl;
        }
        if (((r[4] ?? 0) & SL_CONTINUE) === 0) linkDone = true;
        break;
      }
      case 'TF': {
        if (r.length < 5) break;
        const flags = r[4] ?? 0;
        if ((flags & TF_MODIFY) === 0) break;
        const size = flags & TF_LONG ? 17 : 7;
        // Stamps appear in bit order; MODIFY (bit 1) follows CREATION (bit 0) when that is present.
        const at = 5 + (flags & 1 ? size : 0);
        if (at + size > r.length) break;
        info.mtime = size === 17 ? decDate(r, at) : recordDate(r, at);
        break;
      }
      case 'RE':
        info.relocated = true;
        break;
      case 'CL':
        if (r.length >= 12) info.childLink = u32both(r, 4);
        break;
      default:
        break;
    }
  }
  if (nameParts.length > 0) info.name = Buffer.concat(nameParts).toString('utf8');
  if (linkSeen) info.symlinkTarget = link;
  return info;
}
