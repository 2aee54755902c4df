import { DefaultArtifactClient } from '@actions/artifact'

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

export function createArtifactUploader(): ArtifactUploader {
  const client = new DefaultArtifactClient()
  return {
    async check() {
      await client.listArtifacts({ latest: true })
    },
    async upload(name, files, rootDirectory) {
      const result = await client.uploadArtifact(name, files, rootDirectory, {})
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
