// The measurement library: what a run is (spec), how a phase drives load and measures it
// (runner, latency, outcomes), how sends are reconciled with what the handlers and the
// broker saw (ledger, observer). The producer service runs it; the compare CLI reads its
// spec and observer types. It holds no concrete sender: those are the producer's.
export { DISTRIBUTION_PERCENTILES, LatencyRecorder } from "./latency.ts";
export type { LatencySummary } from "./latency.ts";
export { mergeRanges, SendLedger } from "./ledger.ts";
export type { LedgerFigures, LossBasis, Received, ReplicaShare, SequenceRange } from "./ledger.ts";
export { isOutcome, OUTCOMES, outcomeNotes, rpcOutcome, snakeCase } from "./outcomes.ts";
export type { Outcome, OutcomeCounts } from "./outcomes.ts";
export { openLoopInFlightBound, Phase } from "./runner.ts";
export type { PhaseFigures, PhaseOptions, PhaseStateName } from "./runner.ts";
export { COMPARE_TRANSPORTS, isReferenceTransport, REFERENCE_OF } from "./sender.ts";
export type { CompareTransport, LibraryTransport, ReferenceTransport, Sender, SendResult } from "./sender.ts";
export { resolveSpec, SPEC_DEFAULTS, SPEC_LIMITS, SpecError, specToProto } from "./spec.ts";
export type { End, Load, ResolvedSpec, SpecContext } from "./spec.ts";
export { brokerBalance, defaultManagementUrl, ManagementApi } from "./observer/broker.ts";
export type { BrokerBalance, BrokerCounts, BrokerObserver } from "./observer/broker.ts";
export { BrokerCpu, procCpuMs } from "./observer/broker-cpu.ts";
export type { BrokerCpuReading, BrokerCpuSource } from "./observer/broker-cpu.ts";
export { countOf, ReplicaClient } from "./observer/client.ts";
export type { ReplicaKey, ReplicaReceived, ReplicaStatus } from "./observer/client.ts";
export { HandlerDirectory } from "./observer/directory.ts";
export { handlerDelta, HandlerFleet, union } from "./observer/fleet.ts";
export type { FleetSnapshot, HandlerDelta, HandlerObserver } from "./observer/fleet.ts";
export { bucketQuantile } from "./observer/histogram.ts";
