// Marks dist/cjs as CommonJS, so Node loads the require() build of the client as such.
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
