/**
 * The domain's unique constraints hold through the registries: a duplicate is a `UniqueViolation` naming the
 * constraint, its fields and values, and leaves the store as it was; `null` is not constrained.
 */
import assert from "node:assert/strict"
import { Artifact, Feature, Project, Transform, ULabel, User } from "@lineage/core"
import { Effect, Result } from "effect"
import type { Case } from "../../Case.js"
import { latestOf, registryCase, type Session } from "./support.js"

const group = "constraints"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

export const constraints: ReadonlyArray<Case> = [
  c("Transform (key, version) duplicate: UniqueViolation transform_key_version, head untouched", async (s) => {
    const head = await s.run(Transform.create({ key: "Cell Ranger", version: "7.2.0" }))
    const e = await s.fail(Transform.create({ key: "Cell Ranger", version: "7.2.0" }), "UniqueViolation")
    assert.equal(e.registry, "Transform")
    assert.equal(e.constraint, "transform_key_version")
    assert.deepStrictEqual(e.fields, ["key", "versionTag"])
    assert.deepStrictEqual(e.values, ["Cell Ranger", "7.2.0"])
    const all = await s.persistedAll("transform")
    assert.equal(all.length, 1)
    assert.equal(all[0]!["isLatest"], true, "a failed new version must not demote the head")
    assert.deepStrictEqual(await s.run(Transform.get(head.id)), head)
  }),
  c("Feature name duplicate is a UniqueViolation on feature_name", async (s) => {
    await s.run(Feature.create({ name: "lr", dtype: "float" }))
    const e = await s.fail(Feature.create({ name: "lr", dtype: "int" }), "UniqueViolation")
    assert.equal(e.registry, "Feature")
    assert.equal(e.constraint, "feature_name")
    assert.deepStrictEqual(e.fields, ["name"])
    assert.deepStrictEqual(e.values, ["lr"])
    assert.equal((await s.run(Feature.get({ name: "lr" }))).dtype, "float")
    assert.equal((await s.persistedAll("feature")).length, 1)
  }),
  c("ULabel and Project names, User handles are unique", async (s) => {
    await s.run(ULabel.create({ name: "liver" }))
    const u = await s.fail(ULabel.create({ name: "liver" }), "UniqueViolation")
    assert.equal(u.constraint, "ulabel_name")
    await s.run(Project.create({ name: "Atlas" }))
    const p = await s.fail(Project.create({ name: "Atlas" }), "UniqueViolation")
    assert.equal(p.constraint, "project_name")
    await s.run(User.create({ handle: "ada" }))
    const h = await s.fail(User.create({ handle: "ada", name: "Other Ada" }), "UniqueViolation")
    assert.equal(h.registry, "User")
    assert.equal(h.constraint, "user_handle")
    assert.deepStrictEqual(h.values, ["ada"])
    assert.equal((await s.persistedAll("user")).length, 1)
  }),
  c("uniqueness is exact: case and unicode forms differ", async (s) => {
    await s.run(Feature.create({ name: "lr", dtype: "float" }))
    await s.run(Feature.create({ name: "LR", dtype: "float" }))
    await s.run(Feature.create({ name: "lr ", dtype: "float" }))
    await s.run(Feature.create({ name: "é", dtype: "float" }))
    await s.run(Feature.create({ name: "e\u0301", dtype: "float" }))
    assert.equal(await s.run(Feature.filter().count()), 5)
  }),
  c("null values are not constrained: many (key, null) Transforms and (null, null) Artifacts", async (s) => {
    for (let i = 0; i < 3; i++) await s.run(Transform.create({ key: "same" }))
    for (let i = 0; i < 3; i++) await s.run(Artifact.create({ description: `no key ${i}` }))
    assert.equal((await s.persistedAll("transform")).length, 3)
    assert.equal((await s.persistedAll("artifact")).length, 3)
    assert.equal(await s.run(Transform.filter({ key: "same", isLatest: true }).count()), 1)
  }),
  c("a key has one latest version: a second family for the same key is refused", async (s) => {
    await s.run(Transform.create({ key: "same", uid: "AAAAAAAAAAAA0000" }))
    const e = await s.fail(Transform.create({ key: "same", uid: "BBBBBBBBBBBB0000" }), "UniqueViolation")
    assert.equal(e.constraint, "transform_latest_key")
    assert.equal((await s.persistedAll("transform")).length, 1)
  }),
  c("an update into a duplicate is a UniqueViolation and changes nothing", async (s) => {
    await s.run(Feature.create({ name: "a", dtype: "int" }))
    const b = await s.run(Feature.create({ name: "b", dtype: "int" }))
    const e = await s.fail(Feature.update(b, { name: "a" }), "UniqueViolation")
    assert.equal(e.constraint, "feature_name")
    assert.deepStrictEqual(await s.run(Feature.get(b.id)), b)
    assert.equal((await s.persisted("feature", b.id))?.["name"], "b")
  }),
  c("a trashed record still holds its unique value; a permanently deleted one frees it", async (s) => {
    const f = await s.run(Feature.create({ name: "x", dtype: "int" }))
    await s.run(Feature.delete(f))
    await s.fail(Feature.create({ name: "x", dtype: "int" }), "UniqueViolation")
    await s.run(Feature.delete(f, { permanent: true }))
    const again = await s.run(Feature.create({ name: "x", dtype: "int" }))
    assert.notEqual(again.id, f.id)
  }),
  c("concurrent creates of one name: exactly one succeeds, the others are UniqueViolations", async (s) => {
    const results = await s.run(
      Effect.all(
        Array.from({ length: 12 }, (_, i) => Effect.result(ULabel.create({ name: "race", description: `${i}` }))),
        { concurrency: "unbounded" }
      )
    )
    const ok = results.filter(Result.isSuccess)
    const failed = results.filter(Result.isFailure)
    assert.equal(ok.length, 1)
    for (const f of failed) assert.equal(f.failure._tag, "UniqueViolation")
    assert.equal((await s.persistedAll("ulabel")).length, 1)
  }),
  c("concurrent creates of one (key, version): one record, one latest", async (s) => {
    const results = await s.run(
      Effect.all(
        Array.from({ length: 10 }, () => Effect.result(Transform.create({ key: "race", version: "1" }))),
        { concurrency: "unbounded" }
      )
    )
    assert.equal(results.filter(Result.isSuccess).length, 1)
    for (const f of results.filter(Result.isFailure)) assert.equal(f.failure._tag, "UniqueViolation")
    const all = await s.run(Transform.filter({ key: "race" }).all())
    assert.equal(all.length, 1)
    assert.equal(latestOf(all).length, 1)
  }),
  c("a live-only unique name binds live records only, on update as on create", async (s) => {
    const trashed = await s.run(ULabel.create({ name: "old" }))
    await s.run(ULabel.delete(trashed))
    const live = await s.run(ULabel.create({ name: "live" }))
    const renamed = await s.run(ULabel.update(await s.run(ULabel.create({ name: "other" })), { name: "old" }))
    assert.equal(renamed.name, "old", "a trashed label's name is free")
    const e = await s.fail(ULabel.update(renamed, { name: "live" }), "UniqueViolation")
    assert.equal(e.constraint, "ulabel_name")
    assert.deepStrictEqual(e.fields, ["name"])
    assert.match(e.message, /A ULabel with name="live" already exists \(unique constraint "ulabel_name"\)/)
    assert.equal((await s.persisted("ulabel", renamed.id))?.["name"], "old")
    assert.equal((await s.run(ULabel.get(live.id))).name, "live")
  }),
  c("a trashed feature keeps its name: creating it again is refused, saying the holder is in the trash", async (s) => {
    const f = await s.run(Feature.create({ name: "x", dtype: "int" }))
    await s.run(Feature.delete(f))
    const e = await s.fail(Feature.create({ name: "x", dtype: "float" }), "UniqueViolation")
    assert.equal(e.constraint, "feature_name")
    assert.deepStrictEqual(e.fields, ["name"])
    assert.match(e.message, new RegExp(`Feature ${f.uid} in the trash holds it`))
    const again = await s.fail(Feature.getOrCreate({ name: "x" }, { dtype: "float" }), "UniqueViolation")
    assert.match(again.message, /in the trash/)
    assert.equal((await s.persistedAll("feature")).length, 1)
  })
]
