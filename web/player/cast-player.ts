// asciinema-player in a container, for one checked recording: its own UI does play/pause, the seek
// bar with the markers, fullscreen and keys. This class adds what the page needs around it: one
// state to show and test, the chapter being played, and speed and idle limit that can change
// while watching (the player takes both only when created, so it is made again at the same place).
import { create, type Player } from 'asciinema-player';
import { Disposable, Emitter, disposableInterval, toDisposable, type IEvent } from '../lifecycle.js';
import { Timeline, type LoadedCast } from './cast.js';

export type PlayerState = 'loading' | 'playing' | 'paused' | 'ended' | 'error';

export interface PlaybackOptions {
  /** 1 is real time. */
  speed: number;
  /** Pauses longer than this many seconds are cut to it; Infinity keeps them. */
  idleLimit: number;
}

/** Events of the core the typings leave out; the player fires them all the same. */
type LooseListen = (name: 'error' | 'seeked', handler: () => void) => void;

/** How often the current chapter is worked out while playing (the player reports markers it passes, not seeks). */
const CHAPTER_POLL_MS = 250;

export class CastPlayer extends Disposable {
  private player: Player | undefined;
  private timeline: Timeline;
  private options: PlaybackOptions;
  private stateValue: PlayerState = 'loading';
  private chapterValue = -1;
  /** Bumped for each player made, so events of a disposed one are ignored. */
  private generation = 0;

  private readonly stateEmitter = this.register(new Emitter<PlayerState>());
  /** The state: paused once ready, playing, ended (at the end; play starts over), or error. */
  readonly onStateChange: IEvent<PlayerState> = this.stateEmitter.event;
  private readonly chapterEmitter = this.register(new Emitter<number>());
  /** Index of the chapter playing (the last marker at or before the playhead), -1 before the first. */
  readonly onChapterChange: IEvent<number> = this.chapterEmitter.event;

  constructor(private readonly container: HTMLElement, private readonly recording: LoadedCast, options: PlaybackOptions, autoplay: boolean) {
    super();
    this.options = { ...options };
    this.timeline = new Timeline(recording.cast, options.idleLimit);
    this.register(disposableInterval(() => { if (this.stateValue === 'playing') this.updateChapter(); }, CHAPTER_POLL_MS));
    this.register(toDisposable(() => this.destroyPlayer()));
    this.make(0, autoplay);
  }

  get state(): PlayerState { return this.stateValue; }
  get chapter(): number { return this.chapterValue; }
  get playbackOptions(): PlaybackOptions { return { ...this.options }; }

  /** Seconds on the player's timeline (pauses cut). */
  get currentTime(): number { return this.player?.getCurrentTime() ?? 0; }
  get duration(): number | undefined { return this.player?.getDuration(); }

  /** Where a chapter starts on the player's timeline, in seconds. */
  chapterTime(index: number): number {
    const chapter = this.recording.chapters[index];
    return chapter ? this.timeline.toPlayer(chapter.time) : 0;
  }

  async play(): Promise<void> { await this.player?.play(); }
  async pause(): Promise<void> { await this.player?.pause(); }

  /** Jumps to a chapter's marker and plays from there. */
  async playChapter(index: number): Promise<void> {
    const player = this.player;
    if (!player || !this.recording.chapters[index]) return;
    await player.seek({ marker: index });
    if (player !== this.player) return;
    this.setChapter(index);
    await player.play();
  }

  /** New speed or idle limit: the player is made again where it was, playing if it was. */
  setOptions(options: Partial<PlaybackOptions>): void {
    const next = { ...this.options, ...options };
    if (next.speed === this.options.speed && next.idleLimit === this.options.idleLimit) return;
    // After the end, the new player waits at the start: play plays it again.
    const fileTime = this.stateValue === 'ended' ? 0 : this.timeline.toFile(this.currentTime);
    const wasPlaying = this.stateValue === 'playing';
    this.options = next;
    this.timeline = new Timeline(this.recording.cast, next.idleLimit);
    this.make(fileTime, wasPlaying);
  }

  /** Makes the player, at `startAt` seconds into the file (the player maps it through its idle limit). */
  private make(startAt: number, play: boolean): void {
    this.destroyPlayer();
    const generation = ++this.generation;
    const player = create({ data: this.recording.text }, this.container, {
      speed: this.options.speed,
      idleTimeLimit: this.options.idleLimit,
      preload: true,
      startAt,
      autoPlay: play,
      controls: true,
      fit: 'both', // into tl-player's box, which has the recording's shape up to a height limit
      theme: 'termlab',
      terminalFontFamily: 'var(--tl-mono, monospace)',
    });
    this.player = player;
    const live = () => generation === this.generation;
    player.addEventListener('play', () => { if (live()) this.setState('playing'); });
    player.addEventListener('playing', () => { if (live()) this.setState('playing'); });
    player.addEventListener('pause', () => { if (live() && this.stateValue !== 'ended') this.setState('paused'); });
    player.addEventListener('ended', () => {
      if (!live()) return;
      this.setChapter(this.recording.chapters.length - 1);
      this.setState('ended');
    });
    player.addEventListener('marker', ({ index }) => { if (live()) this.setChapter(index); });
    const listen = player.addEventListener as unknown as LooseListen;
    listen('error', () => { if (live()) this.setState('error'); });
    // Seeking back from the end (the seek bar, the keys) leaves a paused player, not an ended one.
    listen('seeked', () => {
      if (!live()) return;
      this.updateChapter();
      if (this.stateValue === 'ended' && this.currentTime < (this.duration ?? Infinity) - 0.05) this.setState('paused');
    });
    // Reported at once, so a player made again while playing does not flicker through paused.
    this.setState(play ? 'playing' : 'paused');
    this.updateChapter(this.timeline.toPlayer(startAt));
  }

  private destroyPlayer(): void {
    this.generation++;
    this.player?.dispose();
    this.player = undefined;
    this.container.replaceChildren();
  }

  private updateChapter(t = this.currentTime): void {
    let current = -1;
    for (const chapter of this.recording.chapters) {
      if (this.timeline.toPlayer(chapter.time) <= t + 0.05) current = chapter.index;
    }
    this.setChapter(current);
  }

  private setChapter(index: number): void {
    if (index === this.chapterValue) return;
    this.chapterValue = index;
    this.chapterEmitter.fire(index);
  }

  private setState(state: PlayerState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.stateEmitter.fire(state);
  }
}
