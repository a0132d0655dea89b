// A PKCS#10 CSR built the way daprd builds one (empty subject, no attributes), for tests.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { contextTag, oid, seq, tlv, bitString, unsignedInteger } from "./der.ts";

export function csrPem(
  privateKey: KeyObject,
  publicKey: KeyObject,
  opts: { corruptSignature?: boolean } = {},
): Buffer {
  const info = seq(
    unsignedInteger(Buffer.from([0])),
    seq(),
    publicKey.export({ format: "der", type: "spki" }),
    tlv(contextTag(0, true)),
  );
  const sig = sign(null, info, privateKey);
  if (opts.corruptSignature) sig[0] = sig[0]! ^ 0xff;
  const der = seq(info, seq(oid("1.3.101.112")), bitString(sig));
  return Buffer.from(
    `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`,
  );
}

/** A fresh Ed25519 key and its CSR. */
export function ed25519Csr(opts: { corruptSignature?: boolean } = {}): { csr: Buffer; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { csr: csrPem(privateKey, publicKey, opts), publicKey };
}
