import 'server-only';

import { type KeyObject, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/**
 * A minimal self-signed X.509 v3 certificate, DER-encoded by hand (node:crypto can read
 * certificates but not make them). Test-only: RSA 2048 / sha256WithRSAEncryption, one CN, and an
 * optional URI subjectAltName — what a UDAP server's signing certificate needs.
 */

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const explicit = (n: number, ...items: Buffer[]) => tlv(0xa0 + n, ...items);
const nullValue = () => Buffer.from([0x05, 0x00]);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bitString = (bytes: Buffer) => tlv(0x03, Buffer.from([0]), bytes);
const octetString = (bytes: Buffer) => tlv(0x04, bytes);

function integer(bytes: Buffer): Buffer {
  // DER integers are signed: a leading 1 bit needs a 0x00 in front to stay positive.
  return tlv(0x02, bytes[0] !== undefined && bytes[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = parts;
  const bytes = [a * 40 + b];
  for (const part of rest) {
    const chunk: number[] = [];
    let v = part;
    do {
      chunk.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const pad = (n: number) => String(n).padStart(2, '0');
  const s = `${pad(date.getUTCFullYear() % 100)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), nullValue());

function name(commonName: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), utf8(commonName))));
}

export type SelfSignedCert = {
  /** DER, base64 (standard alphabet): an `x5c` entry. */
  x5c: string;
  der: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
};

export function makeSelfSignedCert(opts: { commonName: string; sanUri?: string; validDays?: number; notBefore?: Date }): SelfSignedCert {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (opts.validDays ?? 30) * 86_400_000);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const extensions = opts.sanUri
    ? [
        explicit(
          3,
          sequence(
            // subjectAltName: GeneralNames { uniformResourceIdentifier [6] IA5String }
            sequence(oid('2.5.29.17'), octetString(sequence(tlv(0x86, Buffer.from(opts.sanUri, 'ascii'))))),
          ),
        ),
      ]
    : [];
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    SHA256_WITH_RSA,
    name(opts.commonName),
    sequence(utcTime(notBefore), utcTime(notAfter)),
    name(opts.commonName),
    spki,
    ...extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, SHA256_WITH_RSA, bitString(signature));
  return { x5c: der.toString('base64'), der, privateKey, publicKey };
}
