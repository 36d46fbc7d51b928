/**
 * Versioned registries: a record created with an existing key is the family's next version, with the same
 * stem, the next base62 suffix (trash included) and `isLatest` moved so that exactly one version is latest,
 * also under concurrent writers. A transform declared again by its key and source is the version recording
 * that source, else the key's next version; its hash is always its stored source's. A version's tag is the
 * field `versionTag`, which `version` names in inputs and queries and reads (else the uid's suffix).
 */
import assert from "node:assert/strict"
import { Artifact, Collection, Q, Redaction, Run, Transform, Transforms } from "@lineage/core"
import { Effect, Result } from "effect"
import type { Case } from "../../Case.js"
import { anyTransforms, latestOf, newRun, registryCase, type Session } from "./support.js"

const group = "versioning"
const c = (name: string, body: (s: Session) => Promise<void>): Case => registryCase(group, name, body)

const family = (s: Session, key: string) => s.run(Transform.filter({ key, branchId: { in: [1, -1] } }).orderBy("uid").all())

const source = (n: number) => `export const step = () => ${n}\n`

// ---------------------------------------------------------------------------------------------------------
// Declaring a transform again: lamindb's Transform(key=…, source_code=…)

const declaring: ReadonlyArray<Case> = [
  c("getOrCreate with key and source: the same source is the same record, a changed one the next version", async (s) => {
    const t0 = await s.run(Transform.getOrCreate({ key: "train.ts", sourceCode: source(0) }))
    assert.equal((await s.run(Transform.getOrCreate({ key: "train.ts", sourceCode: source(0) }))).id, t0.id)
    const t1 = await s.run(Transform.getOrCreate({ key: "train.ts", sourceCode: source(1) }))
    assert.equal(t1.uid, t0.uid.slice(0, 12) + "0001")
    assert.equal(t1.hash, Transforms.hashSource(source(1)))
    assert.equal(t1.isLatest, true)
    assert.equal((await s.run(Transform.reload(t0))).isLatest, false)
    // An earlier source is still its own version: (key, hash) names one record.
    assert.equal((await s.run(Transform.getOrCreate({ key: "train.ts", sourceCode: source(0) }))).id, t0.id)
    assert.deepStrictEqual(latestOf(await family(s, "train.ts")), [t1.uid])
    assert.equal((await s.persistedAll("transform")).length, 2)
  }),
  c("getOrCreate with a version whose recorded source differs, or a source recorded under another version, is refused", async (s) => {
    await s.run(Transform.getOrCreate({ key: "k", version: "1.0", sourceCode: source(0) }))
    const changed = await s.fail(Transform.getOrCreate({ key: "k", version: "1.0", sourceCode: source(1) }), "ValidationError")
    assert.equal(changed.field, "version")
    assert.match(changed.message, /changed since it was recorded/)
    const retagged = await s.fail(Transform.getOrCreate({ key: "k", version: "2.0", sourceCode: source(0) }), "ValidationError")
    assert.equal(retagged.field, "version")
    assert.match(retagged.message, /recorded as version 1\.0/)
    // A source recorded without a tag is told so, not by its uid's suffix (which `version` reads).
    await s.run(Transform.getOrCreate({ key: "untagged", sourceCode: source(0) }))
    const untagged = await s.fail(Transform.getOrCreate({ key: "untagged", version: "0000", sourceCode: source(0) }), "ValidationError")
    assert.equal(untagged.field, "version")
    assert.match(untagged.message, /recorded without a version tag/)
    assert.doesNotMatch(untagged.message, /expected 0000/)
    assert.equal((await s.persistedAll("transform")).length, 2)
  }),
  c("getOrCreate with a key alone gets the key's latest version, whatever it records; it creates only for a new key", async (s) => {
    const bare = await s.run(Transform.getOrCreate({ key: "k" }, { description: "first" }))
    assert.equal(bare.description, "first")
    assert.equal((await s.run(Transform.getOrCreate({ key: "k" }))).id, bare.id)
    const sourced = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0) }))
    assert.equal(sourced.uid, bare.uid.slice(0, 12) + "0001")
    // kind and description beside a key only describe a transform created for it.
    const latest = await s.run(Transform.getOrCreate({ key: "k", kind: "script" }))
    assert.equal(latest.id, sourced.id)
    assert.equal(latest.kind, "pipeline")
    assert.equal((await s.persistedAll("transform")).length, 2)
    // A source among the defaults is what a new key's transform is created with, redacted and hashed.
    const made = await s.run(Transform.getOrCreate({ key: "new", kind: "script" }, { sourceCode: secretSource }))
    const stored = Redaction.text(secretSource)
    assert.deepStrictEqual([made.kind, made.sourceCode, made.hash], ["script", stored, Transforms.hashSource(stored)])
    assert.equal((await s.run(Transform.getOrCreate({ key: "new" }, { sourceCode: source(1) }))).id, made.id)
    const racers = Array.from({ length: 8 }, () => Transform.getOrCreate({ key: "racy" }))
    const racing = await s.run(Effect.all(racers, { concurrency: "unbounded" }))
    assert.equal(new Set(racing.map((t) => t.id)).size, 1)
    assert.equal((await s.persistedAll("transform")).length, 4)
  }),
  c("a version tag held by a trashed version: it comes back if it records the declared source, else it is refused, named", async (s) => {
    const v1 = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0), version: "1" }))
    await s.run(Transform.delete(v1))
    const e = await s.fail(Transform.getOrCreate({ key: "k", sourceCode: source(1), version: "1" }), "ValidationError")
    assert.equal(e.field, "version")
    assert.ok(e.message.includes(v1.uid) && e.message.includes("in the trash"), e.message)
    const unsourced = await s.fail(Transform.getOrCreate({ key: "k", version: "1" }), "ValidationError")
    assert.ok(unsourced.message.includes(v1.uid), unsourced.message)
    assert.equal((await s.persisted("transform", v1.id))?.["branchId"], -1)
    const back = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0), version: "1" }))
    assert.deepStrictEqual([back.id, back.branchId], [v1.id, 1])
    // Without source on either side, the tag names the trashed version as well.
    const bare = await s.run(Transform.getOrCreate({ key: "bare", version: "2" }))
    await s.run(Transform.delete(bare))
    const restored = await s.run(Transform.getOrCreate({ key: "bare", version: "2" }))
    assert.deepStrictEqual([restored.id, restored.branchId], [bare.id, 1])
    assert.equal((await s.persistedAll("transform")).length, 2)
  }),
  c("getOrCreate: storeSource false records the hash of the source, not the source", async (s) => {
    const t = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0), storeSource: false }))
    assert.equal(t.sourceCode, null)
    assert.equal(t.hash, Transforms.hashSource(source(0)))
    assert.equal((await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0) }))).id, t.id)
  }),
  c("getOrCreate by source refuses what a declaration cannot hold, naming the field", async (s) => {
    const unknown = await s.fail(Transform.getOrCreate({ key: "k", sourceCode: source(0), reference: "x" }), "ValidationError")
    assert.equal(unknown.field, "reference")
    // @ts-expect-error invalid on purpose
    const notText = await s.fail(Transform.getOrCreate({ key: "k", sourceCode: 42 }), "ValidationError")
    assert.equal(notText.field, "sourceCode")
    // @ts-expect-error invalid on purpose
    const noKey = await s.fail(Transform.getOrCreate({ sourceCode: source(0) }), "ValidationError")
    assert.equal(noKey.field, "key")
    // @ts-expect-error invalid on purpose
    const store = await s.fail(Transform.getOrCreate({ key: "k", sourceCode: source(0), storeSource: "no" }), "ValidationError")
    assert.equal(store.field, "storeSource")
    const hashDefault = await s.fail(Transform.getOrCreate({ key: "k", sourceCode: source(0) }, { hash: "x" }), "ValidationError")
    assert.equal(hashDefault.field, "hash")
    const made = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0) }, { reference: "https://example.org" }))
    assert.equal(made.reference, "https://example.org", "other fields come as defaults")
    assert.equal((await s.persistedAll("transform")).length, 1)
  }),
  c("a source refused by getOrCreate or create reaches the error only redacted, and only as text", async (s) => {
    const shows = (e: { readonly value: unknown; readonly message: string }) => `${JSON.stringify(e.value)} ${e.message}`
    const misplaced = await s.fail(Transform.getOrCreate({ key: "k", version: "1" }, { sourceCode: secretSource }), "ValidationError")
    assert.equal(misplaced.field, "sourceCode")
    assert.equal(misplaced.value, Redaction.text(secretSource))
    assert.ok(!shows(misplaced).includes("hunter2"), shows(misplaced))
    const bytes = Buffer.from(secretSource)
    for (const effect of [
      // @ts-expect-error invalid on purpose
      Transform.getOrCreate({ key: "k", sourceCode: bytes }),
      // @ts-expect-error invalid on purpose
      Transform.getOrCreate({ key: "k" }, { sourceCode: bytes }),
      // @ts-expect-error invalid on purpose
      Transform.create({ key: "k", sourceCode: bytes })
    ]) {
      const e = await s.fail(effect, "ValidationError")
      assert.equal(e.field, "sourceCode")
      assert.equal(e.value, `<${bytes.byteLength} bytes>`)
      assert.ok(!shows(e).includes("hunter2") && !shows(e).includes("password"), shows(e))
    }
    assert.equal((await s.persistedAll("transform")).length, 0)
  }),
  c("racing declarations of one source end on one record; of a changed source, on one next version", async (s) => {
    const declare = (n: number) =>
      Effect.all(
        Array.from({ length: 10 }, () => Transform.getOrCreate({ key: "racy.ts", sourceCode: source(n) })),
        { concurrency: "unbounded" }
      )
    const first = await s.run(declare(0))
    assert.equal(new Set(first.map((t) => t.id)).size, 1)
    const second = await s.run(declare(1))
    assert.equal(new Set(second.map((t) => t.id)).size, 1)
    const all = await family(s, "racy.ts")
    assert.deepStrictEqual(all.map((t) => t.uid.slice(12)), ["0000", "0001"])
    assert.deepStrictEqual(latestOf(all), [second[0]!.uid])
  }),
  c("declaring a source whose version is in the trash brings that version back, as tracking the same script again does", async (s) => {
    const t0 = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0) }))
    await s.run(Transform.delete(t0))
    const back = await s.run(Transform.getOrCreate({ key: "k", sourceCode: source(0) }))
    assert.equal(back.id, t0.id)
    assert.equal(back.branchId, 1)
    assert.equal(back.isLatest, true)
    assert.equal((await s.persistedAll("transform")).length, 1)
  }),
  c("create never returns an existing record: the same source under the same key is a UniqueViolation on transform_key_hash", async (s) => {
    await s.run(Transform.create({ key: "k", sourceCode: source(0) }))
    const e = await s.fail(Transform.create({ key: "k", sourceCode: source(0) }), "UniqueViolation")
    assert.equal(e.constraint, "transform_key_hash")
    assert.deepStrictEqual(e.fields, ["key", "hash"])
    assert.match(e.message, /A Transform with key="k", hash="[\w-]{22}" already exists/)
    assert.equal((await s.persistedAll("transform")).length, 1)
  })
]

