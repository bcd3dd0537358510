import type { ApplianceIsoArtifact } from '../artifacts/artifact.js';
import type { Machine } from '../inventory/machine.js';
import type { BootPlan } from './boot-plan.js';
import type { BootUrls } from './boot-urls.js';
import type { IpxeTemplateName, Template } from './template.js';

export interface ScriptContext {
  templates: Record<IpxeTemplateName, Template>;
  urls: BootUrls;
  retries: number;
}

/**
 * Renders the iPXE script for a machine's current boot plan. `appliance` is the ingested ISO the
 * profile names, if it names one.
 */
export function renderIpxeScript(m: Machine, plan: BootPlan, ctx: ScriptContext, appliance: ApplianceIsoArtifact | null = null): string {
  if (plan.kind !== 'netboot') return localDisk(m, plan.reason, ctx);
  const p = plan.profile;
  const vars = profileVariables(m, ctx.urls);
  const retries = String(ctx.retries);
  if (p.appliance !== undefined) {
    if (appliance === null) return localDisk(m, `appliance '${p.appliance}' is not ingested`, ctx);
    // A virtual-media machine boots from the BMC's CD; its network boot falls through to it.
    if (p.method === 'virtual-media') return localDisk(m, 'this profile boots from BMC virtual media', ctx);
    if (p.method === 'sanboot' || p.method === 'http-iso') {
      return ctx.templates.sanboot.render({ name: m.name, isoUrl: ctx.urls.machineIso(m, appliance.name), retries });
    }
    const cmdline = [
      ...appliance.meta.netbootArgs,
      `root=live:${ctx.urls.appliance(m, appliance.name, 'rootfs.squashfs')}`,
      'rd.neednet=1',
      'ip=dhcp',
      'netboot',
      'install-mode',
      `config_url=${ctx.urls.userData(m)}`,
      expand(p.cmdline, vars),
      'initrd=initrd0',
    ].filter((s) => s !== '');
    return ctx.templates.netboot.render({
      name: m.name,
      profile: plan.profileName,
      kernelUrl: ctx.urls.appliance(m, appliance.name, 'kernel'),
      cmdline: cmdline.join(' '),
      initrdLines: `initrd --name initrd0 ${ctx.urls.appliance(m, appliance.name, 'initrd')} || goto retry`,
      retries,
    });
  }
  const initrdNames = p.initrds.map((_, i) => `initrd${i}`);
  // UEFI iPXE passes initrds to the kernel only when the command line names them.
  const cmdline = [expand(p.cmdline, vars), ...initrdNames.map((n) => `initrd=${n}`)].filter((s) => s !== '').join(' ');
  const initrdLines = p.initrds.map((ref, i) => `initrd --name ${initrdNames[i]} ${ctx.urls.artifact(m, ref)} || goto retry`).join('\n');
  return ctx.templates.netboot.render({ name: m.name, profile: plan.profileName, kernelUrl: ctx.urls.artifact(m, p.kernel!), cmdline, initrdLines, retries });
}

function localDisk(m: Machine, reason: string, ctx: ScriptContext): string {
  return ctx.templates['local-disk'].render({ name: m.name, reason });
}

/** Variables operators may use in a profile's cmdline as {{name}}. */
export function profileVariables(m: Machine, urls: BootUrls): Record<string, string> {
  return {
    machineId: m.id,
    name: m.name,
    mac: m.macs[0] ?? '',
    hostname: m.network?.hostname ?? m.name,
    baseUrl: urls.base(m),
    phoneHomeUrl: urls.phoneHome(m),
    configUrl: urls.userData(m),
  };
}

function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => vars[key] ?? whole);
}
