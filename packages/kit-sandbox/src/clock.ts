// Kit prints timestamps in UTC ISO 8601 to the second ("2023-02-17T11:43:55Z"); internally we keep
// milliseconds so that date filters and the rolling rate window stay exact.

export type Clock = () => number;

export function kitTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
