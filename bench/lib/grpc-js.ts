import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));

/**
 * HandlerService for grpc-js, loaded at run time from the same proto files the services
 * are generated from. Bytes stay Buffers; 64-bit integers become strings (the
 * proto-loader options grpc-js's own examples use).
 */
export function loadHandlerService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync("switchyard/v1/handler.proto", {
    includeDirs: [PROTO_ROOT],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    switchyard: { v1: { HandlerService: grpc.ServiceClientConstructor } };
  };
  return loaded.switchyard.v1.HandlerService;
}
