// A small fault-injecting HTTP proxy for the DynamoDB JSON protocol (node:http only).
//
// Put it between an AWS SDK DynamoDB client and DynamoDB Local to play what neither emulator
// ever does: partial batches (UnprocessedItems / UnprocessedKeys), throttling, 500s, dropped
// connections, and connections dropped after the write really happened.
//
//   const proxy = await startFaultProxy({
//     target: ddbEndpoint(),
//     seed: 42,
//     faults: { BatchWriteItem: { unprocessed: 0.5, throttle: 0.1 }, '*': { serverError: 0.05 } }
//   })
//   const client = localDynamoClient(proxy.endpoint)
//   ...
//   expect(proxy.stats.injected.unprocessedItems).toBeGreaterThan(0)
//   await proxy.stop()
//
// Faults are drawn from a seeded PRNG, so the same sequence of requests gets the same faults.
// The operation comes from the `X-Amz-Target` header (`DynamoDB_20120810.BatchWriteItem`).
//
// Notes checked against DynamoDB Local 1.25.1 and @aws-sdk/client-dynamodb 3.1169:
// - DynamoDB Local does NOT verify SigV4 signatures: it needs an Authorization header naming an
//   access key, but accepts any signature, so a body rewritten after signing is accepted as is.
//   (Were that to change, the proxy would have to re-sign the request with the fake test
//   credentials, e.g. with @smithy/signature-v4.)
// - DynamoDB Local sends `x-amz-crc32` (CRC32 of the response body). SDK v3 does not validate it
//   (v2 did); the proxy nevertheless recomputes it for every response whose body it rewrites, so
//   a validating client would accept the rewritten response too.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'

/** The kinds of fault the proxy can inject. */
export type FaultKind = 'unprocessed' | 'throttle' | 'serverError' | 'drop' | 'dropAfterForward'

export const FAULT_KINDS: readonly FaultKind[] = [
  'drop',
  'throttle',
  'serverError',
  'dropAfterForward',
  'unprocessed'
]

/** Fault rates (probabilities in [0, 1]) and bounds for one operation, or for all ('*'). */
export interface OperationFaults {
  /**
   * BatchWriteItem: move a random non-empty proper subset of the write requests to
   * UnprocessedItems (they are not forwarded). BatchGetItem: the same for keys and
   * UnprocessedKeys. Ignored for other operations and for batches of a single request.
   */
  unprocessed?: number
  /** Answer HTTP 400 with a throttling error, without forwarding. */
  throttle?: number
  /** Which throttling error to send (default ProvisionedThroughputExceededException). */
  throttleType?: 'ProvisionedThroughputExceededException' | 'ThrottlingException'
  /** Answer HTTP 500 InternalServerError, without forwarding. */
  serverError?: number
  /** Destroy the client's socket without any response, without forwarding. */
  drop?: number
  /** Forward (so the operation really happens), then destroy the client's socket unanswered. */
  dropAfterForward?: number
  /** Stop injecting after this many faults from this entry: a total, or a cap per kind. */
  maxFaults?: number | Partial<Record<FaultKind, number>>
  /** Only the first N requests that this entry applies to are eligible for faults. */
  onlyFirstN?: number
}

/**
 * Keyed by DynamoDB operation name (`BatchWriteItem`, `BatchGetItem`, `Scan`, `PutItem`, ...)
 * or '*'. A request uses the entry of its operation when there is one, otherwise '*'.
 */
export type FaultPlan = Partial<Record<string, OperationFaults>>

/** One request as the proxy saw it. */
export interface FaultEvent {
  seq: number
  operation: string
  /** The fault injected, or null when the request was forwarded untouched. */
  fault: FaultKind | null
  /** For `unprocessed`: how many write requests or keys were moved. */
  moved?: number
}

export interface FaultStats {
  totalRequests: number
  /** Requests per operation. */
  requests: Record<string, number>
  /** Requests sent on to the target (including dropAfterForward and rewritten batches). */
  forwarded: number
  /** Faults injected per kind, plus how many write requests / keys were moved. */
  injected: Record<FaultKind, number> & { unprocessedItems: number; unprocessedKeys: number }
  injectedByOperation: Record<string, Partial<Record<FaultKind, number>>>
  /** Every request in arrival order (the first 10,000). */
  events: FaultEvent[]
}

