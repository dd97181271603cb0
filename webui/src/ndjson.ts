// Newline-delimited JSON, as /query/stream sends it: bytes in, one object per line out.

export class LineSplitter {
  private buffer = "";

  /** The complete lines in ``text`` plus what was left over before it. */
  push(text: string): string[] {
    this.buffer += text;
    const lines = this.buffer.split("\n");
    this.buffer = lines.pop() ?? "";
    return lines.filter((l) => l.trim());
  }

  /** What is left once the stream ends (a last line without a newline). */
  flush(): string[] {
    const rest = this.buffer.trim();
    this.buffer = "";
    return rest ? [rest] : [];
  }
}

export function parseLine(line: string): Record<string, unknown> {
  try {
    const value = JSON.parse(line);
    return value && typeof value === "object" ? value : { error: `Unexpected line: ${line.slice(0, 200)}` };
  } catch {
    return { error: `The server sent a line that is not JSON: ${line.slice(0, 200)}` };
  }
}

/** Every object of an NDJSON response body, as it arrives. */
export async function* readNdjson(body: ReadableStream<Uint8Array>): AsyncGenerator<Record<string, unknown>> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const line of splitter.push(decoder.decode(value, { stream: true }))) yield parseLine(line);
    }
    for (const line of splitter.push(decoder.decode())) yield parseLine(line);
    for (const line of splitter.flush()) yield parseLine(line);
  } finally {
    reader.releaseLock();
  }
}
