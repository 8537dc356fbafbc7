/**
 * A bottom half: work deferred to the next AioContext.poll, scheduled from device
 * callbacks that must not do the work synchronously (e.g. while inside a bus access).
 * Scheduling an already scheduled bottom half is a no-op.
 */
export class BottomHalf {
  scheduled = false;
  deleted = false;

  constructor(
    private readonly owner: { enqueue(bh: BottomHalf): void },
    readonly cb: () => void,
    readonly name = 'bh',
  ) {}

  schedule(): void {
    if (this.deleted || this.scheduled) return;
    this.scheduled = true;
    this.owner.enqueue(this);
  }

  cancel(): void {
    this.scheduled = false;
  }

  delete(): void {
    this.deleted = true;
    this.scheduled = false;
  }
}
