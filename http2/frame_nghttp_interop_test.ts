/**
 * Cross-checks the frame layer against `nghttp` (nghttp2's client, when
 * installed) over a real loopback socket: every frame it sends, as our
 * reader parses it, must match what its verbose log says it sent; every
 * frame we send must appear in that log as we meant it.
 */

import assert from "node:assert/strict";
import {
  ErrorCode,
  type Frame,
  FrameType as T,
  SettingId as S,
} from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { FrameWriter } from "./frame_writer.ts";
import {
  answerControl,
  decoder,
  encoder,
  type EventHandler,
  listenOnce,
  literalField,
  STATUS_200,
  withDeadline,
} from "./frame_test_server.ts";

/** One frame as `nghttp -v` printed it: its header line and detail lines. */
interface NghttpFrame {
  direction: "send" | "recv";
  name: string;
  length: number;
  flags: number;
  streamId: number;
  details: string;
}

/** Splits `nghttp -v` output into the frames it sent and received. */
function parseNghttpLog(log: string): NghttpFrame[] {
  const frames: NghttpFrame[] = [];
  const header =
    /^\[\s*[\d.]+\] (send|recv) (\w+) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>$/;
  for (const line of log.split("\n")) {
    const match = header.exec(line);
    if (match) {
      frames.push({
        direction: match[1] as "send" | "recv",
        name: match[2],
        length: Number(match[3]),
        flags: parseInt(match[4], 16),
        streamId: Number(match[5]),
        details: "",
      });
    } else if (line.startsWith(" ") && frames.length > 0) {
      frames[frames.length - 1].details += line.trim() + "\n";
    }
  }
  return frames;
}

