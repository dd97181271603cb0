import { describe, expect, it } from "vitest";
import { LineSplitter, parseLine, readNdjson } from "../src/ndjson";

describe("NDJSON", () => {
  it("splits lines across chunk boundaries", () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n{"c":3}')).toEqual(['{"b":2}']);
    expect(s.flush()).toEqual(['{"c":3}']);
    expect(s.flush()).toEqual([]);
  });
  it("reports a broken line instead of throwing", () => {
    expect(parseLine("{oops")).toHaveProperty("error");
    expect(parseLine("3")).toHaveProperty("error");
  });
  it("reads a byte stream, multi-byte characters split between chunks", async () => {
    const bytes = new TextEncoder().encode('{"references":[]}\n{"response":"北京"}\n{"response":"!"}');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, 25));
        c.enqueue(bytes.slice(25, 33));
        c.enqueue(bytes.slice(33));
        c.close();
      },
    });
    const lines = [];
    for await (const line of readNdjson(stream)) lines.push(line);
    expect(lines).toEqual([{ references: [] }, { response: "北京" }, { response: "!" }]);
  });
});
