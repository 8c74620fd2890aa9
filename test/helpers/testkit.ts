/**
 * Runs a conformance vector (testdata/trails/, docs/TESTKIT.md) through the verifier and reduces
 * the verdict to the vector's `expect:` and `verdict:` lines. The one place that knows the
 * verdict's shape: when src/verify/verdict.ts changes its types, only `summarize` in
 * testdata/trails/vectors.ts and this file follow.
 */
import { verifyTrail } from "../../src/verify.js";
import {
  certificateDer,
  stanzaKey,
  summarize,
  type VectorHeader,
} from "../../testdata/trails/vectors.js";

export async function runVector(
  header: VectorHeader,
  source: AsyncIterable<Uint8Array>,
  name: string,
): Promise<{ expect: string; verdict: string }> {
  const v = await verifyTrail(source, name, {
    keys: header.keys.map(stanzaKey),
    anchors: header.ca.map(certificateDer),
    tsaAnchors: header.tsaCa.map(certificateDer),
  });
  return summarize(v);
}