export interface FaultProxyOptions {
  /** Where to forward, e.g. the DynamoDB Local endpoint. */
  target: string
  /** PRNG seed (default 1). */
  seed?: number
  faults?: FaultPlan
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>: point the SDK client here. */
  endpoint: string
  /** Live counters (the object is updated in place). */
  stats: FaultStats
  /** Replace the plan; the per-entry counters of onlyFirstN and maxFaults start again. */
  setFaults(plan: FaultPlan): void
  /** Zero the stats. */
  resetStats(): void
  /**
   * Run `hook` (awaited) before each request is handled: lets a test act at a chosen moment,
   * e.g. write to a table when the action first asks for something. `undefined` removes it.
   */
  setHook(hook: RequestHook | undefined): void
  /**
   * Rewrite the body of answers forwarded untouched (e.g. repeat an attribute name in a Scan
   * page). The CRC32 header is recomputed unless `keepCrc`, which leaves DynamoDB's, so the
   * answer no longer matches its checksum. `undefined` removes it.
   */
  setResponseRewrite(rewrite: ResponseRewrite | undefined): void
  stop(): Promise<void>
}

export type ResponseRewrite = (
  operation: string,
  body: string
) => { body: string; keepCrc?: boolean } | undefined

/** Sees each request's operation and JSON body before the proxy handles it. */
export type RequestHook = (operation: string, body: Record<string, unknown>) => Promise<void> | void

const ERROR_NAMESPACE = 'com.amazonaws.dynamodb.v20120810'
const MAX_EVENTS = 10_000
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length'
])

/** mulberry32: a tiny, seedable PRNG with good enough spread for test fault schedules. */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function emptyStats(): FaultStats {
  return {
    totalRequests: 0,
    requests: {},
    forwarded: 0,
    injected: {
      unprocessed: 0,
      throttle: 0,
      serverError: 0,
      drop: 0,
      dropAfterForward: 0,
      unprocessedItems: 0,
      unprocessedKeys: 0
    },
    injectedByOperation: {},
    events: []
  }
}

function validatePlan(plan: FaultPlan): void {
  for (const [operation, entry] of Object.entries(plan)) {
    if (!entry) continue
    for (const kind of FAULT_KINDS) {
      const rate = entry[kind]
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
        throw new RangeError(`fault rate ${operation}.${kind} must be in [0, 1], got ${rate}`)
      }
    }
  }
}

interface EntryCounters {
  seen: number
  faults: number
  byKind: Partial<Record<FaultKind, number>>
}

interface UpstreamResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

type JsonObject = Record<string, unknown>

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Pick k distinct indices out of n with the PRNG (partial Fisher-Yates). */
function pickIndices(n: number, k: number, random: () => number): Set<number> {
  const pool = Array.from({ length: n }, (_, i) => i)
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i))
    const tmp = pool[i] as number
    pool[i] = pool[j] as number
    pool[j] = tmp
  }
  return new Set(pool.slice(0, k))
}

/** A proper, non-empty subset size for a batch of n (n >= 2): 1..n-1. */
const subsetSize = (n: number, random: () => number): number => 1 + Math.floor(random() * (n - 1))

interface BatchSplit {
  /** The request body to forward. */
  forward: JsonObject
  /** Per table: the write requests (BatchWriteItem) or key-and-attributes (BatchGetItem) held back. */
  held: Record<string, unknown>
  moved: number
}

/** BatchWriteItem: hold back a random proper subset of the write requests. */
function splitBatchWrite(body: JsonObject, random: () => number): BatchSplit | undefined {
  const requestItems = body.RequestItems
  if (!isObject(requestItems)) return undefined
  const flat: Array<{ table: string; request: unknown }> = []
  for (const [table, requests] of Object.entries(requestItems)) {
    if (!Array.isArray(requests)) return undefined
    for (const request of requests) flat.push({ table, request })
  }
  if (flat.length < 2) return undefined
  const chosen = pickIndices(flat.length, subsetSize(flat.length, random), random)
  const keep: Record<string, unknown[]> = {}
  const held: Record<string, unknown[]> = {}
  flat.forEach(({ table, request }, index) => {
    const target = chosen.has(index) ? held : keep
    ;(target[table] ??= []).push(request)
  })
  return { forward: { ...body, RequestItems: keep }, held, moved: chosen.size }
}