/** Whether an `nghttp` binary can be run. */
async function hasNghttp(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("nghttp", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const NGHTTP_PRESENT = await hasNghttp();

Deno.test({
  name:
    "nghttp's frames parse as it printed them, and it prints ours as we meant" +
    (NGHTTP_PRESENT
      ? ""
      : " (skipped: no nghttp; apt-get install nghttp2-client)"),
  ignore: !NGHTTP_PRESENT,
  async fn() {
    const body = await Deno.makeTempFile();
    await Deno.writeTextFile(body, "posted request body");
    const respond: EventHandler = (e, w) => {
      answerControl(16_384)(e, w, new FrameReader());
      if (e.kind !== "frame" || e.frame.type !== T.DATA || !e.frame.endStream) {
        return;
      }
      const id = e.frame.streamId;
      w.headers(id, new Uint8Array([STATUS_200, ...literalField("a", "bbb")]), {
        maxFrameSize: 3,
      })
        .data(id, encoder.encode("hel"), { padLength: 4 })
        .data(id, encoder.encode("lo"), { endStream: true })
        .ping(encoder.encode("AAAAAAAA"))
        .windowUpdate(0, 5000)
        .rstStream(id, ErrorCode.CANCEL)
        .goaway(id, ErrorCode.NO_ERROR, encoder.encode("bye"));
    };
    const { port, accepted } = listenOnce(respond);
    const child = new Deno.Command("nghttp", {
      // --continuation: a header block too big for one frame; --padding:
      // padded DATA; -d: a POST body. Its default stream dependencies add
      // PRIORITY frames and a HEADERS with the PRIORITY flag.
      args: [
        "-nv",
        "--continuation",
        "--padding=7",
        "-d",
        body,
        `http://127.0.0.1:${port}/`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const server = await withDeadline(accepted, "accept");
      await server.send(
        new FrameWriter().settings([
          { id: S.MAX_CONCURRENT_STREAMS, value: 7 },
          { id: S.INITIAL_WINDOW_SIZE, value: 70_000 },
        ]).take(),
      );
      await withDeadline(
        server.waitFor((f) => f.type === T.GOAWAY),
        "nghttp's GOAWAY",
      );
      await withDeadline(server.ended(), "nghttp's close");
      server.conn.close();
      const output = await withDeadline(child.output(), "nghttp exit");
      const log = parseNghttpLog(decoder.decode(output.stdout));
      const frames = server.events.map((e) => {
        if (e.kind === "error") {
          throw new Error(`reader refused: ${e.error.reason}`);
        }
        return e.frame;
      });

      // What nghttp sent, frame by frame, against what our reader parsed
      // (nghttp prints a HEADERS and its CONTINUATIONs as one frame).
      const sent = log.filter((f) => f.direction === "send");
      const ours = frames.filter((f) => f.type !== T.CONTINUATION);
      assert.deepEqual(
        sent.map((f) => [f.name, f.streamId]),
        ours.map((f) => [typeName(f.type), f.streamId]),
      );
      assert.ok(
        frames.some((f) => f.type === T.CONTINUATION),
        "nghttp sent a CONTINUATION",
      );
      for (
        const name of ["SETTINGS", "PRIORITY", "HEADERS", "DATA", "GOAWAY"]
      ) {
        assert.ok(sent.some((f) => f.name === name), `nghttp sent ${name}`);
      }
      for (const [i, theirs] of sent.entries()) {
        assert.deepEqual(
          describe(ours[i], frames),
          nghttpDescription(theirs),
          `frame ${i}: ${theirs.name}\n${theirs.details}`,
        );
      }

      // What nghttp made of our frames.
      const received = log.filter((f) => f.direction === "recv");
      const stdout = decoder.decode(output.stdout);
      const stream = ours.find((f) => f.type === T.DATA)!.streamId;
      assert.match(
        received[0].details,
        /\[SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):7\]\n\[SETTINGS_INITIAL_WINDOW_SIZE\(0x04\):70000\]/,
      );
      assert.ok(stdout.includes(`recv (stream_id=${stream}) :status: 200`));
      assert.ok(stdout.includes(`recv (stream_id=${stream}) a: bbb`));
      const byName = (name: string) => received.filter((f) => f.name === name);
      assert.deepEqual(
        byName("DATA").map((f) => [f.length, f.flags, f.streamId]),
        [[8, 0x08, stream], [2, 0x01, stream]],
      );
      assert.match(byName("DATA")[0].details, /padlen=5/);
      assert.match(byName("PING")[0].details, /opaque_data=4141414141414141/);
      assert.match(
        byName("WINDOW_UPDATE")[0].details,
        /window_size_increment=5000/,
      );
      assert.match(
        byName("RST_STREAM")[0].details,
        /error_code=CANCEL\(0x08\)/,
      );
      assert.match(
        byName("GOAWAY")[0].details,
        new RegExp(
          `last_stream_id=${stream}, error_code=NO_ERROR\\(0x00\\), opaque_data\\(3\\)=\\[bye\\]`,
        ),
      );
    } finally {
      try {
        child.kill();
      } catch { /* already exited */ }
      await child.status;
      await Deno.remove(body);
    }
  },
});

const TYPE_NAMES = [
  "DATA",
  "HEADERS",
  "PRIORITY",
  "RST_STREAM",
  "SETTINGS",
  "PUSH_PROMISE",
  "PING",
  "GOAWAY",
  "WINDOW_UPDATE",
  "CONTINUATION",
];

function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** The fields nghttp prints for a frame, from our parse of it. */
function describe(frame: Frame, all: Frame[]): Record<string, number | string> {
  switch (frame.type) {
    case T.SETTINGS:
      return {
        ack: frame.ack ? 1 : 0,
        settings: frame.settings.map((s) => `${s.id}:${s.value}`).join(","),
      };
    case T.PRIORITY:
      return {
        dep: frame.priority.dependency,
        weight: frame.priority.weight,
        exclusive: frame.priority.exclusive ? 1 : 0,
      };
    case T.HEADERS: {
      // The fragments of this block: this frame and the CONTINUATIONs after it.
      const start = all.indexOf(frame);
      let blockLength = frame.fragment.length;
      for (
        let i = start + 1;
        i < all.length && all[i].type === T.CONTINUATION;
        i++
      ) {
        blockLength += (all[i] as { fragment: Uint8Array }).fragment.length;
      }
      const p = frame.priority;
      return {
        endStream: frame.endStream ? 1 : 0,
        block: blockLength,
        dep: p?.dependency ?? 0,
        weight: p?.weight ?? 16,
        exclusive: p?.exclusive ? 1 : 0,
      };
    }
    case T.DATA:
      return {
        endStream: frame.endStream ? 1 : 0,
        length: frame.length,
        padlen: frame.length - frame.data.length,
      };
    case T.GOAWAY:
      return { last: frame.lastStreamId, code: frame.errorCode };
    default:
      return { type: frame.type };
  }
}

/** The same fields, read from nghttp's own description. */
function nghttpDescription(f: NghttpFrame): Record<string, number | string> {
  const field = (name: string) =>
    Number(new RegExp(`${name}=(\\d+)`).exec(f.details)?.[1] ?? NaN);
  switch (f.name) {
    case "SETTINGS":
      return {
        ack: f.flags & 0x1,
        settings: [
          ...f.details.matchAll(/\[SETTINGS_\w+\(0x([0-9a-f]+)\):(\d+)\]/g),
        ].map((m) => `${parseInt(m[1], 16)}:${m[2]}`).join(","),
      };
    case "PRIORITY":
      return {
        dep: field("dep_stream_id"),
        weight: field("weight"),
        exclusive: field("exclusive"),
      };
    case "HEADERS": {
      const hasPriority = (f.flags & 0x20) !== 0;
      const padlen = field("padlen");
      return {
        endStream: f.flags & 0x1,
        block: f.length - (hasPriority ? 5 : 0) - padlen,
        dep: hasPriority ? field("dep_stream_id") : 0,
        weight: hasPriority ? field("weight") : 16,
        exclusive: hasPriority ? field("exclusive") : 0,
      };
    }
    case "DATA":
      return {
        endStream: f.flags & 0x1,
        length: f.length,
        padlen: (f.flags & 0x8) ? field("padlen") : 0,
      };
    case "GOAWAY":
      return {
        last: field("last_stream_id"),
        code: Number(
          /error_code=\w+\(0x([0-9a-f]+)\)/.exec(f.details)?.[1] ?? NaN,
        ),
      };
    default:
      return { type: TYPE_NAMES.indexOf(f.name) };
  }
}
