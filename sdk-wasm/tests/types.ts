// Type-checked by `tsc --noEmit` (scripts/wasm.sh): a TypeScript caller of the built package's declarations.
import type { ActionResult, AckReport, BatchAnswer, Envelope, FieldError, RequestAction, StreamStatus, ValidationResult } from "../pkg/hearth.js";
import { HearthError, OfflineQueue, availableActions, validate } from "../pkg/hearth.js";

const now: string = "2026-06-01T12:00:00Z";
const r: ValidationResult = validate("service_request", { title: "Fix" }, now);
if (!r.ok) {
  const first: FieldError | undefined = r.errors[0];
  const code: string | undefined = first?.code;
  void code;
} else {
  const value: unknown = r.value;
  void value;
}
const actions: RequestAction[] = availableActions({ status: "pending", civilian_id: "c" }, { kind: "anonymous" });
const q = new OfflineQueue("0190f1a2-0000-7000-8000-0000000c1e01");
const seq: number = q.enqueue({ type: "update_profile", user_id: "u", input: { full_name: "Ada" } }, now);
const batch: Envelope[] = q.peek(50);
const answers: ActionResult[] = batch.map((e) => ({ status: "applied", seq: e.seq, result: null }));
const report: AckReport = q.acknowledge(answers, now);
const retryAt: string | null = report.next_attempt_at;
const status: StreamStatus = { last_seq: 2 };
const answer: BatchAnswer = { results: answers, cursor: status };
const renumbered: [number, number][] | undefined = q.acknowledge(answer, now).renumbered;
q.adoptCursor(status);
void renumbered;
try {
  q.enqueue({ type: "service_request", request_id: "r", action: "rate", score: 9 }, now);
} catch (e) {
  if (e instanceof HearthError) {
    const fields: FieldError[] = e.fields;
    void fields;
  }
}
void actions; void seq; void retryAt;
