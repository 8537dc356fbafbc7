// The reverse map, after the hat layer's `hment` tables: for every guest-physical
// frame, the cached things that depend on bytes of it — translations derived from the
// entries of a page-table page, and decoded instructions derived from a code page.
//
// Representation (all typed arrays, nothing allocated per mapping):
//  - The first dependent of a frame is stored inline in the frame's slot (fIn*).
//  - A second dependent promotes the frame to a list: both go into pool entries
//    linked per frame (doubly) and per (frame, entry-index) hash bucket (singly), so a
//    write to one page-table entry finds exactly the dependents of that entry.
//  - The pool is bounded. Allocation keeps a reserve; when the free list falls to the
//    reserve, the normal path first reclaims stale entries (their dependent was dropped
//    since), and only when none can be found steals an entry from a frame that has
//    several mappings, dropping the cached thing it names. It never fails.
//
// A dependent is an opaque 31-bit key plus a generation number; the owner decides
// whether a (key, gen) pair is still live (`isLive`) and how to drop it (`drop`).

export interface RmapOwner {
  /** True when the dependent named by (key, gen) still exists. */
  isLive(key: number, gen: number): boolean;
  /** Drops the dependent (it derived from bytes that changed). */
  drop(key: number, gen: number): void;
}

export interface RmapStats {
  allocs: number;
  frees: number;
  steals: number;
  promotions: number;
  demotions: number;
  invalidations: number;
  reclaims: number;
}

const NONE = -1;
const HASH_BITS = 14;

export class Rmap {
  readonly stats: RmapStats = { allocs: 0, frees: 0, steals: 0, promotions: 0, demotions: 0, invalidations: 0, reclaims: 0 };
  readonly capacity: number;
  readonly reserve: number;
  owner: RmapOwner;
  /** Called when a frame gains its first dependent / loses its last one (PhysMemory write tracking). */
  onTracked: (frame: number, tracked: boolean) => void = () => {};

  // Inline slot per frame.
  private readonly fInKey: Int32Array;
  private readonly fInGen: Int32Array;
  private readonly fInOff: Int16Array;
  private readonly fInSize: Int16Array;
  // List per frame.
  private readonly fHead: Int32Array;
  private readonly fCount: Int32Array;
  // Pool entries.
  private readonly eKey: Int32Array;
  private readonly eGen: Int32Array;
  private readonly eFrame: Int32Array;
  private readonly eOff: Int16Array;
  private readonly eSize: Int16Array;
  private readonly eNext: Int32Array;
  private readonly ePrev: Int32Array;
  private readonly eHashNext: Int32Array;
  /** Hash chains are doubly linked: stale duplicates of one (frame, entry) pile up in one chain, and unlinking must stay O(1). */
  private readonly eHashPrev: Int32Array;
  private readonly hash: Int32Array;
  private freeHead = NONE;
  private freeCount = 0;
  /** Rotating cursor for stale reclamation and stealing. */
  private cursor = 0;
  /** Whether onTracked(frame, true) is in force (so transitions are reported exactly once). */
  private readonly tracked: Uint8Array;
  /** Frame whose dependents write() is dropping (demotion deferred), or NONE. */
  private writing = NONE;

  constructor(frames: number, owner: RmapOwner, capacity = 1 << 16, reserve = 64) {
    this.owner = owner;
    this.capacity = capacity;
    this.reserve = Math.min(reserve, capacity >> 2);
    this.fInKey = new Int32Array(frames).fill(NONE);
    this.fInGen = new Int32Array(frames);
    this.fInOff = new Int16Array(frames);
    this.fInSize = new Int16Array(frames);
    this.fHead = new Int32Array(frames).fill(NONE);
    this.fCount = new Int32Array(frames);
    this.tracked = new Uint8Array(frames);
    this.eKey = new Int32Array(capacity);
    this.eGen = new Int32Array(capacity);
    this.eFrame = new Int32Array(capacity);
    this.eOff = new Int16Array(capacity);
    this.eSize = new Int16Array(capacity);
    this.eNext = new Int32Array(capacity);
    this.ePrev = new Int32Array(capacity);
    this.eHashNext = new Int32Array(capacity);
    this.eHashPrev = new Int32Array(capacity);
    this.hash = new Int32Array(1 << HASH_BITS).fill(NONE);
    this.ePrev.fill(-2); // -2 marks a free pool entry
    for (let e = capacity - 1; e >= 0; e--) { this.eNext[e] = this.freeHead; this.freeHead = e; }
    this.freeCount = capacity;
  }

  get frames(): number { return this.fHead.length; }
  get freeEntries(): number { return this.freeCount; }

