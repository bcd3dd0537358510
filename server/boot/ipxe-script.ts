import type { Machine } from '../inventory/machine.js';
import type { BootPlan } from './boot-plan.js';
import type { BootUrls } from './boot-urls.js';
import type { IpxeTemplateName, Template } from './template.js';

export interface ScriptContext {
  templates: Record<IpxeTemplateName, Template>;
  urls: BootUrls;
  retries: number;
}

/** Renders the iPXE script for a machine's current boot plan. */
export function renderIpxeScript(m: Machine, plan: BootPlan, ctx: ScriptContext): string {
  if (plan.kind !== 'netboot') {
    return ctx.templates['local-disk'].render({ name: m.name, reason: plan.reason });
  }
  const vars = profileVariables(m, ctx.urls);
  const initrdNames = plan.profile.initrds.map((_, i) => `initrd${i}`);
  // UEFI iPXE passes initrds to the kernel only when the command line names them.
  const cmdline = [expand(plan.profile.cmdline, vars), ...initrdNames.map((n) => `initrd=${n}`)].filter((s) => s !== '').join(' ');
  const initrdLines = plan.profile.initrds
    .map((ref, i) => `initrd --name ${initrdNames[i]} ${ctx.urls.artifact(m, ref)} || goto retry`)
    .join('\n');
  return ctx.templates.netboot.render({
    name: m.name,
    profile: plan.profileName,
    kernelUrl: ctx.urls.artifact(m, plan.profile.kernel),
    cmdline,
    initrdLines,
    retries: String(ctx.retries),
  });
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
