import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { handlerEnvSchema } from "../../services/handler/src/config.ts";
import { producerEnvSchema } from "../../services/producer/src/config.ts";
import { CHART, HELMS, template } from "./support.ts";

const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8"));

describe.each(HELMS)("$name: values.schema.json", ({ bin }) => {
  it.each([
    // A misspelled key, at the top, in a service block and among the service settings.
    [{ handlr: { replicaCount: 2 } }, "at '': additional properties 'handlr' not allowed"],
    [{ handler: { replicas: 2 } }, "at '/handler': additional properties 'replicas' not allowed"],
    [{ producer: { env: { BACKGROUND_RATE_GPRC: 5 } } }, "at '/producer/env': additional properties 'BACKGROUND_RATE_GPRC' not allowed"],
    // Settings the chart owns are not open to values: the broker URL above all.
    [{ handler: { env: { AMQP_URL: "amqp://user:password@broker/" } } }, "at '/handler/env': additional properties 'AMQP_URL' not allowed"],
    // Wrong types and ranges.
    [{ handler: { replicaCount: "two" } }, "at '/handler/replicaCount': got string, want integer"],
    [{ rabbitmq: { enabled: "maybe" } }, "at '/rabbitmq/enabled': got string, want boolean"],
    [{ handler: { env: { AMQP_PREFETCH: 0 } } }, "at '/handler/env/AMQP_PREFETCH': minimum: got 0, want 1"],
    [{ handler: { env: { LOG_LEVEL: "verbose" } } }, "at '/handler/env/LOG_LEVEL'"],
    [{ producer: { replicaCount: 2 } }, "at '/producer/replicaCount': maximum: got 2, want 1"],
  ])("rejects %j, naming the key", async (values, message) => {
    const result = await template(bin, { values: [values] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(message);
  });
});

/** The JSON Schema zod derives for a service's environment schema, defaults aside. */
function fromCode(envSchema: z.ZodObject): Record<string, Record<string, unknown>> {
  const json = z.toJSONSchema(envSchema, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, Record<string, unknown>>;
  };
  return Object.fromEntries(
    Object.entries(json.properties).map(([key, { default: _default, description: _description, ...rest }]) => [key, rest]),
  );
}

describe.each([
  ["handler", handlerEnvSchema],
  ["producer", producerEnvSchema],
] as const)("%s settings in values.schema.json", (service, envSchema) => {
  const chart = schema.properties[service].properties.env;
  const code = fromCode(envSchema);

  it("admit only variables the service reads, typed and bounded exactly as its zod schema", () => {
    expect(chart.additionalProperties).toBe(false);
    for (const [name, property] of Object.entries(chart.properties as Record<string, Record<string, unknown>>)) {
      expect(Object.keys(code), `${service}.env.${name} is not a variable the ${service} reads`).toContain(name);
      const { description: _description, ...constraints } = property;
      expect(constraints, `${service}.env.${name}: update values.schema.json to match config.ts`).toEqual(code[name]);
    }
  });
});

describe("amqp.deliveryLimit", () => {
  it("is bounded as both services bound AMQP_DELIVERY_LIMIT", () => {
    const { description: _description, ...limit } = schema.properties.amqp.properties.deliveryLimit;
    expect(limit).toEqual(fromCode(handlerEnvSchema).AMQP_DELIVERY_LIMIT);
    expect(limit).toEqual(fromCode(producerEnvSchema).AMQP_DELIVERY_LIMIT);
  });
});
