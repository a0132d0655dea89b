import { expect } from "chai";
import { PassThrough } from "node:stream";
import { createLogger, logFormatOf, prettyLine } from "./log.ts";

describe("log format", () => {
  it("is pretty on a terminal and JSON otherwise, unless --log-format says", () => {
    expect(logFormatOf(undefined, true)).to.equal("pretty");
    expect(logFormatOf(undefined, false)).to.equal("json");
    expect(logFormatOf("json", true)).to.equal("json");
    expect(logFormatOf("pretty", false)).to.equal("pretty");
    expect(logFormatOf("text", false)).to.equal(undefined);
  });

  it("prints a record as time, level, component, message and its fields", () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
      pid: 1,
      hostname: "h",
      component: "controller",
      msg: "leader election: acquire attempt failed",
      lease: "outrigger-system/outrigger-controller",
      attempt: 3,
      note: "two words",
    });
    expect(prettyLine(line)).to.equal(
      '03:04:05.678  WARN   controller  leader election: acquire attempt failed  lease=outrigger-system/outrigger-controller  attempt=3  note="two words"',
    );
    expect(prettyLine(line, true)).to.include("\x1b[33mWARN \x1b[0m");
  });

  it("puts an error's stack under its line, and leaves a line that is not a record alone", () => {
    const line = JSON.stringify({
      level: 50,
      time: 0,
      msg: "reconcile failed",
      err: { type: "Error", message: "boom", stack: "Error: boom\n    at here" },
    });
    expect(prettyLine(line)).to.equal(
      '00:00:00.000  ERROR  reconcile failed  err="boom"\n    Error: boom\n        at here',
    );
    expect(prettyLine("not json {")).to.equal("not json {");
  });

  it("writes pretty lines through a logger, and JSON lines by default", async () => {
    const pretty = new PassThrough();
    let text = "";
    pretty.on("data", (d: Buffer) => (text += d.toString()));
    createLogger("injector", { level: "info", format: "pretty", out: pretty }).info({ port: 8443 }, "ready");
    expect(text).to.match(/^\d\d:\d\d:\d\d\.\d{3} {2}INFO {3}injector {2}ready {2}port=8443\n$/);

    const json = new PassThrough();
    let raw = "";
    json.on("data", (d: Buffer) => (raw += d.toString()));
    createLogger("injector", { level: "info", out: json }).info({ port: 8443 }, "ready");
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(raw)).to.include({ component: "injector", msg: "ready", port: 8443, level: 30 });
  });
});
