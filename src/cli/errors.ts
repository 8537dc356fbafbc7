/** A user error (bad flag, missing file): printed as one line, exit status 2, no stack trace. */
export class UserError extends Error {}
