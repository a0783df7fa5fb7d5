// The built npm package (sdk-wasm/pkg) under Node's test runner: every golden vector through the JS
// API, and the queue as a JavaScript caller uses it. Run by scripts/wasm.sh after the build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const hearth = require("../pkg/node/hearth.cjs");
const esm = await import("../pkg/node/hearth.mjs");
const { validate, availableActions, backoffDelayMs, nextJitter, OfflineQueue, HearthError } = hearth;
const vectors = (file) => JSON.parse(readFileSync(new URL(`../../vectors/${file}`, import.meta.url))).vectors;
const err = (e) => ({ code: e.code, fields: e.fields ?? [] });

test("validate.json", () => {
  const vs = vectors("validate.json");
  for (const v of vs) {
    const input = "input_raw" in v ? v.input_raw : JSON.stringify(v.input);
    const r = validate(v.input_type, input, v.now);
    assert.equal(r.ok, v.expect.valid, v.name);
    if (v.expect.errors) assert.deepEqual(r.errors, v.expect.errors, v.name);
    if ("value" in v.expect) assert.deepEqual(r.value, v.expect.value, v.name);
  }
  console.log(`vectors: validate.json ${vs.length} passed (node)`);
});

test("available.json", () => {
  const vs = vectors("available.json");
  for (const v of vs) {
    let got;
    try {
      got = { actions: availableActions(v.facts, v.actor) };
    } catch (e) {
      assert.ok(e instanceof HearthError, v.name);
      got = { error: err(e) };
    }
    assert.deepEqual(got, v.expect, v.name);
  }
  console.log(`vectors: available.json ${vs.length} passed (node)`);
});

function runQueue(v) {
  let q = new OfflineQueue(v.client_id);
  v.steps.forEach((s, i) => {
    const where = `${v.name}, step ${i} (${s.op})`;
    let got;
    switch (s.op) {
      case "enqueue":
        try {
          got = { seq: q.enqueue(s.action, s.now) };
        } catch (e) {
          assert.ok(e instanceof HearthError && e instanceof Error, where);
          got = { error: err(e) };
        }
        break;
      case "peek": got = q.peek(s.max).map((e) => ({ seq: e.seq, depends_on: e.depends_on ?? [] })); break;
      case "acknowledge": got = q.acknowledge(s.results, s.now); break;
      case "record_failure": got = q.recordFailure(s.now); break;
      case "is_due": got = q.isDue(s.now); break;
      case "pending_count": got = q.pendingCount; break;
      case "rejected": got = q.rejected().map((r) => ({ seq: r.envelope.seq, code: r.error.code })); break;
      case "dismiss_rejected": got = q.dismissRejected(s.seq); break;
      case "export_import": q = OfflineQueue.import(q.export()); got = null; break;
      case "import":
        try { OfflineQueue.import(s.json); got = { ok: true }; } catch (e) { got = { error: err(e) }; }
        break;
      default: assert.fail(`unknown op ${s.op}`);
    }
    assert.deepEqual(got, s.expect, where);
  });
}

test("queue.json", () => {
  const vs = vectors("queue.json");
  vs.forEach(runQueue);
  console.log(`vectors: queue.json ${vs.length} passed (node)`);
});

test("backoff.json", () => {
  const vs = vectors("backoff.json");
  for (const v of vs) {
    if (v.kind === "backoff") assert.equal(backoffDelayMs(v.failures, BigInt(v.jitter)), v.expect_ms, v.name);
    else assert.equal(nextJitter(BigInt(v.jitter)).toString(), v.expect, v.name);
  }
  console.log(`vectors: backoff.json ${vs.length} passed (node)`);
});

test("the ES module entry exports the same API", () => {
  assert.equal(esm.HearthError, HearthError);
  assert.equal(typeof esm.validate, "function");
  const r = esm.validate("rating", { score: 3 }, "2026-06-01T12:00:00Z");
  assert.deepEqual(r, { ok: true, value: 3 });
});

test("bad calls throw HearthError, never crash", () => {
  assert.throws(() => new OfflineQueue("nope"), (e) => e instanceof HearthError && e.code === "validation");
  assert.throws(() => validate("rating", {}, "not a time"), (e) => e instanceof HearthError && e.fields[0].field === "now");
  const q = new OfflineQueue("0190f1a2-0000-7000-8000-0000000c1e01");
  assert.throws(() => q.acknowledge("[{\"status\":\"bogus\"}]", "2026-06-01T12:00:00Z"), HearthError);
  assert.throws(() => OfflineQueue.import("\u0000"), HearthError);
  for (const junk of ["", "null", "[]", "{\"title\": {\"$gt\": 1}}", "\"x\"".repeat(1000)]) {
    const r = validate("service_request", junk, "2026-06-01T12:00:00Z");
    assert.equal(r.ok, false);
  }
});
