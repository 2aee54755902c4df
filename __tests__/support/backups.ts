// Reads a backup back from S3 or a local folder, independently of the action's own reader:
// items are parsed and put in normal form by the tests' oracle, and every data file is checked
// against its manifest entry (MD5, SHA-256 and size when present, item count).
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { itemKey, oracleText, parseJsonLines } from './oracle.js'

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })
    )
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''))
    token = page.NextContinuationToken
  } while (token)
  return keys
}

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await object.Body!.transformToByteArray())
}

export interface ReadBackup {
  summary: Record<string, unknown> & {
    itemCount: number
    dynamodbTableMover: { contentDigest: { count: number; digest: string } }
  }
  files: {
    itemCount: number
    dataFileS3Key: string
    md5Checksum: string
    sha256?: string
    size?: number
  }[]
  /** The backup's items in the oracle's normal form, keyed by pk|sk. */
  items: Map<string, string>
  description: { table: { TableName: string } }
}

/** Checks each data file against its manifest entry, then parses its items with the oracle. */
function parseData(files: ReadBackup['files'], buffers: Buffer[]): Map<string, string> {
  const items = new Map<string, string>()
  files.forEach((file, i) => {
    const buffer = buffers[i]!
    const where = file.dataFileS3Key
    const md5 = createHash('md5').update(buffer).digest('base64')
    if (md5 !== file.md5Checksum)
      throw new Error(`${where}: MD5 ${md5}, manifest says ${file.md5Checksum}`)
    if (file.sha256 !== undefined) {
      const sha256 = createHash('sha256').update(buffer).digest('hex')
      if (sha256 !== file.sha256)
        throw new Error(`${where}: SHA-256 ${sha256}, manifest says ${file.sha256}`)
    }
    if (file.size !== undefined && file.size !== buffer.length)
      throw new Error(`${where}: ${buffer.length} bytes, manifest says ${file.size}`)
    const parsed = parseJsonLines(gunzipSync(buffer).toString('utf8'))
    if (parsed.length !== file.itemCount)
      throw new Error(`${where}: ${parsed.length} items, manifest says ${file.itemCount}`)
    for (const item of parsed) {
      const key = itemKey(item)
      if (items.has(key)) throw new Error(`${where}: key ${key} appears twice in the backup`)
      items.set(key, oracleText(item))
    }
  })
  return items
}

/** Reads the backup under an S3 folder (s3://bucket/prefix/). */
export async function readS3Backup(s3: S3Client, uri: string): Promise<ReadBackup> {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)!
  const bucket = match[1]!
  const keys = await listKeys(s3, bucket, match[2]!)
  const find = (suffix: string): string => keys.find((k) => k.endsWith(suffix))!
  const summary = JSON.parse(
    (await getObject(s3, bucket, find('manifest-summary.json'))).toString()
  ) as ReadBackup['summary']
  const files = (await getObject(s3, bucket, find('manifest-files.json')))
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ReadBackup['files'][number])
  const data = await Promise.all(files.map((f) => getObject(s3, bucket, f.dataFileS3Key)))
  const description = JSON.parse(
    (await getObject(s3, bucket, find('table-description.json'))).toString()
  ) as ReadBackup['description']
  return { summary, files, items: parseData(files, data), description }
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]
  )
}

/** Reads the backup in a local folder. */
export function readLocalBackup(dir: string): ReadBackup {
  const all = walk(dir)
  const find = (suffix: string): string => all.find((f) => f.endsWith(suffix))!
  const summary = JSON.parse(
    readFileSync(find('manifest-summary.json'), 'utf8')
  ) as ReadBackup['summary']
  const files = readFileSync(find('manifest-files.json'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ReadBackup['files'][number])
  const data = files.map((f) =>
    readFileSync(path.join(dir, f.dataFileS3Key.slice(f.dataFileS3Key.indexOf('AWSDynamoDB/'))))
  )
  const description = JSON.parse(
    readFileSync(find('table-description.json'), 'utf8')
  ) as ReadBackup['description']
  return { summary, files, items: parseData(files, data), description }
}
