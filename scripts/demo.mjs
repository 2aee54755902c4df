// `npm run demo`: the article's walk-through on your own machine, no AWS account needed.
//
//   1. builds dist/ if it is missing (`npm run package`);
//   2. starts DynamoDB Local (in memory) and moto (S3) through scripts/emulators.mjs;
//   3. creates `order-tracking-qa` (orderId + createdAt, GSI byCustomer) seeded with a few
//      thousand order-tracking events, and `qa-order-tracking` with the same definition, empty,
//      as your IaC would create it; and an S3 bucket for the backups;
//   4. runs `node dist/index.js` three times exactly as the GitHub runner does (INPUT_<NAME>
//      variables, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, RUNNER_TEMP): plan, copy (with a
//      backup to s3://<bucket>/dynamodb-backups), verify, showing the action's log as it runs
//      and, after each run, its job summary as text and the `verified` and `backup-location`
//      outputs;
//   5. stops the emulators, also on failure or Ctrl-C.
//
// Environment:
//   DDB_LOCAL_ENDPOINT / MOTO_ENDPOINT   use emulators you started yourself (e.g. with
//                                        `node scripts/emulators.mjs start`) instead; the demo's
//                                        tables are deleted and recreated there, nothing is stopped
//   DEMO_ITEMS                           how many items to seed (default 3000)
//   DEMO_DEBUG=1                         also show the action's ::debug:: lines
//   NO_COLOR                             plain output
//
// The demo never prints item attribute values: only table names, keys' names, counts, digests
// and the action's own log, which is built to show keys at most.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
  waitUntilTableNotExists
} from '@aws-sdk/client-dynamodb'
import {
  CreateBucketCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client
} from '@aws-sdk/client-s3'
import { REPO_ROOT, startDynamoDbLocal, startMoto } from './emulators.mjs'
import { actionYmlDefaults } from './action-defaults.mjs'

// The SDK warns once per process on Node 20; the runner uses Node 24 and does not.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const SOURCE = 'order-tracking-qa'
const TARGET = 'qa-order-tracking'
const BUCKET = 'demo-dynamodb-backups'
const BACKUP_URI = `s3://${BUCKET}/dynamodb-backups`
const REGION = 'us-east-1'
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }
const ITEM_COUNT = Math.max(10, Number(process.env.DEMO_ITEMS ?? '') || 3000)
const EVENTS_PER_ORDER = 3
const SHOW_DEBUG = /^(1|true)$/i.test(process.env.DEMO_DEBUG ?? '')
const DIST = path.join(REPO_ROOT, 'dist', 'index.js')

// ---------------------------------------------------------------------------------------------
// Terminal output
// ---------------------------------------------------------------------------------------------

const useColor = process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code) => (text) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text)
const bold = paint('1')
const dim = paint('2')
const red = paint('31')
const green = paint('32')
const yellow = paint('33')
const cyan = paint('36')

