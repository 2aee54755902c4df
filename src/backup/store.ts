import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { joinKey, s3Uri } from './s3.js'

/** Read access to a folder of backup files, on S3 or on disk. Paths are relative to the root. */
export interface BackupStore {
  /** Where the root is, for messages and the report. */
  readonly location: string
  /** Where a path below the root is, for messages and the report. */
  locationOf(relative: string): string
  list(): Promise<string[]>
  open(relative: string): Promise<Readable>
  readText(relative: string): Promise<string>
}

export class S3Store implements BackupStore {
  readonly location: string

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix: string
  ) {
    this.location = s3Uri(bucket, prefix === '' ? '' : `${prefix}/`)
  }

  locationOf(relative: string): string {
    return s3Uri(this.bucket, joinKey(this.prefix, relative))
  }

  async list(): Promise<string[]> {
    const keys: string[] = []
    let token: string | undefined
    const prefix = this.prefix === '' ? '' : `${this.prefix}/`
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })
      )
      for (const object of page.Contents ?? [])
        if (object.Key) keys.push(object.Key.slice(prefix.length))
      token = page.NextContinuationToken
    } while (token)
    return keys
  }

  async open(relative: string): Promise<Readable> {
    const object = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: joinKey(this.prefix, relative) })
    )
    return object.Body as Readable
  }

  async readText(relative: string): Promise<string> {
    const object = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: joinKey(this.prefix, relative) })
    )
    return (await object.Body?.transformToString('utf8')) ?? ''
  }
}

export class LocalStore implements BackupStore {
  readonly location: string

  constructor(private readonly root: string) {
    this.location = root
  }

  locationOf(relative: string): string {
    return path.join(this.root, relative)
  }

  async list(): Promise<string[]> {
    const out: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name)
        if (entry.isDirectory()) await walk(full)
        else if (entry.isFile()) out.push(path.relative(this.root, full).split(path.sep).join('/'))
      }
    }
    if ((await stat(this.root).catch(() => null))?.isDirectory()) await walk(this.root)
    return out
  }

  open(relative: string): Promise<Readable> {
    return Promise.resolve(createReadStream(path.join(this.root, relative)))
  }

  readText(relative: string): Promise<string> {
    return readFile(path.join(this.root, relative), 'utf8')
  }
}
