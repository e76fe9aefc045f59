// Run client.cancel(...) of the official @upstash/workflow SDK once per operation, in order.
//
// Usage: QSTASH_URL=http://127.0.0.1:PORT QSTASH_TOKEN=tok node run-ops.mjs <install-dir> <ops.json>
//   <install-dir>: the folder setup.sh installed into (holds node_modules/@upstash/workflow).
//   <ops.json>: a JSON array; each element is the literal argument to client.cancel(...).
//     {"$date": <ms>} anywhere becomes a JS Date; {"$undefined": true} becomes undefined.
// Prints one JSON line per op: {"op": i, "ok": true, "result": ...} or {"op": i, "ok": false, "error": "..."}.
// Errors of an op are never fatal; bad arguments or a missing install exit 2.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, opsPath] = process.argv.slice(2);
if (!dir || !opsPath) {
  console.error("usage: node run-ops.mjs <install-dir> <ops.json>");
  process.exit(2);
}
const baseUrl = process.env.QSTASH_URL;
const token = process.env.QSTASH_TOKEN;
if (!baseUrl || !token) {
  console.error("run-ops.mjs: QSTASH_URL and QSTASH_TOKEN must be set");
  process.exit(2);
}

// ESM ignores NODE_PATH: load the package's own ESM entry from <install-dir> by path.
const pkgDir = join(dir, "node_modules", "@upstash", "workflow");
let Client;
try {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const entry = pkg.exports?.["."]?.import ?? pkg.module;
  ({ Client } = await import(pathToFileURL(join(pkgDir, entry)).href));
} catch (e) {
  console.error(`run-ops.mjs: cannot load @upstash/workflow from ${dir} (run tools/upstash-sdk/setup.sh ${dir}): ${e.message}`);
  process.exit(2);
}

const revive = (v) => {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$date") return new Date(v.$date);
    if (keys.length === 1 && keys[0] === "$undefined") return undefined;
    return Object.fromEntries(keys.map((k) => [k, revive(v[k])]));
  }
  return v;
};

let ops;
try {
  ops = JSON.parse(readFileSync(opsPath, "utf8"));
} catch (e) {
  console.error(`run-ops.mjs: cannot read ${opsPath}: ${e.message}`);
  process.exit(2);
}
if (!Array.isArray(ops)) {
  console.error("run-ops.mjs: the ops file must hold a JSON array");
  process.exit(2);
}
// devMode: false, so a stray QSTASH_DEV never makes the SDK try to download its dev server.
const client = new Client({ baseUrl, token, devMode: false });
for (let i = 0; i < ops.length; i++) {
  let line;
  try {
    const result = await client.cancel(revive(ops[i]));
    line = { op: i, ok: true, result: result === undefined ? null : result };
  } catch (e) {
    line = { op: i, ok: false, error: String(e?.message ?? e) };
    if (e?.name) line.name = e.name;
    if (e?.status !== undefined) line.status = e.status;
  }
  process.stdout.write(JSON.stringify(line) + "\n");
}
