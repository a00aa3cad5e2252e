/**
 * Not a test: measures what access control costs (README "Access control"): one scrypt hash and one
 * password check with the defaults of `tessera user add`, and one token check of a call (a verified token).
 * Run: npx tsx test/unit/auth/measure-auth.ts
 */
import { hashPassword, verifyPassword, Authenticator, newAuthFile } from '../../../src/auth';
async function main() {
  let t = performance.now();
  const h = await hashPassword('correct horse battery');
  const hashMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 5; i++) await verifyPassword('correct horse battery', h);
  const verifyMs = (performance.now() - t) / 5;
  const f = newAuthFile();
  f.users.u = { role: 'readwrite', prefixes: [], password: h };
  const a = new Authenticator(f);
  const { token } = await a.login('u', 'correct horse battery');
  t = performance.now();
  const n = 200_000;
  for (let i = 0; i < n; i++) a.verify(token);
  const perVerifyUs = ((performance.now() - t) * 1000) / n;
  console.log(
    JSON.stringify({
      hashMs: hashMs.toFixed(1),
      verifyMs: verifyMs.toFixed(1),
      perVerifyUs: perVerifyUs.toFixed(2),
      tokenChars: token.length,
    }),
  );
}
void main();
