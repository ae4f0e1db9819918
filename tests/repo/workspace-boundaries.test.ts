// The workspaces' boundaries, read from the tree itself: what each service image copies,
// what its production install pulls in, and which way imports point. The compare CLI and
// its chart libraries (d3-*) run beside a deployment and must never reach a service image;
// packages are shared libraries and never import a service or the CLI.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/process.ts";

const SERVICES = readdirSync(join(ROOT, "services")).filter((name) => existsSync(join(ROOT, "services", name, "Dockerfile")));
const CLI = "tools/compare";
const CLI_PACKAGE = "@switchyard/compare";
const isChartLibrary = (name: string) => /^(@types\/)?d3-/.test(name);

/** Every .ts file under `dir` (relative to the root), node_modules aside. */
function sourceFiles(dir: string): string[] {
  const absolute = join(ROOT, dir);
  if (!existsSync(absolute)) return [];
  if (statSync(absolute).isFile()) return absolute.endsWith(".ts") ? [dir] : [];
  return readdirSync(absolute, { withFileTypes: true })
    .filter((entry) => entry.name !== "node_modules")
    .flatMap((entry) => sourceFiles(join(dir, entry.name)));
}

/** The module specifiers `file` imports or re-exports, static and dynamic. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((match) => match[1]!);
}

/** Where a relative specifier lands, relative to the root; bare specifiers as they are. */
function target(file: string, specifier: string): string {
  return specifier.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), specifier)) : specifier;
}

/** The build-context paths a Dockerfile's COPY instructions take (not those from another stage). */
function copiedPaths(dockerfile: string): string[] {
  return dockerfile
    .split("\n")
    .filter((line) => line.startsWith("COPY ") && !/\s--from=/.test(line))
    .flatMap((line) => line.split(/\s+/).slice(1).filter((word) => !word.startsWith("--")).slice(0, -1));
}

type LockEntry = {
  name?: string;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };

/** The lockfile location `name` resolves to when required from `from`, as Node looks it up. */
function locate(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const nested = dir.lastIndexOf("/node_modules/");
    dir = nested >= 0 ? dir.slice(0, nested) : "";
  }
}

/** Names of every package a workspace's production install holds: its dependencies' closure. */
function productionClosure(workspace: string): Set<string> {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (location: string) => {
    if (seen.has(location)) return;
    seen.add(location);
    let entry = lock.packages[location]!;
    if (entry.link && entry.resolved) {
      location = entry.resolved;
      entry = lock.packages[location]!;
    }
    const required = Object.keys(entry.peerDependencies ?? {}).filter((name) => !entry.peerDependenciesMeta?.[name]?.optional);
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...required]) {
      const found = locate(location, name);
      if (!found) continue;
      names.add(name);
      visit(found);
    }
  };
  visit(workspace);
  return names;
}

describe.each(SERVICES)("the %s image", (service) => {
  const dockerfile = readFileSync(join(ROOT, "services", service, "Dockerfile"), "utf8");
  const copied = copiedPaths(dockerfile);

  it("copies no source of the compare CLI, only its manifest for npm ci", () => {
    expect(copied.length).toBeGreaterThan(0);
    expect(copied.filter((path) => path.startsWith(`${CLI}/`) && path !== `${CLI}/package.json`)).toEqual([]);
    const sources = copied.flatMap(sourceFiles);
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((file) => file.startsWith(`${CLI}/`))).toEqual([]);
    expect(sources.filter((file) => imports(file).some((specifier) => isChartLibrary(specifier) || specifier === CLI_PACKAGE))).toEqual([]);
  });

  it(`installs neither the CLI nor d3 with npm ci --omit=dev --workspace=@switchyard/${service}`, () => {
    const closure = productionClosure(`services/${service}`);
    expect(closure.size).toBeGreaterThan(0);
    expect([...closure].filter((name) => isChartLibrary(name) || name === CLI_PACKAGE)).toEqual([]);
  });
});

describe("import direction", () => {
  const services = sourceFiles("services");
  const packages = sourceFiles("packages");
  const serviceNames = new Set(SERVICES.map((service) => `@switchyard/${service}`));

  it("no service or package imports the compare CLI or a chart library", () => {
    expect(services.length).toBeGreaterThan(0);
    const offending = [...services, ...packages].flatMap((file) =>
      imports(file)
        .map((specifier) => target(file, specifier))
        .filter((to) => to === CLI_PACKAGE || to.startsWith(`${CLI_PACKAGE}/`) || to.startsWith("tools/") || isChartLibrary(to))
        .map((to) => `${file} -> ${to}`),
    );
    expect(offending).toEqual([]);
  });

  it("no package imports a service", () => {
    expect(packages.length).toBeGreaterThan(0);
    const offending = packages.flatMap((file) =>
      imports(file)
        .map((specifier) => target(file, specifier))
        .filter((to) => to.startsWith("services/") || serviceNames.has(to) || [...serviceNames].some((name) => to.startsWith(`${name}/`)))
        .map((to) => `${file} -> ${to}`),
    );
    expect(offending).toEqual([]);
  });
});
