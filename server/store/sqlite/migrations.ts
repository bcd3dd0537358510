// Ordered, append-only schema migrations. Never edit an applied one; add the next version.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'inventory, leases, events',
    sql: `
      CREATE TABLE machines (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        smbios_uuid TEXT UNIQUE,
        smbios_uuid_swapped TEXT,
        serial TEXT,
        arch TEXT,
        firmware TEXT,
        role TEXT,
        rack TEXT,
        profile TEXT,
        state TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        network TEXT,
        bmc TEXT,
        maas TEXT,
        discovery TEXT,
        token_generation INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX machines_uuid_swapped ON machines(smbios_uuid_swapped);
      CREATE INDEX machines_state ON machines(state);
      CREATE TABLE machine_macs (
        mac TEXT PRIMARY KEY,
        machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        position INTEGER NOT NULL
      );
      CREATE INDEX machine_macs_machine ON machine_macs(machine_id);
      CREATE TABLE leases (
        ip TEXT PRIMARY KEY,
        mac TEXT NOT NULL,
        client_id TEXT,
        machine_id TEXT,
        state TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        hostname TEXT
      );
      CREATE INDEX leases_mac ON leases(mac);
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        machine_id TEXT,
        mac TEXT,
        ts TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX events_machine ON events(machine_id, id);
      CREATE INDEX events_mac ON events(mac, id);
    `,
  },
  {
    version: 2,
    name: 'machine disks, state entry time and reason',
    sql: `
      ALTER TABLE machines ADD COLUMN disks TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE machines ADD COLUMN state_entered_at TEXT;
      ALTER TABLE machines ADD COLUMN state_reason TEXT;
      UPDATE machines SET state_entered_at = updated_at;
    `,
  },
  {
    version: 3,
    name: 'artifacts',
    sql: `
      CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        source TEXT NOT NULL,
        meta TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX artifacts_sha256 ON artifacts(sha256);
    `,
  },
  {
    version: 4,
    name: 'API tokens',
    sql: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      );
    `,
  },
  {
    version: 5,
    name: 'audit log',
    sql: `
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT,
        action TEXT NOT NULL,
        target TEXT,
        status INTEGER,
        outcome TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX audit_log_actor ON audit_log(actor, id);
      CREATE INDEX audit_log_target ON audit_log(target, id);
    `,
  },
  {
    version: 6,
    name: 'bmcs',
    sql: `
      CREATE TABLE bmcs (
        machine_id TEXT PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        username TEXT NOT NULL,
        sealed_password TEXT NOT NULL,
        system_id TEXT NOT NULL,
        vendor TEXT NOT NULL,
        trust TEXT NOT NULL,
        hardware TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX bmcs_address ON bmcs(address);
    `,
  },
  {
    version: 7,
    name: 'clusters, formation steps, cluster events, appliance certificate pins',
    sql: `
      CREATE TABLE clusters (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT,
        state_entered_at TEXT NOT NULL,
        leader_machine_id TEXT,
        kubeconfig_sealed TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE cluster_members (
        machine_id TEXT PRIMARY KEY,
        cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        position INTEGER NOT NULL
      );
      CREATE INDEX cluster_members_cluster ON cluster_members(cluster_id, position);
      CREATE TABLE cluster_steps (
        cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        step TEXT NOT NULL,
        machine_id TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        detail TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (cluster_id, step, machine_id)
      );
      CREATE TABLE cluster_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cluster_id TEXT NOT NULL,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        outcome TEXT NOT NULL,
        message TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX cluster_events_cluster ON cluster_events(cluster_id, id);
      CREATE TABLE appliance_pins (
        machine_id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        pinned_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'the state a failed machine failed in',
    sql: `
      ALTER TABLE machines ADD COLUMN failed_from TEXT;
    `,
  },
];