/** BatchGetItem: hold back a random proper subset of the keys, keeping each table's options. */
function splitBatchGet(body: JsonObject, random: () => number): BatchSplit | undefined {
  const requestItems = body.RequestItems
  if (!isObject(requestItems)) return undefined
  const flat: Array<{ table: string; key: unknown }> = []
  for (const [table, spec] of Object.entries(requestItems)) {
    if (!isObject(spec) || !Array.isArray(spec.Keys)) return undefined
    for (const key of spec.Keys as unknown[]) flat.push({ table, key })
  }
  if (flat.length < 2) return undefined
  const chosen = pickIndices(flat.length, subsetSize(flat.length, random), random)
  const keep: Record<string, JsonObject> = {}
  const held: Record<string, JsonObject> = {}
  flat.forEach(({ table, key }, index) => {
    const target = chosen.has(index) ? held : keep
    const spec = requestItems[table] as JsonObject
    const entry = (target[table] ??= { ...spec, Keys: [] })
    ;(entry.Keys as unknown[]).push(key)
  })
  return { forward: { ...body, RequestItems: keep }, held, moved: chosen.size }
}

/**
 * Merge held-back requests into DynamoDB's own UnprocessedItems / UnprocessedKeys (exported for
 * tests: DynamoDB Local never returns any of its own).
 */
export function mergeUnprocessed(
  operation: 'BatchWriteItem' | 'BatchGetItem',
  response: JsonObject,
  held: Record<string, unknown>
): JsonObject {
  const field = operation === 'BatchWriteItem' ? 'UnprocessedItems' : 'UnprocessedKeys'
  const own = response[field]
  const merged: JsonObject = isObject(own) ? { ...own } : {}
  for (const [table, value] of Object.entries(held)) {
    const current = merged[table]
    if (operation === 'BatchWriteItem') {
      merged[table] = [...(Array.isArray(current) ? current : []), ...(value as unknown[])]
    } else {
      const heldSpec = value as JsonObject
      merged[table] = isObject(current)
        ? {
            ...current,
            Keys: [
              ...(Array.isArray(current.Keys) ? current.Keys : []),
              ...(heldSpec.Keys as unknown[])
            ]
          }
        : heldSpec
    }
  }
  return { ...response, [field]: merged }
}

function errorBody(type: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ __type: `${ERROR_NAMESPACE}#${type}`, message }))
}

