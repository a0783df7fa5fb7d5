"""The UniFFI Python bindings against the golden vectors and the queue (run by scripts/mobile.sh)."""
import json
import pathlib
import unittest

import hearth_mobile as h

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "vectors"


def vectors(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"]


def fields(err):
    return [dict(field=f.field, code=f.code, **json.loads(f.params_json)) for f in err.fields]


def error_json(e):
    if isinstance(e, h.HearthError.Validation):
        return {"code": "validation", "fields": fields(e)}
    return {"code": e.code, "fields": []}


class Vectors(unittest.TestCase):
    def test_validate(self):
        vs = vectors("validate.json")
        for v in vs:
            text = v["input_raw"] if "input_raw" in v else json.dumps(v["input"], ensure_ascii=False)
            with self.subTest(v["name"]):
                try:
                    value = json.loads(h.validate(v["input_type"], text, v["now"]))
                    got = {"valid": True, "value": value}
                except h.HearthError.Validation as e:
                    got = {"valid": False, "errors": fields(e)}
                self.assertEqual(got["valid"], v["expect"]["valid"])
                if "errors" in v["expect"]:
                    self.assertEqual(got["errors"], v["expect"]["errors"])
                if "value" in v["expect"]:
                    self.assertEqual(got["value"], v["expect"]["value"])
        print(f"vectors: validate.json {len(vs)} passed (python)")

    def test_available(self):
        vs = vectors("available.json")
        for v in vs:
            with self.subTest(v["name"]):
                try:
                    got = {"actions": h.available_actions(json.dumps(v["facts"]), json.dumps(v["actor"]))}
                except h.HearthError as e:
                    got = {"error": error_json(e)}
                self.assertEqual(got, v["expect"])
        print(f"vectors: available.json {len(vs)} passed (python)")

    def test_queue(self):
        vs = vectors("queue.json")
        for v in vs:
            q = h.OfflineQueue(v["client_id"])
            for i, s in enumerate(v["steps"]):
                op = s["op"]
                with self.subTest(f'{v["name"]} step {i} ({op})'):
                    if op == "enqueue":
                        try:
                            got = {"seq": q.enqueue(json.dumps(s["action"]), s["now"])}
                        except h.HearthError as e:
                            got = {"error": error_json(e)}
                    elif op == "peek":
                        got = [{"seq": e["seq"], "depends_on": e.get("depends_on", [])} for e in json.loads(q.peek(s["max"]))]
                    elif op == "acknowledge":
                        got = json.loads(q.acknowledge(json.dumps(s["results"]), s["now"]))
                    elif op == "acknowledge_batch":
                        got = json.loads(q.acknowledge(json.dumps(s["answer"]), s["now"]))
                    elif op == "adopt_cursor":
                        got = q.adopt_cursor(json.dumps(s["status"]))
                    elif op == "rejected_fields":
                        got = [
                            {"seq": r["envelope"]["seq"], "code": r["error"]["code"], "fields": [f["field"] for f in r["error"].get("fields", [])]}
                            for r in json.loads(q.rejected_json())
                        ]
                    elif op == "record_failure":
                        got = q.record_failure(s["now"])
                    elif op == "is_due":
                        got = q.is_due(s["now"])
                    elif op == "pending_count":
                        got = q.pending_count()
                    elif op == "rejected":
                        got = [{"seq": r["envelope"]["seq"], "code": r["error"]["code"]} for r in json.loads(q.rejected_json())]
                    elif op == "dismiss_rejected":
                        got = q.dismiss_rejected(s["seq"])
                    elif op == "export_import":
                        q = h.OfflineQueue.import_json(q.export_json())
                        got = None
                    elif op == "import":
                        try:
                            h.OfflineQueue.import_json(s["json"])
                            got = {"ok": True}
                        except h.HearthError as e:
                            got = {"error": error_json(e)}
                    else:
                        self.fail(f"unknown op {op}")
                    self.assertEqual(got, s["expect"])
        print(f"vectors: queue.json {len(vs)} passed (python)")

    def test_backoff(self):
        vs = vectors("backoff.json")
        for v in vs:
            with self.subTest(v["name"]):
                if v["kind"] == "backoff":
                    self.assertEqual(h.backoff_delay_ms(v["failures"], int(v["jitter"])), v["expect_ms"])
                else:
                    self.assertEqual(str(h.next_jitter(int(v["jitter"]))), v["expect"])
        print(f"vectors: backoff.json {len(vs)} passed (python)")

    def test_errors_are_typed(self):
        with self.assertRaises(h.HearthError.Validation) as cm:
            h.OfflineQueue("not-a-uuid")
        self.assertEqual(cm.exception.fields[0].field, "client_id")
        self.assertEqual(json.loads(cm.exception.fields[0].params_json), {"expected": "uuid"})


if __name__ == "__main__":
    unittest.main()
