/**
 * Versioned registries: a record created with an existing key is the family's next version, with the same
 * stem, the next base62 suffix (trash included) and `isLatest` moved so that exactly one version is latest,
 * also under concurrent writers.
 */
import assert from "node:assert/strict"
import { Artifact, Transform } from "@lineage/core"
import { Effect, Result } from "effect"
import type { Case } from "../../Case.js"
import { latestOf, registryCase, type Session } from "./support.js"

const group = "versioning"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

const family = (s: Session, key: string) => s.run(Transform.filter({ key, branchId: { in: [1, -1] } }).orderBy("uid").all())

export const versioning: ReadonlyArray<Case> = [
  c("a second create with a key is the next version: same stem, suffix 0001, latest moved", async (s) => {
    const v0 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v1 = await s.run(Transform.create({ key: "k", version: "2" }))
    const v2 = await s.run(Transform.create({ key: "k" }))
    assert.equal(v0.uid.slice(12), "0000")
    assert.equal(v1.uid, v0.uid.slice(0, 12) + "0001")
    assert.equal(v2.uid, v0.uid.slice(0, 12) + "0002")
    assert.equal(v2.isLatest, true)
    assert.equal((await s.run(Transform.reload(v0))).isLatest, false)
    assert.equal((await s.run(Transform.reload(v1))).isLatest, false)
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v2.uid])
    assert.equal((await s.persisted("transform", v1.id))?.["isLatest"], false)
    assert.equal((await s.persisted("transform", v2.id))?.["isLatest"], true)
  }),
  c("suffixes count up in base62: 0009 is followed by 000A", async (s) => {
    const made = []
    for (let i = 0; i < 12; i++) made.push(await s.run(Transform.create({ key: "many", version: `v${i}` })))
    assert.deepStrictEqual(
      made.map((t) => t.uid.slice(12)),
      ["0000", "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "000A", "000B"]
    )
    assert.equal(new Set(made.map((t) => t.uid.slice(0, 12))).size, 1)
    assert.deepStrictEqual(latestOf(await family(s, "many")), [made[11]!.uid])
  }),
  c("a filter for isLatest shows exactly one version per family", async (s) => {
    for (const key of ["a", "b"]) for (let i = 0; i < 3; i++) await s.run(Transform.create({ key, version: `${i}` }))
    const latest = await s.run(Transform.filter({ isLatest: true }).orderBy("key").all())
    assert.deepStrictEqual(latest.map((t) => [t.key, t.version]), [["a", "2"], ["b", "2"]])
    assert.equal(await s.run(Transform.filter({ isLatest: false }).count()), 4)
  }),
  c("the suffix counts trashed versions too", async (s) => {
    const v0 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v1 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v1))
    const v2 = await s.run(Transform.create({ key: "k", version: "3" }))
    assert.equal(v2.uid, v0.uid.slice(0, 12) + "0002")
    assert.deepStrictEqual(latestOf(await family(s, "k")), [v2.uid])
  }),
  c("an explicit duplicate version is a UniqueViolation and the family is unchanged", async (s) => {
    await s.run(Transform.create({ key: "k", version: "1" }))
    const head = await s.run(Transform.create({ key: "k", version: "2" }))
    const before = await s.persistedAll("transform")
    const e = await s.fail(Transform.create({ key: "k", version: "1" }), "UniqueViolation")
    assert.equal(e.constraint, "transform_key_version")
    assert.deepStrictEqual(await s.persistedAll("transform"), before)
    assert.deepStrictEqual(latestOf(await family(s, "k")), [head.uid])
  }),
  c("concurrent revisions of a family all succeed with distinct suffixes and one latest", async (s) => {
    const v0 = await s.run(Transform.create({ key: "hot", version: "0" }))
    const made = await s.run(
      Effect.all(
        Array.from({ length: 10 }, (_, i) => Transform.create({ key: "hot", version: `${i + 1}` })),
        { concurrency: "unbounded" }
      )
    )
    const all = await family(s, "hot")
    assert.equal(all.length, 11)
    assert.equal(new Set(all.map((t) => t.uid)).size, 11)
    assert.ok(all.every((t) => t.uid.startsWith(v0.uid.slice(0, 12))), `every revision keeps the stem ${v0.uid.slice(0, 12)}: ${all.map((t) => t.uid).join(", ")}`)
    assert.deepStrictEqual(
      all.map((t) => t.uid.slice(12)),
      ["0000", "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "000A"]
    )
    assert.equal(latestOf(all).length, 1, `latest: ${latestOf(all).join(", ")}`)
    assert.equal(made.length, 10)
  }),
  c("concurrent creates of a new key form one family with one latest", async (s) => {
    const results = await s.run(
      Effect.all(
        Array.from({ length: 8 }, (_, i) => Effect.result(Transform.create({ key: "fresh", version: `${i}` }))),
        { concurrency: "unbounded" }
      )
    )
    assert.ok(results.every(Result.isSuccess))
    const all = await family(s, "fresh")
    assert.equal(all.length, 8)
    assert.equal(new Set(all.map((t) => t.uid.slice(0, 12))).size, 1, "racing creators of one key must share a stem")
    assert.equal(latestOf(all).length, 1)
  }),
  c("while the latest version is being moved, a writer that saw no family cannot start a second one", async (s) => {
    const v0 = await s.run(Transform.create({ key: "k", version: "1" }))
    // A store without transactions demotes the head, then inserts its successor: between the two writes no
    // version holds the key's latest claim, and a writer that looked before v0 existed believes the key is new.
    await s.run(s.store.update(Transform.entity, v0, { isLatest: false }))
    const e = await s.fail(Transform.create({ key: "k", version: "2" }, { revise: false }), "UniqueViolation")
    assert.equal(e.constraint, "transform_family_key")
    assert.equal((await s.persistedAll("transform")).length, 1)
    await s.run(s.store.update(Transform.entity, v0, { isLatest: true }))
    const v1 = await s.run(Transform.create({ key: "k", version: "2" }))
    assert.equal(v1.uid, v0.uid.slice(0, 12) + "0001")
  }),
  c("a trashed first version frees the key for a new family; restoring it then is refused", async (s) => {
    const v0 = await s.run(Transform.create({ key: "k", version: "1" }))
    await s.run(Transform.delete(v0))
    const fresh = await s.run(Transform.create({ key: "k", version: "2" }))
    const e = await s.fail(Transform.restore(v0), "UniqueViolation")
    assert.ok(["transform_family_key", "transform_latest_key"].includes(e.constraint), e.constraint)
    assert.equal((await s.run(Transform.reload(v0))).branchId, -1)
    assert.deepStrictEqual(latestOf(await family(s, "k")), [fresh.uid])
  }),
  c("an update through a stale copy changes only what it names: a trashed version does not take the key back", async (s) => {
    const v0 = await s.run(Transform.create({ key: "k", version: "1" }))
    const v1 = await s.run(Transform.create({ key: "k", version: "2" }))
    await s.run(Transform.delete(v0))
    // `v0` still says it is live and latest; the update must not write claims from that.
    const updated = await s.run(Transform.update(v0, { description: "note" }))
    assert.equal(updated.branchId, -1)
    assert.equal(updated.description, "note")
    const stored = await s.persisted("transform", v0.id)
    assert.equal(stored?.["latestKey"] ?? null, null)
    assert.equal(stored?.["familyKey"] ?? null, null)
    await s.run(Transform.delete(v1))
    const fresh = await s.run(Transform.create({ key: "k", version: "3" }))
    assert.notEqual(fresh.uid.slice(0, 12), v0.uid.slice(0, 12))
  }),
  c("updating a version that holds no claim (written before claims existed) does not give it one", async (s) => {
    const made = await s.run(
      s.store.prepare(Transform.entity, [
        { key: "a", version: "1", uid: "AAAAAAAAAAAA0000", isLatest: false },
        { key: "a", version: "2", uid: "BBBBBBBBBBBB0000", isLatest: false }
      ])
    )
    const docs = made.map((r) => {
      const { familyKey: _, ...doc } = Transform.entity.encode(r)
      return doc
    })
    await s.run(s.store.driver.insert("transform", docs))
    for (const r of made) await s.run(Transform.update(r, { description: "still here" }))
    for (const r of made) assert.equal((await s.persisted("transform", r.id))?.["description"], "still here")
  }),
  c("a different key starts a different family", async (s) => {
    const a = await s.run(Transform.create({ key: "a" }))
    const b = await s.run(Transform.create({ key: "b" }))
    assert.notEqual(a.uid.slice(0, 12), b.uid.slice(0, 12))
    assert.ok(b.uid.endsWith("0000"))
    assert.equal((await s.run(Transform.reload(a))).isLatest, true)
  }),
  c("when every version is trashed, the key starts a new family", async (s) => {
    const v0 = await s.run(Transform.create({ key: "k", version: "1" }))
    await s.run(Transform.delete(v0))
    const fresh = await s.run(Transform.create({ key: "k", version: "2" }))
    assert.notEqual(fresh.uid.slice(0, 12), v0.uid.slice(0, 12))
    assert.ok(fresh.uid.endsWith("0000"))
    assert.equal(fresh.isLatest, true)
  }),
  c("Artifacts version by key too (20-character uids)", async (s) => {
    const a0 = await s.run(Artifact.create({ key: "data.csv", version: "1" }))
    const a1 = await s.run(Artifact.create({ key: "data.csv", version: "2" }))
    assert.equal(a0.uid.length, 20)
    assert.equal(a1.uid, a0.uid.slice(0, 16) + "0001")
    assert.equal((await s.run(Artifact.reload(a0))).isLatest, false)
    assert.equal((await s.run(Artifact.get(a0.uid.slice(0, 16)))).id, a1.id)
  })
]
