// Durations in the words a person reads: a plan's window ("per hour") and the time left ("59 min 59 s").

interface Unit {
  seconds: number;
  one: string;
  many: string;
  /** The short form in a time left ("min"), or none to say the word ("1 day", "2 days"). */
  short?: string;
}

const SECOND: Unit = { seconds: 1, one: "second", many: "seconds", short: "s" };
const UNITS: Unit[] = [
  { seconds: 86400, one: "day", many: "days" },
  { seconds: 3600, one: "hour", many: "hours", short: "h" },
  { seconds: 60, one: "minute", many: "minutes", short: "min" },
  SECOND,
];

/** Whole seconds, at least `least`; a value that is not a number at all counts as `least`. */
function wholeSeconds(seconds: number, round: (x: number) => number, least: number): number {
  return Number.isFinite(seconds) ? Math.max(least, round(seconds)) : least;
}

/**
 * A plan's window, to follow "per": "minute", "hour", "15 minutes", "day", "90 seconds". In the largest unit the
 * window is a whole number of, so the count stays exact (5400 s is "90 minutes", not "1.5 hours").
 */
export function windowText(seconds: number): string {
  const whole = wholeSeconds(seconds, Math.round, 1);
  const unit = UNITS.find((u) => whole % u.seconds === 0) ?? SECOND;
  const count = whole / unit.seconds;
  return count === 1 ? unit.one : `${count} ${unit.many}`;
}

/**
 * A time left, rounded up to the second and never below 1 s (the next request goes through only once it has passed):
 * "41 s", "59 min 59 s", "1 h 30 min", "1 day 2 h". Every unit that is not zero, largest first.
 */
export function durationText(seconds: number): string {
  let left = wholeSeconds(seconds, Math.ceil, 1);
  const parts: string[] = [];
  for (const unit of UNITS) {
    const count = Math.floor(left / unit.seconds);
    left -= count * unit.seconds;
    if (count > 0) parts.push(`${count} ${unit.short ?? (count === 1 ? unit.one : unit.many)}`);
  }
  return parts.join(" ");
}
