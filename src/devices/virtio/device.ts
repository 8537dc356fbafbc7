// What a virtio device model (block, console, entropy) implements, and what the
// transport gives it. The device knows nothing of PCI: the transport owns status,
// features, queues, ISR and the interrupt; the device owns its config space and the
// meaning of its queues.

import type { AioContext } from '../../aio/aio-context';
import type { Timer } from '../../aio/timer';
import type { BottomHalf } from '../../aio/bottom-half';
import { type GuestRam, VirtioGuestError } from './guest-ram';
import type { SplitVirtqueue } from './virtqueue';

/** Machine services a virtio device needs. */
export interface VirtioContext {
  aio: AioContext;
  ram: GuestRam;
  /** Virtual clock: complete work at fixed virtual delays instead of "as soon as polled". */
  deterministic: boolean;
  /** Make a running vCPU return to the run loop soon (work was queued from inside a slice). */
  kick(): void;
  /** A device stopped on a guest error (NEEDS_RESET): the message and dump, for the user. */
  report(message: string): void;
}

/** The transport, as seen by its device. */
export interface VirtioTransportPort {
  queue(index: number): SplitVirtqueue;
  /** Tell the driver about chains pushed to `q` (interrupt when it wants one). */
  signalUsed(q: SplitVirtqueue): void;
  /** Stop the device on a guest error: NEEDS_RESET, a config interrupt, a report. */
  fail(message: string): void;
  /** Whether the device may process queues (DRIVER_OK set and not failed). */
  readonly live: boolean;
}

export abstract class VirtioDevice {
  abstract readonly name: string;
  abstract readonly deviceId: number;
  abstract readonly numQueues: number;
  readonly queueMaxSize: number = 256;
  /** Device-specific feature bits offered (the transport adds the ring and version bits). */
  abstract readonly features: number;
  /** Device configuration space (§4.1.4.6), little-endian. */
  abstract readonly config: Uint8Array;
  protected transport: VirtioTransportPort | null = null;

  constructor(protected readonly ctx: VirtioContext) {}

  attach(t: VirtioTransportPort): void {
    this.transport = t;
  }

  /** The driver notified queue `index` (or DRIVER_OK found work waiting). */
  abstract queueNotify(index: number): void;
  /** Device reset (status 0): drop in-flight state; queues are reset by the transport. */
  reset(): void {}
  /** DRIVER_OK with these negotiated features. */
  activate(_features: number): void {}
  /** Config space write by the driver (most fields are read-only). */
  writeConfig(_off: number, _size: number, _value: number): void {}
  /** Device-specific state beyond the transport's (snapshots). */
  saveExtra(): Record<string, unknown> { return {}; }
  loadExtra(_s: Record<string, unknown>): void {}
  /** After a restore: pick up work the driver had queued (a pending completion is not in the state). */
  restored(): void {
    if (!this.transport?.live) return;
    for (let i = 0; i < this.numQueues; i++) if (this.port.queue(i).hasWork()) this.queueNotify(i);
  }
  /** Release host resources (files). */
  close(): void {}

  /** Runs queue work; a malformed ring or chain stops the device instead of escaping. */
  protected guarded(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof VirtioGuestError)) throw e;
      this.port.fail(e.message);
    }
  }

  protected get port(): VirtioTransportPort {
    if (!this.transport) throw new Error(`${this.name}: not attached to a transport`);
    return this.transport;
  }
}

/**
 * Work done outside the notify path, in the event loop: with a host clock, a bottom
 * half in the next aio.poll (the vCPU is kicked so that is soon); in deterministic mode,
 * a timer a fixed virtual delay later, so completions land at the same guest instant
 * every run.
 */
export class DeferredWork {
  private readonly bh: BottomHalf | null;
  private readonly timer: Timer | null;

  constructor(private readonly ctx: VirtioContext, cb: () => void, name: string, private readonly latencyNs = 20_000) {
    if (ctx.deterministic) {
      this.bh = null;
      this.timer = ctx.aio.newTimer(cb, name);
    } else {
      this.bh = ctx.aio.newBottomHalf(cb, name);
      this.timer = null;
    }
  }

  schedule(): void {
    if (this.timer) {
      if (!this.timer.pending) this.timer.mod(this.ctx.aio.clock.now() + this.latencyNs);
      return;
    }
    this.bh!.schedule();
    this.ctx.kick();
  }

  cancel(): void {
    this.bh?.cancel();
    this.timer?.del();
  }
}
