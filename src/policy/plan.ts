/** The sealing plan: what a trail written under an audit policy must do. */
import type { ParsedAuditPolicy, ParsedTimestamping } from "./audit.js";
import type { RecipientEntry } from "./encryption.js";

export interface SealingPlan {
  name: string;
  /** Downstream recipients; null = clear. */
  downstream: RecipientEntry[] | null;
  /** Upstream recipients; null = clear. */
  upstream: RecipientEntry[] | null;
  signing: { x509Identity: string } | null;
  timestamping: ParsedTimestamping;
  /** Seconds between checkpoints. */
  interval: number;
}

/**
 * What a trail written under this policy must do: who can read each channel, who signs, who
 * timestamps and how often. Take the policy from `parsePolicy` or `readAuditPolicy`.
 *
 * @example
 * sealingPlan(readAuditPolicy(JSON.parse(text))).interval // 30
 */
export function sealingPlan(policy: ParsedAuditPolicy): SealingPlan {
  return {
    name: policy.name,
    downstream: policy.encryption.downstream,
    upstream: policy.encryption.upstream,
    signing: policy.signing,
    timestamping: policy.timestamping,
    interval: policy.interval,
  };
}
