/** Every input's `default:` in action.yml, by input name (`${{ ... }}` defaults become ''). */
export function actionYmlDefaults(file?: string): Record<string, string>
