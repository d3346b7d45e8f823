// Tells binding.gyp which FAISS to compile and link against:
//   node faiss-config.mjs include|cflags|libs|describe
// The AVX2 build from infra/scripts/build-faiss.sh wins when it is there (same path rules as
// that script); otherwise Debian's libfaiss-dev. Set PIXELFIND_FAISS_GENERIC=1 to force Debian's.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const cacheRoot = process.env.PIXELFIND_CACHE ?? join(homedir(), '.cache', 'pixelfind');
const prefix = process.env.PIXELFIND_FAISS_PREFIX ?? join(cacheRoot, 'faiss-avx2');
const avx2Lib = join(prefix, 'lib', 'libfaiss_avx2.a');
const systemLibs = ['/usr/lib/x86_64-linux-gnu/libfaiss.a', '/usr/lib/x86_64-linux-gnu/libfaiss.so'];

const useAvx2 =
  process.env.PIXELFIND_FAISS_GENERIC !== '1' &&
  existsSync(avx2Lib) &&
  existsSync(join(prefix, 'include', 'faiss', 'Index.h'));
const systemLib = systemLibs.find((path) => existsSync(path));

if (!useAvx2 && (!systemLib || !existsSync('/usr/include/faiss/Index.h'))) {
  console.error(
    'pixelfind: no FAISS library found. Install it with `apt-get install libfaiss-dev libopenblas-dev liblapack-dev` ' +
      '(or run `bash infra/scripts/build-faiss.sh`), then `npm run build:native`.',
  );
  process.exit(1);
}

const what = process.argv[2];
if (what === 'include') {
  console.log(useAvx2 ? join(prefix, 'include') : '/usr/include');
} else if (what === 'cflags') {
  // Our code inlines FAISS's SIMD helpers, so it must be compiled for the same CPU level as the library.
  console.log(useAvx2 ? '-mavx2 -mfma -mf16c -mpopcnt -DPIXELFIND_FAISS_AVX2=1' : '-DPIXELFIND_FAISS_AVX2=0');
} else if (what === 'libs') {
  console.log(useAvx2 ? avx2Lib : systemLib);
} else if (what === 'describe') {
  console.log(useAvx2 ? `avx2 ${avx2Lib}` : `generic ${systemLib}`);
} else {
  console.error('usage: node faiss-config.mjs include|cflags|libs|describe');
  process.exit(2);
}
