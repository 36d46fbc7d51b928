import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Params from "../src/Params.js"
import * as Redaction from "../src/Redaction.js"

const { marker } = Redaction
const serialize = (params: { readonly [key: string]: unknown }) => Effect.runSync(Params.serialize(params)).params

// Token shapes, assembled at run time so that no secret scanner mistakes this file for a leak.
const alnum = fc.constantFrom(..."0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
const chars = (n: number, m = n) => fc.array(alnum, { minLength: n, maxLength: m }).map((a) => a.join(""))
/** Random characters with a digit and a capital letter, as the random part of a real key always has. */
const random = (n: number, m = n) => chars(n - 2, m - 2).map((s) => `7${s}Q`)

/** Every token format the module knows, generated with random bodies. */
const token: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom("p", "o", "u", "s", "r"), chars(36, 40)).map(([k, b]) => `gh${k}_${b}`),
  chars(82).map((b) => ["github", "pat", b.slice(0, 22), b.slice(22)].join("_")),
  fc.tuple(fc.constantFrom("AKIA", "ASIA"), fc.array(fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), { minLength: 16, maxLength: 16 })).map(([p, b]) => p + b.join("")),
  fc.tuple(fc.constantFrom("a", "b", "p", "r", "s"), chars(24, 40)).map(([k, b]) => `xox${k}-1234567890-${b}`),
  fc.tuple(fc.constantFrom("sk", "rk"), fc.constantFrom("live", "test"), chars(24, 99)).map(([a, b, c]) => [a, b, c].join("_")),
  chars(35).map((b) => `AI${"za"}${b}`),
  fc.tuple(fc.constantFrom("", "proj-", "ant-api03-"), random(40, 90)).map(([p, b]) => `sk-${p}${b}`),
  fc.tuple(chars(10, 40), chars(10, 60), chars(0, 43)).map(([h, p, s]) => `ey${"J"}${h}.ey${"J"}${p}.${s}`),
  fc.tuple(fc.constantFrom("RSA ", "EC ", "OPENSSH ", ""), chars(20, 200)).map(([k, b]) => `-----BEGIN ${k}PRIVATE KEY-----\n${b}\n-----END ${k}PRIVATE KEY-----`),
  chars(36).map((b) => `npm_${b}`),
  chars(34).map((b) => `hf_${b}`),
  chars(20, 40).map((b) => `glpat-${b}`)
)

/** Text around a token: anything but what would glue onto the token and make it a longer word. */
const around = fc.string({ maxLength: 40 }).map((s) => s.replace(/[A-Za-z0-9_+/=.-]/g, " "))

/** Ordinary values: words, numbers and plain URLs, nothing token-like. */
const ordinary = fc.oneof(
  fc.stringMatching(/^[a-z]{1,12}( [a-z]{1,12}){0,6}$/),
  fc.stringMatching(/^https:\/\/[a-z]{1,10}\.example\/[a-z0-9/]{0,20}(\?(page|q|lang|format)=[a-z0-9]{1,8})?$/),
  fc.stringMatching(/^[a-z]{1,10}(_[a-z]{1,10}){0,3}$/),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String)
)

describe("names", () => {
  it.each([
    "password", "db_password", "PGPASSWORD", "passwd", "api_key", "apiKey", "X-API-KEY", "--api-key", "token", "access_token",
    "githubToken", "auth", "basic_auth", "authorization", "ssh_key", "private-key", "signingKey", "cookie", "session", "sessionId",
    "session_id", "client_secret", "AWS_SECRET_ACCESS_KEY", "credentials", "bearer", "refresh_tokens", "db_pass", "secret",
    // A secret word split in two.
    "passWord", "PassWord", "userPassWord", "pass_word", "pass_phrase", "API_KEY"
  ])("%s is secret", (name) => expect(Redaction.isSecretKey(name)).toBe(true))

  it.each([
    "tokenizer", "max_tokens", "num_tokens", "token_count", "tokens", "passage", "compass", "keyboard", "author", "authority",
    "authSource", "password_length", "auth_method", "secret_name", "key", "monkey", "pass_rate", "session_name", "lr", "secretion_rate",
    // A language model's vocabulary tokens and their ids.
    "pad_token_id", "eos_token_id", "bos_token", "eos_token", "mask_token", "unk_token", "token_ids", "token_type_ids", "tokenIds",
    "decoder_start_token_id", "token_embedding", "token_dropout"
  ])("%s is not", (name) => expect(Redaction.isSecretKey(name)).toBe(false))

  it("a name made of words that are members of every object (`constructor`) is an ordinary name, not a crash", () => {
    for (const name of ["constructor", "model_constructor", "Child.prototype.constructor", "__proto__", "to_string", "has_own_property"])
      expect(Redaction.isSecretKey(name), name).toBe(false)
    expect(Redaction.text("Child.prototype.constructor = Child; password = 'hunter2'")).toBe(`Child.prototype.constructor = Child; password = '${marker}'`)
    expect(Redaction.args(["--model-constructor=resnet"])).toEqual(["--model-constructor=resnet"])
    expect(serialize({ model_constructor: "resnet", value_of: 1 })).toEqual({ model_constructor: "resnet", value_of: 1 })
  })
})

