/**
 * HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate and parsing all
 * three historical forms, as pure functions of their inputs.
 *
 * @module
 */

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const LONG_DAY_NAMES = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];

function twoDigits(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/**
 * Formats a time as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
 * Milliseconds are dropped (HTTP dates have one-second resolution).
 */
export function formatHttpDate(epochMs: number): string {
  const d = new Date(epochMs);
  return `${DAY_NAMES[d.getUTCDay()]}, ${twoDigits(d.getUTCDate())} ${
    MONTH_NAMES[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${twoDigits(d.getUTCHours())}:${
    twoDigits(d.getUTCMinutes())
  }:${twoDigits(d.getUTCSeconds())} GMT`;
}

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function buildDate(
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = MONTH_NAMES.indexOf(monthName);
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return undefined;
  const date = new Date(
    Date.UTC(2000, month, day, hour, minute, Math.min(second, 59)),
  );
  // Date.UTC reads years 0-99 as 1900-1999; set the year explicitly.
  date.setUTCFullYear(year, month, day);
  const ms = date.getTime();
  // Reject dates such as 31 Feb, which Date.UTC would silently roll over.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * Parses an HTTP-date in IMF-fixdate, obsolete RFC 850 or asctime form.
 * Returns milliseconds since the epoch, or `undefined` when the text is not
 * a valid HTTP-date (callers then ignore the header, as RFC 9110 requires).
 */
export function parseHttpDate(text: string): number | undefined {
  const value = text.trim();
  let m = IMF_FIXDATE.exec(value);
  if (m) {
    return buildDate(+m[4], m[3], +m[2], +m[5], +m[6], +m[7]);
  }
  m = RFC850_DATE.exec(value);
  if (m) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the
    // past century.
    const nowYear = new Date().getUTCFullYear();
    let year = 2000 + +m[4];
    if (year > nowYear + 50) year -= 100;
    if (LONG_DAY_NAMES.indexOf(m[1]) < 0) return undefined;
    return buildDate(year, m[3], +m[2], +m[5], +m[6], +m[7]);
  }
  m = ASCTIME_DATE.exec(value);
  if (m) {
    return buildDate(+m[7], m[2], +m[3].trim(), +m[4], +m[5], +m[6]);
  }
  return undefined;
}
