// validate("service_request", …) from the built npm package (sdk-wasm/pkg) against a Zod schema of the
// same HomeHeroes §3 rules, in one Node process (issue 11). Never asserts a timing.
//
//   node sdk-wasm/bench/validate.mjs [rounds] [batches] [calls-per-batch]
//   node sdk-wasm/bench/validate.mjs --smoke     (a few calls of each, checks the answers agree)
//
// Each round times, in alternating order, hearth and Zod on the valid and on the invalid input:
// `batches` batches of `calls` calls each; a round's figure is the median batch time / calls (µs per
// call). The summary is the median over rounds. Warmup first (JIT, wasm tier-up).
//
// What the Zod schema does NOT express of hearth's rules (hearth_core::validate, homeheroes::input):
//   - text cleaning before the length checks: NFC, markup removal (`<b>`, `<script>…</script>`),
//     control/format/invisible characters removed, bare combining marks dropped, joiners kept only
//     between visible characters, single-line white space folded, trailing spaces per line trimmed;
//   - lengths in Unicode scalar values (Zod counts UTF-16 code units) and the minimum in *visible*
//     characters (ZWJ, variation selectors … do not count);
//   - the 64 KiB raw-text guard; `required` for white-space/control-only text (Zod: too_small);
//   - the camelCase aliases (`zipCode`, `lat`, `lng`, `scheduledDate`, `estimatedDuration`,
//     `budgetRange`) and amounts given as decimal strings ("50.00"): this schema takes numbers only;
//   - exact decimal money (hearth: rust_decimal; Zod: binary floats with `multipleOf`), and the
//     cleaned value's shape (`scheduled_at`, `budget.{min,max}.{amount,currency}`, amounts at scale);
//   - the stable error codes and `field` paths (Zod's issues have its own codes and path arrays).
// It does express: required fields, types, the category enum, title 5–100 / description 10–1000 /
// address 1–200 / city, state 1–100 / zip 2–12 [A-Za-z0-9 -] after trimming, refusal of bidi
// controls, latitude/longitude ranges (finite), a future RFC 3339 date, duration 1–24 whole hours,
// a known currency, budget > 0, ≤ 1,000,000, no finer than the currency's minor unit, max ≥ min.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { validate } = require(join(here, "../pkg/node/hearth.cjs"));
const { z } = require(join(here, "../../tools/node_modules/zod"));

const NOW = "2026-06-01T12:00:00Z";
let nowMs = Date.parse(NOW);

const MINOR_UNITS = {
  AED: 2, AUD: 2, BHD: 3, CAD: 2, CHF: 2, EGP: 2, EUR: 2, GBP: 2, INR: 2, JPY: 0, KWD: 3, MAD: 2, SAR: 2, SGD: 2, USD: 2,
};
const noBidi = /^[^\u202A-\u202E\u2066-\u2069]*$/;
const text = (min, max) => z.string().regex(noBidi).trim().min(min).max(max);
const money = z.number().positive().max(1_000_000);
const decimals = (x) => {
  const s = String(x);
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
};

const serviceRequest = z.object({
  title: text(5, 100),
  description: text(10, 1000),
  category: z.enum(["cleaning", "repairs", "delivery", "tutoring", "other"]),
  location: z.object({
    address: text(1, 200),
    city: text(1, 100),
    state: text(1, 100),
    zip_code: text(2, 12).regex(/^[A-Za-z0-9 -]+$/),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
  }),
  scheduled_date: z.iso
    .datetime({ offset: true })
    .refine((s) => Date.parse(s) > nowMs, { message: "must be in the future" }),
  estimated_duration: z.number().int().min(1).max(24),
  budget_range: z
    .object({ min: money, max: money, currency: z.enum(Object.keys(MINOR_UNITS)) })
    .superRefine((b, ctx) => {
      const unit = MINOR_UNITS[b.currency];
      for (const k of ["min", "max"]) {
        if (decimals(b[k]) > unit) ctx.addIssue({ code: "custom", path: [k], message: "too precise" });
      }
      if (b.max < b.min) ctx.addIssue({ code: "custom", path: ["max"], message: "less than min" });
    }),
});

