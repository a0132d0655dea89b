// The ceiling for Node on this machine: the least an admission webhook can do over HTTPS. It
// reads the body, parses the AdmissionReview and answers "allowed" for its uid: no framework,
// no logging, no metrics, no patch. Same TLS settings and certificate as the injector under test.
//
// Run as a child process: `node bench/reference-server.ts <cert.pem> <key.pem> [port]`; it prints
// its port on stdout, as `listening <port>`.
import { readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";

export function startReferenceServer(certPem: string, keyPem: string, port = 0): Promise<https.Server> {
  const server = https.createServer({ cert: certPem, key: keyPem, minVersion: "TLSv1.2" }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let uid: unknown;
      try {
        uid = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request?: { uid?: unknown } }).request
          ?.uid;
      } catch {
        uid = undefined;
      }
      if (typeof uid !== "string") {
        res
          .writeHead(400, { "content-type": "application/json" })
          .end('{"message":"not an AdmissionReview"}');
        return;
      }
      const body = JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: { uid, allowed: true },
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (import.meta.main) {
  const [certFile, keyFile, port] = process.argv.slice(2);
  if (!certFile || !keyFile) {
    console.error("usage: node bench/reference-server.ts <cert.pem> <key.pem> [port]");
    process.exit(2);
  }
  const server = await startReferenceServer(
    readFileSync(certFile, "utf8"),
    readFileSync(keyFile, "utf8"),
    Number(port ?? 0),
  );
  console.log(`listening ${(server.address() as AddressInfo).port}`);
  const stop = () => server.close(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
