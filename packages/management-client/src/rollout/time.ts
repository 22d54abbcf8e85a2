/** Now, as the ISO 8601 text the rollout state records. @internal */
export function now(): string {
  return new Date().toISOString();
}
