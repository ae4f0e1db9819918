// Generated code only: every name the switchyard.v1 package defines.
export * from "./gen/switchyard/v1/work_pb.js";
export * from "./gen/switchyard/v1/handler_pb.js";
export * from "./gen/switchyard/v1/producer_pb.js";
export * from "./gen/switchyard/v1/observation_pb.js";