const say = (text = '') => process.stdout.write(`${text}\n`)
const step = (text) => say(`\n${bold(cyan('==>'))} ${bold(text)}`)
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`

// ---------------------------------------------------------------------------------------------
// The tables, as IaC would declare them
// ---------------------------------------------------------------------------------------------

/** One definition for both tables: the target is created from the same template. */
function orderTrackingDefinition(name) {
  return {
    TableName: name,
    AttributeDefinitions: [
      { AttributeName: 'orderId', AttributeType: 'S' },
      { AttributeName: 'createdAt', AttributeType: 'N' },
      { AttributeName: 'customerId', AttributeType: 'S' }
    ],
    KeySchema: [
      { AttributeName: 'orderId', KeyType: 'HASH' },
      { AttributeName: 'createdAt', KeyType: 'RANGE' }
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byCustomer',
        KeySchema: [
          { AttributeName: 'customerId', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' }
        ],
        Projection: { ProjectionType: 'ALL' }
      }
    ],
    BillingMode: 'PAY_PER_REQUEST'
  }
}

/** Small deterministic PRNG (mulberry32): the same data on every run. */
function prng(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const STATUSES = ['PLACED', 'PAID', 'PICKED', 'SHIPPED', 'OUT_FOR_DELIVERY', 'DELIVERED']
const CARRIERS = ['UPS', 'DHL', 'FedEx', 'USPS', 'PostNL']
const CITIES = [
  ['Seattle', 'US', '98101'],
  ['Austin', 'US', '73301'],
  ['Berlin', 'DE', '10115'],
  ['Amsterdam', 'NL', '1011'],
  ['Lyon', 'FR', '69001'],
  ['Toronto', 'CA', 'M5H']
]
const PRODUCTS = [
  ['SKU-TSHIRT-M', 'Organic cotton T-shirt', '24.90'],
  ['SKU-MUG-350', 'Enamel camping mug', '14.50'],
  ['SKU-BOOK-DDB', 'The DynamoDB Book', '79.00'],
  ['SKU-SOCKS-3P', 'Merino socks (3 pairs)', '29.95'],
  ['SKU-BOTTLE-1L', 'Insulated bottle 1 l', '34.00'],
  ['SKU-CABLE-USBC', 'USB-C cable 2 m', '9.99'],
  ['SKU-LAMP-LED', 'Desk lamp', '59.00']
]
const TAGS = ['gift', 'first-order', 'vip', 'promo-bf', 'subscription', 'b2b']

const pick = (rand, list) => list[Math.floor(rand() * list.length)]

/**
 * Order-tracking events: EVENTS_PER_ORDER rows per order (PLACED, PAID, ... in time order),
 * with strings, decimal numbers, maps, lists, string and number sets, booleans, NULL and a
 * small binary now and then.
 */
function orderItems(count) {
  const rand = prng(20261125)
  const items = []
  const start = Date.UTC(2026, 9, 1)
  for (let order = 0; items.length < count; order++) {
    const orderId = `ORD-${String(240000 + order).padStart(7, '0')}`
    const customerId = `CUST-${String(1000 + Math.floor(rand() * 400)).padStart(5, '0')}`
    const [city, country, postalCode] = pick(rand, CITIES)
    const lines = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => {
      const [sku, name, price] = pick(rand, PRODUCTS)
      return { sku, name, price, qty: 1 + Math.floor(rand() * 3) }
    })
    const total = lines.reduce((sum, l) => sum + Number(l.price) * l.qty, 0).toFixed(2)
    const placedAt = start + Math.floor(rand() * 50 * 86_400_000)
    const express = rand() < 0.25
    const tags = TAGS.filter(() => rand() < 0.2)
    const carrier = pick(rand, CARRIERS)
    for (let e = 0; e < EVENTS_PER_ORDER && items.length < count; e++) {
      const status = STATUSES[Math.min(e * 2, STATUSES.length - 1)]
      const createdAt = placedAt + e * (3_600_000 + Math.floor(rand() * 86_400_000))
      const item = {
        orderId: { S: orderId },
        createdAt: { N: String(createdAt) },
        customerId: { S: customerId },
        status: { S: status },
        totalAmount: { N: total },
        currency: { S: country === 'US' ? 'USD' : country === 'CA' ? 'CAD' : 'EUR' },
        lineItems: {
          L: lines.map((l) => ({
            M: {
              sku: { S: l.sku },
              name: { S: l.name },
              qty: { N: String(l.qty) },
              unitPrice: { N: l.price }
            }
          }))
        },
        shippingAddress: {
          M: {
            line1: { S: `${1 + Math.floor(rand() * 250)} Example Street` },
            city: { S: city },
            postalCode: { S: postalCode },
            country: { S: country }
          }
        },
        carrier: { S: carrier },
        warehouseIds: {
          NS: [...new Set([1 + Math.floor(rand() * 5), 6 + Math.floor(rand() * 3)])].map(String)
        },
        expressShipping: { BOOL: express },
        giftWrap: { BOOL: tags.includes('gift') },
        expiresAt: { N: String(Math.floor(createdAt / 1000) + 400 * 86_400) }
      }
      if (e > 0) item.trackingNumber = { S: `${carrier.toUpperCase()}${Math.floor(rand() * 1e10)}` }
      if (tags.length > 0) item.tags = { SS: tags }
      if (rand() < 0.1) item.deliveryNotes = { NULL: true }
      if (status === 'DELIVERED' && rand() < 0.5) {
        item.signaturePng = { B: Uint8Array.from({ length: 48 }, () => Math.floor(rand() * 256)) }
      }
      items.push(item)
    }
  }
  return items
}

// ---------------------------------------------------------------------------------------------
// AWS setup (the demo's own plain calls, not the action's code)
// ---------------------------------------------------------------------------------------------

async function recreateTable(ddb, definition) {
  const name = definition.TableName
  try {
    await ddb.send(new DeleteTableCommand({ TableName: name }))
    say(`  deleted the existing '${name}'`)
    await waitUntilTableNotExists(
      { client: ddb, maxWaitTime: 60, minDelay: 1 },
      { TableName: name }
    )
  } catch (error) {
    if (error?.name !== 'ResourceNotFoundException') throw error
  }
  await ddb.send(new CreateTableCommand(definition))
  await waitUntilTableExists({ client: ddb, maxWaitTime: 60, minDelay: 1 }, { TableName: name })
}

/** Plain seeding loop: 8 BatchWriteItem calls in flight, unprocessed items sent again. */
async function seed(ddb, table, items) {
  let next = 0
  const worker = async () => {
    for (;;) {
      const start = next
      next += 25
      if (start >= items.length) return
      let requests = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }))
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)))
        const out = await ddb.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: requests } })
        )
        requests = out.UnprocessedItems?.[table] ?? []
      }
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

async function ensureBucket(s3, bucket) {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }))
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  }
}

// ---------------------------------------------------------------------------------------------
// Running the action like the runner does
// ---------------------------------------------------------------------------------------------

/** Workflow-command data escaping (@actions/core's escapeData / escapeProperty), reversed. */
const unescapeData = (text) =>
  text
    .replace(/%0D/gi, '\r')
    .replace(/%0A/gi, '\n')
    .replace(/%3A/gi, ':')
    .replace(/%2C/gi, ',')
    .replace(/%25/g, '%')

/** One stdout line of the action as a terminal line (null: not shown). */
function formatLogLine(line) {
  const match = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line)
  if (!match) return `  ${dim('│')} ${line}`
  const [, command, , data] = match
  const message = unescapeData(data ?? '').replace(/\n/g, `\n  ${dim('│')}   `)
  switch (command) {
    case 'group':
      return `  ${dim('│')} ${bold(`▸ ${message}`)}`
    case 'endgroup':
    case 'add-mask':
    case 'set-output':
    case 'save-state':
      return null
    case 'debug':
      return SHOW_DEBUG ? `  ${dim('│')} ${dim(`debug: ${message}`)}` : null
    case 'notice':
      return `  ${dim('│')} ${cyan('notice:')} ${message}`
    case 'warning':
      return `  ${dim('│')} ${yellow('warning:')} ${message}`
    case 'error':
      return `  ${dim('│')} ${red('error:')} ${message}`
    default:
      return `  ${dim('│')} ${line}`
  }
}

/** The heredoc blocks @actions/core appends to GITHUB_OUTPUT. */
function parseOutputFile(text) {
  const outputs = {}
  const pattern = /^([^\n<]+)<<(ghadelimiter_[^\n]+)\n([\s\S]*?)\n\2$/gm
  for (const match of text.matchAll(pattern)) outputs[match[1]] = match[3]
  return outputs
}

let runningAction // the child process while an action run is going on

/**
 * `node dist/index.js` in a fresh process with the runner's environment: every input of the
 * step as INPUT_<NAME> (upper case, hyphens kept), AWS credentials and region from the
 * environment, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files and RUNNER_TEMP.
 */
async function runAction(label, inputs, workDir) {
  const dir = mkdtempSync(path.join(workDir, `${label}-`))
  const outputFile = path.join(dir, 'github_output')
  const summaryFile = path.join(dir, 'step_summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.homedir(),
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKFLOW: 'Rename order-tracking table',
    GITHUB_JOB: label,
    GITHUB_REPOSITORY: 'example-org/order-platform-infra',
    GITHUB_RUN_ID: String(900000 + (Date.now() % 100000)),
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    RUNNER_OS: 'Linux'
  }
  for (const [name, value] of Object.entries(inputs)) {
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }

  say(dim(`  $ node dist/index.js   (INPUT_MODE=${inputs.mode})`))
  const started = Date.now()
  const child = spawn(process.execPath, [DIST], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  runningAction = child
  const stdoutLines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity })
  stdoutLines.on('line', (line) => {
    const text = formatLogLine(line)
    if (text !== null) say(text)
  })
  const stderrLines = readline.createInterface({ input: child.stderr, crlfDelay: Infinity })
  stderrLines.on('line', (line) => say(`  ${dim('│')} ${yellow(line)}`))
  const { code, signal } = await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (c, s) => resolve({ code: c, signal: s }))
  })
  runningAction = undefined
  if (interrupted) return undefined
  const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'))
  const summary = readFileSync(summaryFile, 'utf8')
  return { code, signal, outputs, summary, ms: Date.now() - started }
}

// ---------------------------------------------------------------------------------------------
// The job summary (HTML) as terminal text
// ---------------------------------------------------------------------------------------------

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' }
const decodeEntities = (text) =>
  text.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name) => ENTITIES[name])

/** Inline HTML (inside a cell, paragraph or list item) as plain text. */
function inlineText(html) {
  return decodeEntities(
    html
      .replace(/<br\s*\/?>/gi, '\n')
      .replace(/<\/?code>/gi, '`')
      .replace(/<\/?b>|<\/?strong>/gi, '')
      .replace(/<[^>]+>/g, '')
  ).trim()
}

