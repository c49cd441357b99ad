/**
 * SHA-512 crypt ("$6$", Drepper's specification, as glibc and cloud-init's
 * `passwd` expect), computed with WebCrypto so the password never leaves the
 * browser: the VM record holds only the hash.
 */
const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

async function sha512(...parts: Uint8Array[]): Promise<Uint8Array> {
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-512", buf));
}

function repeatTo(src: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = src[i % 64]!;
  return out;
}

export function randomSalt(n = 16): string {
  const r = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(r, (b) => ITOA64[b & 63]).join("");
}

export async function sha512crypt(password: string, salt: string = randomSalt(), rounds = 5000): Promise<string> {
  const P = new TextEncoder().encode(password);
  const S = new TextEncoder().encode(salt.slice(0, 16));
  const B = await sha512(P, S, P);
  const a: Uint8Array[] = [P, S];
  let cnt = P.length;
  for (; cnt > 64; cnt -= 64) a.push(B);
  a.push(B.subarray(0, cnt));
  for (cnt = P.length; cnt > 0; cnt >>= 1) a.push(cnt & 1 ? B : P);
  const A = await sha512(...a);
  const DP = await sha512(...Array<Uint8Array>(P.length).fill(P));
  const Pp = repeatTo(DP, P.length);
  const DS = await sha512(...Array<Uint8Array>(16 + A[0]!).fill(S));
  const Sp = DS.subarray(0, S.length);
  let C = A;
  for (let i = 0; i < rounds; i++) {
    const parts: Uint8Array[] = [i & 1 ? Pp : C];
    if (i % 3) parts.push(Sp);
    if (i % 7) parts.push(Pp);
    parts.push(i & 1 ? C : Pp);
    C = await sha512(...parts);
  }
  let out = "";
  const b64 = (b2: number, b1: number, b0: number, n: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let k = 0; k < n; k++) {
      out += ITOA64[w & 63];
      w >>= 6;
    }
  };
  for (let i = 0; i < 21; i++) {
    const x = [i, i + 21, i + 42] as const;
    const [p, q, r] = i % 3 === 0 ? [x[0], x[1], x[2]] : i % 3 === 1 ? [x[1], x[2], x[0]] : [x[2], x[0], x[1]];
    b64(C[p]!, C[q]!, C[r]!, 4);
  }
  b64(0, 0, C[63]!, 2);
  const head = rounds === 5000 ? "$6$" : `$6$rounds=${rounds}$`;
  return `${head}${salt.slice(0, 16)}$${out}`;
}
