// The UniFFI Kotlin bindings on the JVM (JNA) against the golden vectors and the queue.
// Run by scripts/mobile.sh: `java VectorsTestKt <vectors dir>`; exits non-zero on any mismatch.
import com.google.gson.JsonArray
import com.google.gson.JsonElement
import com.google.gson.JsonNull
import com.google.gson.JsonObject
import com.google.gson.JsonParser
import com.google.gson.JsonPrimitive
import java.io.File
import kotlin.system.exitProcess
import uniffi.hearth_mobile.*

var passed = 0
val failures = mutableListOf<String>()

fun check(name: String, expected: JsonElement, got: JsonElement) {
    if (normalize(expected) == normalize(got)) passed++ else failures.add("$name: expected $expected, got $got")
}

// Gson compares numbers by their text form: read both sides through the same parser.
fun normalize(e: JsonElement): JsonElement = JsonParser.parseString(e.toString())

fun fieldsJson(fields: List<FieldError>): JsonArray {
    val out = JsonArray()
    for (f in fields) {
        val o = JsonObject()
        o.addProperty("field", f.field)
        o.addProperty("code", f.code)
        for ((k, v) in JsonParser.parseString(f.paramsJson).asJsonObject.entrySet()) o.add(k, v)
        out.add(o)
    }
    return out
}

fun errorJson(e: HearthException): JsonObject {
    val o = JsonObject()
    when (e) {
        is HearthException.Validation -> { o.addProperty("code", "validation"); o.add("fields", fieldsJson(e.fields)) }
        is HearthException.Refused -> { o.addProperty("code", e.code); o.add("fields", JsonArray()) }
    }
    return o
}

fun vectors(dir: File, name: String): List<JsonObject> =
    JsonParser.parseString(File(dir, name).readText()).asJsonObject.getAsJsonArray("vectors").map { it.asJsonObject }

fun validateVectors(dir: File) {
    val vs = vectors(dir, "validate.json")
    for (v in vs) {
        val name = v["name"].asString
        val text = if (v.has("input_raw")) v["input_raw"].asString else v["input"].toString()
        val expect = v.getAsJsonObject("expect")
        try {
            val value = JsonParser.parseString(validate(v["input_type"].asString, text, v["now"].asString))
            check(name, expect["valid"], JsonPrimitive(true))
            if (expect.has("value")) check("$name (value)", expect["value"], value)
        } catch (e: HearthException.Validation) {
            check(name, expect["valid"], JsonPrimitive(false))
            if (expect.has("errors")) check("$name (errors)", expect["errors"], fieldsJson(e.fields))
        }
    }
    println("vectors: validate.json ${vs.size} passed (kotlin)")
}

fun availableVectors(dir: File) {
    val vs = vectors(dir, "available.json")
    for (v in vs) {
        val got = JsonObject()
        try {
            val arr = JsonArray()
            availableActions(v["facts"].toString(), v["actor"].toString()).forEach { arr.add(it) }
            got.add("actions", arr)
        } catch (e: HearthException) {
            got.add("error", errorJson(e))
        }
        check(v["name"].asString, v["expect"], got)
    }
    println("vectors: available.json ${vs.size} passed (kotlin)")
}

fun queueVectors(dir: File) {
    val vs = vectors(dir, "queue.json")
    for (v in vs) {
        var q = OfflineQueue(v["client_id"].asString)
        v.getAsJsonArray("steps").forEachIndexed { i, se ->
            val s = se.asJsonObject
            val op = s["op"].asString
            val got: JsonElement = when (op) {
                "enqueue" -> try {
                    JsonObject().apply { addProperty("seq", q.enqueue(s["action"].toString(), s["now"].asString).toLong()) }
                } catch (e: HearthException) {
                    JsonObject().apply { add("error", errorJson(e)) }
                }
                "peek" -> JsonArray().apply {
                    JsonParser.parseString(q.peek(s["max"].asInt.toUInt())).asJsonArray.forEach {
                        val env = it.asJsonObject
                        add(JsonObject().apply {
                            add("seq", env["seq"])
                            add("depends_on", env["depends_on"] ?: JsonArray())
                        })
                    }
                }
                "acknowledge" -> JsonParser.parseString(q.acknowledge(s["results"].toString(), s["now"].asString))
                "acknowledge_batch" -> JsonParser.parseString(q.acknowledge(s["answer"].toString(), s["now"].asString))
                "adopt_cursor" -> { q.adoptCursor(s["status"].toString()); JsonNull.INSTANCE }
                "rejected_fields" -> JsonArray().apply {
                    JsonParser.parseString(q.rejectedJson()).asJsonArray.forEach {
                        val r = it.asJsonObject
                        val error = r.getAsJsonObject("error")
                        add(JsonObject().apply {
                            add("seq", r.getAsJsonObject("envelope")["seq"])
                            add("code", error["code"])
                            add("fields", JsonArray().apply {
                                (error["fields"]?.asJsonArray ?: JsonArray()).forEach { f -> add(f.asJsonObject["field"]) }
                            })
                        })
                    }
                }
                "record_failure" -> JsonPrimitive(q.recordFailure(s["now"].asString))
                "is_due" -> JsonPrimitive(q.isDue(s["now"].asString))
                "pending_count" -> JsonPrimitive(q.pendingCount().toLong())
                "rejected" -> JsonArray().apply {
                    JsonParser.parseString(q.rejectedJson()).asJsonArray.forEach {
                        val r = it.asJsonObject
                        add(JsonObject().apply {
                            add("seq", r.getAsJsonObject("envelope")["seq"])
                            add("code", r.getAsJsonObject("error")["code"])
                        })
                    }
                }
                "dismiss_rejected" -> JsonPrimitive(q.dismissRejected(s["seq"].asLong.toULong()))
                "export_import" -> { q = OfflineQueue.importJson(q.exportJson()); JsonNull.INSTANCE }
                "import" -> try {
                    OfflineQueue.importJson(s["json"].asString)
                    JsonObject().apply { addProperty("ok", true) }
                } catch (e: HearthException) {
                    JsonObject().apply { add("error", errorJson(e)) }
                }
                else -> throw IllegalStateException("unknown op $op")
            }
            check("${v["name"].asString} step $i ($op)", s["expect"], got)
        }
    }
    println("vectors: queue.json ${vs.size} passed (kotlin)")
}

fun backoffVectors(dir: File) {
    val vs = vectors(dir, "backoff.json")
    for (v in vs) {
        val jitter = v["jitter"].asString.toULong()
        val got = if (v["kind"].asString == "backoff") {
            JsonPrimitive(backoffDelayMs(v["failures"].asLong.toUInt(), jitter).toLong())
        } else {
            JsonPrimitive(nextJitter(jitter).toString())
        }
        check(v["name"].asString, if (v.has("expect_ms")) v["expect_ms"] else v["expect"], got)
    }
    println("vectors: backoff.json ${vs.size} passed (kotlin)")
}

fun main(args: Array<String>) {
    val dir = File(args.getOrElse(0) { "vectors" })
    validateVectors(dir)
    availableVectors(dir)
    queueVectors(dir)
    backoffVectors(dir)
    try {
        OfflineQueue("not-a-uuid")
        failures.add("a bad client id must throw")
    } catch (e: HearthException.Validation) {
        check("typed error fields", JsonPrimitive("client_id"), JsonPrimitive(e.fields[0].field))
    }
    failures.forEach { System.err.println("FAIL $it") }
    println("kotlin: $passed passed, ${failures.size} failed")
    exitProcess(if (failures.isEmpty()) 0 else 1)
}
