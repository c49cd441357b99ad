/** Record shapes as the API answers them (docs/api.md, docs/state.md). */

export type Role = "admin" | "operator" | "viewer";

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
  revision: number;
}

export interface Rec {
  id: string;
  version?: number;
  revision?: number;
}

export interface Member {
  node_id: string;
  hostname: string | null;
  address: string | null;
  state: string | null;
  leader: boolean;
  voter: boolean | null;
  lease_age_s: number | null;
}

export interface Cluster {
  name: string | null;
  created_at?: number | null;
  leader: string | null;
  term?: number | null;
  members: Member[];
  health: {
    status: "healthy" | "degraded" | "no_quorum";
    has_quorum: boolean;
    nodes_total: number;
    nodes_active: number;
    vms_total: number;
    vms_running: number;
    vms_error: number;
  };
  revision: number;
}

export interface NodeResources {
  cpus?: number | null;
  memory_mib?: number | null;
  memory_free_mib?: number | null;
  kvm?: boolean | null;
  accel?: string | null;
  pools?: string[];
}

export interface NodeRec extends Rec {
  hostname?: string;
  address?: string;
  api_port?: number;
  raft_addr?: string;
  voter?: boolean;
  state?: "active" | "maintenance" | "removed" | string;
  labels?: Record<string, string>;
  resources?: NodeResources;
  version_string?: string;
  joined_at?: number;
}

export interface Disk {
  id?: string;
  pool?: string;
  volume?: string;
  size_gib: number;
  image?: string | null;
  bus?: string;
}

export interface Nic {
  network: string;
  mac?: string;
  ip?: string | null;
  port?: string | null;
  groups?: string[];
}

export interface AgentStatus {
  connected?: boolean;
  reason?: string | null;
  version?: string;
  capabilities?: string[];
  os?: { id?: string; name?: string; version?: string; kernel?: string };
  hostname?: string;
  ips?: string[];
  interfaces?: { name: string; ips: string[] }[];
  frozen?: boolean;
  booted_at?: number | null;
  memory?: { total_mib?: number; used_mib?: number; available_mib?: number };
  filesystems?: { mount: string; fs: string; total_mib: number; used_mib: number }[];
}

export interface ExecResult {
  exit_code: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timed_out: boolean;
  duration_s?: number;
}

export interface VmStatus {
  node?: string | null;
  state?: string | null;
  reason?: string | null;
  error?: string | null;
  agent?: AgentStatus | null;
  updated_at?: number;
}

export interface Vm extends Rec {
  name: string;
  vcpus: number;
  memory_mib: number;
  firmware?: string;
  machine?: string;
  disks?: Disk[];
  nics?: Nic[];
  cdrom?: string | null;
  desired?: "running" | "stopped" | "paused" | string;
  placement?: string | null;
  status?: VmStatus | null;
  ha?: { enabled?: boolean } | null;
  labels?: Record<string, string>;
  description?: string;
  created_at?: number;
  last_task?: string | null;
}

export interface Task extends Rec {
  kind: string;
  resource: string;
  node?: string | null;
  state: "pending" | "running" | "done" | "failed" | "cancelled";
  progress?: number;
  error?: string | null;
  user?: string | null;
  created_at?: number;
  updated_at?: number;
}

export interface Pool extends Rec {
  type?: string;
  path?: string;
  shared?: boolean;
  nodes?: string[];
  capacity_bytes?: number;
  allocation_bytes?: number;
  available_bytes?: number;
}

export interface Volume extends Rec {
  pool?: string;
  name?: string;
  size_bytes?: number;
  format?: string;
  backing_image?: string | null;
  node?: string | null;
  vm?: string | null;
  state?: string;
}

export interface Image extends Rec {
  name?: string;
  kind?: "disk" | "iso" | string;
  pool?: string;
  path?: string;
  size_bytes?: number;
  sha256?: string;
  state?: string;
  error?: string | null;
  node?: string | null;
  source_url?: string | null;
}

/** A member host's API certificate (GET /cluster/certificates). */
export interface Certificate {
  node_id: string;
  hostname?: string | null;
  address?: string | null;
  published: boolean;
  subject?: string | null;
  issuer?: string | null;
  san: string[];
  sha256?: string | null;
  serial?: string | null;
  not_before?: number | null;
  not_after?: number | null;
  days_left?: number | null;
  self_signed?: boolean | null;
  status: "ok" | "expiring" | "expired" | "not_yet_valid" | "unknown";
}

export interface Network extends Rec {
  type?: string;
  bridge?: string | null;
  vlan?: number | null;
  cidr?: string | null;
  gateway?: string | null;
  dhcp?: boolean;
  dns?: boolean;
  mtu?: number;
}

export interface SgRule {
  direction?: string;
  protocol: string;
  port_min?: number | null;
  port_max?: number | null;
  cidr?: string | null;
  group?: string | null;
}

export interface SecurityGroup extends Rec {
  rules?: SgRule[];
}

export interface QxEvent {
  id: string;
  ts: number;
  kind: string;
  resource?: string;
  resource_id?: string | null;
  node?: string | null;
  message: string;
  level?: "info" | "warning" | "error";
  user?: string | null;
  revision?: number;
}

export interface AuditRec extends Rec {
  ts: number;
  user?: string;
  action?: string;
  resource?: string | null;
  remote?: string | null;
  result?: string;
}

export interface User extends Rec {
  role: Role;
  failed_logins?: number;
  locked_until?: number | null;
}

export interface Token extends Rec {
  user: string;
  role: Role;
  name?: string;
  created_at?: number;
  created_by?: string;
  expires_at?: number | null;
  revoked: boolean;
}

export interface Discovered extends Rec {
  hostname?: string | null;
  address?: string | null;
  api_port?: number | null;
  cert_fp?: string | null;
  seen_at?: number | null;
}

export interface ConsoleInfo {
  vm: string;
  node: string | null;
  address: string | null;
  console: { vnc_socket?: string; serial_log?: string } | null;
}
