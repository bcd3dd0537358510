import { Type, type Static } from '@sinclair/typebox';

// IPv4 dotted quad; validated by pattern so a typo fails at start-up, not on the first packet.
const Ipv4 = Type.String({ pattern: '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$' });
const Cidr = Type.String({ pattern: '^[0-9.]+/[0-9]{1,2}$', description: 'IPv4 network, e.g. 10.250.0.0/24' });

const Subnet = Type.Object(
  {
    cidr: Cidr,
    gateway: Type.Optional(Ipv4),
    dns: Type.Array(Ipv4, { default: [] }),
    ntp: Type.Array(Ipv4, { default: [] }),
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    leaseSeconds: Type.Integer({ minimum: 60, maximum: 604800, default: 3600 }),
    pool: Type.Optional(Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const ProfileUser = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$' }),
    passwordHash: Type.Optional(Type.String({ pattern: '^\\$[0-9a-z]+\\$', description: 'crypt(3) hash; never logged' })),
    groups: Type.Array(Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$' }), { default: [] }),
    sshKeys: Type.Array(Type.String({ pattern: '^(ssh|ecdsa|sk)-' }), { default: [] }),
  },
  { additionalProperties: false },
);

const Profile = Type.Object(
  {
    description: Type.Optional(Type.String()),
    kernel: Type.Optional(Type.String({ minLength: 1, description: 'artifact path under artifacts.root, or an http(s) URL' })),
    appliance: Type.Optional(Type.String({ minLength: 1, description: 'name of an ingested appliance ISO (rackboot artifacts add)' })),
    method: Type.Union([Type.Literal('netboot'), Type.Literal('sanboot'), Type.Literal('http-iso'), Type.Literal('virtual-media')], { default: 'netboot' }),
    initrds: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    cmdline: Type.String({ default: '' }),
    userData: Type.Object(
      {
        template: Type.String({ pattern: '^[A-Za-z0-9._-]+$', default: 'kairos', description: 'file under boot-assets/templates/user-data/ (without .yaml)' }),
        extraFile: Type.Optional(Type.String({ minLength: 1, description: 'operator YAML merged over the template' })),
        users: Type.Array(ProfileUser, { default: [] }),
        ntpServers: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        proxy: Type.Optional(
          Type.Object(
            { http: Type.Optional(Type.String()), https: Type.Optional(Type.String()), noProxy: Type.Optional(Type.String()) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  // Value.Default only descends into record values whose schema has a default; this one lets a profile omit initrds and cmdline.
  { additionalProperties: false, default: {} },
);

export const MAAS_MODES = ['deploy', 'inventory', 'redfish-via-maas'] as const;
export const MaasModeSchema = Type.Union(MAAS_MODES.map((m) => Type.Literal(m)));

// MAAS integration (issue 5). The API key is a secret: never logged, never in API output.
const Maas = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'MAAS base URL, e.g. http://maas:5240/MAAS' }),
    apiKey: Type.Optional(Type.String({ pattern: '^[^:\\s]+:[^:\\s]+:[^:\\s]+$', description: 'consumer:token:secret; prefer apiKeyFile' })),
    apiKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'file holding the API key (first line)' })),
    mode: Type.Optional(MaasModeSchema),
    image: Type.Optional(Type.String({ minLength: 1, description: 'name of an uploaded MAAS image artifact (rackboot maas upload-image) deployed in deploy mode' })),
    architecture: Type.String({ default: 'amd64/generic' }),
    baseImage: Type.String({ default: 'ubuntu/jammy', description: 'Ubuntu series MAAS boots to write custom images (must be imported)' }),
    agentName: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', default: 'rackboot' }),
    allocate: Type.Object(
      { pool: Type.Optional(Type.String({ minLength: 1 })), tags: Type.Array(Type.String({ minLength: 1 }), { default: [] }) },
      { additionalProperties: false, default: {} },
    ),
    sync: Type.Object(
      {
        pool: Type.Optional(Type.String({ minLength: 1 })),
        zone: Type.Optional(Type.String({ minLength: 1 })),
        tags: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        profile: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+$', description: 'boot profile given to imported machines' })),
      },
      { additionalProperties: false, default: {} },
    ),
    pollSeconds: Type.Number({ minimum: 0.05, maximum: 600, default: 10 }),
    requestTimeoutSeconds: Type.Number({ minimum: 0.1, maximum: 600, default: 30, description: 'per MAAS request attempt' }),
    deployTimeoutSeconds: Type.Integer({ minimum: 1, default: 7800, description: 'longer than MAAS own limit (2 x node_timeout)' }),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: './data', minLength: 1 }),
    advertiseAddress: Type.Union([Ipv4, Type.Literal('auto')], { default: 'auto' }),
    log: Type.Object(
      { level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => Type.Literal(l)), { default: 'info' }) },
      { additionalProperties: false, default: {} },
    ),
    http: Type.Object(
      {
        listen: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
        publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/]+$', description: 'base URL machines use; defaults to http://<advertiseAddress>:<port>' })),
      },
      { additionalProperties: false, default: {} },
    ),
    https: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        listen: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8443 }),
        certFile: Type.Optional(Type.String({ minLength: 1, description: 'operator-supplied certificate (PEM, chain after it); with keyFile' })),
        keyFile: Type.Optional(Type.String({ minLength: 1 })),
        names: Type.Array(Type.String({ pattern: '^[A-Za-z0-9.:-]+$' }), { default: [], maxItems: 32, description: 'extra DNS names or addresses for the certificate rackboot issues' }),
      },
      { additionalProperties: false, default: {} },
    ),
    api: Type.Object(
      {
        plainHttp: Type.Union([Type.Literal('local'), Type.Literal('all'), Type.Literal('none')], { default: 'local', description: 'who may use the API over plain HTTP: clients on this host, everyone, or no one' }),
        rateLimit: Type.Object(
          {
            perMinute: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1200, description: 'sustained API requests per minute per token (per IP without a valid token); 0 turns limiting off' }),
            burst: Type.Integer({ minimum: 1, maximum: 100_000, default: 300 }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    tftp: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        listen: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 69 }),
        blockSizeMax: Type.Integer({ minimum: 512, maximum: 65464, default: 1468 }),
        windowSizeMax: Type.Integer({ minimum: 1, maximum: 64, default: 16 }),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 30000, default: 1000 }),
        retries: Type.Integer({ minimum: 1, maximum: 20, default: 5 }),
        maxTransfers: Type.Integer({ minimum: 1, maximum: 10000, default: 256 }),
        maxPerClient: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
      },
      { additionalProperties: false, default: {} },
    ),
    dhcp: Type.Object(
      {
        mode: Type.Union([Type.Literal('proxy'), Type.Literal('full'), Type.Literal('off')], { default: 'proxy' }),
        listen: Type.String({ default: '0.0.0.0' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 67 }),
        clientPort: Type.Integer({ minimum: 0, maximum: 65535, default: 68 }),
        pxePort: Type.Integer({ minimum: 0, maximum: 65535, default: 4011 }),
        unknownMachines: Type.Union([Type.Literal('ignore'), Type.Literal('record'), Type.Literal('boot')], { default: 'record' }),
        maxDiscovered: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1000, description: 'discovered machines kept before new unknown clients are only logged' }),
        proxyStrategy: Type.Union([Type.Literal('auto'), Type.Literal('skip-discovery'), Type.Literal('boot-server')], { default: 'auto' }),
        subnets: Type.Array(Subnet, { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    boot: Type.Object(
      {
        ipxeDir: Type.String({ default: 'auto', description: "directory holding undionly.kpxe, snponly.efi, ipxe.efi; 'auto' searches /usr/lib/ipxe" }),
        uefiBinary: Type.Union([Type.Literal('snponly.efi'), Type.Literal('ipxe.efi')], { default: 'snponly.efi' }),
        arm64Binary: Type.String({ default: 'snp-arm64.efi' }),
        templatesDir: Type.Optional(Type.String({ description: 'override for boot-assets/templates' })),
        defaultProfile: Type.Optional(Type.String({ minLength: 1, description: 'profile for machines without one and for unknown machines under unknownMachines: boot' })),
        scriptRetries: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
    lifecycle: Type.Object(
      {
        provisioningSeconds: Type.Integer({ minimum: 60, default: 1800, description: 'provisioning → booting-installer' }),
        bootingInstallerSeconds: Type.Integer({ minimum: 60, default: 1200, description: 'booting-installer → installing' }),
        installingSeconds: Type.Integer({ minimum: 900, default: 3600, description: 'installing → installed (installs take 15 min or more)' }),
        maxInstallerBoots: Type.Integer({ minimum: 1, maximum: 20, default: 3, description: 'installer boots without an install start before the machine fails (boot loop)' }),
        watchdogSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 30 }),
        hostReadySeconds: Type.Integer({ minimum: 10, default: 1800, description: 'installed → host-ready: the Local Management API of every host answers and accepts the login' }),
        linkSeconds: Type.Integer({ minimum: 10, default: 600, description: 'host-ready → linked: followers linked to the leader, link status Completed' }),
        contentUploadSeconds: Type.Integer({ minimum: 10, default: 3600, description: 'the content bundle upload to the leader (multi-GB), part of linked → content-synced' }),
        uploadStallSeconds: Type.Integer({ minimum: 5, maximum: 3600, default: 120, description: 'an upload attempt with no byte moving for this long is abandoned and retried' }),
        contentSyncSeconds: Type.Integer({ minimum: 10, default: 300, description: 'linked → content-synced, counted from the end of the upload' }),
        clusterCreateSeconds: Type.Integer({ minimum: 10, default: 1800, description: 'content-synced → node-ready: cluster create until Running and Healthy' }),
        packsPushSeconds: Type.Integer({ minimum: 10, default: 1800, description: 'pushing the cluster\'s pack bundle to its registry, retried with backoff until then' }),
        nodeReadySeconds: Type.Integer({ minimum: 10, default: 900, description: 'node-ready → enrolled: the Kubernetes node reports Ready' }),
      },
      { additionalProperties: false, default: {} },
    ),
    enrollment: Type.Object(
      {
        localApiPort: Type.Integer({ minimum: 1, maximum: 65535, default: 5080, description: 'port of the Local Management API on every appliance host' }),
        username: Type.String({ minLength: 1, default: 'kairos', description: 'OS user the install created; the Local API login' }),
        passwordFile: Type.Optional(Type.String({ minLength: 1, description: 'file holding that user\'s password (kept out of rackboot.yaml)' })),
        kubeconfigKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'AES-256 key sealing stored kubeconfigs; defaults to <dataDir>/kubeconfig.key, created 0600' })),
        pollMs: Type.Integer({ minimum: 20, maximum: 60000, default: 5000, description: 'how often formation polls host status' }),
      },
      { additionalProperties: false, default: {} },
    ),
    bmc: Type.Object(
      {
        keyFile: Type.Optional(Type.String({ minLength: 1, description: 'AES-256 key for stored BMC passwords, kept outside the database; defaults to <dataDir>/secrets/bmc-credentials.key (created 0600 at first start)' })),
        maxConcurrent: Type.Integer({ minimum: 1, maximum: 1000, default: 8, description: 'machines provisioned through their BMCs at once, across all BMCs' }),
        maxPerBmc: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'machines provisioned at once behind one BMC address (chassis managers serve several systems)' }),
        mediaTokenSeconds: Type.Integer({ minimum: 60, maximum: 86400, default: 7200, description: 'lifetime of the URLs handed to a BMC as virtual media; the BMC reads the ISO until the install ends' }),
        pxeTarget: Type.Union([Type.Literal('Pxe'), Type.Literal('UefiHttp')], { default: 'Pxe', description: 'one-time boot target of the PXE path' }),
        timeoutSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 30, description: 'per Redfish request' }),
        retries: Type.Integer({ minimum: 0, maximum: 10, default: 3, description: 'extra attempts per Redfish request on connection errors, 5xx and busy answers' }),
      },
      { additionalProperties: false, default: {} },
    ),
    retention: Type.Object(
      {
        eventsDays: Type.Integer({ minimum: 0, maximum: 36500, default: 90, description: 'timeline events older than this are deleted, lifecycle changes excepted; 0 keeps everything' }),
      },
      { additionalProperties: false, default: {} },
    ),
    artifacts: Type.Object(
      { root: Type.Optional(Type.String({ minLength: 1, description: 'defaults to <dataDir>/artifacts' })) },
      { additionalProperties: false, default: {} },
    ),
    maas: Type.Optional(Maas),
    profiles: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+$' }), Profile, { default: {}, additionalProperties: false }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type SubnetConfig = Static<typeof Subnet>;
export type ProfileConfig = Static<typeof Profile>;
export type MaasConfig = Static<typeof Maas>;
export type MaasMode = Static<typeof MaasModeSchema>;
export type ProfileUserConfig = Static<typeof ProfileUser>;
