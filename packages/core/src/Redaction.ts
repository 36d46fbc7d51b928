/**
 * Secrets never reach a store, an error or a log: this module decides what is secret and replaces it with
 * `marker`, for every way a secret enters a record (params, CLI arguments, source code, the environment) and
 * for store URLs shown in errors.
 *
 * Two questions are asked. By name (`isSecretKey`): a value under a key like `api_key`, `password`,
 * `ssh_key` or `cookie` is replaced whole, whatever its shape. By value (`text`): in any string, wherever
 * they stand, the password of a credential URL, the value of a secret query parameter or of a labelled
 * secret (`password = "…"`), well-known token formats and PEM private keys are replaced, and the rest of the
 * string is kept. Every rule is linear in the length of its input, and `text` is idempotent.
 */

export const marker = "***REDACTED***"

// ---------------------------------------------------------------------------------------------------------
// Names

/** `apiKey`, `API_KEY`, `x-api-key`, `--api-key` → `["api", "key"]`. */
const words = (name: string): Array<string> =>
  name
    // Zero-width splits, so that a long run of capitals costs one look per character.
    .replace(/(?<=[a-z0-9])(?=[A-Z])/g, " ")
    .replace(/(?<=[A-Z])(?=[A-Z][a-z])/g, " ")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "")

/** Words that name a secret wherever they stand. Whole words only: `passage`, `tokenizer`, `author` are not. */
const secretWords = new Set([
  "password",
  "passwords",
  "passwd",
  "passphrase",
  "passcode",
  "secret",
  "secrets",
  "token",
  "credential",
  "credentials",
  "creds",
  "authorization",
  "bearer",
  "apikey",
  "apikeys",
  "privatekey",
  "sessionid"
])

/** Stems that name a secret inside a longer word (`PGPASSWORD`, `dbpassword`, `myapikey`). */
const secretStems = /password|passwd|passphrase|credential|apikey|privatekey|secretkey|accesskey|accesstoken|authtoken/

/** Words that name a secret as the last word only: `db_pass`, `basic_auth`, but not `authSource`, `pass_rate`. */
const lastWords = new Set(["pass", "pwd", "auth", "session", "cookie", "cookies"])

/**
 * Words that name a secret after a qualifier: `ssh_key`, `private-key`, `signingKey`, `session_id`,
 * `access_tokens` (plain `key`, `id` and `tokens` are ordinary: `tokens` is what a tokenizer makes).
 */
const qualified: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["key", new Set(["api", "private", "access", "secret", "ssh", "signing", "encryption", "master", "account", "license", "deploy", "client", "auth", "session"])],
  ["keys", new Set(["api", "private", "access", "secret", "ssh", "signing", "encryption", "master", "account", "deploy"])],
  ["id", new Set(["session"])],
  ["tokens", new Set(["access", "api", "auth", "refresh", "bearer", "session", "oauth", "personal", "service", "github", "gitlab", "slack", "npm", "hf"])]
])

/** A name ending in one of these names a measure or a setting of a secret, not the secret: `token_count`. */
const measureWords = new Set(["count", "counts", "length", "len", "size", "limit", "budget", "type", "kind", "name", "names", "method", "mode", "provider", "path", "file", "dir", "url", "uri", "endpoint", "ttl", "timeout"])

/** A name starting with one of these counts something: `max_tokens`, `num_tokens`. */
const quantityWords = new Set(["max", "min", "num", "n", "nb", "total"])

/**
 * `token` in a language model's settings names a vocabulary entry, not a credential: after a qualifier like
 * these (`pad_token`, `eos_token`) or before an attribute like these (`token_ids`, `token_type_ids`).
 */
const vocabularyTokens = new Set(["pad", "eos", "bos", "unk", "mask", "sep", "cls", "sos", "eot", "start", "end", "stop", "special", "image", "audio", "video", "decoder", "begin", "prefix", "suffix", "middle", "fim"])
const tokenAttributes = new Set(["id", "ids", "idx", "index", "indices", "type", "types", "embedding", "embeddings", "embed", "dropout", "level", "position", "positions", "logits", "label", "labels", "classification"])

