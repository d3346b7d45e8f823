/** Exit 2: the command line or the CLI's settings are wrong (see USAGE). */
export class CliUsageError extends Error {
  readonly exitCode = 2;
}

/** Exit 1: the command was understood but did not succeed. */
export class CliFailure extends Error {
  readonly exitCode = 1;
}
