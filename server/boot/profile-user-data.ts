import type { ProfileConfig } from '../config/schema.js';
import type { Machine } from '../inventory/machine.js';
import type { BootUrls } from './boot-urls.js';
import type { Template } from './template.js';
import { loadExtraUserData, loadUserDataTemplate, renderUserData, type UserDataResult } from './user-data.js';

/** Each profile's user-data template and operator YAML, loaded and checked once at start. */
export class ProfileUserData {
  private constructor(
    private readonly templates: Map<string, Template>,
    private readonly extras: Map<string, Record<string, unknown> | null>,
    private readonly urls: BootUrls,
  ) {}

  static async load(profiles: Record<string, ProfileConfig>, templatesDir: string, urls: BootUrls): Promise<ProfileUserData> {
    const templates = new Map<string, Template>();
    const extras = new Map<string, Record<string, unknown> | null>();
    for (const [name, p] of Object.entries(profiles)) {
      const t = p.userData.template;
      if (!templates.has(t)) templates.set(t, await loadUserDataTemplate(templatesDir, t));
      try {
        extras.set(name, p.userData.extraFile === undefined ? null : await loadExtraUserData(p.userData.extraFile));
      } catch (e) {
        throw new Error(`profiles.${name}.userData.extraFile: ${(e as Error).message}`);
      }
    }
    return new ProfileUserData(templates, extras, urls);
  }

  render(m: Machine, profileName: string, profile: ProfileConfig): UserDataResult {
    return renderUserData(m, profile, this.templates.get(profile.userData.template)!, this.extras.get(profileName) ?? null, this.urls);
  }
}
