import { describe, expect, it } from 'vitest';
import { macFromBytes, normalizeMac, normalizeUuid, swapUuidByteOrder, uuidFromBytes } from '../../server/inventory/identity.js';

describe('normalizeMac', () => {
  it('accepts the notations operators paste and returns lower-case colon form', () => {
    const want = 'aa:bb:cc:0d:0e:0f';
    for (const input of ['aa:bb:cc:0d:0e:0f', 'AA:BB:CC:0D:0E:0F', 'aa-bb-cc-0d-0e-0f', 'aabb.cc0d.0e0f', 'AABBCC0D0E0F', '  aa:bb:cc:0d:0e:0f\t', 'aAbB.Cc0D.0e0F']) {
      expect(normalizeMac(input), input).toBe(want);
    }
  });

  it('rejects anything that is not exactly six bytes of hex', () => {
    for (const input of ['', 'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:f', 'aa:bb:cc:dd:ee:ff:00', 'aa:bb:cc:dd:ee:gg', 'a:b:c:d:e:f', 'aa bb cc dd ee ff', 'aa:bb:cc:dd:ee:ff/', '0x112233445566']) {
      expect(normalizeMac(input), JSON.stringify(input)).toBeNull();
    }
  });

  it('is idempotent', () => {
    const once = normalizeMac('00-11-22-33-44-55')!;
    expect(normalizeMac(once)).toBe(once);
  });
});

describe('macFromBytes', () => {
  it('formats the first six bytes with zero padding', () => {
    expect(macFromBytes(Uint8Array.from([0, 1, 0x0a, 0xff, 0x10, 0x7f]))).toBe('00:01:0a:ff:10:7f');
    // chaddr is 16 bytes on the wire; only the hardware address counts.
    expect(macFromBytes(Uint8Array.from([0x52, 0x54, 0, 0x12, 0x34, 0x56, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]))).toBe('52:54:00:12:34:56');
  });
});

describe('normalizeUuid', () => {
  const want = '4c4c4544-0042-3510-8052-b4c04f4e4d32';

  it('accepts dashed, bare, braced and upper-case forms', () => {
    for (const input of [want, want.toUpperCase(), want.replace(/-/g, ''), `{${want}}`, `{${want.toUpperCase()}}`, ` ${want} `]) {
      expect(normalizeUuid(input), input).toBe(want);
    }
  });

  it('rejects wrong lengths and non-hex', () => {
    for (const input of ['', want.slice(0, -1), `${want}0`, want.replace('4c', 'zz'), `urn:uuid:${want}`, 'not-a-uuid']) {
      expect(normalizeUuid(input), input).toBeNull();
    }
  });
});

describe('swapUuidByteOrder', () => {
  it('reverses the bytes of the first three fields and keeps the last two', () => {
    expect(swapUuidByteOrder('00112233-4455-6677-8899-aabbccddeeff')).toBe('33221100-5544-7766-8899-aabbccddeeff');
  });

  it('maps an SMBIOS UUID to the form PXE option 97 carries for the same machine', () => {
    // SMBIOS stores time_low, time_mid and time_hi little-endian; the PXE client GUID sends the raw bytes.
    const smbios = '4c4c4544-0042-3510-8052-b4c04f4e4d32';
    const option97 = Uint8Array.from([0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x4e, 0x4d, 0x32]);
    expect(swapUuidByteOrder(uuidFromBytes(option97))).toBe(smbios);
    expect(swapUuidByteOrder(smbios)).toBe(uuidFromBytes(option97));
  });

  it('is its own inverse', () => {
    for (const u of ['00112233-4455-6677-8899-aabbccddeeff', '4c4c4544-0042-3510-8052-b4c04f4e4d32', '01ffffff-0200-ff03-0000-000000000000']) {
      expect(swapUuidByteOrder(swapUuidByteOrder(u))).toBe(u);
      expect(swapUuidByteOrder(u)).not.toBe(u);
    }
  });

  it('returns canonical lower-case form', () => {
    expect(swapUuidByteOrder('AABBCCDD-EEFF-0011-2233-445566778899')).toBe('ddccbbaa-ffee-1100-2233-445566778899');
  });
});

describe('uuidFromBytes', () => {
  it('formats the first sixteen bytes in wire order', () => {
    const bytes = Uint8Array.from([...Array.from({ length: 16 }, (_, i) => i * 17), 0xaa]);
    expect(uuidFromBytes(bytes)).toBe('00112233-4455-6677-8899-aabbccddeeff');
  });
});
