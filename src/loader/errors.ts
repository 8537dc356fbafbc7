/** A kernel image that cannot be loaded: the message is one clear line naming what is wrong. */
export class LoaderError extends Error {}
