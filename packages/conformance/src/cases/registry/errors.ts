/**
 * The typed errors as a caller meets them: stable tags, the fields needed to act on them, `Error` instances,
 * and messages that name the registry, field, operator and value as applicable.
 */
import assert from "node:assert/strict"
import {
  Artifact,
  DoesNotExist,
  Feature,
  InvalidQuery,
  MultipleObjectsReturned,
  ProtectedRecord,
  Run,
  StoreError,
  Transform,
  UniqueViolation,
  ValidationError
} from "@lineage/core"
import type { Case } from "../../Case.js"
import { newRun, newTransform, registryCase, type Session } from "./support.js"

const group = "domain errors"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

export const errors: ReadonlyArray<Case> = [
  c("DoesNotExist: tag, registry, query, hint and message", async (s) => {
    const e = await s.fail(Feature.get("Abc123"), "DoesNotExist")
    assert.ok(e instanceof DoesNotExist && e instanceof Error)
    assert.equal(e.registry, "Feature")
    assert.match(e.query, /Abc123/)
    assert.match(e.message, /^No Feature matches/)
    assert.match(e.message, /Abc123/)
    assert.match(e.message, /Feature\.get\(\{ name: 'Abc123' \}\)/)
    const byId = await s.fail(Feature.get(77), "DoesNotExist")
    assert.match(byId.message, /77/)
    const byExpr = await s.fail(Feature.get({ name: "missing-name" }), "DoesNotExist")
    assert.match(byExpr.message, /missing-name/)
  }),
  c("MultipleObjectsReturned: tag, registry, count and message", async (s) => {
    const t = await newTransform(s)
    for (let i = 0; i < 4; i++) await newRun(s, t, { name: "dup" })
    const e = await s.fail(Run.get({ name: "dup" }), "MultipleObjectsReturned")
    assert.ok(e instanceof MultipleObjectsReturned && e instanceof Error)
    assert.equal(e.registry, "Run")
    assert.equal(e.count, 4)
    assert.match(e.message, /^4 Run records match/)
    assert.match(e.message, /dup/)
  }),
  c("InvalidQuery: names registry, field, operator and value", async (s) => {
    // @ts-expect-error invalid on purpose
    const e = await s.fail(Artifact.filter({ size__icontains: "12" }).all(), "InvalidQuery")
    assert.ok(e instanceof InvalidQuery && e instanceof Error)
    assert.equal(e.registry, "Artifact")
    assert.equal(e.field, "size")
    assert.equal(e.operator, "icontains")
    assert.equal(e.value, "12")
    assert.match(e.message, /Artifact/)
    assert.match(e.message, /"size"/)
    assert.match(e.message, /icontains/)
    assert.match(e.message, /"12"/)
    // @ts-expect-error invalid on purpose
    const unknown = await s.fail(Transform.filter({ colour: "red" }).all(), "InvalidQuery")
    assert.match(unknown.message, /colour/)
    assert.match(unknown.message, /key/, "the message lists the available fields")
  }),
  c("InvalidQuery for an invalid Date has a readable message", async (s) => {
    const e = await s.fail(Run.filter({ startedAt: new Date(Number.NaN) }).all(), "InvalidQuery")
    assert.equal(e.field, "startedAt")
    assert.match(e.message, /startedAt/)
    assert.match(e.message, /Invalid Date|NaN|invalid/i)
  }),
  c("UniqueViolation: names constraint, fields and values in its message", async (s) => {
    await s.run(Transform.create({ key: "k", version: "1.0" }))
    const e = await s.fail(Transform.create({ key: "k", version: "1.0" }), "UniqueViolation")
    assert.ok(e instanceof UniqueViolation && e instanceof Error)
    assert.match(e.message, /transform_key_version/)
    assert.match(e.message, /key="k"/)
    assert.match(e.message, /versionTag="1\.0"/)
    assert.match(e.message, /Transform/)
  }),
  c("ValidationError: names registry, field, value and expectation", async (s) => {
    // @ts-expect-error invalid on purpose
    const e = await s.fail(Feature.create({ name: "f", dtype: 3 }), "ValidationError")
    assert.ok(e instanceof ValidationError && e instanceof Error)
    assert.equal(e.registry, "Feature")
    assert.equal(e.field, "dtype")
    assert.equal(e.value, 3)
    assert.match(e.message, /Feature\.dtype/)
    assert.match(e.message, /got 3/)
    assert.match(e.message, /expected/)
  }),
  c("ProtectedRecord: names registry, uid and the reason", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    const a = await s.run(Artifact.create({ key: "out", runId: r.id }))
    const e = await s.fail(Run.delete(r, { permanent: true }), "ProtectedRecord")
    assert.ok(e instanceof ProtectedRecord && e instanceof Error)
    assert.match(e.message, new RegExp(`Cannot delete Run ${r.uid}`))
    assert.match(e.reason, new RegExp(a.uid), "the reason names a protecting record")
  }),
  c("a deleted record's reload is DoesNotExist, and updating it is a StoreError", async (s) => {
    const t = await newTransform(s)
    const r = await newRun(s, t)
    await s.run(Run.delete(r, { permanent: true }))
    const e = await s.fail(Run.reload(r), "DoesNotExist")
    assert.match(e.message, new RegExp(String(r.id)))
    const u = await s.fail(Run.update(r, { name: "ghost" }), "StoreError")
    assert.ok(u instanceof StoreError)
    assert.equal(u.reason._tag, "NotFound")
    assert.equal(u.isRetryable, false)
    assert.equal((await s.persistedAll("run")).length, 0, "an update of a deleted record must not recreate it")
  })
]
