// Generated code only: the standard gRPC health checking protocol.
export * from "./gen/grpc/health/v1/health_pb.js";
