/**
 * `new Date(ms).toISOString()` by arithmetic, for the agent's event lines. V8's Date methods set up
 * its date cache, which reads the time zone through ICU: the first `toISOString()` of a process
 * pages in ~0.8 MiB of ICU data and code that an idle `otakit device run` then keeps resident
 * (measured from /proc/PID/smaps, bench/device.bench.ts's agent). Building a `Date` and
 * `Date.now()` do not touch ICU. Proleptic Gregorian calendar, UTC, as ECMAScript's Date.
 */

const DAY_MS = 86_400_000;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * The ISO 8601 UTC form of a time in ms since the epoch, as `Date#toISOString` prints it
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`) for years 0 to 9999; other years (and non-integer or non-finite
 * input) are left to `Date#toISOString`.
 */
export function isoTime(ms: number = Date.now()): string {
  // -62167219200000 is 0000-01-01T00:00:00.000Z, 253402300800000 is 10000-01-01.
  if (!Number.isInteger(ms) || ms < -62_167_219_200_000 || ms >= 253_402_300_800_000) {
    return new Date(ms).toISOString();
  }
  const days = Math.floor(ms / DAY_MS);
  const inDay = ms - days * DAY_MS;
  // Howard Hinnant's civil_from_days: eras of 400 years starting on March 1st.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hours = Math.floor(inDay / 3_600_000);
  const minutes = Math.floor(inDay / 60_000) % 60;
  const seconds = Math.floor(inDay / 1000) % 60;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(inDay % 1000, 3)}Z`;
}
