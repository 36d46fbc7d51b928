/**
 * Redis Cluster URLs: `redis+cluster://[user[:password]@]host:port[,host:port…][/0][?options]`, and
 * `rediss+cluster://` for TLS. The WHATWG URL parser cannot read a host list, so this one reads the URL the
 * way it reads an authority: the credentials run to the LAST `@` (as `Driver.redactUrl` assumes when it hides
 * a password), the host list from there to the first `/`, `?` or `#`. Anything it cannot read for certain is
 * refused: every part that a message may name lies after the credentials, so no refusal shows a password.
 */
import { isIPv6 } from "node:net"
import { Driver } from "@lineage/core"

/** A node of a Redis Cluster, as a seed to discover the others from. */
export interface ClusterNode {
  readonly host: string
  readonly port: number
}

/** What a cluster URL holds, before its options are checked. */
export interface ClusterUrlParts {
  readonly tls: boolean
  readonly nodes: ReadonlyArray<ClusterNode>
  readonly username?: string | undefined
  readonly password?: string | undefined
  readonly query: URLSearchParams
}

const schemePattern = /^(rediss?)\+cluster:\/\//i

/** True for `redis+cluster://` and `rediss+cluster://` URLs (any case, as schemes are compared). */
export const isClusterUrl = (url: string): boolean => schemePattern.test(url)

export const defaultPort = 6379

const hostName = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$/

/** Why `host` cannot name a node (a DNS name, an IPv4 or an IPv6 address), or undefined. */
const invalidHost = (host: string): string | undefined =>
  (host.includes(":") ? isIPv6(host) : host.length <= 253 && hostName.test(host))
    ? undefined
    : "the host is not a host name or an IP address"

const invalidPort = (port: number): string | undefined =>
  Number.isSafeInteger(port) && port >= 1 && port <= 65_535 ? undefined : "the port must be a number from 1 to 65535"

/** `host:port`, with an IPv6 host in brackets: how messages and ioredis name a node. */
export const nodeName = (node: ClusterNode): string => `${node.host.includes(":") ? `[${node.host}]` : node.host}:${node.port}`

/** Why a list of nodes given as options cannot be a cluster's seeds, or undefined. */
export const invalidNodes = (nodes: unknown): string | undefined => {
  if (!Array.isArray(nodes) || nodes.length === 0) return "nodes must be a non-empty list of { host, port }"
  const seen = new Set<string>()
  for (const [i, node] of nodes.entries()) {
    const { host, port } = (node ?? {}) as { readonly host?: unknown; readonly port?: unknown }
    if (typeof host !== "string" || typeof port !== "number") return `nodes[${i}] must be { host: string, port: number }`
    const why = invalidHost(host) ?? invalidPort(port)
    if (why !== undefined) return `nodes[${i}] ${JSON.stringify(nodeName({ host, port }))}: ${why}`
    const name = nodeName({ host: host.toLowerCase(), port })
    if (seen.has(name)) return `nodes[${i}] ${JSON.stringify(name)} is listed twice`
    seen.add(name)
  }
  return undefined
}

const seedPattern = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([^:]*))?$/

/** One entry of the host list: `host`, `host:port`, `[v6]` or `[v6]:port`; or why it is none. */
const parseSeed = (entry: string): ClusterNode | string => {
  const why = (text: string) => `seed node ${JSON.stringify(entry)}: ${text}`
  const m = seedPattern.exec(entry)
  if (m === null) return why("expected host:port (an IPv6 address in brackets)")
  const host = m[1] ?? m[2]!
  const portText = m[3]
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) return why("the port must be a number from 1 to 65535")
  const port = portText === undefined ? defaultPort : Number(portText)
  const invalid = invalidHost(host) ?? invalidPort(port)
  return invalid === undefined ? { host, port } : why(invalid)
}

const parseSeeds = (list: string): ReadonlyArray<ClusterNode> | string => {
  if (list === "") return "no seed node: expected host:port[,host:port…]"
  const nodes: Array<ClusterNode> = []
  const seen = new Set<string>()
  for (const entry of list.split(",")) {
    const node = parseSeed(entry)
    if (typeof node === "string") return node
    const name = nodeName({ host: node.host.toLowerCase(), port: node.port })
    if (seen.has(name)) return `seed node ${JSON.stringify(name)} is listed twice`
    seen.add(name)
    nodes.push(node)
  }
  return nodes
}

/** The user name and password, percent-decoded; or why they cannot be. */
const parseCredentials = (userinfo: string): { readonly username?: string; readonly password?: string } | string => {
  // Anything that ends an authority inside the credentials means the URL is not what it seems: an `@`
  // after the host list, or a password with `/`, `?` or `#` not percent-encoded.
  if (/[/?#]/.test(userinfo))
    return 'a "/", "?" or "#" comes before the last "@": percent-encode it in the user name or password, and an "@" after the hosts as %40'
  const colon = userinfo.indexOf(":")
  const username = Driver.decodeUrlPart(colon < 0 ? userinfo : userinfo.slice(0, colon))
  const password = colon < 0 ? "" : Driver.decodeUrlPart(userinfo.slice(colon + 1))
  if (username === undefined || password === undefined) return "the user name or password is not valid percent-encoding"
  return { ...(username === "" ? {} : { username }), ...(password === "" ? {} : { password }) }
}

/** Reads a cluster URL (`isClusterUrl`); a string says why it is refused, naming no credential. */
export const parseClusterUrl = (url: string): ClusterUrlParts | string => {
  const scheme = schemePattern.exec(url)
  if (scheme === null) return "expected redis+cluster:// or rediss+cluster://"
  // WHATWG URLs drop these silently; here they can only be a mistake or an attack.
  if (/[\u0000-\u0020\u007f]/.test(url)) return "the URL holds a space or a control character"
  const rest = url.slice(scheme[0].length)
  const at = rest.lastIndexOf("@")
  const credentials = at < 0 ? {} : parseCredentials(rest.slice(0, at))
  if (typeof credentials === "string") return credentials
  const tail = rest.slice(at + 1)
  const end = tail.search(/[/?#]/)
  const after = end < 0 ? "" : tail.slice(end)
  if (after.includes("#")) return "a Redis URL takes no fragment (#…)"
  const nodes = parseSeeds(end < 0 ? tail : tail.slice(0, end))
  if (typeof nodes === "string") return nodes
  const q = after.indexOf("?")
  const path = q < 0 ? after : after.slice(0, q)
  if (path !== "" && path !== "/" && path !== "/0")
    return `the path ${JSON.stringify(path)} names a database, but a Redis Cluster has database 0 only: leave it out or give /0`
  return { tls: scheme[1]!.toLowerCase() === "rediss", nodes, ...credentials, query: new URLSearchParams(q < 0 ? "" : after.slice(q + 1)) }
}