const visibleWidth = (text) => [...text].length

function renderTable(html) {
  const rows = [...html.matchAll(/<tr>([\s\S]*?)<\/tr>/gi)].map((row) =>
    [...row[1].matchAll(/<(th|td)[^>]*>([\s\S]*?)<\/\1>/gi)].map((cell) => ({
      header: cell[1].toLowerCase() === 'th',
      text: inlineText(cell[2])
    }))
  )
  if (rows.length === 0) return ''
  // Key/value table: a header cell then a value cell in every row.
  if (rows.every((r) => r.length === 2 && r[0].header && !r[1].header)) {
    const width = Math.max(...rows.map((r) => visibleWidth(r[0].text)))
    return rows
      .map((r) => {
        const [first, ...more] = r[1].text.split('\n')
        const pad = ' '.repeat(width - visibleWidth(r[0].text))
        return [
          `  ${r[0].text}:${pad} ${first}`,
          ...more.map((m) => `  ${' '.repeat(width + 1)} ${m}`)
        ].join('\n')
      })
      .join('\n')
  }
  // Grid: columns padded to their widest cell, a rule under a header row.
  const columns = Math.max(...rows.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(...rows.map((r) => visibleWidth((r[c]?.text ?? '').replace(/\n/g, ' '))))
  )
  const lines = []
  rows.forEach((r, index) => {
    const cells = widths.map((w, c) => {
      const text = (r[c]?.text ?? '').replace(/\n/g, ' ')
      return text + ' '.repeat(w - visibleWidth(text))
    })
    lines.push(`  ${cells.join('  ').trimEnd()}`)
    if (index === 0 && r.every((cell) => cell.header)) {
      lines.push(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}`)
    }
  })
  return lines.join('\n')
}

/** The job summary's HTML as markdown-ish text: headings, key/value lines, lists, grids. */
function summaryToText(html) {
  const tables = []
  let text = html.replace(/<table>[\s\S]*?<\/table>/gi, (table) => {
    tables.push(renderTable(table))
    return `\n@@table-${tables.length - 1}@@\n`
  })
  text = text
    .replace(
      /<h([1-6])>([\s\S]*?)<\/h\1>/gi,
      (_, level, inner) => `\n${'#'.repeat(Number(level))} ${inlineText(inner)}\n`
    )
    .replace(/<li>([\s\S]*?)<\/li>/gi, (_, inner) => `\n  - ${inlineText(inner)}`)
    .replace(/<\/?ul>/gi, '\n')
    .replace(/<p>([\s\S]*?)<\/p>/gi, (_, inner) => `\n${inlineText(inner)}\n`)
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/?code>/gi, '`')
    .replace(/<[^>]+>/g, '')
  text = decodeEntities(text).replace(/@@table-(\d+)@@/g, (_, i) => tables[Number(i)])
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}

function showResult(label, result) {
  const ok = result.code === 0
  say(
    `  ${ok ? green('✔') : red('✘')} ${label} finished in ${seconds(result.ms)} with exit code ${result.code ?? result.signal}`
  )
  say(`\n  ${bold('Job summary')} ${dim('(GITHUB_STEP_SUMMARY, as text)')}`)
  const text = summaryToText(result.summary) || '(empty)'
  say(
    text
      .split('\n')
      .map((line) => `  ${dim('┆')} ${line}`)
      .join('\n')
  )
  say(`\n  ${bold('Outputs')}`)
  const verifiedNote = label === 'mode plan' ? dim(' (plan only reads: it never verifies)') : ''
  say(`  verified:        ${result.outputs.verified ?? '(not set)'}${verifiedNote}`)
  const locations = (result.outputs['backup-location'] ?? '').split('\n').filter(Boolean)
  say(
    `  backup-location: ${locations.length > 0 ? locations.join('\n                   ') : '(none)'}`
  )
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** Everything to undo, newest first. */
const cleanups = []
async function cleanUp() {
  while (cleanups.length > 0) {
    const undo = cleanups.pop()
    try {
      await undo()
    } catch (error) {
      process.stderr.write(`cleanup: ${error instanceof Error ? error.message : String(error)}\n`)
    }
  }
}

let interrupted = false
function onInterrupt(signal) {
  if (interrupted) return
  interrupted = true
  say(`\n${yellow(`Interrupted (${signal}): stopping the action and the emulators...`)}`)
  runningAction?.kill('SIGTERM')
  void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
}

async function buildIfMissing() {
  if (existsSync(DIST)) return
  step('dist/index.js is missing: building it (npm run package)')
  const code = await new Promise((resolve, reject) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const child = spawn(npm, ['run', 'package'], { cwd: REPO_ROOT, stdio: 'inherit' })
    child.once('error', reject)
    child.once('close', resolve)
  })
  if (code !== 0 || !existsSync(DIST)) throw new Error(`npm run package failed (exit ${code})`)
}

async function main() {
  const demoStarted = Date.now()
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onInterrupt)

  say(bold('DynamoDB table mover: demo'))
  say(dim(`Copies '${SOURCE}' to '${TARGET}' on local emulators, backing it up to S3 first.`))
  await buildIfMissing()

  step('Starting the emulators')
  let t = Date.now()
  const [ddbStart, motoStart] = await Promise.allSettled([
    process.env.DDB_LOCAL_ENDPOINT
      ? Promise.resolve({ endpoint: process.env.DDB_LOCAL_ENDPOINT, external: true })
      : startDynamoDbLocal(),
    process.env.MOTO_ENDPOINT
      ? Promise.resolve({ endpoint: process.env.MOTO_ENDPOINT, external: true })
      : startMoto()
  ])
  for (const started of [ddbStart, motoStart]) {
    if (started.status === 'fulfilled' && !started.value.external)
      cleanups.push(() => started.value.stop())
  }
  if (ddbStart.status === 'rejected') throw ddbStart.reason
  if (motoStart.status === 'rejected') throw motoStart.reason
  const ddbEndpoint = ddbStart.value.endpoint
  const motoEndpoint = motoStart.value.endpoint
  say(
    `  DynamoDB Local ${ddbStart.value.external ? '(yours, DDB_LOCAL_ENDPOINT)' : '(in memory)'}: ${ddbEndpoint}`
  )
  say(
    `  moto S3 ${motoStart.value.external ? '(yours, MOTO_ENDPOINT)' : ''}: ${motoEndpoint}`.replace(
      ' :',
      ':'
    )
  )
  say(dim(`  ready in ${seconds(Date.now() - t)}`))

  const ddb = new DynamoDBClient({
    endpoint: ddbEndpoint,
    region: REGION,
    credentials: CREDENTIALS
  })
  const s3 = new S3Client({
    endpoint: motoEndpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true
  })
  cleanups.push(async () => {
    ddb.destroy()
    s3.destroy()
  })

  step('Creating the tables and the backup bucket')
  t = Date.now()
  await recreateTable(ddb, orderTrackingDefinition(SOURCE))
  const items = orderItems(ITEM_COUNT)
  await seed(ddb, SOURCE, items)
  say(
    `  ${SOURCE}: orderId (S) + createdAt (N), GSI byCustomer (customerId + createdAt), on-demand; ` +
      `${items.length.toLocaleString('en-US')} order-tracking events seeded ` +
      `(${Math.ceil(items.length / EVENTS_PER_ORDER).toLocaleString('en-US')} orders; strings, numbers, maps, lists, SS/NS sets, booleans, NULL, binary)`
  )
  await recreateTable(ddb, orderTrackingDefinition(TARGET))
  say(`  ${TARGET}: same definition, empty (as your IaC would have created it)`)
  await ensureBucket(s3, BUCKET)
  say(`  s3://${BUCKET}: backup bucket`)
  say(dim(`  done in ${seconds(Date.now() - t)}`))

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'dynamodb-table-mover-demo-'))
  cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }))

  // The step's `with:` block, plus every other input at its action.yml default, as the runner
  // passes them.
  const common = {
    ...actionYmlDefaults(),
    tables: `${SOURCE} -> ${TARGET}\n`,
    'backup-s3-uri': BACKUP_URI,
    'dynamodb-endpoint': ddbEndpoint,
    's3-endpoint': motoEndpoint
  }

  const runs = [
    { mode: 'plan', title: 'Run 1/3: mode plan (read-only: what would copy do?)' },
    { mode: 'copy', title: `Run 2/3: mode copy (backup to ${BACKUP_URI}, copy, verify)` },
    { mode: 'verify', title: 'Run 3/3: mode verify (compare both tables again)' }
  ]
  const problems = []
  let backupLocation = ''
  for (const run of runs) {
    step(run.title)
    const result = await runAction(run.mode, { ...common, mode: run.mode }, workDir)
    if (interrupted || !result) return 130
    showResult(`mode ${run.mode}`, result)
    if (result.code !== 0)
      problems.push(`mode ${run.mode} exited with ${result.code ?? result.signal}`)
    if (run.mode !== 'plan' && result.outputs.verified !== 'true') {
      problems.push(`mode ${run.mode} did not report verified=true`)
    }
    if (run.mode === 'copy')
      backupLocation = (result.outputs['backup-location'] ?? '').split('\n')[0] ?? ''
    if (problems.length > 0) break
  }

  if (backupLocation.startsWith('s3://')) {
    step('The backup in S3 (object keys and sizes only)')
    const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.*)$/.exec(backupLocation) ?? []
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
    for (const object of listed.Contents ?? []) {
      say(`  ${String(object.Size ?? 0).padStart(9)} B  ${(object.Key ?? '').slice(prefix.length)}`)
    }
    say(
      dim('  (the layout of DynamoDB export to S3: ImportTable can restore it without this action)')
    )
  }

  step(problems.length === 0 ? green('Demo finished') : red('Demo failed'))
  for (const problem of problems) say(`  ${red('✘')} ${problem}`)
  if (problems.length === 0) {
    say(
      `  plan ✔  copy ✔  verify ✔   ${SOURCE} -> ${TARGET}: ${ITEM_COUNT.toLocaleString('en-US')} items, verified`
    )
  }
  const external = ddbStart.value.external && motoStart.value.external
  say(
    dim(
      `  total ${seconds(Date.now() - demoStarted)}; ${external ? 'your emulators keep running' : 'stopping the emulators'}`
    )
  )
  return problems.length === 0 ? 0 : 1
}

let exitCode = 1
try {
  exitCode = await main()
} catch (error) {
  if (!interrupted)
    process.stderr.write(
      `\n${red('demo failed:')} ${error instanceof Error ? error.message : String(error)}\n`
    )
  exitCode = 1
} finally {
  if (!interrupted) await cleanUp()
}
if (!interrupted) process.exit(exitCode)