  /** Number of dependents recorded for a frame (inline + list; stale ones included until reclaimed). */
  count(frame: number): number { return this.fCount[frame] + (this.fInKey[frame] !== NONE ? 1 : 0); }
  /** True when the frame's dependents live in a list (promoted). */
  isPromoted(frame: number): boolean { return this.fHead[frame] !== NONE; }

  private bucket(frame: number, idx: number): number {
    return (Math.imul(frame, 0x9e3779b1) ^ Math.imul(idx + 1, 0x85ebca6b)) >>> (32 - HASH_BITS);
  }

  /**
   * Records that dependent (key, gen) derives from bytes [off, off+size) of `frame`
   * (size 4 or 8 for a page-table entry, 4096 for a whole code page).
   */
  add(frame: number, off: number, size: number, key: number, gen: number): void {
    if (frame < 0 || frame >= this.fHead.length) return; // outside RAM: MMIO page tables are not cached
    if (this.fHead[frame] === NONE) {
      // A stale inline dependent (dropped since) is simply replaced.
      if (this.fInKey[frame] !== NONE && !this.owner.isLive(this.fInKey[frame], this.fInGen[frame])) {
        this.fInKey[frame] = NONE;
        this.stats.reclaims++;
      }
      if (this.fInKey[frame] === NONE) {
        this.fInKey[frame] = key; this.fInGen[frame] = gen; this.fInOff[frame] = off; this.fInSize[frame] = size;
        this.setTracked(frame, true);
        return;
      }
      // Second mapping: promote the inline one to the list.
      const k = this.fInKey[frame], g = this.fInGen[frame], o = this.fInOff[frame], s = this.fInSize[frame];
      this.fInKey[frame] = NONE;
      this.stats.promotions++;
      this.link(frame, o, s, k, g);
    }
    this.link(frame, off, size, key, gen);
    // Allocation may have reclaimed or stolen this frame's other entries (even all of
    // them, reporting the frame untracked in between): report it tracked again.
    this.setTracked(frame, true);
  }

  private setTracked(frame: number, on: boolean): void {
    if ((this.tracked[frame] === 1) === on) return;
    this.tracked[frame] = on ? 1 : 0;
    this.onTracked(frame, on);
  }

  private link(frame: number, off: number, size: number, key: number, gen: number): void {
    const e = this.alloc(frame);
    this.eKey[e] = key; this.eGen[e] = gen; this.eFrame[e] = frame; this.eOff[e] = off; this.eSize[e] = size;
    const h = this.fHead[frame];
    this.eNext[e] = h; this.ePrev[e] = NONE;
    if (h !== NONE) this.ePrev[h] = e;
    this.fHead[frame] = e;
    this.fCount[frame]++;
    const b = this.bucket(frame, size >= 4096 ? -1 : off >> 2);
    const first = this.hash[b];
    this.eHashNext[e] = first;
    this.eHashPrev[e] = NONE;
    if (first !== NONE) this.eHashPrev[first] = e;
    this.hash[b] = e;
  }

  private alloc(protect: number): number {
    if (this.freeCount <= this.reserve) this.refill();
    if (this.freeHead === NONE) this.steal(protect);
    const e = this.freeHead;
    this.freeHead = this.eNext[e];
    this.freeCount--;
    this.stats.allocs++;
    return e;
  }

  /** Normal-path refill: reclaim pool entries whose dependent no longer exists. */
  private refill(): void {
    // Bounded scan: with a pool full of live entries an unbounded scan would cost O(capacity)
    // per allocation; the rotating cursor still visits every entry over successive refills.
    const n = this.capacity, budget = Math.min(n, Math.max(64, 4 * this.reserve));
    for (let scanned = 0; scanned < budget && this.freeCount <= this.reserve * 2; scanned++) {
      const e = this.cursor;
      this.cursor = (this.cursor + 1) % n;
      if (!this.isAllocated(e)) continue;
      if (!this.owner.isLive(this.eKey[e], this.eGen[e])) {
        this.unlink(e);
        this.stats.reclaims++;
      }
    }
  }

  private isAllocated(e: number): boolean { return this.ePrev[e] !== -2; }

  /**
   * Pool dry: take an entry from a frame with several mappings, dropping its dependent.
   * Other frames are preferred; the frame being added to (`protect`) is used only when
   * it holds every entry (a tiny pool and one busy page table), so this never fails
   * while any frame has two or more pool entries.
   */
  private steal(protect: number): void {
    const n = this.capacity;
    for (let pass = 0; pass < 2; pass++) {
      for (let scanned = 0; scanned < n; scanned++) {
        const e = this.cursor;
        this.cursor = (this.cursor + 1) % n;
        if (!this.isAllocated(e)) continue;
        const f = this.eFrame[e];
        if ((pass === 0 && f === protect) || this.fCount[f] < 2) continue;
        const k = this.eKey[e], g = this.eGen[e];
        this.unlink(e);
        this.stats.steals++;
        this.owner.drop(k, g);
        return;
      }
    }
    throw new Error('rmap: pool exhausted and nothing to steal (capacity too small for one frame)');
  }

