// The RPC senders' outcomes against a real handler: a handling failure is told apart
// from a handler that cannot be reached.
import { create } from "@bufbuild/protobuf";
import { WorkSchema } from "@switchyard/contracts";
import type { Sender } from "@switchyard/measurement";
import { describe, expect, it } from "vitest";
import { useHandlerOnOwnVhost } from "../handler/running-handler.ts";
import { ConnectSender } from "../../services/producer/src/senders/connect.ts";
import { GrpcSender } from "../../services/producer/src/senders/grpc.ts";
import { closedPort } from "./support.ts";

// Every Work fails its (simulated) handling.
const fixture = useHandlerOnOwnVhost({ SIMULATED_FAILURE_RATIO: "1" });

const work = (id: string) => create(WorkSchema, { id, producerId: "outcomes", sequence: 1n, payload: new Uint8Array(8) });

async function sendOnce(sender: Sender, id: string) {
  try {
    return await sender.send(work(id), 2_000);
  } finally {
    await sender.close();
  }
}

describe("RPC send outcomes", () => {
  it("a handler that fails to handle Work answers handling_failed over gRPC and Connect, not unavailable", async () => {
    const { handler } = fixture();
    expect((await sendOnce(new GrpcSender(handler.h2cUrl), "fail-grpc")).outcome).toBe("handling_failed");
    expect((await sendOnce(new ConnectSender(handler.httpUrl), "fail-connect")).outcome).toBe("handling_failed");
  });

  it("a handler nobody listens for is unavailable", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    expect((await sendOnce(new GrpcSender(url), "gone-grpc")).outcome).toBe("unavailable");
    expect((await sendOnce(new ConnectSender(url), "gone-connect")).outcome).toBe("unavailable");
  });
});