describe("text", () => {
  it.each([
    ["postgres://u:PW@h/x", `postgres://u:${marker}@h/x`],
    ["--db=postgres://u:PW@h/x", `--db=postgres://u:${marker}@h/x`],
    ["see mongodb://ann:p@ss:w/rd@h1,h2/db?x=1 for", `see mongodb://ann:${marker}@h1,h2/db?x=1 for`],
    // The password runs to the last `@` before a space: a raw `@` in a path after it costs the host, never the secret.
    ["postgres://u:pw@h/x?email=ada@example.org", `postgres://u:${marker}@example.org`],
    ["redis://:only-password@h:6379/0", `redis://:${marker}@h:6379/0`],
    ["http://h:8080/users/ada@example.org", "http://h:8080/users/ada@example.org"],
    ["ssh://git@github.com/x.git", "ssh://git@github.com/x.git"],
    ["https://h/f?X-Amz-Signature=abc&part=2&access_token=xyz", `https://h/f?X-Amz-Signature=${marker}&part=2&access_token=${marker}`],
    ["https://maps.example/api?key=abc123&q=berlin", `https://maps.example/api?key=${marker}&q=berlin`],
    ['const password = "hunter2"', `const password = "${marker}"`],
    ["{ \"apiKey\": 'k-1', \"user\": \"ada\" }", `{ "apiKey": '${marker}', "user": "ada" }`],
    ["PGPASSWORD=s3cret psql", `PGPASSWORD=${marker} psql`],
    ["Server=db;Password=s3cret;Database=lab", `Server=db;Password=${marker};Database=lab`],
    ["aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", `aws_secret_access_key = ${marker}`],
    ["Authorization: Basic YWRhOmh1bnRlcjI=", `Authorization: Basic ${marker}`],
    ["password: hunter2", `password: ${marker}`],
    // Subscripts, escaped quotes (JSON inside a string), triple quotes, `:=` and `<-`.
    ['process.env["API_KEY"] = "abc123def"', `process.env["API_KEY"] = "${marker}"`],
    ["os.environ['DB_PASSWORD'] = 'hunter2'", `os.environ['DB_PASSWORD'] = '${marker}'`],
    ['headers["Authorization"] = "Basic YWRhOmh1bnRlcjI="', `headers["Authorization"] = "${marker}"`],
    [String.raw`body: "{\"password\":\"hunter2\",\"user\":\"ada\"}"`, String.raw`body: "{\"password\":\"` + marker + String.raw`\",\"user\":\"ada\"}"`],
    [String.raw`{\\\"api_key\\\": \\\"k-1\\\"}`, String.raw`{\\\"api_key\\\": \\\"` + marker + String.raw`\\\"}`],
    ['password = """hunter2"""', `password = """${marker}"""`],
    ["secret = '''two\nlines'''", `secret = '''${marker}'''`],
    ['token := "abc123xyz"', `token := "${marker}"`],
    ['api_key <- "abc123xyz"', `api_key <- "${marker}"`],
    ["passWord=hunter2", `passWord=${marker}`],
    // The HTTP scheme is case-insensitive; webhook URLs are credentials.
    ["curl -H 'authorization: bearer abcdefghijklmnop1234'", `curl -H 'authorization: bearer ${marker}'`],
    ["bearer abcdefghijklmnop1234", `bearer ${marker}`],
    ["notify https://hooks.slack.com/services/T0AB12CD3/B0AB12CD3/abcdefghijklmnopqrstuvwx now", `notify https://${marker} now`]
  ])("%s", (input, expected) => expect(Redaction.text(input)).toBe(expected))

  it.each([
    "function login(token: string, password: Redacted<string>) { return token === password }",
    "const token = process.env.GITHUB_TOKEN",
    "tokens.map((token) => token.length)",
    "if (password == null) throw new Error('password: required')",
    "sk-learn-classifier",
    "max_tokens=1024 tokenizer=bert",
    "Basic statistics of the passage",
    "tokenizer(text, max_length=512)[\"input_ids\"]; pad_token_id = 0; eos_token = \"</s>\""
  ])("leaves code and prose alone: %s", (input) => expect(Redaction.text(input)).toBe(input))

  it("any token embedded anywhere is gone, and what surrounds it is kept", () => {
    fc.assert(
      fc.property(around, token, around, (before, t, after) => {
        const out = Redaction.text(before + t + after)
        expect(out).not.toContain(t)
        expect(out).toBe(before + marker + after)
      }),
      { numRuns: 2_000 }
    )
  })

  it.each([
    ["postgres://pwd:000@db.example/lab", `postgres://pwd:${marker}@db.example/lab`],
    ["https://token:abc123@h.example/x", `https://token:${marker}@h.example/x`],
    ["--db=postgres://auth:hunter22@h/x", `--db=postgres://auth:${marker}@h/x`]
  ])("a URL whose user is named like a secret loses its password and keeps its host: %s", (input, expected) =>
    expect(Redaction.text(input)).toBe(expected)
  )

  it("a credential URL's password is gone wherever the URL stands, whatever the password holds", () => {
    // A password that reads as a port and a path (`8080/x`) is taken for one: see the port case above.
    const password = fc.string({ minLength: 1, maxLength: 30 }).filter((p) => !/\s/.test(p) && /[A-Za-z0-9]{3}/.test(p) && !/^[0-9]{1,5}[/?#]/.test(p))
    fc.assert(
      fc.property(around, fc.constantFrom("postgres", "mongodb+srv", "redis", "https"), fc.stringMatching(/^[a-z]{0,8}$/), password, around, (before, scheme, user, pw, after) => {
        const url = `${scheme}://${user}:${pw}@db.example/lab`
        const out = Redaction.text(`${before}${url}${after}`)
        expect(out).not.toContain(`:${pw}@`)
        expect(out).toContain(`${scheme}://${user}:${marker}@`)
      }),
      { numRuns: 2_000 }
    )
  })

  it("is idempotent", () => {
    const mixed = fc.array(fc.oneof(token, ordinary, fc.string(), fc.constantFrom("password=", "?token=", ":pw@", "postgres://u:", "@", "\n")), { maxLength: 8 })
    fc.assert(
      fc.property(mixed, (parts) => {
        const once = Redaction.text(parts.join(""))
        expect(Redaction.text(once)).toBe(once)
      }),
      { numRuns: 3_000 }
    )
  })

  it("ordinary values survive unchanged", () => {
    fc.assert(
      fc.property(ordinary, (s) => {
        expect(Redaction.text(s)).toBe(s)
      }),
      { numRuns: 2_000 }
    )
  })

  // Speed is for benchmarks; this only catches a rule gone quadratic. Each input is 2 MB, shaped so that a
  // rule that rescans the rest of the input at each label, quote, `@` or token start does ~10^12 steps: far
  // beyond the timeout, where a linear scan takes a fraction of a second. No time is measured.
  it("finishes on 2 MB inputs shaped to make a rule rescan the rest of the input", { timeout: 60_000 }, () => {
    const units = [
      "a://u:", ":", "a:", "a-", "A", "aB", 'password="', "password: ", "token=x&", "eyJ", "sk-", "@", "-----BEGIN PRIVATE KEY-----", "x ",
      // A label whose unquoted value runs on over the labels after it.
      "token:", "password:", "api_key:", "x.token:", "'token':", "token:=", "&sig=",
      // Escaped and triple quotes, subscripts.
      '\\"password\\":', "password='''", 'x["token"]='
    ]
    for (const unit of units) {
      // Starting like a URL and ending in `=1` gives the URL and the name rules a try at the whole input.
      const input = `a://${unit.repeat(Math.ceil(2_000_000 / unit.length))}=1`
      expect(Redaction.text(input).length, unit).toBeGreaterThan(0)
    }
  })
})

describe("params", () => {
  it("a param value shaped to make a rule rescan its rest is serialized (2 MB; see the text case)", { timeout: 60_000 }, () => {
    for (const value of [`a://${":".repeat(2_000_000)}`, "token:".repeat(350_000)])
      expect(Effect.runSync(Params.serialize({ dsn: value })).params["dsn"]).toBeTypeOf("string")
  })

  it("a secret key's value is redacted whole whatever its shape; booleans are kept", () => {
    expect(serialize({ password: { value: "x" }, token: ["a", "b"], ssh_key: 1234, cookie: new URL("https://h/"), auth: true })).toEqual({
      password: marker,
      token: marker,
      ssh_key: marker,
      cookie: marker,
      auth: true
    })
  })

  it("no secret placed at any depth, under a secret key or as a value, reaches the JSON", () => {
    const secretKey = fc.constantFrom("password", "api_key", "token", "ssh_key", "cookie", "clientSecret", "AUTHORIZATION")
    const plainKey = fc.constantFrom("lr", "name", "steps", "max_tokens", "tokenizer", "data", "url")
    const leaf = fc.oneof(ordinary, fc.integer(), fc.boolean())
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(plainKey, { minLength: 0, maxLength: 6 }), fc.oneof(secretKey.map((k) => ({ k })), fc.constant(undefined)), chars(12, 20)), { minLength: 1, maxLength: 5 }),
        fc.dictionary(plainKey, leaf),
        fc.array(token, { maxLength: 3 }),
        (placements, base, tokens) => {
          const params: Record<string, unknown> = { ...base, found: tokens.map((t) => `log: ${t}`) }
          const secrets: Array<string> = [...tokens]
          for (const [path, under, secret] of placements) {
            // Under a secret key: any value; as a plain value: a credential URL, so found by value.
            const value = under === undefined ? `postgres://u:${secret}@h/x` : { value: secret, list: [secret] }
            let node = params
            for (const p of path) node = (node[p] = typeof node[p] === "object" && node[p] !== null && !Array.isArray(node[p]) ? node[p] : {}) as Record<string, unknown>
            node[under?.k ?? "dsn"] = value
            secrets.push(secret)
          }
          const json = JSON.stringify(serialize(params))
          for (const s of secrets) expect(json).not.toContain(s)
        }
      ),
      { numRuns: 1_000 }
    )
  })

  it("a record-like param (an object with a uid) is referenced with its uid redacted, whatever its prototype", () => {
    class Dataset {
      constructor(readonly uid: string) {}
    }
    const orphan = Object.assign(Object.create(Object.create(null) as object) as object, { uid: "abc" })
    expect(serialize({ data: new Dataset("postgres://u:UidHidden9@h/x"), other: orphan })).toEqual({
      data: `Dataset[postgres://u:${marker}@h/x]`,
      other: "Object[abc]"
    })
  })

  it("a language model's vocabulary tokens are settings, not secrets", () => {
    const settings = { pad_token_id: 0, eos_token: "</s>", mask_token: "[MASK]", token_type_ids: [0, 1], max_new_tokens: 64 }
    expect(serialize(settings)).toEqual(settings)
  })

  it("keys holding a credential URL are redacted too, so the warning about dropped keys shows none", () => {
    const { params, dropped } = Effect.runSync(Params.serialize({ "postgres://u:KeyHidden9@h/x": { fn: () => 1 } }))
    expect(JSON.stringify(params)).not.toContain("KeyHidden9")
    expect(dropped).toEqual([`postgres://u:${marker}@h/x.fn`])
  })
})

describe("command lines", () => {
  it("secret-named options lose their whole value; other arguments only their secret part", () => {
    expect(
      Redaction.args(["--api-key=k1", "--password", "p1", "--db=postgres://u:PW@h/x", "--token", "--verbose", "ghp_" + "x".repeat(36), "--max-tokens=10", "-p", "8080"])
    ).toEqual([`--api-key=${marker}`, "--password", marker, `--db=postgres://u:${marker}@h/x`, "--token", "--verbose", marker, "--max-tokens=10", "-p", "8080"])
  })
})

describe("store URLs in messages", () => {
  it.each([
    ["redis://bob:pa:ss@h:1/0", "redis://bob:***@h:1/0"],
    ["redis:///ada:Tr1ple@127.0.0.1:6379", "redis:///ada:***@127.0.0.1:6379"],
    ["memory://user:pw@host", "memory://user:***@host"],
    ["mongodb://h/db?authSource=admin", "mongodb://h/db?authSource=admin"],
    ["mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:tok123", `mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:${marker}`]
  ])("%s", (input, expected) => expect(Redaction.url(input)).toBe(expected))
})
