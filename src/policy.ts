/**
 * SPS policies, read as the REST API returns them and checked with JSON paths and stable codes:
 * audit policies (what a trail must do: encryption, signing, timestamping) and content policies
 * (what to look for in a session). The parts live in `src/policy/`:
 *
 *   rules.ts       rule codes, the one field table, the problem list
 *   audit.ts       audit-policy types and the body reader (8.0 LTS and 6.10 shapes)
 *   encryption.ts  recipient entries and their certificates
 *   content.ts     content-policy types and the body reader (patterns compiled by scan/pattern)
 *   parse.ts       documents: body, REST object, list; parsePolicy, readAuditPolicy,
 *                  readContentPolicy, readContentPolicies
 *   build.ts       new 8.0 LTS bodies (buildPolicy)
 *   plan.ts        the sealing plan the trail writer follows
 */
export {
  POLICY_RULES,
  DEFAULT_INTERVAL,
  MIN_INTERVAL,
  MAX_INTERVAL,
  CONTENT_RULE_CODES,
  formatProblems,
  type PolicyProblem,
  type PolicyRuleCode,
  type Severity,
} from "./policy/rules.js";
export {
  isDottedOid,
  type AuditPolicy,
  type AuditPolicyV610,
  type AuditPolicyObject,
  type PolicyCertificateEntry,
  type PolicyEncryption,
  type UpstreamEncryption,
  type PolicySigning,
  type X509IdentityReference,
  type PolicyTimestamping,
  type TimestampServer,
  type TimestampOid,
  type ParsedAuditPolicy,
  type ParsedTimestamping,
} from "./policy/audit.js";
export type { RecipientEntry, ChannelRecipients } from "./policy/encryption.js";
export {
  CONTENT_SELECTIONS,
  type ContentSelection,
  type ContentActions,
  type ContentPolicy,
  type ContentPolicyRule,
  type ContentPolicyObject,
  type ParsedContentPolicy,
  type ParsedContentRule,
} from "./policy/content.js";
export {
  parsePolicy,
  checkPolicy,
  readAuditPolicy,
  readContentPolicy,
  readContentPolicies,
  type ParseResult,
  type ParsedPolicy,
  type ParsedItem,
  type ParsedPolicyList,
  type PolicyReference,
} from "./policy/parse.js";
export {
  buildPolicy,
  identityKey,
  X509_IDENTITY_PREFIX,
  type BuildOptions,
} from "./policy/build.js";
export { sealingPlan, type SealingPlan } from "./policy/plan.js";
