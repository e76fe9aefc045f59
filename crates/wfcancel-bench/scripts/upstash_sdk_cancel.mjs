// Throughput of the official @upstash/workflow client: `client.cancel(id)` for N ids, C in flight.
//
// Usage: QSTASH_URL=http://127.0.0.1:PORT QSTASH_TOKEN=tok \
//          node upstash_sdk_cancel.mjs <install-dir> <n> <concurrency> <max-seconds> [warmup]
//   <install-dir>: where tools/upstash-sdk/setup.sh installed the SDK (node_modules/@upstash/workflow).
// Prints one JSON line: {"client": "...", "n": done, "errors": e, "secs": wall, "first_error": ...}.
// Import and warm-up are not timed. Stops early (and says so in "n") after <max-seconds>.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, nArg, cArg, maxArg, warmArg] = process.argv.slice(2);
const n = Number(nArg), conc = Number(cArg), maxSecs = Number(maxArg), warm = Number(warmArg ?? 200);
if (!dir || !(n > 0) || !(conc > 0) || !(maxSecs > 0)) {
  console.error("usage: node upstash_sdk_cancel.mjs <install-dir> <n> <concurrency> <max-seconds> [warmup]");
  process.exit(2);
}
const baseUrl = process.env.QSTASH_URL, token = process.env.QSTASH_TOKEN;
if (!baseUrl || !token) {
  console.error("QSTASH_URL and QSTASH_TOKEN must be set");
  process.exit(2);
}
const pkgDir = join(dir, "node_modules", "@upstash", "workflow");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const entry = pkg.exports?.["."]?.import ?? pkg.module;
const { Client } = await import(pathToFileURL(join(pkgDir, entry)).href);
const version = pkg.version;
// devMode: false, so a stray QSTASH_DEV never makes the SDK try to download its dev server.
const client = new Client({ baseUrl, token, devMode: false });

async function run(count, prefix, deadline) {
  let next = 0, done = 0, errors = 0, firstError = null;
  async function worker() {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      try {
        const r = await client.cancel(`${prefix}${String(i).padStart(8, "0")}`);
        if (!r || r.cancelled !== 1) { errors++; firstError ??= `unexpected answer ${JSON.stringify(r)}`; }
      } catch (e) {
        errors++;
        firstError ??= String(e?.message ?? e);
      }
      done++;
    }
  }
  await Promise.all(Array.from({ length: conc }, worker));
  return { done, errors, firstError };
}

await run(warm, "wfr_nodewarm_", Date.now() + 10_000);
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const r = await run(n, "wfr_node_", Date.now() + maxSecs * 1000);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({
  client: `@upstash/workflow ${version} client.cancel(id)`,
  n: r.done, errors: r.errors, secs, cpu_secs: (cpu.user + cpu.system) / 1e6, first_error: r.firstError,
}) + "\n");
