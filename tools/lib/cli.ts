/**
 * What every command-line tool needs to treat the user's files as sacred (DESIGN.md,
 * principle 13), in one place:
 *
 * - `userPath`: a path as the user meant it. `npm run x -- in/a.onnx` runs the script in
 *   the package root; npm keeps the folder the user typed the command in as INIT_CWD.
 * - `readInputFile`: reads a regular file of bounded size; a folder, a device such as
 *   /dev/zero, a pipe or an absurdly large file is refused by name before any byte is read.
 * - `OutputFile`: an output checked and reserved before the work starts (its folder made,
 *   a temporary sibling `.NAME.tmp-<pid>-<hex>` created, so an unwritable place fails in
 *   milliseconds, not after a long run), written by one rename at the end, and never
 *   replacing a file the tool did not write (`isOurs`). Temporaries of a run that was
 *   killed (kill -9) are removed by the next run that writes the same file; on an error,
 *   Ctrl-C or exit, a run removes its own temporaries and the folders it made.
 * - `ToolError` and `reportError`: one line `<tool>: <message>` for every failure, and a
 *   non-zero exit status; a stack trace only with POSENET_DEBUG=1.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** An error meant for the user as it is: the tool prints `<tool>: <message>` and exits 1. */
export class ToolError extends Error {
  override name = 'ToolError';
}

/** Names of the errors whose messages are written for the user (and name the file at fault). */
const USER_ERRORS = new Set([
  'ToolError',
  'ConvertError',
  'TfjsModelError',
  'ManifestError',
  'ModelLoadError',
  'ResolutionError',
  'WebGPUUnavailableError',
]);

/** True for errors whose message is meant for the user (see USER_ERRORS). */
export function isUserError(err: unknown): err is Error {
  return err instanceof Error && USER_ERRORS.has(err.name);
}

/**
 * A user error thrown in a browser page comes back from Puppeteer as a plain Error whose
 * message is `<Name>: <message>`: this makes it a ToolError again (other errors as they are).
 */
export function fromPage(err: unknown): unknown {
  const m = /^(\w+): ([^\n]*)/.exec(err instanceof Error ? err.message : '');
  return m && USER_ERRORS.has(m[1]!) ? new ToolError(m[2]!) : err;
}

/** The line a tool prints for `err`: its message for user errors, else a short note (stack with POSENET_DEBUG=1). */
export function errorLine(tool: string, err: unknown): string {
  if (isUserError(err)) return `${tool}: ${err.message}`;
  if (process.env.POSENET_DEBUG) return `${tool}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const message = err instanceof Error ? err.message : String(err);
  return `${tool}: unexpected error: ${message.split('\n')[0]} (a bug: POSENET_DEBUG=1 shows where)`;
}

/** Prints `errorLine` on stderr. */
export function reportError(tool: string, err: unknown): void {
  process.stderr.write(`${errorLine(tool, err)}\n`);
}

/**
 * Runs a tool's main: any error is one line on stderr and exit status 1; the promise's
 * value, when a number, is the exit status. Outputs not yet written are discarded.
 */
export function runCli(tool: string, main: () => Promise<number | undefined> | Promise<void>): void {
  installSignalHandlers();
  main().then(
    (code) => {
      process.exitCode = typeof code === 'number' ? code : 0;
    },
    (err: unknown) => {
      discardOutputs();
      reportError(tool, err);
      process.exitCode = 1;
    },
  );
}

// ---------------------------------------------------------------------------------------
// Paths

/**
 * The folder the user typed the command in. `npm run <script>` starts the script in the
 * package root and keeps the user's folder in INIT_CWD; that applies only when this very
 * script was started by npm (a test spawning the tool under `npm test` has INIT_CWD too).
 */
export function userCwd(): string {
  const script = process.env.npm_lifecycle_script ?? '';
  const self = process.argv[1] ? path.basename(process.argv[1]) : '';
  if (process.env.INIT_CWD && self && script.includes(self)) return process.env.INIT_CWD;
  return process.cwd();
}

/** `p` resolved against the user's folder (see userCwd). */
export function userPath(p: string): string {
  return path.resolve(userCwd(), p);
}

const errnoText: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
};

/** A short reason for a file-system error: "permission denied" rather than a stack. */
export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return (code && errnoText[code]) ?? (code ? code : String((err as Error)?.message ?? err));
}

/** What an existing path is, for messages: "a folder", "a device", ... */
function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFile()) return 'a file';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

export const MiB = 1024 * 1024;

const sizeText = (bytes: number): string => (bytes < MiB ? `${bytes} bytes` : `${(bytes / MiB).toFixed(bytes < 100 * MiB ? 1 : 0)} MiB`);

/**
 * Reads `file` (absolute or relative to the process) after checking that it is a regular
 * file of at most `maxBytes`. `shown` names it in errors (as the user typed it).
 */
export function readInputFile(file: string, shown: string, maxBytes: number): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ToolError(code === 'ENOENT' ? `${shown}: no such file` : `${shown}: cannot read (${fsReason(err)})`);
  }
  if (!stat.isFile()) throw new ToolError(`${shown}: is ${kindOf(stat)}, not a file`);
  if (stat.size > maxBytes)
    throw new ToolError(`${shown}: is ${sizeText(stat.size)}, over the limit of ${sizeText(maxBytes)} for this input`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new ToolError(`${shown}: cannot read (${fsReason(err)})`);
  }
  try {
    // The size again on the open file (it may have changed), and never more than it.
    const bytes = fs.fstatSync(fd).size;
    if (bytes > maxBytes) throw new ToolError(`${shown}: grew over the limit of ${sizeText(maxBytes)} while being read`);
    const buffer = Buffer.alloc(bytes);
    let at = 0;
    while (at < bytes) {
      const n = fs.readSync(fd, buffer, at, bytes - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === bytes ? buffer : buffer.subarray(0, at);
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError(`${shown}: cannot read (${fsReason(err)})`);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `inner` is `outer` or lies inside it (both resolved through symbolic links). */
export function isInside(inner: string, outer: string): boolean {
  const real = (p: string): string => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const rel = path.relative(real(outer), real(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

// ---------------------------------------------------------------------------------------
// Outputs

/** The temporary sibling names of `base` this tool family writes: `.BASE.tmp-<pid>-<hex>`. */
const tempPattern = (base: string): RegExp => new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)-[0-9a-f]{8}$`);

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `.BASE.tmp-<pid>-<hex>` files in `dir` left by runs that are gone (killed before
 * they could clean up). Only that exact name pattern, only regular files, only when the
 * process that made it no longer exists. Returns the names removed.
 */
