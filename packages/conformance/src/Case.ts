/**
 * A conformance case is plain data: a group, a name, what it needs from the store, and an async body that
 * throws (via `node:assert/strict`) when the store breaks the contract. Plain data keeps the suite independent
 * of any test runner: `runConformance` and the vitest entry both just walk these records.
 */
import type { Driver } from "@lineage/core"

type Doc = Driver.Doc

/**
 * Reads what a store really persisted, through its raw client rather than the driver's own `find`, so a driver
 * cannot pass by agreeing with itself (Auth.js's adapter-test "backdoor").
 */
export interface Backdoor {
  /** Every persisted document of `table`, in any order. */
  readonly all: (table: string) => Promise<ReadonlyArray<Doc>>
  readonly get: (table: string, id: number) => Promise<Doc | undefined>
}

/**
 * What a case may use. New fields are added as optional-by-value (`X | undefined`) so existing cases and
 * callers keep compiling when registry-level groups need more.
 */
export interface CaseContext {
  /** A fresh, empty store made for this case alone and closed after it. */
  readonly driver: Driver.Driver
  readonly backdoor: Backdoor | undefined
  /**
   * Opens a second handle onto the SAME store as `driver`, as another process would. Only given for stores
   * that declare `shared`; cases needing it declare the `reopen` requirement.
   */
  readonly reopen: (() => Promise<Driver.Driver>) | undefined
}

/** The boolean entries of the manifest, each of which a case may require. */
export type BooleanCapability = {
  readonly [K in keyof Driver.Capabilities]: Driver.Capabilities[K] extends boolean ? K : never
}[keyof Driver.Capabilities]

/**
 * A capability a case needs: a boolean of the driver's manifest, or `reopen` (the caller supplied a way to
 * open a second handle onto the same store).
 */
export type CapabilityRequirement = BooleanCapability | "reopen"

export interface Case<Ctx extends CaseContext = CaseContext> {
  readonly group: string
  readonly name: string
  readonly requires?: ReadonlyArray<CapabilityRequirement> | undefined
  readonly run: (ctx: Ctx) => Promise<void>
}

/** A group is an ordered list of cases sharing a `group` name; users pick groups to run a subset. */
export type Group = ReadonlyArray<Case>

export const fullName = (c: Pick<Case, "group" | "name">): string => `${c.group} › ${c.name}`

/** What is known about the store before any case runs: enough to decide every skip. */
export interface Manifest {
  readonly driverName: string
  readonly capabilities: Driver.Capabilities
  readonly canReopen: boolean
}

/** Why a case cannot run against this store, or `undefined` when it can. */
export const skipReason = (c: Case, manifest: Manifest): string | undefined => {
  const missing: Array<string> = []
  for (const requirement of c.requires ?? []) {
    if (requirement === "reopen") {
      if (!manifest.canReopen) missing.push("a second handle onto the same store (option `reopen`), which was not given")
    } else if (manifest.capabilities[requirement] !== true) {
      missing.push(`capabilities.${requirement}, which driver "${manifest.driverName}" declares false`)
    }
  }
  return missing.length === 0 ? undefined : `requires ${missing.join(" and ")}`
}

export interface Skip {
  readonly group: string
  readonly name: string
  readonly reason: string
}

/** Splits cases into those to run and those skipped with a reason, keeping the given order. */
export const plan = (
  cases: ReadonlyArray<Case>,
  manifest: Manifest
): { readonly run: ReadonlyArray<Case>; readonly skipped: ReadonlyArray<Skip> } => {
  const run: Array<Case> = []
  const skipped: Array<Skip> = []
  for (const c of cases) {
    const reason = skipReason(c, manifest)
    if (reason === undefined) run.push(c)
    else skipped.push({ group: c.group, name: c.name, reason })
  }
  return { run, skipped }
}
