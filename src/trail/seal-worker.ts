/**
 * The worker thread of parallel sealing (src/trail/parallel.ts starts it by URL): seals the
 * batches it is sent with the file keys it was started with, and hands every buffer back.
 */
import { parentPort, workerData } from "node:worker_threads";
import { sealBatch, type BatchKeys, type PackedBatch, type SealedBatch } from "./parallel.js";

const keys = workerData as BatchKeys;
const port = parentPort!;
port.on("message", (batch: PackedBatch) => {
  let answer: SealedBatch;
  try {
    answer = { id: batch.id, ...sealBatch(keys, batch), plain: batch.plain, meta: batch.meta };
  } catch (e) {
    port.postMessage({ id: batch.id, error: e instanceof Error ? e.message : String(e) });
    return;
  }
  port.postMessage(answer, [
    answer.records.buffer as ArrayBuffer,
    answer.digests.buffer as ArrayBuffer,
    batch.plain.buffer as ArrayBuffer,
    batch.meta.buffer as ArrayBuffer,
  ]);
});