// The inputs: the golden vectors' valid sample, and one with an error in most fields.
const valid = {
  title: "Fix the kitchen sink",
  description: "The kitchen sink leaks under the cabinet.",
  category: "repairs",
  location: {
    address: "12 Elm Street",
    city: "Springfield",
    state: "IL",
    zip_code: "62701",
    latitude: 39.7817,
    longitude: -89.6501,
  },
  scheduled_date: "2026-06-03T09:00:00Z",
  estimated_duration: 2,
  budget_range: { min: 50, max: 120, currency: "USD" },
};
const invalid = {
  title: "Fix",
  description: "The kitchen sink leaks under the cabinet.",
  category: "plumbing",
  location: { address: "12 Elm Street", city: "", state: "IL", zip_code: "62#01", latitude: 95, longitude: -89.6501 },
  scheduled_date: "2026-05-01T09:00:00Z",
  estimated_duration: 30,
  budget_range: { min: 120, max: 50, currency: "USD" },
};

const hearthCall = (input) => validate("service_request", input, NOW);
const zodCall = (input) => {
  const r = serviceRequest.safeParse(input);
  // Touch what a caller reads: the value, or the issues (Zod builds its error object lazily).
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: r.error.issues };
};

function check() {
  const hv = hearthCall(valid);
  const zv = zodCall(valid);
  const hi = hearthCall(invalid);
  const zi = zodCall(invalid);
  const problems = [];
  if (!hv.ok) problems.push(`hearth refuses the valid input: ${JSON.stringify(hv.errors)}`);
  if (!zv.ok) problems.push(`zod refuses the valid input: ${JSON.stringify(zv.errors)}`);
  if (hi.ok) problems.push("hearth accepts the invalid input");
  if (zi.ok) problems.push("zod accepts the invalid input");
  const hf = hi.ok ? [] : hi.errors.map((e) => e.field).sort();
  const zf = zi.ok ? [] : zi.errors.map((e) => e.path.join(".")).sort();
  if (JSON.stringify(hf) !== JSON.stringify(zf)) problems.push(`fields differ: hearth ${hf} / zod ${zf}`);
  return { problems, hearthErrors: hf.length, zodErrors: zf.length };
}

let sink = 0;
function timeBatch(fn, input, calls) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += fn(input).ok ? 1 : 0;
  return Number(process.hrtime.bigint() - t0) / 1000 / calls;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function measure(fn, input, batches, calls) {
  const per = [];
  for (let b = 0; b < batches; b++) per.push(timeBatch(fn, input, calls));
  return median(per);
}

const args = process.argv.slice(2);
const { problems, hearthErrors, zodErrors } = check();
if (problems.length) {
  console.error(`validate bench: the two validators disagree:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
if (args[0] === "--smoke") {
  for (const [fn, input] of [[hearthCall, valid], [zodCall, valid], [hearthCall, invalid], [zodCall, invalid]]) {
    measure(fn, input, 2, 5);
  }
  console.log(`validate bench smoke: hearth and zod agree (valid; invalid with ${hearthErrors} field errors)`);
  process.exit(0);
}

const rounds = Number(args[0] ?? 5);
const batches = Number(args[1] ?? 41);
const calls = Number(args[2] ?? 200);
const cases = [
  ["hearth", "valid", hearthCall, valid],
  ["zod", "valid", zodCall, valid],
  ["hearth", "invalid", hearthCall, invalid],
  ["zod", "invalid", zodCall, invalid],
];
console.log(
  `validate("service_request") vs zod ${require(join(here, "../../tools/node_modules/zod/package.json")).version}, ` +
    `node ${process.version}; invalid input: ${hearthErrors} field errors (zod: ${zodErrors}); ` +
    `${rounds} rounds × ${batches} batches × ${calls} calls, median µs/call`,
);
for (const [, , fn, input] of cases) measure(fn, input, 20, calls); // warmup
const results = Object.fromEntries(cases.map(([who, what]) => [`${who} ${what}`, []]));
for (let r = 0; r < rounds; r++) {
  // Alternate the order each round so neither side always runs first.
  const order = r % 2 ? [...cases].reverse() : cases;
  for (const [who, what, fn, input] of order) results[`${who} ${what}`].push(measure(fn, input, batches, calls));
}
const fmt = (x) => x.toFixed(2);
for (const what of ["valid", "invalid"]) {
  const h = results[`hearth ${what}`];
  const zz = results[`zod ${what}`];
  console.log(
    `${what.padEnd(7)} hearth ${h.map(fmt).join(" ")} | zod ${zz.map(fmt).join(" ")} | ` +
      `median hearth ${fmt(median(h))} µs, zod ${fmt(median(zz))} µs, hearth/zod ${(median(h) / median(zz)).toFixed(2)}×`,
  );
}
if (sink < 0) console.log(sink);
