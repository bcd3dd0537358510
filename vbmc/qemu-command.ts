// The QEMU command line for one start of a virtual machine. Same tested flags as the lab
// (test/lab/qemu.ts): TCG, q35, -no-reboot (a guest reboot ends the process, so the vbmc decides
// what the next start boots, as a BMC's one-time override needs), -nodefaults, serial console in a
// file, QMP on a unix socket. `-boot strict=on` keeps the firmware to the devices given a bootindex.
//
// NIC boot styles: 'ipxe-rom' (QEMU's iPXE option ROM, BIOS or UEFI), 'firmware-pxe' (OVMF's own
// virtio driver + EDK2 PXE: romfile= disables the ROM), 'firmware-http' (EDK2 HTTP Boot: PXE off
// through fw_cfg). A UefiHttp override uses 'firmware-http' for that start.

export type BootDevice = 'disk' | 'cdrom' | 'net';
export type NicBoot = 'ipxe-rom' | 'firmware-pxe' | 'firmware-http';
export type BootModeName = 'UEFI' | 'Legacy';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface QemuNic {
  mac: string;
  /** Tap device in the vbmc's network namespace. */
  tap: string;
}

export interface QemuDisk {
  path: string;
  /** virtio-blk serial (the guest sees /dev/disk/by-id/virtio-<serial>). */
  serial: string;
}

export interface QemuStart {
  name: string;
  uuid: string;
  serialNumber: string;
  manufacturer: string;
  productName: string;
  memoryMb: number;
  cpus: number;
  mode: BootModeName;
  /** OVMF NVRAM copy owned by this machine (UEFI only). */
  ovmfVars?: string;
  nics: QemuNic[];
  nicBoot: NicBoot;
  disks: QemuDisk[];
  /** One entry per virtual media slot: the local image file, or undefined for an empty drive. */
  cdroms: (string | undefined)[];
  /** Devices in boot priority; only the first disk, the first CD slot and the first NIC take part. */
  order: BootDevice[];
  serialLog: string;
  qmpSocket: string;
  extraArgs?: string[];
}

/** qdev id of the CD drive for a virtual media slot (used by QMP blockdev-change-medium/eject). */
export function cdromDeviceId(slot: number): string {
  return `vcd${slot}`;
}

// SMBIOS strings are comma-separated key=value lists; a comma in a value is written twice.
function smbiosValue(v: string): string {
  return v.replace(/,/g, ',,');
}

export function buildQemuArgs(s: QemuStart): string[] {
  const bootIndex = (d: BootDevice): string => {
    const i = s.order.indexOf(d);
    return i < 0 ? '' : `,bootindex=${i + 1}`;
  };
  const a: string[] = [
    '-name', s.name,
    '-accel', 'tcg',
    '-machine', 'q35',
    '-m', String(s.memoryMb),
    '-smp', String(s.cpus),
    '-nographic',
    '-nodefaults',
    '-monitor', 'none',
    '-no-reboot',
    '-boot', 'strict=on',
    // Appended across starts, like a BMC's serial-over-LAN log.
    '-chardev', `file,id=serial0,path=${s.serialLog},append=on`,
    '-serial', 'chardev:serial0',
    '-qmp', `unix:${s.qmpSocket},server=on,wait=off`,
    '-uuid', s.uuid,
    '-smbios', `type=1,manufacturer=${smbiosValue(s.manufacturer)},product=${smbiosValue(s.productName)},serial=${smbiosValue(s.serialNumber)}`,
  ];
  if (s.mode === 'UEFI') {
    if (s.ovmfVars === undefined) throw new Error('UEFI boot needs an OVMF vars file');
    a.push('-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${s.ovmfVars}`);
  }
  s.nics.forEach((n, i) => {
    a.push('-netdev', `tap,id=n${i},ifname=${n.tap},script=no,downscript=no`);
    let dev = `virtio-net-pci,netdev=n${i},mac=${n.mac.toLowerCase()}${i === 0 ? bootIndex('net') : ''}`;
    if (s.nicBoot !== 'ipxe-rom') dev += ',romfile=';
    a.push('-device', dev);
  });
  if (s.nicBoot === 'firmware-http') {
    a.push('-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n');
  }
  s.disks.forEach((d, i) => {
    a.push('-drive', `if=none,id=d${i},format=raw,file=${d.path}`, '-device', `virtio-blk-pci,drive=d${i},serial=${d.serial}${i === 0 ? bootIndex('disk') : ''}`);
  });
  s.cdroms.forEach((file, i) => {
    a.push('-drive', `if=none,id=cd${i},media=cdrom,readonly=on${file === undefined ? '' : `,format=raw,file=${file}`}`);
    a.push('-device', `ide-cd,drive=cd${i},id=${cdromDeviceId(i)},bus=ide.${i}${i === 0 ? bootIndex('cdrom') : ''}`);
  });
  a.push(...(s.extraArgs ?? []));
  return a;
}
