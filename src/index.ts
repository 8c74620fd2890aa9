/**
 * trailseal: the public API, in the order a user meets it: seal a session, open and replay it,
 * verify it (one trail or an archive), the policies that say what a trail must be, the keys and
 * certificates it is made with, timestamps, recording formats, content scanning, and last the
 * low-level pieces of the trail format (as namespaces).
 *
 * Named exports only; no pkijs, asn1js, @peculiar/x509 or node-forge type appears in any
 * signature. Every failure is a `TrailsealError` with a stable `code` and structured `details`.
 */

// ---------------------------------------------------------------------------------------------
// Errors and the session model
// ---------------------------------------------------------------------------------------------
export {
  TrailsealError,
  isTrailsealError,
  type ErrorCode,
  type ErrorDetails,
  type Missing,
} from "./errors.js";
export * from "./events.js";

// ---------------------------------------------------------------------------------------------
// Seal: a session (a recording, or a live command) into a trail
// ---------------------------------------------------------------------------------------------
export { sealEvents, sinkFor, bytesOf } from "./trail/session.js";
export { TrailWriter, frameAad, type TrailWriterOptions } from "./trail/writer.js";
export {
  LiveRecorder,
  liveMetadata,
  type RecordOptions,
  type RecordResult,
} from "./record/recorder.js";
export {
  loadSigningIdentity,
  tokenSigningIdentity,
  checkpointSigner,
  signDetached,
  signatureValue,
  addUnsignedAttribute,
  SIGNATURE_TIMESTAMP_TOKEN_OID,
  type SigningIdentity,
  type SigningKey,
  type ExternalSigner,
  type CheckpointSigner,
} from "./sign.js";

// ---------------------------------------------------------------------------------------------
// Open and replay: decrypt a trail's channels and write them out in a player's format
// ---------------------------------------------------------------------------------------------
export { openTrail, type OpenedTrail } from "./trail/open.js";
export {
  unlockChannels,
  EventDecoder,
  type Alternative,
  type ChannelAccess,
  type Unlocked,
} from "./trail/open.js";
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
  makeStanza,
  openLayer,
  openStanza,
  parseStanzaDer,
  type Stanza,
  type StanzaLayer,
  type StanzaKey,
} from "./recipients.js";
export { writeAsciicastV2, writeAsciicastV3, type Sink } from "./replay/asciicast.js";
export { writeRaw } from "./replay/raw.js";
export { writeJsonl } from "./replay/jsonl.js";
export { writeScript } from "./replay/script.js";
export { writeText } from "./replay/text.js";
export { play, type PlayOptions } from "./replay/player.js";

// ---------------------------------------------------------------------------------------------
// Verify: one trail (a verdict, never a boolean) and the verdict's parts
// ---------------------------------------------------------------------------------------------
export {
  verifyTrail,
  REQUIREMENTS,
  type VerifyOptions,
  type Verdict,
  type Outcome,
  type Requirement,
  type Problem,
  type CheckpointProblem,
  type FailureState,
  type IntegrityVerdict,
  type ChannelVerdict,
  type AlternativeVerdict,
  type Recipient,
  type SignatureVerdict,
  type Signer,
  type TimestampVerdict,
  type Unstamped,
  type TokenSpan,
  type CheckpointRef,
  type CheckpointVerdict,
  type CheckpointSignature,
  type CheckpointTimestamp,
  type VerifiedPrefix,
} from "./verify.js";
export {
  verifyDetached,
  ChainValidator,
  type SignatureFacts,
  type VerifyDetachedOptions,
} from "./sign.js";
export { validateChain, extendedKeyUsages, isEkuCritical, type ChainResult } from "./pkix/chain.js";

// ---------------------------------------------------------------------------------------------
// Verify an archive: many trails on a worker pool, in shards, with one merged summary
// ---------------------------------------------------------------------------------------------
export {
  trailInputs,
  listedPaths,
  TRAIL_EXTENSION,
  type TrailInput,
  type PathList,
  type InputOptions,
} from "./archive/inputs.js";
export {
  verifyMany,
  verifyOne,
  type VerifySetup,
  type VerifyManyOptions,
  type Verified,
} from "./archive/verify-many.js";
export {
  runPool,
  inOrder,
  type TaskOutcome,
  type TaskError,
  type PoolOptions,
} from "./archive/pool.js";
export { parseShard, shardOf, inShard, ofShard, MAX_SHARDS, type Shard } from "./archive/shard.js";
export {
  SummaryFold,
  summarizeLines,
  summaryStatus,
  type Summary,
  type MergedSummary,
  type ArchiveLine,
  type VerdictLine,
  type ErrorLine,
} from "./archive/summary.js";

// ---------------------------------------------------------------------------------------------
// Policy: SPS audit policies (what a trail must do) and content policies (what to look for)
// ---------------------------------------------------------------------------------------------
export * from "./policy.js";

// ---------------------------------------------------------------------------------------------
// PEM, certificates and keys: files, PKCS#12, the local authority, PKCS#11 tokens
// ---------------------------------------------------------------------------------------------
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
export { resolvePassin } from "./secret.js";
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
  openTokenKey,
  TokenKey,
  MODULE_ENV,
  type TokenOptions,
  type TokenKeyInfo,
  type TokenKeyType,
} from "./pkcs11/token.js";
export {
  tokenDecryptionKey,
  tokenSigner,
  type DecryptionKey,
  type TokenSigner,
  type SignatureAlgorithm,
  type SignatureHash,
} from "./pkcs11/ops.js";
export { listTokens, type Listing, type ListedToken, type ListedObject } from "./pkcs11/list.js";
export {
  parsePkcs11Uri,
  isPkcs11Uri,
  formatPkcs11Uri,
  type Pkcs11Uri,
  type ObjectType,
} from "./pkcs11/uri.js";

// ---------------------------------------------------------------------------------------------
// Timestamps: RFC 3161 requests, a local or remote TSA, token verification, a TSA server
// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Recording formats: asciicast, util-linux script, raw bytes (detected or named)
// ---------------------------------------------------------------------------------------------
export { openRecording, peek, type OpenOptions } from "./formats/open.js";
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

// ---------------------------------------------------------------------------------------------
// Scan: what a session showed and typed (screen text, commands, card numbers, window titles)
// ---------------------------------------------------------------------------------------------
export {
  compilePattern,
  matchExpressions,
  scanPattern,
  type Pattern,
  type PatternMatch,
  type PatternScan,
  type ExpressionHit,
} from "./scan/pattern.js";
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

// ---------------------------------------------------------------------------------------------
// Low-level pieces of the trail format, for tools that read or build trails byte by byte
// ---------------------------------------------------------------------------------------------
/** Records, header, chain digests and checkpoint statements (docs/FORMAT.md). */
export * as trailFormat from "./trail/format.js";
/** Frame encryption (STREAM over AES-256-GCM) and the per-channel key commitment. */
export * as frames from "./frames.js";
