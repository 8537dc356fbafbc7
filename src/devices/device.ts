/** A named, versioned, plain-object snapshot of one device (DESIGN.md, "Devices"). */
export interface DeviceState {
  readonly device: string;
  readonly version: number;
  readonly [field: string]: unknown;
}

/** What every device model provides besides its bus handlers. */
export interface Device<S extends DeviceState = DeviceState> {
  readonly name: string;
  /** Power-on / hardware reset; separate from construction. */
  reset(): void;
  saveState(): S;
  loadState(state: S): void;
}

/** Throws unless `s` is a state of `device` at `version` (schema check on restore). */
export function checkState(s: DeviceState, device: string, version: number): void {
  if (s.device !== device || s.version !== version) {
    throw new Error(`loadState: expected ${device} v${version}, got ${String(s.device)} v${String(s.version)}`);
  }
}