export function removeStaleTemporaries(dir: string, base: string): string[] {
  const re = tempPattern(base);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const file = path.join(dir, name);
    try {
      if (!fs.lstatSync(file).isFile()) continue;
      fs.rmSync(file);
      removed.push(name);
    } catch {
      // Another run got there first, or it is not ours to remove: leave it.
    }
  }
  return removed;
}

/**
 * Removes the hidden `.BASE.tmp-<pid>-<id>` / `.BASE.old-<pid>-<id>` folders that earlier
 * versions of convert and make-weights left in `parent` when killed mid-write (they wrote
 * a whole folder beside the target and renamed it). Only folders of that exact name, made
 * by a process that is gone, and holding nothing but regular files `isOurFile` accepts
 * (their own outputs); anything else is left alone. Returns the names removed.
 */
export function removeStaleFolders(parent: string, base: string, isOurFile: (name: string) => boolean): string[] {
  const re = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(?:tmp|old)-(\\d+)-[0-9a-f]+$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = re.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const folder = path.join(parent, name);
    try {
      if (!fs.lstatSync(folder).isDirectory()) continue;
      const entries = fs.readdirSync(folder, { withFileTypes: true });
      if (!entries.every((e) => e.isFile() && isOurFile(e.name))) continue;
      for (const e of entries) fs.rmSync(path.join(folder, e.name));
      fs.rmdirSync(folder);
      removed.push(name);
    } catch {
      // Changed under us or not removable: leave it.
    }
  }
  return removed;
}

/** Outputs reserved but not yet written: discarded on an error, Ctrl-C or exit. */
const pending = new Set<OutputFile>();
let exitHookInstalled = false;
let signalsInstalled = false;
const interruptHooks: (() => Promise<void>)[] = [];

/** Discards every reserved output that was not written (temporaries and folders made for them). */
export function discardOutputs(): void {
  for (const o of [...pending].reverse()) o.discard();
}

/** Removes unwritten outputs when the process exits (any library user of OutputFile gets this). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', discardOutputs);
}

/**
 * For a tool's process (runCli, runTool): on SIGINT / SIGTERM, removes unwritten outputs,
 * runs the `onInterrupt` hooks (closing a browser, say) and exits with status 130.
 */