const secretWord = (w: ReadonlyArray<string>, i: number): boolean => {
  const word = w[i]!
  if (word === "token" && (vocabularyTokens.has(w[i - 1] ?? "") || tokenAttributes.has(w[i + 1] ?? ""))) return false
  if (secretWords.has(word) || secretStems.test(word)) return true
  // A secret word split in two: `passWord`, `pass_phrase`.
  const joined = i < w.length - 1 ? word + w[i + 1]! : ""
  if (secretWords.has(joined) || secretStems.test(joined)) return true
  if (i === w.length - 1 && lastWords.has(word)) return true
  // A Map, not an object: a word such as `constructor` must find nothing.
  return i > 0 && qualified.get(word)?.has(w[i - 1]!) === true
}

/**
 * Whether a value under this name is a secret. Names are split into words (camelCase, snake_case, kebab,
 * dots), so look-alikes such as `tokenizer`, `passage`, `compass`, `keyboard` and `author` are not; names
 * that count or configure a secret (`max_tokens`, `token_count`, `password_length`, `auth_method`) are not.
 */
export const isSecretKey = (name: string): boolean => {
  const w = words(name)
  if (w.length === 0 || quantityWords.has(w[0]!) || (w.length > 1 && measureWords.has(w[w.length - 1]!))) return false
  return w.some((_, i) => secretWord(w, i))
}

// ---------------------------------------------------------------------------------------------------------
// Values

/**
 * Well-known token formats, found anywhere in a string, each as [boundary, token]. A token starts after a
 * boundary (a lookbehind), so a failed attempt is never retried inside the same run of characters: the scan
 * stays linear.
 */
const formats: ReadonlyArray<readonly [string, string]> = [
  // PEM private keys, to their END line (or to the end of the text when it is cut).
  ["", String.raw`-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)`],
  // GitHub classic and fine-grained tokens.
  ["(?<![A-Za-z0-9_])", String.raw`(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`],
  // AWS access key ids.
  ["(?<![A-Za-z0-9])", String.raw`(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])`],
  // Slack.
  ["(?<![A-Za-z0-9-])", String.raw`(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}`],
  // Stripe secret and restricted keys.
  ["(?<![A-Za-z0-9_])", String.raw`[rs]k_(?:live|test)_[A-Za-z0-9]{10,}`],
  // Google API keys.
  ["(?<![A-Za-z0-9_-])", String.raw`AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_])`],
  // OpenAI (`sk-…`, `sk-proj-…`) and Anthropic (`sk-ant-…`): random, so with a digit and a capital letter.
  ["(?<![A-Za-z0-9_-])", String.raw`sk-(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{20,}`],
  // JSON Web Tokens: a header and a payload (`{"` in base64url is `eyJ`) and a signature, maybe empty.
  ["(?<![A-Za-z0-9_-])", String.raw`eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`],
  // npm, Hugging Face, GitLab.
  ["(?<![A-Za-z0-9_])", String.raw`npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])`],
  ["(?<![A-Za-z0-9_])", String.raw`hf_[A-Za-z0-9]{34,40}(?![A-Za-z0-9])`],
  ["(?<![A-Za-z0-9_-])", String.raw`glpat-[A-Za-z0-9_-]{20,}`],
  // Slack and Discord webhook URLs: the path is the credential.
  ["(?<![A-Za-z0-9.-])", String.raw`hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,}`],
  ["(?<![A-Za-z0-9.-])", String.raw`(?:discord|discordapp)\.com/api/webhooks/[0-9]{5,}/[A-Za-z0-9_-]{20,}`],
  // A bearer credential in an HTTP header quoted in text (the scheme is case-insensitive).
  [String.raw`(?<=\b(?:[Bb]earer|BEARER)\s{1,10})`, String.raw`[A-Za-z0-9._~+/-]{16,}=*`]
]

const tokenFormats = new RegExp(formats.map(([boundary, token]) => boundary + token).join("|"), "g")

/**
 * The formats that need no context, tried right where a token ends: that end is a boundary, as the marker
 * replacing the token will be, so a token glued to another goes with it (and `text` stays idempotent).
 */
const tokenAt = new RegExp(formats.filter(([boundary]) => !boundary.startsWith("(?<=")).map(([, token]) => token).join("|"), "y")

const tokens = (s: string): string => {
  let out = ""
  let from = 0
  tokenFormats.lastIndex = 0
  for (let m = tokenFormats.exec(s); m !== null; m = tokenFormats.exec(s)) {
    let end = m.index + m[0].length
    for (tokenAt.lastIndex = end; tokenAt.exec(s) !== null; tokenAt.lastIndex = end) end = tokenAt.lastIndex
    out += s.slice(from, m.index) + marker
    from = end
    tokenFormats.lastIndex = end
  }
  return out + s.slice(from)
}

