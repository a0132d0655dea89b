import { expect } from "chai";
import { sentryConfig, type SentryConfig } from "./command.ts";

function config(values: Record<string, string>): SentryConfig {
  const c = sentryConfig(values, {});
  if ("problems" in c) throw new Error(c.problems.join("; "));
  return c;
}

describe("sentry flags", function () {
  it("takes --log-format like the controller and the injector: json, pretty, or by the terminal when unset", function () {
    expect(config({}).logFormat).to.equal(undefined);
    expect(config({ "log-format": "json" }).logFormat).to.equal("json");
    expect(config({ "log-format": "pretty" }).logFormat).to.equal("pretty");
    expect(sentryConfig({ "log-format": "text", "log-level": "loud" }, {})).to.deep.equal({
      problems: [
        '--log-format "text": want json, pretty',
        '--log-level "loud": want debug, info, warn or error',
      ],
    });
  });
});