export function installSignalHandlers(): void {
  installExitHook();
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping${interruptHooks.length ? ' (closing the browser)' : ''}; nothing is written\n`);
      discardOutputs();
      const hooks = interruptHooks.map((h) => h().catch(() => undefined));
      const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
      void Promise.race([Promise.allSettled(hooks), timeout]).then(() => process.exit(130));
    });
  }
}

/** Runs `hook` (e.g. closing Chromium) when the user interrupts the tool. */
export function onInterrupt(hook: () => Promise<void>): void {
  installSignalHandlers();
  interruptHooks.push(hook);
}

export interface OutputOptions {
  /** What the file is, for messages: "--json", "the ONNX output". */
  what: string;
  /**
   * Whether an existing file at the target is an earlier output of this tool, which may be
   * replaced. Anything else is refused (a tool never overwrites a file it did not write).
   */
  isOurs: (existingFile: string) => boolean;
  /** Why an existing file is not replaced, after "<file> exists and "; default "was not written by this tool". */
  notOursReason?: string;
}

/**
 * One output file, checked and reserved before the work: see the file header. `shown` is
 * the path as the user gave it (for messages).
 */
export class OutputFile {
  private done = false;

  private constructor(
    readonly file: string,
    /** The path as the user gave it, for messages. */
    private readonly shown: string,
    private readonly temp: string,
    /** Folders made for this output, outermost first (removed on discard when empty). */
    private readonly madeFolders: string[],
  ) {}

  /**
   * Checks the place and reserves it: the folders up to it are made (one at a time: Node's
   * recursive mkdir can loop forever on paths like /proc/self/x/y), an existing target must
   * be one of ours, and the temporary sibling is created. Throws a ToolError naming the path.
   */
  static reserve(target: string, shown: string, options: OutputOptions): OutputFile {
    installExitHook();
    const file = path.resolve(target);
    const dir = path.dirname(file);
    const base = path.basename(file);
    if (!base || base === '.' || base === '..') throw new ToolError(`${options.what} ${shown}: not a file name`);
    const madeFolders = makeFolders(dir, shown, options.what);
    try {
      let existing: fs.Stats | null = null;
      try {
        existing = fs.statSync(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') throw new ToolError(`${options.what} ${shown}: cannot use (${fsReason(err)})`);
      }
      if (existing) {
        if (!existing.isFile()) throw new ToolError(`${options.what} ${shown}: is ${kindOf(existing)}, not a file it can write`);
        let ours = false;
        try {
          ours = options.isOurs(file);
        } catch {
          ours = false;
        }
        if (!ours) {
          throw new ToolError(
            `${options.what} ${shown}: exists and ${options.notOursReason ?? 'was not written by this tool'}; ` +
              'it is left alone (remove it yourself or choose another name)',
          );
        }
      }
      removeStaleTemporaries(dir, base);
      const temp = path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        fs.closeSync(fs.openSync(temp, 'wx'));
      } catch (err) {
        throw new ToolError(`${options.what} ${shown}: cannot write into ${dir} (${fsReason(err)})`);
      }
      const out = new OutputFile(file, shown, temp, madeFolders);
      pending.add(out);
      return out;
    } catch (err) {
      removeFolders(madeFolders);
      throw err;
    }
  }

  /** Writes the data to the temporary file and renames it over the target, in one step. */
  write(data: Uint8Array | string): void {
    if (this.done) throw new Error(`${this.file}: written or discarded already`);
    try {
      const fd = fs.openSync(this.temp, 'w');
      try {
        fs.writeFileSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(this.temp, this.file);
    } catch (err) {
      this.discard();
      throw new ToolError(`${this.shown}: cannot write (${fsReason(err)})`);
    }
    this.done = true;
    pending.delete(this);
  }

  /** Removes the temporary file and the folders made for it (when empty); the target is untouched. */
  discard(): void {
    if (this.done) return;
    this.done = true;
    pending.delete(this);
    fs.rmSync(this.temp, { force: true });
    removeFolders(this.madeFolders);
  }
}

/**
 * Makes the missing folders of `dir`, outermost first, after checking that the nearest
 * existing one is a folder. Returns those it made.
 */
function makeFolders(dir: string, shown: string, what: string): string[] {
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new ToolError(`${what} ${shown}: cannot use ${at} (${fsReason(err)})`);
    }
    if (stat) {
      if (!stat.isDirectory()) throw new ToolError(`${what} ${shown}: ${at} is ${kindOf(stat)}, not a folder`);
      break;
    }
    missing.unshift(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  const made: string[] = [];
  for (const folder of missing) {
    try {
      fs.mkdirSync(folder);
      made.push(folder);
    } catch (err) {
      removeFolders(made);
      throw new ToolError(`${what} ${shown}: cannot create the folder ${folder} (${fsReason(err)})`);
    }
  }
  return made;
}

/** Removes folders this run made, innermost first, while they are empty. */
function removeFolders(made: string[]): void {
  for (const folder of [...made].reverse()) {
    try {
      fs.rmdirSync(folder);
    } catch {
      return; // not empty (another output of ours lives there) or gone: keep the rest
    }
  }
}

/** `isOurs` for JSON outputs: the existing file parses as JSON and `test` accepts it. */
export function jsonIsOurs(test: (json: unknown) => boolean, maxBytes = 256 * MiB): (file: string) => boolean {
  return (file) => {
    const stat = fs.statSync(file);
    if (stat.size > maxBytes) return false;
    if (stat.size === 0) return true;
    return test(JSON.parse(fs.readFileSync(file, 'utf8')));
  };
}