// ---------------------------------------------------------------------------------------------------------
// A transform's hash is its stored source's

const secretSource = 'const password = "hunter2-very-secret"\nconsole.log(1)\n'

const sourceHashes: ReadonlyArray<Case> = [
  c("create with source code stores it redacted and hashes what it stores", async (s) => {
    const t = await s.run(Transform.create({ key: "k", sourceCode: secretSource }))
    const stored = Redaction.text(secretSource)
    assert.ok(!stored.includes("hunter2"))
    assert.equal(t.sourceCode, stored)
    assert.equal(t.hash, Transforms.hashSource(stored))
    const doc = await s.persisted("transform", t.id)
    assert.equal(doc?.["hash"], Transforms.hashSource(stored))
    assert.ok(!JSON.stringify(doc).includes("hunter2"))
    const [many] = await s.run(Transform.createMany([{ key: "m", sourceCode: source(3) }]))
    assert.equal(many!.hash, Transforms.hashSource(source(3)))
  }),
  c("a hash that disagrees with the source is a ValidationError naming hash, and writes nothing", async (s) => {
    const e = await s.fail(Transform.create({ key: "k", sourceCode: source(0), hash: "abcdefghijklmnopqrstuv" }), "ValidationError")
    assert.equal(e.field, "hash")
    assert.equal(e.value, "abcdefghijklmnopqrstuv")
    assert.match(e.message, new RegExp(Transforms.hashSource(source(0))))
    assert.equal((await s.persistedAll("transform")).length, 0)
    const agreeing = await s.run(Transform.create({ key: "k", sourceCode: source(0), hash: Transforms.hashSource(source(0)) }))
    assert.equal(agreeing.hash, Transforms.hashSource(source(0)))
  }),
  c("updating the source rehashes it; a new hash must be the stored source's", async (s) => {
    const t = await s.run(Transform.create({ key: "k", sourceCode: source(0) }))
    const updated = await s.run(Transform.update(t, { sourceCode: source(1) }))
    assert.equal(updated.hash, Transforms.hashSource(source(1)))
    assert.equal((await s.persisted("transform", t.id))?.["hash"], Transforms.hashSource(source(1)))
    const e = await s.fail(Transform.update(updated, { hash: Transforms.hashSource(source(0)) }), "ValidationError")
    assert.equal(e.field, "hash")
    // Withholding the source later keeps its hash.
    const withheld = await s.run(Transform.update(updated, { sourceCode: null }))
    assert.equal(withheld.hash, Transforms.hashSource(source(1)))
    const bare = await s.run(Transform.create({ key: "bare" }))
    assert.equal((await s.run(Transform.update(bare, { hash: "abcdefghijklmnopqrstuv" }))).hash, "abcdefghijklmnopqrstuv")
  }),
  c("a hash alone is refused where a source is stored, whatever the caller's copy says", async (s) => {
    const t = await s.run(Transform.create({ key: "k", sourceCode: source(0) }))
    await s.run(Transform.update(t, { sourceCode: source(1) }))
    // `t` is stale: the source it holds, and whose hash this is, was replaced.
    const stale = await s.fail(Transform.update(t, { hash: Transforms.hashSource(source(0)) }), "ValidationError")
    assert.equal(stale.field, "hash")
    assert.equal((await s.persisted("transform", t.id))?.["hash"], Transforms.hashSource(source(1)))
    const bare = await s.run(Transform.create({ key: "bare" }))
    await s.run(Transform.update(bare, { sourceCode: source(2) }))
    // The stale copy of `bare` stores no source; the store does.
    assert.equal((await s.fail(Transform.update(bare, { hash: "abcdefghijklmnopqrstuv" }), "ValidationError")).field, "hash")
    assert.equal((await s.persisted("transform", bare.id))?.["hash"], Transforms.hashSource(source(2)))
    const both = await s.run(Transform.update(t, { sourceCode: source(3), hash: Transforms.hashSource(source(3)) }))
    assert.equal(both.hash, Transforms.hashSource(source(3)))
  })
]

