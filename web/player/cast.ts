// A recording made ready for the player: the .cast text checked with the protocol's parser (so a
// broken file gets a message naming the line, not a player that never starts), its markers as
// chapters, and the player's clock, which cuts long pauses short.
import { AsciicastError, markers, parseAsciicast, toAsciicastV2, type Asciicast } from '../../protocol/asciicast.js';
import { errorText, fetchCastText } from '../api.js';

export interface Chapter {
  /** Position among the markers, from 0 (what `seek({marker})` takes). */
  index: number;
  label: string;
  /** The lab step a marker names ("2. Make a folder" → 2); undefined for others ("Finished"). */
  step: number | undefined;
  /** Seconds into the file. */
  time: number;
}

export interface LoadedCast {
  /** What the player is given: the file's text for a v2 file, the same recording as v2 for a v1 or v3 file. */
  text: string;
  cast: Asciicast;
  chapters: Chapter[];
}

/** A recording that cannot be played; the message is for people. */
export class CastLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CastLoadError';
  }
}

const STEP_LABEL = /^(\d+)\.\s/;

/** Checks a .cast file's text; throws CastLoadError saying what is wrong and where. */
export function readCast(text: string, name = 'This file'): LoadedCast {
  let cast: Asciicast;
  try {
    cast = parseAsciicast(text);
  } catch (err) {
    if (err instanceof AsciicastError) throw new CastLoadError(`${name} is not a playable recording: ${err.message}.`);
    throw err;
  }
  if (!cast.events.some((e) => e[1] === 'o')) throw new CastLoadError(`${name} has nothing to play: it holds no terminal output.`);
  const chapters = markers(cast).map(({ time, label }, index) => {
    const step = STEP_LABEL.exec(label);
    return { index, label, time, step: step ? Number(step[1]) : undefined };
  });
  // The player is given v2 whatever the file was: one clock (absolute times, as the chapters and
  // the timeline count them), and no v3 exit event for it to trip on.
  return { text: cast.header.version === 2 ? text : toAsciicastV2(cast), cast, chapters };
}

/** Fetches a .cast file and checks it (see readCast). */
export async function fetchCast(url: string, signal?: AbortSignal, name = 'The recording'): Promise<LoadedCast> {
  let text: string;
  try {
    text = await fetchCastText(url, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new CastLoadError(`Could not load the recording: ${errorText(err)}`);
  }
  return readCast(text, name);
}

/**
 * The player's clock against the file's: asciinema-player shortens every gap between events that
 * is longer than the idle limit to the limit (its `timeLimiter`), so a chapter's place on the
 * player's timeline is not its time in the file once pauses are cut.
 */
export class Timeline {
  private readonly file: number[];
  private readonly player: number[];

  /** `idleLimit` in seconds; Infinity keeps every pause. */
  constructor(cast: Asciicast, readonly idleLimit: number) {
    this.file = cast.events.map((e) => e[0]);
    this.player = [];
    let previous = 0;
    let shift = 0;
    for (const t of this.file) {
      shift += Math.max(0, t - previous - idleLimit);
      previous = t;
      this.player.push(t - shift);
    }
  }

  /** Seconds of the player's timeline at `t` seconds into the file. */
  toPlayer(t: number): number {
    const i = lastAtOrBefore(this.file, t);
    if (i < 0) return Math.min(t, this.idleLimit);
    return this.player[i]! + Math.min(t - this.file[i]!, this.idleLimit);
  }

  /** Seconds into the file at `t` seconds of the player's timeline. */
  toFile(t: number): number {
    const i = lastAtOrBefore(this.player, t);
    if (i < 0) return t;
    return this.file[i]! + (t - this.player[i]!);
  }
}

/** Index of the last element not above `t` in an ascending array; -1 when all are above. */
function lastAtOrBefore(sorted: number[], t: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= t + 1e-9) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
