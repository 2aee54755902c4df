// The inputs a step gets when it does not set them: every input's `default:` from action.yml,
// as the runner passes them (`${{ ... }}` expressions become '': there is no GitHub context
// when the demo or the bench runs the action locally).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

// Node built-ins only: the bench's `--child` wrapper imports this beside the action.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Every input's `default:` in action.yml, by input name. */
export function actionYmlDefaults(file = path.join(REPO_ROOT, 'action.yml')) {
  const text = readFileSync(file, 'utf8')
  const defaults = {}
  let inInputs = false
  let current
  for (const line of text.split(/\r?\n/)) {
    if (/^\S/.test(line)) {
      inInputs = /^inputs:\s*$/.test(line)
      current = undefined
      continue
    }
    if (!inInputs) continue
    const name = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line)
    if (name) {
      current = name[1]
      continue
    }
    const value = /^ {4}default:\s*(.*?)\s*$/.exec(line)
    if (value && current) {
      let v = value[1]
      if (/^'.*'$/.test(v)) v = v.slice(1, -1).replace(/''/g, "'")
      else if (/^".*"$/.test(v)) v = JSON.parse(v)
      defaults[current] = v.includes('${{') ? '' : v
    }
  }
  return defaults
}