/**
 * Start the proxy on 127.0.0.1 with an ephemeral port.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target)
  const random = createPrng(options.seed ?? 1)
  let plan: FaultPlan = {}
  let counters = new Map<string, EntryCounters>()
  const stats = emptyStats()
  let seq = 0
  let hook: RequestHook | undefined
  let responseRewrite: ResponseRewrite | undefined

  const setFaults = (next: FaultPlan): void => {
    validatePlan(next)
    plan = { ...next }
    counters = new Map()
  }
  setFaults(options.faults ?? {})

  const resetStats = (): void => {
    Object.assign(stats, emptyStats())
  }

  const record = (event: FaultEvent): void => {
    if (stats.events.length < MAX_EVENTS) stats.events.push(event)
    if (event.fault) {
      stats.injected[event.fault]++
      const byOp = (stats.injectedByOperation[event.operation] ??= {})
      byOp[event.fault] = (byOp[event.fault] ?? 0) + 1
    }
  }

  /** Decide whether `kind` fires for this request, honouring maxFaults. Draws from the PRNG. */
  const fires = (
    entry: OperationFaults,
    count: EntryCounters | undefined,
    kind: FaultKind
  ): boolean => {
    const rate = entry[kind] ?? 0
    if (rate <= 0 || !count) return false
    const cap = entry.maxFaults
    if (typeof cap === 'number' && count.faults >= cap) return false
    if (
      isObject(cap) &&
      (count.byKind[kind] ?? 0) >= ((cap as Record<string, number>)[kind] ?? Infinity)
    ) {
      return false
    }
    return random() < rate
  }

  const countFault = (count: EntryCounters | undefined, kind: FaultKind): void => {
    if (!count) return
    count.faults++
    count.byKind[kind] = (count.byKind[kind] ?? 0) + 1
  }

  const forward = (req: http.IncomingMessage, body: Buffer): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value
      }
      headers['content-length'] = String(body.length)
      // The response may be rewritten: ask for it uncompressed.
      headers['accept-encoding'] = 'identity'
      stats.forwarded++
      const upstream = http.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 502,
              headers: res.headers,
              body: Buffer.concat(chunks)
            })
          )
          res.on('error', reject)
        }
      )
      upstream.on('error', reject)
      upstream.end(body)
    })

  const reply = (
    res: http.ServerResponse,
    status: number,
    headers: http.IncomingHttpHeaders,
    body: Buffer,
    rewritten: boolean
  ): void => {
    const out: http.OutgoingHttpHeaders = {}
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value
    }
    if (rewritten) out['x-amz-crc32'] = String(zlib.crc32(body))
    out['content-length'] = String(body.length)
    res.writeHead(status, out)
    res.end(body)
  }

  const replyError = (
    res: http.ServerResponse,
    status: number,
    type: string,
    message: string
  ): void => {
    reply(
      res,
      status,
      { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() },
      errorBody(type, message),
      true
    )
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)

    const targetHeader = req.headers['x-amz-target']
    const operation =
      (typeof targetHeader === 'string' ? targetHeader.split('.').pop() : undefined) || 'unknown'
    if (hook)
      await hook(operation, JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>)
    stats.totalRequests++
    stats.requests[operation] = (stats.requests[operation] ?? 0) + 1
    const event: FaultEvent = { seq: ++seq, operation, fault: null }

    const entryKey = plan[operation] ? operation : plan['*'] ? '*' : undefined
    const entry: OperationFaults = entryKey ? (plan[entryKey] ?? {}) : {}
    let count: EntryCounters | undefined
    if (entryKey) {
      count = counters.get(entryKey) ?? { seen: 0, faults: 0, byKind: {} }
      counters.set(entryKey, count)
      count.seen++
      if (entry.onlyFirstN !== undefined && count.seen > entry.onlyFirstN) count = undefined
    }

    if (fires(entry, count, 'drop')) {
      countFault(count, 'drop')
      record({ ...event, fault: 'drop' })
      req.socket.destroy()
      return
    }
    if (fires(entry, count, 'throttle')) {
      countFault(count, 'throttle')
      record({ ...event, fault: 'throttle' })
      const type = entry.throttleType ?? 'ProvisionedThroughputExceededException'
      replyError(
        res,
        400,
        type,
        type === 'ThrottlingException'
          ? 'Rate of requests exceeds the allowed throughput. (injected by fault-proxy)'
          : 'The level of configured provisioned throughput for the table was exceeded. ' +
              'Consider increasing your provisioning level with the UpdateTable API. (injected by fault-proxy)'
      )
      return
    }
    if (fires(entry, count, 'serverError')) {
      countFault(count, 'serverError')
      record({ ...event, fault: 'serverError' })
      replyError(res, 500, 'InternalServerError', 'Internal server error (injected by fault-proxy)')
      return
    }
    if (fires(entry, count, 'dropAfterForward')) {
      countFault(count, 'dropAfterForward')
      record({ ...event, fault: 'dropAfterForward' })
      await forward(req, body)
      req.socket.destroy()
      return
    }

    if (
      (operation === 'BatchWriteItem' || operation === 'BatchGetItem') &&
      fires(entry, count, 'unprocessed')
    ) {
      let parsed: unknown
      try {
        parsed = JSON.parse(body.toString('utf8'))
      } catch {
        parsed = undefined
      }
      const split = isObject(parsed)
        ? operation === 'BatchWriteItem'
          ? splitBatchWrite(parsed, random)
          : splitBatchGet(parsed, random)
        : undefined
      if (split) {
        const upstream = await forward(req, Buffer.from(JSON.stringify(split.forward)))
        let upstreamJson: unknown
        try {
          upstreamJson = JSON.parse(upstream.body.toString('utf8'))
        } catch {
          upstreamJson = undefined
        }
        if (upstream.status === 200 && isObject(upstreamJson)) {
          countFault(count, 'unprocessed')
          record({ ...event, fault: 'unprocessed', moved: split.moved })
          if (operation === 'BatchWriteItem') stats.injected.unprocessedItems += split.moved
          else stats.injected.unprocessedKeys += split.moved
          const merged = mergeUnprocessed(operation, upstreamJson, split.held)
          reply(res, 200, upstream.headers, Buffer.from(JSON.stringify(merged)), true)
        } else {
          // The reduced batch was rejected: pass DynamoDB's answer through, no fault counted.
          record(event)
          reply(res, upstream.status, upstream.headers, upstream.body, false)
        }
        return
      }
    }

    record(event)
    const upstream = await forward(req, body)
    const rewritten =
      upstream.status === 200
        ? responseRewrite?.(operation, upstream.body.toString('utf8'))
        : undefined
    if (rewritten) {
      reply(
        res,
        upstream.status,
        upstream.headers,
        Buffer.from(rewritten.body, 'utf8'),
        rewritten.keepCrc !== true
      )
      return
    }
    reply(res, upstream.status, upstream.headers, upstream.body, false)
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error)
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' })
        res.end(`fault-proxy: upstream failed: ${message}`)
      } else {
        res.destroy()
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()))
      server.closeAllConnections()
    })
    return stopped
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setFaults,
    resetStats,
    setHook: (next) => {
      hook = next
    },
    setResponseRewrite: (next) => {
      responseRewrite = next
    },
    stop
  }
}
