/**
 * Broken on purpose: the case-insensitive operators are compiled to their case-sensitive twins, as a store
 * that forgets the collation or the `i` regex flag would do.
 */
import type { Ast } from "@lineage/core"
import { ReferenceDriver } from "@lineage/conformance"

const sensitive: Partial<Record<Ast.Operator, Ast.Operator>> = {
  icontains: "contains",
  istartsWith: "startsWith",
  iendsWith: "endsWith",
  iexact: "eq"
}

const rewrite = (cond: Ast.Cond): Ast.Cond => {
  switch (cond._tag) {
    case "Field":
      return { ...cond, op: sensitive[cond.op] ?? cond.op }
    case "Not":
      return { _tag: "Not", cond: rewrite(cond.cond) }
    default:
      return { _tag: cond._tag, conds: cond.conds.map(rewrite) }
  }
}

export const make = (): ReferenceDriver.ReferenceDriver => {
  const inner = ReferenceDriver.make("case-sensitive-i")
  return {
    ...inner,
    find: (table, spec) => inner.find(table, { ...spec, where: rewrite(spec.where) }),
    count: (table, where) => inner.count(table, rewrite(where))
  }
}
