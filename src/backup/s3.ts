import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { ActionError, errorMessage, errorName } from '../errors.js'
import type { S3Location } from '../types.js'

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`
}

export function joinKey(...parts: string[]): string {
  return parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/')
}

/** Fails early, before any write, when the backup bucket cannot be reached. */
export async function checkBucket(s3: S3Client, location: S3Location): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: location.bucket }))
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
    const why =
      status === 404 || errorName(error) === 'NotFound'
        ? 'it does not exist'
        : status === 403
          ? 'access is denied (the role needs s3:ListBucket on it)'
          : errorMessage(error)
    throw new ActionError(
      'backup.bucketUnavailable',
      `Backup bucket '${location.bucket}' cannot be used: ${why}. Check 'backup-s3-uri' and the role's S3 permissions.`,
      { cause: error }
    )
  }
}

export async function putText(
  s3: S3Client,
  bucket: string,
  key: string,
  text: string
): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: Buffer.from(text, 'utf8'),
      ContentLength: Buffer.byteLength(text),
      ContentType: key.endsWith('.json') ? 'application/json' : 'text/plain'
    })
  )
}

export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of stream) {
    const bytes = chunk as Buffer
    hash.update(bytes)
    size += bytes.length
  }
  return { sha256: hash.digest('hex'), size }
}

/** Streams an object back and checks its size and SHA-256 against what was written. */
export async function readBackObject(
  s3: S3Client,
  bucket: string,
  key: string,
  expected: { size: number; sha256: string }
): Promise<void> {
  const uri = s3Uri(bucket, key)
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
  if (head.ContentLength !== expected.size) {
    throw new ActionError(
      'backup.readBackFailed',
      `Backup object ${uri} has ${head.ContentLength ?? 0} bytes in S3 but ${expected.size} were written.`
    )
  }
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const actual = await hashStream(object.Body as Readable)
  if (actual.sha256 !== expected.sha256 || actual.size !== expected.size) {
    throw new ActionError(
      'backup.readBackFailed',
      `Backup object ${uri} read back with SHA-256 ${actual.sha256} (${actual.size} bytes), but ${expected.sha256} (${expected.size} bytes) was written.`
    )
  }
}

export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  return hashStream(createReadStream(file))
}

/**
 * Removes what lies under `prefix` besides the `kept` keys: objects are deleted and multipart
 * uploads begun there aborted.
 */
export async function removeStrayObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  kept: ReadonlySet<string>
): Promise<void> {
  for (const key of (await listObjects(s3, bucket, prefix)).keys()) {
    if (!kept.has(key)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
  }
  let keyMarker: string | undefined
  let uploadMarker: string | undefined
  do {
    const page = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: prefix,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(uploadMarker ? { UploadIdMarker: uploadMarker } : {})
      })
    )
    for (const upload of page.Uploads ?? []) {
      if (upload.Key && upload.UploadId) {
        await s3.send(
          new AbortMultipartUploadCommand({
            Bucket: bucket,
            Key: upload.Key,
            UploadId: upload.UploadId
          })
        )
      }
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
    uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined
  } while (keyMarker)
}

/** Every object under `prefix`, with its size. */
export async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string
): Promise<Map<string, number>> {
  const found = new Map<string, number>()
  let token: string | undefined
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {})
      })
    )
    for (const object of page.Contents ?? []) {
      if (object.Key) found.set(object.Key, object.Size ?? -1)
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return found
}
