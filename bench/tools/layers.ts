// CPU per call of the handler's own layers (services/handler/src/work.ts's
// createWorkHandler: metrics → validation → ledger → dedupe → core), in process, without
// any transport: the part of a handler row that is switchyard's alone, measured far more
// precisely than a whole-service window can on a shared machine. Unique ids, one
// producer run with ascending sequences, as the bench's load generators send.
// Usage: node bench/tools/layers.ts [calls per round, default 200000] [rounds, default 5]
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { WorkSchema } from "@switchyard/contracts";
import { createRegistry } from "@switchyard/platform";
import { NO_COST } from "../../services/handler/src/cost.ts";
import { Deduplicator } from "../../services/handler/src/dedupe.ts";
import { ReceivedLedger } from "../../services/handler/src/ledger.ts";
import { createHandlerMetrics } from "../../services/handler/src/metrics.ts";
import { createWorkHandler } from "../../services/handler/src/work.ts";

const calls = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const registry = createRegistry("handler", "bench");
const handleWork = createWorkHandler({
  handlerId: "bench",
  maxPayloadBytes: 1024 * 1024,
  cost: NO_COST,
  dedupe: new Deduplicator(100_000),
  ledger: new ReceivedLedger(64),
  metrics: createHandlerMetrics(registry),
});
const payload = new Uint8Array(64);
let sequence = 0;
const next = () => {
  sequence += 1;
  return create(WorkSchema, { id: `layers-${sequence}`, producerId: "layers", sequence: BigInt(sequence), sentAt: timestampFromDate(new Date()), payload });
};
// In flight at once, as with the bench's 32 concurrent calls (and a signal each, as Connect passes).
const concurrency = 32;
const perRound: number[] = [];
for (let round = 0; round <= rounds; round++) {
  const works = Array.from({ length: calls }, next);
  const signals = Array.from({ length: concurrency }, () => new AbortController().signal);
  const cpu = process.cpuUsage();
  let at = 0;
  await Promise.all(
    signals.map(async (signal) => {
      while (at < works.length) await handleWork(works[at++]!, "grpc", signal);
    }),
  );
  const used = process.cpuUsage(cpu);
  // Round 0 warms the JIT and fills the dedupe cache part way; it is not reported.
  if (round > 0) perRound.push((used.user + used.system) / calls);
}
perRound.sort((a, b) => a - b);
const median = perRound[Math.floor(perRound.length / 2)]!;
console.log(`handleWork layers: ${median.toFixed(2)} µs CPU per call, median of ${rounds} rounds of ${calls} [${perRound[0]!.toFixed(2)}–${perRound.at(-1)!.toFixed(2)}] (building the Work excluded)`);
