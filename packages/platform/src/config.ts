import { z } from "zod";

/**
 * Raised when an environment variable does not fit its schema. The message is one line
 * that names the variable and the expected form, ready to print before exiting 1.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** The variable that failed validation. */
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(message);
    this.variable = variable;
  }
}

/** A schema over process.env whose keys are exactly the variables a service reads. */
export type EnvSchema = z.ZodObject<Record<string, z.ZodType>>;

/**
 * Validates `env` against `schema` once, at start-up. Unknown variables are ignored
 * (the environment holds far more than ours); empty strings count as unset, so a chart
 * can render `value: ""` to mean "use the default".
 *
 * @throws ConfigError for the first variable that does not fit.
 */
export function parseEnv<S extends EnvSchema>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const variable = String(issue.path[0] ?? "environment");
  const got = input[variable];
  const shown = got === undefined ? "unset" : `got ${JSON.stringify(redactUrl(got))}`;
  throw new ConfigError(variable, `invalid configuration: ${variable} ${issue.message} (${shown})`);
}

/** An integer TCP port; 0 asks the OS for a free one (tests). */
export const port = (fallback: number) =>
  z.coerce
    .number({ error: "must be a TCP port number 0-65535" })
    .int({ error: "must be a TCP port number 0-65535" })
    .min(0, { error: "must be a TCP port number 0-65535" })
    .max(65535, { error: "must be a TCP port number 0-65535" })
    .default(fallback);

/** An optional TCP port: unset means the listener it names is not separate. */
export const optionalPort = () =>
  z.coerce
    .number({ error: "must be a TCP port number 0-65535" })
    .int({ error: "must be a TCP port number 0-65535" })
    .min(0, { error: "must be a TCP port number 0-65535" })
    .max(65535, { error: "must be a TCP port number 0-65535" })
    .optional();

/**
 * Checks that the listeners' ports differ (0, the OS's choice, may repeat), so a
 * clash stops the process at start with the variable named, not at the second bind.
 *
 * @throws ConfigError naming the later variable of the first clash, in `ports`' order.
 */
export function distinctPorts(ports: Readonly<Record<string, number | undefined>>): void {
  const seen = new Map<number, string>();
  for (const [variable, value] of Object.entries(ports)) {
    if (value === undefined || value === 0) continue;
    const other = seen.get(value);
    if (other) throw new ConfigError(variable, `invalid configuration: ${variable} must differ from ${other} (both ${value})`);
    seen.set(value, variable);
  }
}

/** A whole number within [min, max]. */
export const integer = (fallback: number, min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.coerce
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message })
    .default(fallback);
};

/** A real number within [min, max]. */
export const ratio = (fallback: number, min = 0, max = 1) => {
  const message = `must be a number from ${min} to ${max}`;
  return z.coerce
    .number({ error: message })
    .min(min, { error: message })
    .max(max, { error: message })
    .default(fallback);
};

/** A URL whose scheme is one of `protocols` (each written with its colon, e.g. "amqp:"). */
export const url = (fallback: string, protocols: readonly string[]) => {
  const message = `must be a URL of the form ${protocols.map((p) => `${p}//host:port`).join(" or ")}`;
  return z
    .string()
    .refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
      error: message,
    })
    .default(fallback);
};

/** pino's level names. */
export const logLevel = z
  .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
    error: "must be one of fatal, error, warn, info, debug, trace, silent",
  })
  .default("info");

/**
 * A non-empty identifier of letters, digits, dot, dash and underscore; used for ids that
 * reach logs and receipts but never metric labels.
 */
export const identifier = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/, {
      error: "must be 1-128 letters, digits, '.', '-' or '_'",
    })
    .default(fallback);

/**
 * Returns `value` with any password in a URL's userinfo replaced by `***`; other
 * strings come back unchanged. Used wherever a URL may reach a log line or an error.
 */
export function redactUrl(value: string): string {
  return value.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi, "$1***@");
}
