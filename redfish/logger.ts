/** The minimal logger the library writes to; pino, console or a test spy all fit. */
export interface RedfishLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const silentLogger: RedfishLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
