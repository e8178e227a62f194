/**
 * HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate and parsing all
 * three historical forms, as pure functions of their inputs.
 *
 * @module
 */

import { isDigit, trimOws } from "./scan.ts";

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** English month abbreviations, as HTTP dates and access logs write them. */
export const MONTH_NAMES: readonly string[] = [
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

/** The number written by `count` ASCII digits at `i`, or -1. */
function digitsAt(text: string, i: number, count: number): number {
  let n = 0;
  for (let k = i; k < i + count; k++) {
    const c = text.charCodeAt(k);
    if (!isDigit(c)) return -1;
    n = n * 10 + c - 0x30;
  }
  return n;
}

/** The `HH:MM:SS` at `i` as [hour, minute, second], or undefined. */
function timeAt(text: string, i: number): [number, number, number] | undefined {
  if (text.charCodeAt(i + 2) !== 0x3a || text.charCodeAt(i + 5) !== 0x3a) {
    return undefined;
  }
  const hour = digitsAt(text, i, 2);
  const minute = digitsAt(text, i + 3, 2);
  const second = digitsAt(text, i + 6, 2);
  if (hour < 0 || minute < 0 || second < 0) return undefined;
  return [hour, minute, second];
}

/** The three-letter month name at `i`, or undefined when there is none. */
function monthAt(text: string, i: number): string | undefined {
  const name = text.slice(i, i + 3);
  return MONTH_NAMES.includes(name) ? name : undefined;
}

/** `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, RFC 9110 §5.6.7). */
function parseImfFixdate(v: string): number | undefined {
  if (
    v.length !== 29 || !DAY_NAMES.includes(v.slice(0, 3)) ||
    !v.startsWith(", ", 3) || v[7] !== " " || v[11] !== " " ||
    v[16] !== " " || !v.endsWith(" GMT")
  ) {
    return undefined;
  }
  const day = digitsAt(v, 5, 2);
  const month = monthAt(v, 8);
  const year = digitsAt(v, 12, 4);
  const time = timeAt(v, 17);
  if (day < 0 || month === undefined || year < 0 || time === undefined) {
    return undefined;
  }
  return buildDate(year, month, day, ...time);
}

/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete RFC 850 form). */
function parseRfc850Date(v: string): number | undefined {
  const comma = v.indexOf(",");
  // What follows the weekday: ", 06-Nov-94 08:49:37 GMT" (24 characters).
  if (
    comma < 0 || v.length - comma !== 24 ||
    !LONG_DAY_NAMES.includes(v.slice(0, comma)) ||
    v[comma + 1] !== " " || v[comma + 4] !== "-" || v[comma + 8] !== "-" ||
    v[comma + 11] !== " " || !v.endsWith(" GMT")
  ) {
    return undefined;
  }
  const day = digitsAt(v, comma + 2, 2);
  const month = monthAt(v, comma + 5);
  const twoDigitYear = digitsAt(v, comma + 9, 2);
  const time = timeAt(v, comma + 12);
  if (
    day < 0 || month === undefined || twoDigitYear < 0 || time === undefined
  ) {
    return undefined;
  }
  // RFC 9110: a two-digit year more than 50 years in the future is in the
  // past century.
  const nowYear = new Date().getUTCFullYear();
  let year = 2000 + twoDigitYear;
  if (year > nowYear + 50) year -= 100;
  return buildDate(year, month, day, ...time);
}

/** `Sun Nov  6 08:49:37 1994` (ANSI C asctime form; the day may be " 6"). */
function parseAsctimeDate(v: string): number | undefined {
  if (
    v.length !== 24 || !DAY_NAMES.includes(v.slice(0, 3)) || v[3] !== " " ||
    v[7] !== " " || v[10] !== " " || v[19] !== " "
  ) {
    return undefined;
  }
  const month = monthAt(v, 4);
  const day = v[8] === " " ? digitsAt(v, 9, 1) : digitsAt(v, 8, 2);
  const time = timeAt(v, 11);
  const year = digitsAt(v, 20, 4);
  if (month === undefined || day < 0 || time === undefined || year < 0) {
    return undefined;
  }
  return buildDate(year, month, day, ...time);
}

/**
 * Parses an HTTP-date in IMF-fixdate, obsolete RFC 850 or asctime form.
 * Returns milliseconds since the epoch, or `undefined` when the text is not
 * a valid HTTP-date (callers then ignore the header, as RFC 9110 requires).
 * Each form has a fixed layout, so parsing is a constant number of checks
 * after trimming the optional whitespace (SP and HTAB only) around it.
 */
export function parseHttpDate(text: string): number | undefined {
  const value = trimOws(text);
  return parseImfFixdate(value) ?? parseRfc850Date(value) ??
    parseAsctimeDate(value);
}
