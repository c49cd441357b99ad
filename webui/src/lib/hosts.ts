import type { NodeRec } from "../api/types";

/**
 * Memory in use on a host (MiB), or null when the host has not reported its free
 * memory. A free figure of 0 is read as "not reported": the record rounds free
 * memory down to 256 MiB and a live host always has some available memory.
 */
export function memUsed(n: NodeRec): number | null {
  const r = n.resources ?? {};
  if (!r.memory_mib || !r.memory_free_mib) return null;
  return Math.max(0, r.memory_mib - r.memory_free_mib);
}
