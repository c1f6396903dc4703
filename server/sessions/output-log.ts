// A bounded log of a terminal's output bytes, addressed by absolute offset since the shell started.
// It lets a reconnecting client resume exactly where it stopped: nothing lost, nothing shown twice.

export class OutputLog {
  private readonly buf: Buffer;
  /** Absolute offset just past the newest byte. */
  private end = 0;

  constructor(readonly capacity: number) {
    this.buf = Buffer.alloc(capacity);
  }

  /** Where this log's first byte is: 0, or where a page's screen stopped for a stream continued from it. */
  private first = 0;

  /** Offset just past the newest byte: the offset the next byte will get. */
  get endOffset(): number { return this.end; }
  /** Oldest offset still held. */
  get startOffset(): number { return Math.max(this.first, this.end - this.capacity); }

  /**
   * An empty log whose first byte will be at `offset`: a shell adopted by another server continues
   * the page's offsets, so the page resumes (keeping its screen) instead of being sent an empty one.
   */
  continueFrom(offset: number): void {
    if (this.end !== this.first) throw new Error('continueFrom: the log already holds output');
    this.first = this.end = offset;
  }

  append(chunk: Uint8Array): void {
    let data = chunk;
    if (data.byteLength > this.capacity) {
      this.end += data.byteLength - this.capacity;
      data = data.subarray(data.byteLength - this.capacity);
    }
    const at = this.end % this.capacity;
    const first = Math.min(data.byteLength, this.capacity - at);
    this.buf.set(data.subarray(0, first), at);
    if (first < data.byteLength) this.buf.set(data.subarray(first), 0);
    this.end += data.byteLength;
  }

  /** Whether every byte from `offset` to the end is still held. */
  holds(offset: number): boolean {
    return offset >= this.startOffset && offset <= this.end;
  }

  /**
   * Copies of the bytes from `offset` to the end, in pieces of at most `maxChunk` bytes. With
   * `headroom`, each piece is copied `headroom` bytes into a buffer of its own (`block`), so that a
   * frame's header can be written before it and the frame sent without copying the bytes again.
   */
  *read(offset: number, maxChunk = 64 * 1024, headroom = 0): Generator<{ offset: number; bytes: Buffer; block: Buffer }> {
    if (!this.holds(offset)) throw new RangeError(`offset ${offset} is outside the log (${this.startOffset}..${this.end})`);
    let pos = offset;
    while (pos < this.end) {
      const len = Math.min(maxChunk, this.end - pos);
      const at = pos % this.capacity;
      const first = Math.min(len, this.capacity - at);
      const block = Buffer.allocUnsafe(headroom + len);
      this.buf.copy(block, headroom, at, at + first);
      if (first < len) this.buf.copy(block, headroom + first, 0, len - first);
      yield { offset: pos, bytes: headroom ? block.subarray(headroom) : block, block };
      pos += len;
    }
  }
}
