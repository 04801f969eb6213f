// Types of wire-fixtures.mjs, for the TypeScript tests that use it.

/** A ZMTP 3.0 greeting (NULL mechanism) and READY as a DEALER. */
export function zmtpHandshake(): Buffer;

/** A deterministic PRNG (mulberry32): numbers in [0, 1), the same for the same seed. */
export function seededRandom(seed: number): () => number;
