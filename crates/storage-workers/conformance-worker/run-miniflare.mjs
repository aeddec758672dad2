// Starts the conformance Worker (build/, made by worker-build) in workerd
// through Miniflare 4 with real KV, R2 and SQLite-backed Durable Object
// bindings, prints `READY <url>` and serves until stdin closes (the Rust test
// holds it open) or a signal arrives. State lives in memory: every run starts
// from empty stores.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const build = path.join(here, "build");

const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  cf: false,
  compatibilityDate: "2026-04-01",
  modulesRoot: build,
  modules: [
    { type: "ESModule", path: path.join(build, "index.js") },
    { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
  ],
  kvNamespaces: ["KV"],
  r2Buckets: ["BUCKET"],
  durableObjects: { STATE: { className: "ConformanceState", useSQLite: true } },
});

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}

try {
  const url = await mf.ready;
  console.log(`READY ${url.href}`);
} catch (error) {
  console.error(`miniflare failed to start: ${error?.stack ?? error}`);
  process.exit(1);
}
process.stdin.on("end", () => close(0));
process.stdin.on("error", () => close(0));
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => close(0));
