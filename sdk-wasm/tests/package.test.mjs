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
      case "acknowledge_batch": got = q.acknowledge(s.answer, s.now); break;
      case "adopt_cursor": got = q.adoptCursor(s.status) ?? null; break;
      case "rejected_fields":
        got = q.rejected().map((r) => ({ seq: r.envelope.seq, code: r.error.code, fields: (r.error.fields ?? []).map((f) => f.field) }));
        break;
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

test("a queue restored from a stale export catches up with the server's cursor", () => {
  // Server answers in the shape hearth_core::offline::apply_batch sends (BatchAnswer); the Rust
  // conformance case offline::offline_a_queue_restored_from_a_stale_export_catches_up produces the
  // same answers from a real server on every store.
  const now = "2026-06-01T12:00:00Z";
  const rename = (name) => ({ type: "update_profile", user_id: "0190f1a2-0000-7000-8000-00000000c1c1", input: { full_name: name } });
  const applied = (seqs, last) => ({
    results: seqs.map((seq) => ({ status: "applied", seq, result: {} })),
    cursor: { last_seq: last, last_outcome: { status: "applied", result: {} } },
  });
  const q = new OfflineQueue("0190f1a2-0000-7000-8000-0000000c1e02");
  q.enqueue(rename("One"), now);
  q.enqueue(rename("Two"), now);
  q.acknowledge(applied([1, 2], 2), now);
  const stale = q.export();
  q.enqueue(rename("Three"), now);
  q.enqueue(rename("Four"), now);
  q.acknowledge(applied([3, 4], 4), now);

  // Restored: new actions reuse 3 and 4; the server says seq 3 is another action's.
  const restored = OfflineQueue.import(stale);
  assert.equal(restored.enqueue(rename("Five"), now), 3);
  assert.equal(restored.enqueue(rename("Six"), now), 4);
  const mismatch = {
    results: [
      { status: "rejected", seq: 3, error: { code: "idempotency_mismatch", message: "seq 3 was recorded for a different action" } },
      { status: "retry_later", seq: 4, error: { code: "idempotency_mismatch", message: "renumber from the cursor" } },
    ],
    cursor: { last_seq: 4, last_outcome: { status: "applied", result: {} } },
  };
  const report = restored.acknowledge(mismatch, now);
  assert.deepEqual(report.renumbered, [[3, 5], [4, 6]]);
  assert.deepEqual(restored.peek(10).map((e) => e.seq), [5, 6]);
  assert.equal(restored.isDue(now), true);
  assert.deepEqual(restored.rejected(), []);
  assert.deepEqual(restored.acknowledge(applied([5, 6], 6), now).applied, [5, 6]);
  assert.equal(restored.pendingCount, 0);

  // Or ask the status call first: an empty restored queue numbers after the server's cursor.
  const again = OfflineQueue.import(stale);
  again.adoptCursor({ last_seq: 6 });
  assert.equal(again.enqueue(rename("Seven"), now), 7);
  assert.throws(() => again.adoptCursor("{\"last_seq\": -1}"), HearthError);
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
