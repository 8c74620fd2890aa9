/**
 * trailseal: the public API. Named exports only; no pkijs, asn1js, @peculiar/x509 or node-forge
 * type appears in any signature.
 */
export {
  TrailsealError,
  isTrailsealError,
  type ErrorCode,
  type ErrorDetails,
  type Missing,
} from "./errors.js";
export * from "./events.js";
export { resolvePassin } from "./secret.js";
export {
  readCertificates,
  toPem,
  toApiString,
  certificateFingerprint,
  spkiFingerprint,
  describeCertificate,
  certificatePublicKey,
  checkApiCertificate,
  type CertificateInfo,
  type ApiCertificateCheck,
} from "./pem.js";
export {
  readPrivateKeys,
  publicKeyFingerprint,
  writePrivateKeyFile,
  type PrivateKey,
} from "./keys.js";
export {
  makeStanza,
  openLayer,
  openStanza,
  parseStanzaDer,
  type Stanza,
  type StanzaLayer,
  type StanzaKey,
} from "./recipients.js";
export {
  parsePolicy,
  checkPolicy,
  readAuditPolicy,
  readContentPolicy,
  buildPolicy,
  sealingPlan,
  CONTENT_RULE_CODES,
  CONTENT_SELECTIONS,
  formatProblems,
  isDottedOid,
  POLICY_RULES,
  DEFAULT_INTERVAL,
  MIN_INTERVAL,
  MAX_INTERVAL,
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
  type PolicyProblem,
  type PolicyRuleCode,
  type Severity,
  type BuildOptions,
  type RecipientEntry,
  type SealingPlan,
  type ParseResult,
  type ParsedPolicy,
  type ParsedItem,
  type ParsedPolicyList,
  type PolicyReference,
  type ParsedAuditPolicy,
  type ParsedTimestamping,
  type ChannelRecipients,
  type ContentSelection,
  type ContentActions,
  type ContentPolicy,
  type ContentPolicyRule,
  type ContentPolicyObject,
  type ParsedContentPolicy,
  type ParsedContentRule,
} from "./policy.js";
export {
  compilePattern,
  matchExpressions,
  scanPattern,
  type Pattern,
  type PatternMatch,
  type PatternScan,
  type ExpressionHit,
} from "./scan/pattern.js";
export { detectFormat, DETECT_BYTES, type RecordingFormat } from "./formats/detect.js";
export type { Recording } from "./formats/stream.js";
export { readAsciicast } from "./formats/asciicast.js";
export {
  readScript,
  readScriptAdvanced,
  readScriptClassic,
  type ScriptReadOptions,
} from "./formats/script.js";
export { readRaw } from "./formats/raw.js";
export { writeAsciicastV2, writeAsciicastV3, type Sink } from "./replay/asciicast.js";
export { writeRaw } from "./replay/raw.js";
export { writeJsonl } from "./replay/jsonl.js";
export { writeScript } from "./replay/script.js";
export { writeText } from "./replay/text.js";
export {
  Screen,
  screenItems,
  type ScreenItem,
  type ScreenOptions,
  type LineEnd,
} from "./scan/screen.js";
export {
  LineEditor,
  CommandReader,
  fromScreen,
  readCommands,
  DEFAULT_PROMPT,
  type Command,
  type CommandSource,
  type CommandOptions,
  type EditedLine,
  type Unseen,
} from "./scan/commands.js";
export {
  findCards,
  luhnValid,
  cardIssuer,
  maskCard,
  CARD_SCHEMES,
  type CardMatch,
} from "./scan/cards.js";
export { windowTitles, titleOf, type WindowTitle } from "./scan/titles.js";
export { play, type PlayOptions } from "./replay/player.js";
export {
  LiveRecorder,
  liveMetadata,
  type RecordOptions,
  type RecordResult,
} from "./record/recorder.js";
export {
  loadSigningIdentity,
  signDetached,
  signatureValue,
  addUnsignedAttribute,
  verifyDetached,
  checkpointSigner,
  SIGNATURE_TIMESTAMP_TOKEN_OID,
  ChainValidator,
  type SigningIdentity,
  type SignatureFacts,
  type VerifyDetachedOptions,
} from "./sign.js";
export { validateChain, extendedKeyUsages, isEkuCritical, type ChainResult } from "./pkix/chain.js";
export { openRecording, peek, type OpenOptions } from "./formats/open.js";
export { makeRequest, nonceFromRandom, type TimestampRequestOptions } from "./timestamp/request.js";
export {
  localStamper,
  serialSource,
  LOCAL_POLICY_OID,
  type Stamper,
  type TsaIdentity,
  type LocalStamperOptions,
} from "./timestamp/token.js";
export {
  remoteStamper,
  parseResponse,
  type RemoteStamperOptions,
  type ParsedResponse,
  type PkiStatus,
} from "./timestamp/client.js";
export { verifyToken, type TokenFacts, type VerifyTokenOptions } from "./timestamp/verify.js";
export { startTsaServer, type TsaServerOptions, type TsaServer } from "./timestamp/server.js";
export {
  initAuthority,
  loadAuthority,
  defaultHome,
  AUTHORITY_FILES,
  type Authority,
  type AuthorityKeyType,
  type InitOptions,
  type InitResult,
} from "./authority.js";
export {
  issueCertificate,
  serialFromRandom,
  EKU,
  type CertificateRequest,
  type KeyUsageName,
} from "./pkix/certify.js";
export {
  TrailWriter,
  frameAad,
  type TrailWriterOptions,
  type CheckpointSigner,
  type TimestampSource,
} from "./trail/writer.js";
export {
  TrailReader,
  type ParsedHeader,
  type TrailRecord,
  type FrameRecord,
  type CheckpointRecord,
  type StampRecord,
  type TrailEnd,
} from "./trail/reader.js";
export {
  unlockChannels,
  EventDecoder,
  type Alternative,
  type ChannelAccess,
  type Unlocked,
} from "./trail/open.js";
export { sealEvents, openTrail, sinkFor, bytesOf, type OpenedTrail } from "./trail/session.js";
export { keyCommitment, frameNonce, MAX_FRAME_PLAINTEXT } from "./frames.js";
export * as trailFormat from "./trail/format.js";
export {
  verifyTrail,
  REQUIREMENTS,
  type Verdict,
  type VerifyOptions,
  type Requirement,
  type ChannelVerdict,
  type SignatureVerdict,
  type TimestampVerdict,
  type IntegrityVerdict,
  type CheckpointVerdict,
} from "./verify.js";
