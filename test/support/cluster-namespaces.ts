/**
 * Namespaces placed on chosen primaries of a Redis Cluster (./redis-cluster.ts). A namespace's keys share one
 * hash tag, `{prefix}`, so the whole namespace lives in the slot of its prefix, on the primary serving that slot:
 * to place one, prefixes are drawn until `CLUSTER KEYSLOT` puts one there.
 */
import type { RedisCluster } from "./redis-cluster.js"
import { freshPrefix } from "./redis.js"

/** A namespace's prefix, its slot and the port of the primary serving the slot. */
export interface Placement {
  readonly prefix: string
  readonly slot: number
  readonly port: number
}

/** The ports of the primaries serving slots now, in ascending order. */
export const primaryPorts = async (cluster: RedisCluster): Promise<ReadonlyArray<number>> =>
  (await cluster.nodes())
    .filter((n) => n.role === "primary" && n.slots.length > 0)
    .map((n) => n.port)
    .sort((a, b) => a - b)

/** A fresh prefix (`freshPrefix(label)`) whose namespace lands on the primary at `port`. */
export const prefixOn = async (cluster: RedisCluster, port: number, label: string): Promise<Placement> => {
  const primary = (await cluster.nodes()).find((n) => n.port === port && n.role === "primary")
  if (primary === undefined) throw new Error(`127.0.0.1:${port} is not a primary of the cluster`)
  // On three primaries a third of the prefixes land on each: 200 draws all missing is out of the question.
  for (let i = 0; i < 200; i++) {
    const prefix = freshPrefix(label)
    const slot = Number(await cluster.command(port, "CLUSTER", "KEYSLOT", `{${prefix}}:x`))
    if (primary.slots.some(([from, to]) => slot >= from && slot <= to)) return { prefix, slot, port }
  }
  throw new Error(`no prefix of 200 drawn landed on the primary at 127.0.0.1:${port}`)
}

/** `count` namespaces, dealt to the primaries in turn (ascending ports): as even a spread as `count` allows. */
export const spreadNamespaces = async (cluster: RedisCluster, count: number, label: string): Promise<ReadonlyArray<Placement>> => {
  const ports = await primaryPorts(cluster)
  const placed: Array<Placement> = []
  for (let i = 0; i < count; i++) placed.push(await prefixOn(cluster, ports[i % ports.length]!, label))
  return placed
}
