import type { DefaultArtifactClient } from '@actions/artifact'

/** Uploads a folder as a workflow artifact. Injected, so tests replace it with a fake. */
export interface ArtifactUploader {
  /** Asks the artifact service something harmless (this run's artifacts): throws when it does not answer. */
  check(): Promise<void>
  upload(
    name: string,
    files: string[],
    rootDirectory: string
  ): Promise<{ id?: number; size?: number }>
}

/**
 * The artifact service's client, loaded on first use only: ncc puts it and its Azure storage
 * stack (half of the bundle) in a chunk of dist/ of its own, so a run that uses no artifact
 * neither parses nor evaluates it.
 */
export function createArtifactUploader(): ArtifactUploader {
  let client: Promise<DefaultArtifactClient> | undefined
  const get = (): Promise<DefaultArtifactClient> =>
    (client ??= import('@actions/artifact').then((m) => new m.DefaultArtifactClient()))
  return {
    async check() {
      await (await get()).listArtifacts({ latest: true })
    },
    async upload(name, files, rootDirectory) {
      const result = await (await get()).uploadArtifact(name, files, rootDirectory, {})
      const out: { id?: number; size?: number } = {}
      if (result.id !== undefined) out.id = result.id
      if (result.size !== undefined) out.size = result.size
      return out
    }
  }
}

/**
 * An artifact name for one table's backup: unique per run attempt, with only the characters
 * the artifact service allows (no `" : < > | * ? \r \n \ /`).
 */
export function artifactName(table: string, runLabel: string): string {
  return `dynamodb-backup-${table}-${runLabel}`.replace(/[":<>|*?\r\n\\/]/g, '-')
}
