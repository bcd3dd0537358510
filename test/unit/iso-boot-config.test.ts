import { describe, expect, it } from 'vitest';
import { addGrubKernelArg, addIsolinuxKernelArg } from '../../server/boot/iso-boot-config.js';

const ARG = 'config_url=http://192.0.2.1/boot/x/y/user-data';

describe('addGrubKernelArg', () => {
  it('appends to every linux/linuxefi/linux16 line loading the kernel, and to nothing else', () => {
    const text = [
      'set timeout=5',
      'menuentry "Installer" {',
      '  linux ($root)/boot/kernel cdroot nodepair.enable',
      '  initrd /boot/initrd',
      '}',
      'menuentry "EFI" --class os {',
      '\tlinuxefi /boot/kernel cdroot   \r',
      '}',
      'menuentry "Legacy" { linux16 /boot/kernel }',
      'menuentry "Memtest" {',
      '  linux /boot/memtest',
      '}',
      '# linux /boot/kernel in a comment',
      '',
    ].join('\n');
    const r = addGrubKernelArg(text, '/boot/kernel', ARG);
    expect(r.changed).toBe(2);
    const lines = r.text.split('\n');
    expect(lines[2]).toBe(`  linux ($root)/boot/kernel cdroot nodepair.enable ${ARG}`);
    expect(lines[6]).toBe(`\tlinuxefi /boot/kernel cdroot ${ARG}\r`);
    expect(lines.filter((l, i) => ![2, 6].includes(i))).toEqual(text.split('\n').filter((_, i) => ![2, 6].includes(i)));
  });

  it('leaves a config without the kernel unchanged', () => {
    const text = 'menuentry "x" {\n  linux /vmlinuz\n}\n';
    expect(addGrubKernelArg(text, '/boot/kernel', ARG)).toEqual({ text, changed: 0 });
  });
});

describe('addIsolinuxKernelArg', () => {
  it('extends APPEND of labels booting the kernel (keywords in any case, paths relative to the config), adds APPEND where missing', () => {
    const text = [
      'DEFAULT live',
      'APPEND global-default',
      'LABEL live',
      '  kernel /boot/kernel',
      '  append initrd=/boot/initrd cdroot',
      'LABEL relative',
      '  APPEND quiet',
      '  LINUX ../boot/kernel',
      'LABEL bare',
      '  LINUX /boot/kernel',
      'LABEL elsewhere',
      '  LINUX boot/kernel',
      'LABEL memtest',
      '  KERNEL /boot/memtest',
      '  APPEND -',
      '',
    ].join('\n');
    const r = addIsolinuxKernelArg(text, '/boot/kernel', ARG, '/isolinux/isolinux.cfg');
    expect(r.changed).toBe(3);
    expect(r.text.split('\n')).toEqual([
      'DEFAULT live',
      'APPEND global-default',
      'LABEL live',
      '  kernel /boot/kernel',
      `  append initrd=/boot/initrd cdroot ${ARG}`,
      'LABEL relative',
      `  APPEND quiet ${ARG}`,
      '  LINUX ../boot/kernel',
      'LABEL bare',
      '  LINUX /boot/kernel',
      `  APPEND ${ARG}`,
      'LABEL elsewhere',
      '  LINUX boot/kernel',
      'LABEL memtest',
      '  KERNEL /boot/memtest',
      '  APPEND -',
      '',
    ]);
  });
});