  /** Removes pool entry e from its frame list and hash chain and frees it. */
  private unlink(e: number): void {
    const f = this.eFrame[e];
    const p = this.ePrev[e], nx = this.eNext[e];
    if (p !== NONE) this.eNext[p] = nx; else this.fHead[f] = nx;
    if (nx !== NONE) this.ePrev[nx] = p;
    this.fCount[f]--;
    this.removeFromHash(e);
    this.release(e);
    // Back to one mapping: demote the list to the inline slot (deferred while write()
    // walks this frame's list or hash chains: demoting then would free an entry the walk
    // is about to visit and move a dependent that may overlap the write out of its reach).
    if (f === this.writing) return;
    this.maybeDemote(f);
  }

  /** Returns pool entry e (already unlinked) to the free list. */
  private release(e: number): void {
    this.ePrev[e] = -2;
    this.eNext[e] = this.freeHead;
    this.freeHead = e;
    this.freeCount++;
    this.stats.frees++;
  }

  private maybeDemote(f: number): void {
    if (this.fCount[f] === 1 && this.fInKey[f] === NONE) {
      const last = this.fHead[f];
      const k = this.eKey[last], g = this.eGen[last], o = this.eOff[last], s = this.eSize[last];
      this.fCount[f] = 0;
      this.fHead[f] = NONE;
      this.removeFromHash(last);
      this.release(last);
      this.fInKey[f] = k; this.fInGen[f] = g; this.fInOff[f] = o; this.fInSize[f] = s;
      this.stats.demotions++;
    } else if (this.count(f) === 0) this.setTracked(f, false);
  }

  private removeFromHash(e: number): void {
    const p = this.eHashPrev[e], n = this.eHashNext[e];
    if (p !== NONE) this.eHashNext[p] = n;
    else this.hash[this.bucket(this.eFrame[e], this.eSize[e] >= 4096 ? -1 : this.eOff[e] >> 2)] = n;
    if (n !== NONE) this.eHashPrev[n] = p;
  }

  /**
   * Bytes [off, off+size) of `frame` are about to change: drop exactly the dependents
   * derived from them (entries overlapping the range, and whole-frame dependents).
   */
  write(frame: number, off: number, size: number): void {
    if (frame < 0 || frame >= this.fHead.length) return;
    if (this.count(frame) === 0) return;
    const end = off + size;
    if (this.fHead[frame] !== NONE) {
      this.writing = frame;
      try {
        if (size >= 512) {
          // A large write (DMA, REP STOS of a whole page): walk the frame's list.
          for (let e = this.fHead[frame]; e !== NONE;) {
            const nx = this.eNext[e];
            if (this.eOff[e] < end && off < this.eOff[e] + this.eSize[e]) this.dropEntry(e);
            e = nx;
          }
        } else {
          // Entry-precise: hash buckets of the 4-byte indices the write touches (and the one
          // before, for 8-byte entries), plus whole-frame dependents.
          for (let idx = (off >> 2) - 1; idx <= (end - 1) >> 2; idx++) this.dropBucket(frame, idx, off, end);
          this.dropBucket(frame, -1, off, end);
        }
      } finally {
        this.writing = NONE;
      }
    }
    // Inline slot (after the list: nothing can be demoted into it while the list is walked).
    const ik = this.fInKey[frame];
    if (ik !== NONE) {
      const o = this.fInOff[frame], s = this.fInSize[frame];
      if (o < end && off < o + s) {
        const g = this.fInGen[frame];
        this.fInKey[frame] = NONE;
        this.stats.invalidations++;
        this.owner.drop(ik, g);
      }
    }
    if (this.count(frame) === 0) this.setTracked(frame, false);
    else this.maybeDemote(frame);
  }

  private dropBucket(frame: number, idx: number, off: number, end: number): void {
    if (idx < -1) return;
    let e = this.hash[this.bucket(frame, idx)];
    while (e !== NONE) {
      const nx = this.eHashNext[e];
      if (this.eFrame[e] === frame && (idx === -1 ? this.eSize[e] >= 4096 : (this.eOff[e] >> 2) === idx) &&
          this.eOff[e] < end && off < this.eOff[e] + this.eSize[e]) this.dropEntry(e);
      e = nx;
    }
  }

  private dropEntry(e: number): void {
    const k = this.eKey[e], g = this.eGen[e];
    this.unlink(e);
    this.stats.invalidations++;
    this.owner.drop(k, g);
  }

  /** Drops every dependent of `frame` (e.g. memory reused wholesale). */
  dropFrame(frame: number): void { this.write(frame, 0, 4096); }
}
