// A tiny test runner for the SDK scripts: each case is an async function; the last line
// printed is "N passed, M failed", and the exit code is non-zero when any failed.
export const cases = [];
export function test(name, fn) {
  cases.push({ name, fn });
}
export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
export async function run() {
  let passed = 0;
  let failed = 0;
  for (const { name, fn } of cases) {
    try {
      await fn();
      passed++;
      console.log(`ok   ${name}`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${name}: ${err?.stack || err}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
export const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
