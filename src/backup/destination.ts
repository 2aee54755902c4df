import { randomBytes } from 'node:crypto'
import { mkdir, open, rm, stat } from 'node:fs/promises'
import * as path from 'node:path'
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { errorName } from '../errors.js'
import type { S3Location } from '../types.js'
import { joinKey } from './s3.js'

/** Plain words for the file-system errors a folder check meets (never a bare code). */
export function fsReason(error: unknown): string {
  const code = (error as { code?: string }).code ?? ''
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'the file system is read-only'
    case 'ENOSPC':
      return 'the disk is full'
    case 'EDQUOT':
      return 'the disk quota is used up'
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder'
    case 'EEXIST':
      return 'a file of that name is in the way'
    case 'ENOENT':
      // What a recursive mkdir says below /proc, or on a read-only mount, where it cannot make
      // the missing folders.
      return 'it does not exist and cannot be created there'
    case 'ENAMETOOLONG':
      return 'the path is too long'
    case 'ELOOP':
      return 'the path has a loop of symbolic links'
    default:
      return code ? `it cannot be written (${code})` : 'it cannot be written'
  }
}

/** The nearest part of `dir` that exists (the folder itself, or an ancestor). */
async function nearestExisting(dir: string): Promise<{ at: string; isDir: boolean }> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const info = await stat(at).catch((error: unknown) => {
      if ((error as { code?: string }).code === 'ENOENT') return null
      throw error
    })
    if (info) return { at, isDir: info.isDirectory() }
    if (path.dirname(at) === at) return { at, isDir: false }
  }
}

/**
 * Why `dir` cannot hold backups, or undefined when it can. With `tryWrite` the folder is
 * created when missing and a probe file is written and removed in it (a real write, so a
 * read-only mount, a full disk or a folder owned by another user is found now, not after the
 * scan); without it (plan), only what can be seen without writing is checked.
 */
export async function backupDirProblem(
  dir: string,
  tryWrite: boolean
): Promise<string | undefined> {
  try {
    const nearest = await nearestExisting(dir)
    if (!nearest.isDir) {
      return nearest.at === path.resolve(dir)
        ? `'${dir}' is a file, not a folder`
        : `'${nearest.at}' is a file, so the folder '${dir}' cannot be made below it`
    }
    if (!tryWrite) return undefined
    await mkdir(dir, { recursive: true })
    const probe = path.join(dir, `.write-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
    const handle = await open(probe, 'wx')
    try {
      await handle.writeFile('probe')
    } finally {
      await handle.close()
      await rm(probe, { force: true })
    }
    return undefined
  } catch (error) {
    return `'${dir}' cannot be used: ${fsReason(error)}`
  }
}

/**
 * Proves the backup prefix takes writes: puts a small probe object under it and deletes it.
 * Returns why not, or undefined. A probe that cannot be deleted is left (and said so by the
 * caller's warning), since the backup itself needs only PutObject.
 */
export async function s3WriteProblem(
  s3: S3Client,
  location: S3Location
): Promise<{ problem?: string; leftover?: string }> {
  const key = joinKey(
    location.prefix,
    `.write-probe-${Date.now()}-${randomBytes(4).toString('hex')}`
  )
  try {
    await s3.send(
      new PutObjectCommand({ Bucket: location.bucket, Key: key, Body: 'probe', ContentLength: 5 })
    )
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
    const why =
      status === 403 || errorName(error) === 'AccessDenied'
        ? 'access is denied (the role needs s3:PutObject on it)'
        : `a test write failed (${errorName(error) || 'error'}${status ? `, HTTP ${status}` : ''})`
    return {
      problem: `Backups cannot be written to s3://${location.bucket}/${location.prefix}: ${why}.`
    }
  }
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: key }))
    return {}
  } catch {
    return { leftover: `s3://${location.bucket}/${key}` }
  }
}
