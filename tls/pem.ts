/**
 * PEM text, split into its blocks by a linear scan, and PEM files read with
 * one clear line for every way reading them can fail.
 *
 * The files are the operator's, not a client's, but pws keeps its rule for
 * runtime modules anyway: no regular expression, one pass over the text.
 *
 * @module
 */

/** One `-----BEGIN LABEL----- … -----END LABEL-----` block of a PEM text. */
export interface PemBlock {
  /** The label, such as `CERTIFICATE` or `EC PRIVATE KEY`. */
  label: string;
  /** The whole block, from its BEGIN line to its END line, then "\n". */
  text: string;
  /**
   * Whether the block carries RFC 1421 headers saying it is encrypted
   * (`Proc-Type: 4,ENCRYPTED`, OpenSSL's "traditional" encrypted keys).
   */
  encrypted: boolean;
}

const BEGIN = "-----BEGIN ";
const DASHES = "-----";
/** Longer labels are not labels; it bounds the search for a label's end. */
const MAX_LABEL_LENGTH = 64;

/**
 * The PEM blocks of `text`, in order. Text between blocks (comments,
 * `openssl x509 -text` output) is ignored, as OpenSSL does; a BEGIN line
 * without its END line ends the scan.
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let position = 0;
  while (true) {
    const begin = text.indexOf(BEGIN, position);
    if (begin < 0) break;
    const labelStart = begin + BEGIN.length;
    const labelEnd = text.indexOf(DASHES, labelStart);
    if (labelEnd < 0) break;
    if (labelEnd - labelStart > MAX_LABEL_LENGTH) {
      position = labelStart;
      continue;
    }
    const label = text.slice(labelStart, labelEnd);
    const endLine = `-----END ${label}-----`;
    const end = text.indexOf(endLine, labelEnd + DASHES.length);
    if (end < 0) break;
    const body = text.slice(labelEnd + DASHES.length, end);
    blocks.push({
      label,
      text: text.slice(begin, end + endLine.length) + "\n",
      encrypted: body.includes("Proc-Type: 4,ENCRYPTED"),
    });
    position = end + endLine.length;
  }
  return blocks;
}

/** Either a file's text or the one line that says why there is none. */
export type FileText = { ok: true; text: string } | {
  ok: false;
  error: string;
};

/** Certificates and keys are a few KiB; anything larger is not one. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/**
 * Reads a small text file that `what` (such as "certificate file") names in
 * messages. Refuses, with one line naming the file, a path that is missing,
 * unreadable, a directory, not a regular file (a FIFO would block the
 * start), empty or larger than {@linkcode MAX_PEM_FILE_BYTES}.
 */
export async function readPemFile(
  path: string,
  what: string,
): Promise<FileText> {
  const fail = (problem: string): FileText => ({
    ok: false,
    error: `${what} ${path}: ${problem}`,
  });
  try {
    // stat before open: opening a FIFO for reading waits for a writer.
    const info = await Deno.stat(path);
    if (info.isDirectory) return fail("is a directory, not a file");
    if (!info.isFile) return fail("is not a regular file");
    using file = await Deno.open(path, { read: true });
    const bytes = await readAtMost(file, MAX_PEM_FILE_BYTES + 1);
    if (bytes.length > MAX_PEM_FILE_BYTES) {
      return fail(
        `is larger than ${MAX_PEM_FILE_BYTES} bytes: not a PEM file`,
      );
    }
    const text = new TextDecoder().decode(bytes);
    if (isBlank(text)) return fail("is empty");
    return { ok: true, text };
  } catch (error) {
    return fail(readErrorReason(error));
  }
}

/** Reads until end of file or `limit` bytes, whichever comes first. */
async function readAtMost(file: Deno.FsFile, limit: number) {
  const buffer = new Uint8Array(limit);
  let length = 0;
  while (length < limit) {
    const count = await file.read(buffer.subarray(length));
    if (count === null) break;
    length += count;
  }
  return buffer.subarray(0, length);
}

/** True when `text` has nothing but ASCII whitespace. */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) {
      return false;
    }
  }
  return true;
}

/**
 * Why a file could not be read, in a few words for the operator (never a
 * stack trace): the error classes Deno throws, then the error's first line.
 */
export function readErrorReason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "not found";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (pws cannot read it)";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return "not readable under Deno's permissions (run pws with --allow-read)";
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return "is a directory, not a file";
  }
  const message = error instanceof Error ? error.message : String(error);
  const newline = message.indexOf("\n");
  return newline < 0 ? message : message.slice(0, newline);
}

/** The labels of `blocks`, for saying what a file holds instead. */
export function describeLabels(blocks: readonly PemBlock[]): string {
  return [...new Set(blocks.map((block) => block.label))].join(", ");
}