// ---------------------------------------------------------------------------------------------------------
// versionTag, and version as its alias

const versionAlias: ReadonlyArray<Case> = [
  c("version in inputs sets versionTag; a record's version is its tag, else its uid's suffix, read back from the store", async (s) => {
    const tagged = await s.run(Transform.create({ key: "k", version: "1.0" }))
    const untagged = await s.run(Transform.create({ key: "k" }))
    assert.equal(tagged.versionTag, "1.0")
    assert.equal(tagged.version, "1.0")
    assert.equal(untagged.versionTag, null)
    assert.equal(untagged.version, "0001")
    assert.equal((await s.run(Transform.get(untagged.id))).version, "0001")
    assert.equal((await s.run(Transform.reload(tagged))).version, "1.0")
    const listed = await s.run(Transform.filter({ key: "k" }).orderBy("uid").all())
    assert.deepStrictEqual(listed.map((t) => t.version), ["1.0", "0001"])
    const doc = await s.persisted("transform", tagged.id)
    assert.equal(doc?.["versionTag"], "1.0")
    assert.ok(!Object.hasOwn(doc ?? {}, "version"), "the document holds versionTag only")
    assert.deepStrictEqual(Object.keys(JSON.parse(JSON.stringify(tagged))).filter((k) => k.startsWith("version")), ["versionTag"])
  }),
  c("version and version_tag filter and order versionTag: keyword, typed, Q.where and across relations", async (s) => {
    const v1 = await s.run(Transform.create({ key: "k", version: "1.0" }))
    const v2 = await s.run(Transform.create({ key: "k", version: "2.0" }))
    const run = await newRun(s, v1)
    const ids = (rows: ReadonlyArray<{ readonly id: number }>) => rows.map((r) => r.id)
    assert.deepStrictEqual(ids(await s.run(Transform.filter({ version: "1.0" }).all())), [v1.id])
    // lamindb's snake_case spelling, which the types leave out: through an untyped query set.
    assert.deepStrictEqual(ids(await s.run(anyTransforms().filter({ version_tag: "2.0" }).all())), [v2.id])
    assert.deepStrictEqual(ids(await s.run(Transform.filter({ version__startswith: "2" }).all())), [v2.id])
    assert.deepStrictEqual(ids(await s.run(Transform.filter({ version: { in: ["1.0", "2.0"] } }).orderBy("-version").all())), [v2.id, v1.id])
    assert.deepStrictEqual(ids(await s.run(Transform.filter(Q.where("version", "eq", "1.0")).all())), [v1.id])
    assert.deepStrictEqual(ids(await s.run(Run.filter({ transform__version: "1.0" }).all())), [run.id])
    assert.deepStrictEqual(ids(await s.run(Run.filter({ transform: { version: "2.0" } }).all())), [])
    assert.equal((await s.run(Transform.get({ key: "k", version: "1.0" }))).id, v1.id)
  }),
  c("version is accepted by update and getOrCreate, and for Artifact and Collection; naming the field twice is refused", async (s) => {
    const t = await s.run(Transform.create({ key: "k", version: "1.0" }))
    const retagged = await s.run(Transform.update(t, { version: "1.1" }))
    assert.equal(retagged.versionTag, "1.1")
    assert.equal((await s.persisted("transform", t.id))?.["versionTag"], "1.1")
    assert.equal((await s.run(Transform.getOrCreate({ key: "k", version: "1.1" }))).id, t.id)
    const twice = await s.fail(Transform.create({ key: "j", version: "1", versionTag: "2" }), "ValidationError")
    assert.equal(twice.field, "versionTag")
    assert.match(twice.message, /version and versionTag both set versionTag/)
    const twiceUpdate = await s.fail(Transform.update(retagged, { versionTag: "3", version: "4" }), "ValidationError")
    assert.equal(twiceUpdate.field, "version")
    assert.match(twiceUpdate.message, /versionTag and version both set versionTag/)
    const a = await s.run(Artifact.create({ key: "data.csv", version: "v1" }))
    assert.equal(a.versionTag, "v1")
    assert.equal((await s.run(Artifact.create({ key: "data.csv" }))).version, "0001")
    assert.equal((await s.run(Artifact.filter({ version: "v1" }).one())).id, a.id)
    const col = await s.run(Collection.create({ key: "set", version: "2024" }))
    assert.equal(col.versionTag, "2024")
    assert.equal((await s.run(Collection.filter({ version: "2024" }).one())).version, "2024")
  })
]

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
    const trashed = await s.run(Transform.reload(v0))
    assert.equal(trashed.branchId, -1)
    assert.equal(trashed.isLatest, true, "its family's last version keeps isLatest in the trash, claiming nothing")
    assert.deepStrictEqual(latestOf(await s.run(Transform.filter({ key: "k" }).all())), [fresh.uid])
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
  }),
  c("restoring a first version while another family of its key is live fails at once, naming the key", async (s) => {
    const v0 = await s.run(Collection.create({ key: "k" }))
    await s.run(Collection.delete(v0))
    const rival = await s.run(Collection.create({ key: "k" }))
    const e = await s.fail(Collection.restore(v0), "UniqueViolation")
    assert.deepStrictEqual(e.fields, ["key"])
    assert.deepStrictEqual(e.values, ["k"])
    assert.equal(e.constraint, "collection_family_key")
    assert.match(e.message, new RegExp(`another family of the key is live \\(Collection ${rival.uid}\\); trash it first`))
    assert.ok(!e.message.includes("familyKey"), e.message)
    assert.equal((await s.persisted("collection", v0.id))?.["branchId"], -1)
    await s.run(Collection.delete(rival))
    assert.equal((await s.run(Collection.restore(v0))).branchId, 1, "once the other family is in the trash it comes back")
  }),
  ...declaring,
  ...sourceHashes,
  ...versionAlias
]
