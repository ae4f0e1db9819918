import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, matchesGlob, posix, relative } from "node:path";

/**
 * Runs a Dockerfile's steps as plain commands, without a Docker engine: each stage gets
 * a directory standing for its filesystem, COPY copies from the build context (honouring
 * .dockerignore) or from an earlier stage, RUN runs in the stage's WORKDIR with the
 * stage's ENV. Only the instructions the project's Dockerfiles use are understood; any
 * other instruction is an error, so the test cannot silently skip a step.
 */

/** One instruction, continuation lines joined. */
export interface Instruction {
  op: string;
  args: string;
}

/** A stage as built: where its filesystem lives, and what the image records. */
export interface Stage {
  name: string;
  from: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  expose: number[];
  cmd?: string[];
}

/** Splits a Dockerfile into instructions; comments, blank lines and parser directives go. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = pending + line;
    pending = "";
    const match = /^(\w+)\s+(.*)$/.exec(full);
    if (!match) throw new Error(`cannot parse Dockerfile line: ${full}`);
    instructions.push({ op: match[1]!.toUpperCase(), args: match[2]! });
  }
  return instructions;
}

/** .dockerignore as a predicate over context-relative paths (no `!` exceptions). */
export function dockerignore(context: string): (path: string) => boolean {
  const file = join(context, ".dockerignore");
  const patterns = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((line) => posix.normalize(line.replace(/^\/+/, "")))
    : [];
  if (patterns.some((pattern) => pattern.startsWith("!"))) throw new Error(".dockerignore exceptions are not handled here");
  return (path: string) => {
    // A match on a directory excludes everything under it.
    const parts = path.split("/");
    for (let depth = 1; depth <= parts.length; depth++) {
      const prefix = parts.slice(0, depth).join("/");
      if (patterns.some((pattern) => prefix === pattern || matchesGlob(prefix, pattern))) return true;
    }
    return false;
  };
}

function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? "");
}

/** Copies `source` to `target` with Docker's COPY rules, skipping ignored context paths. */
function copy(source: string, target: string, ignored?: (path: string) => boolean, context?: string): void {
  cpSync(source, target, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (path) => !(ignored && context && path !== context && ignored(relative(context, path))),
  });
}

/**
 * Builds every stage of `dockerfile` under `workspace`, with `context` as the build
 * context; resolves with the stages, the last one being the image.
 */
export function buildDockerfile(dockerfile: string, context: string, workspace: string, env: NodeJS.ProcessEnv): Stage[] {
  const ignored = dockerignore(context);
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const { op, args: rest } of parseDockerfile(readFileSync(dockerfile, "utf8"))) {
    const stage = stages.at(-1);
    if (op === "ARG") {
      const [key, value = ""] = rest.split("=", 2) as [string, string?];
      args[key] ??= value;
      continue;
    }
    if (op === "FROM") {
      const [image, as, name] = rest.split(/\s+/);
      const root = join(workspace, `stage-${stages.length}`);
      mkdirSync(root, { recursive: true });
      stages.push({
        name: as?.toUpperCase() === "AS" ? name! : String(stages.length),
        from: substitute(image!, args),
        root,
        workdir: "/",
        env: {},
        expose: [],
      });
      continue;
    }
    if (!stage) throw new Error(`${op} before FROM`);
    const inImage = (path: string) => join(stage.root, posix.resolve(stage.workdir, path));
    switch (op) {
      case "WORKDIR":
        stage.workdir = posix.resolve(stage.workdir, substitute(rest, { ...args, ...stage.env }));
        mkdirSync(inImage("."), { recursive: true });
        break;
      case "ENV": {
        const [key, value] = rest.split("=", 2) as [string, string];
        stage.env[key] = substitute(value, { ...args, ...stage.env });
        break;
      }
      case "COPY": {
        const words = rest.split(/\s+/);
        const flags = words.filter((word) => word.startsWith("--"));
        const paths = words.filter((word) => !word.startsWith("--"));
        const dest = paths.pop()!;
        const from = flags.find((flag) => flag.startsWith("--from="))?.slice("--from=".length);
        const fromStage = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !fromStage) throw new Error(`COPY --from=${from}: no such stage`);
        const toDir = dest.endsWith("/") || paths.length > 1;
        for (const path of paths) {
          const source = fromStage ? join(fromStage.root, posix.resolve(fromStage.workdir, path)) : join(context, path);
          if (!fromStage && ignored(posix.normalize(path))) throw new Error(`COPY ${path}: excluded by .dockerignore`);
          if (!existsSync(source)) throw new Error(`COPY ${path}: not found`);
          const target = inImage(dest);
          if (statSync(source).isDirectory()) {
            mkdirSync(target, { recursive: true });
            copy(source, target, fromStage ? undefined : ignored, context);
          } else {
            const file = toDir ? join(target, posix.basename(path)) : target;
            mkdirSync(dirname(file), { recursive: true });
            copy(source, file);
          }
        }
        break;
      }
      case "RUN":
        execFileSync("sh", ["-c", rest], {
          cwd: inImage("."),
          env: { ...env, ...stage.env },
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 300_000,
        });
        break;
      case "USER":
        stage.user = rest;
        break;
      case "EXPOSE":
        stage.expose.push(...rest.split(/\s+/).map(Number));
        break;
      case "CMD":
        stage.cmd = JSON.parse(rest) as string[];
        break;
      default:
        throw new Error(`Dockerfile instruction ${op} is not reproduced here; teach tests/charts/dockerfile.ts`);
    }
  }
  return stages;
}

/** Makes `dir` and its parents up to `top` enterable by other users (mkdtemp makes 0700). */
export function openUp(dir: string, top: string): void {
  for (let path = dir; path.startsWith(top); path = dirname(path)) {
    chmodSync(path, 0o755);
    if (path === top) break;
  }
}

/** Every file and directory under `dir`, relative, sorted; for before/after comparisons. */
export function listTree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}