/** Where a credential URL's password starts: `scheme://user:` (the user may be empty). */
const userinfoStart = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/\/([^\s:/?#@]*):/g

/**
 * The password of every `scheme://user:password@host` in `s`. It runs to the last `@` before the next
 * whitespace, so a password holding a raw `@`, `/` or `:` (a malformed URL) never leaks: a raw `@` later in
 * the URL costs the host instead. What follows `host:` is a port, not a password, when it is digits and a
 * path (`http://h:8080/users/ada@example.org`).
 */
const credentialUrls = (s: string): string => {
  let out = ""
  let from = 0
  // Forward searches cached across matches (s.length when there is none): starts only grow, so the whole
  // scan is linear.
  let at = -1
  let space = -1
  userinfoStart.lastIndex = 0
  for (let m = userinfoStart.exec(s); m !== null; m = userinfoStart.exec(s)) {
    const start = m.index + m[0].length
    if (at < start) at = indexOrEnd(s, s.indexOf("@", start))
    if (space < start) space = indexOfSpace(s, start)
    if (at >= space || (m[1] !== "" && /^[0-9]{1,5}[/?#]/.test(s.slice(start, start + 6)))) continue
    const end = s.lastIndexOf("@", space - 1)
    if (end === start) continue
    out += s.slice(from, start) + marker
    from = end
    userinfoStart.lastIndex = end
  }
  return out + s.slice(from)
}

const indexOrEnd = (s: string, i: number): number => (i < 0 ? s.length : i)

const whitespace = /\s/g
const indexOfSpace = (s: string, from: number): number => {
  whitespace.lastIndex = from
  return whitespace.exec(s)?.index ?? s.length
}

/** Query parameters that carry a credential under names that are not secret elsewhere. */
const urlSecretParams = new Set(["sig", "signature", "x-amz-signature", "x-goog-signature", "key"])

/**
 * A name followed by `=`, `:`, `=>`, `:=` or `<-`: `password = "…"`, `--token=…`, `"apiKey": "…"`,
 * `{\"apiKey\": …}` (JSON inside a string), `env["API_KEY"] = …`, `?access_token=…`, `Password=…;`,
 * `token := "…"`. Names start after a boundary, so the scan stays linear.
 */
const labelled = /(?<![\w.-])-{0,2}([A-Za-z_][\w.-]*)((?:\\{1,8})?["']\]?|)([ \t]*)(=>|:=|<-|=(?!=)|:(?![:/]))([ \t]*)/g

/** Where an unquoted value ends: at a space, a quote or a separator of query strings and argument lists. */
const bareStop = /[\s"'`&;,#()[\]{}<>]/g

/** `Authorization: Basic <credential>`: the credential is the word after the scheme. */
const authScheme = /(?:Basic|Bearer|Token|Digest)[ \t]+/iy

/**
 * The first index at or after `at` where `pattern` (global) matches in `s`, or `s.length`. The last answer is
 * kept, so asked for growing positions the searches together read `s` once.
 */
const forward = (s: string, pattern: RegExp) => {
  let from = 0
  let found = -1
  return (at: number): number => {
    if (at < from || at > found) {
      pattern.lastIndex = at
      found = pattern.exec(s)?.index ?? s.length
      from = at
    }
    return found
  }
}

/** The end of a quoted value starting at `open` (its quote): the closing quote, or the end of the line. */
const closingQuote = (s: string, open: number): number => {
  const quote = s[open]!
  for (let i = open + 1; i < s.length; i++) {
    if (s[i] === "\\") i++
    else if (s[i] === quote) return i
    else if (s[i] === "\n" && quote !== "`") return i
  }
  return s.length
}

/**
 * Where the content of a quoted value at `at` starts and ends: `"…"`, `'…'`, `` `…` ``, `"""…"""`, or
 * `\"…\"` (a string inside a string, its quotes escaped `k` times: it closes at the first quote with exactly
 * `k` backslashes before it), up to its closing quote or the end of the line. Undefined when no quote is there.
 */
const quoted = (s: string, at: number): readonly [number, number] | undefined => {
  let k = 0
  while (k < 8 && s[at + k] === "\\") k++
  const quote = s[at + k]
  if (quote !== '"' && quote !== "'" && quote !== "`") return undefined
  const open = at + k
  if (k === 0) {
    const triple = quote.repeat(3)
    if (!s.startsWith(triple, open)) return [open + 1, closingQuote(s, open)]
    const close = s.indexOf(triple, open + 3)
    return [open + 3, close < 0 ? s.length : close]
  }
  let run = 0
  for (let i = open + 1; i < s.length; i++) {
    if (s[i] === "\\") run++
    else if (s[i] === quote && run === k) return [open + 1, i - k]
    else if (s[i] === "\n") return [open + 1, i]
    else run = 0
  }
  return [open + 1, s.length]
}

/**
 * Values of labelled secrets in `s`: the quoted content, or the bare value. An unquoted value after `:` or a
 * spaced `=` counts only when it looks like a credential rather than code (`token: string`): six characters
 * or more, with a letter and a digit.
 */
const labelledSecrets = (s: string): string => {
  // Shared by every label: a long unquoted run after many labels (`token:token:…`) is read once, not once
  // per label.
  const bareEnd = forward(s, bareStop)
  const digit = forward(s, /[0-9]/g)
  const letter = forward(s, /[A-Za-z]/g)
  const nextAt = forward(s, /@/g)
  const nextSpace = forward(s, /\s/g)
  let out = ""
  let from = 0
  labelled.lastIndex = 0
  for (let m = labelled.exec(s); m !== null; m = labelled.exec(s)) {
    const [whole, name, , before, separator, after] = m as unknown as [string, string, string, string, string, string]
    const inQuery = separator === "=" && m.index > 0 && /[?&;]/.test(s[m.index - 1]!)
    // A URL's user (`postgres://pwd:…@host`) is no label: `credentialUrls` takes its password, and keeps the host.
    if (separator === ":" && s.startsWith("//", m.index - 2) && nextAt(m.index) < nextSpace(m.index)) continue
    if (!isSecretKey(name) && !(inQuery && urlSecretParams.has(name.toLowerCase()))) continue
    let start = m.index + whole.length
    let end: number
    const content = quoted(s, start)
    if (content !== undefined) {
      start = content[0]
      end = content[1]
    } else {
      authScheme.lastIndex = start
      const scheme = authScheme.exec(s)
      if (scheme !== null) start += scheme[0].length
      end = bareEnd(start)
      const tight = separator === "=" && before === "" && after === ""
      const credentialLike = end - start >= 6 && digit(start) < end && letter(start) < end
      if (end === start || (!tight && scheme === null && !credentialLike)) continue
    }
    if (end > start) {
      out += s.slice(from, start) + marker
      from = end
    }
    labelled.lastIndex = Math.max(end, labelled.lastIndex)
  }
  return out + s.slice(from)
}

/**
 * `s` with every secret it holds replaced by `marker`, the rest kept: credential URL passwords, secret
 * query parameters and labelled secrets, well-known token formats and PEM private keys. For any string;
 * source code stays readable.
 */
export const text = (s: string): string => {
  if (s.length === 0) return s
  // Labels before credential URLs: a labelled value holding a space would otherwise hide a URL's end until
  // it is redacted, and a second pass would find more.
  return credentialUrls(labelledSecrets(tokens(s)))
}

// ---------------------------------------------------------------------------------------------------------
// Command lines and store URLs

const optionName = /^--?[^=\s]+$/

/**
 * Command-line arguments: the value of a secret-named option is replaced whole (`--api-key=…`,
 * `--password …`), since all of it is the secret; in any other argument only the secret part
 * (`--db=postgres://u:***REDACTED***@h/x`).
 */
export const args = (argv: ReadonlyArray<string>): Array<string> =>
  argv.map((arg, i) => {
    const option = /^(--?[^=\s]+)=(.+)$/s.exec(arg)
    if (option !== null && isSecretKey(option[1]!)) return `${option[1]}=${marker}`
    const previous = argv[i - 1]
    if (previous !== undefined && optionName.test(previous) && isSecretKey(previous) && !arg.startsWith("-")) return marker
    return text(arg)
  })

/**
 * A store URL safe to show in a message: the password (everything from the user name's `:` to the last
 * `@`) becomes `***` wherever it stands, so even a malformed URL (`redis:///u:pw@h`) cannot leak it; other
 * secrets as in `text`.
 */
export const url = (u: string): string =>
  text(u).replace(/^([a-z][a-z0-9+.-]*:\/*)([^:@/]*)(:.*)?@/is, (_, scheme: string, user: string, password?: string) =>
    password === undefined ? `${scheme}${user}@` : `${scheme}${user}:***@`
  )
