// Generates the circomlibjs reference vectors that causeway-crypto is tested against.
//
//   mkdir -p /tmp/cjs && (cd /tmp/cjs && npm install circomlibjs)
//   NODE_PATH=/tmp/cjs/node_modules node crates/crypto/vectors/gen.js > crates/crypto/vectors/circomlibjs.json
//
// Field elements are decimal strings; byte strings are lowercase hex without 0x.
"use strict";
const { buildPoseidon, buildEddsa } = require("circomlibjs");

const hex = (bytes) => Buffer.from(bytes).toString("hex");

// A deterministic spread of field elements: small values, values near the modulus, and
// large pseudo-random ones (a linear congruential walk; any fixed walk would do).
function inputSets(n, p) {
    const sets = [];
    sets.push(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
    sets.push(Array.from({ length: n }, (_, i) => p - 1n - BigInt(i)));
    let x = 0x1234567890abcdef1234567890abcdefn + BigInt(n);
    const big = [];
    for (let i = 0; i < n; i++) {
        x = (x * 6364136223846793005n + 1442695040888963407n) % p;
        x = (x * x + 7n) % p;
        big.push(x);
    }
    sets.push(big);
    return sets;
}

async function main() {
    const poseidon = await buildPoseidon();
    const F = poseidon.F;
    const p = F.p;

    const poseidonVectors = [];
    for (let n = 1; n <= 16; n++) {
        for (const inputs of inputSets(n, p)) {
            const out = poseidon(inputs.map((v) => F.e(v)));
            poseidonVectors.push({
                inputs: inputs.map((v) => v.toString()),
                output: F.toObject(out).toString(),
            });
        }
    }

    const eddsa = await buildEddsa();
    const bj = eddsa.babyJub;
    const EF = bj.F;
    const keys = [
        Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex"),
        Buffer.alloc(32, 0),
        Buffer.from("ff".repeat(32), "hex"),
        Buffer.from("c0ffee00deadbeef".repeat(4), "hex"),
    ];
    const messages = [0n, 1n, 1234567890n, p - 1n, (1n << 200n) + 42n];
    const eddsaVectors = keys.map((prv) => {
        const A = eddsa.prv2pub(prv);
        const sigs = messages.map((m) => {
            const sig = eddsa.signPoseidon(prv, EF.e(m));
            if (!eddsa.verifyPoseidon(EF.e(m), sig, A)) throw new Error("circomlibjs rejects its own signature");
            return {
                msg: m.toString(),
                r8x: EF.toObject(sig.R8[0]).toString(),
                r8y: EF.toObject(sig.R8[1]).toString(),
                s: sig.S.toString(),
                packed_r8: hex(bj.packPoint(sig.R8)),
            };
        });
        return {
            private_key: hex(prv),
            ax: EF.toObject(A[0]).toString(),
            ay: EF.toObject(A[1]).toString(),
            packed_pubkey: hex(bj.packPoint(A)),
            signatures: sigs,
        };
    });

    // Points whose x is "negative" and "positive", to pin down the packing sign convention.
    const points = [];
    let P8 = bj.Base8;
    for (let k = 1; k <= 6; k++) {
        points.push({
            x: EF.toObject(P8[0]).toString(),
            y: EF.toObject(P8[1]).toString(),
            packed: hex(bj.packPoint(P8)),
        });
        P8 = bj.addPoint(P8, bj.Base8);
    }

    process.stdout.write(JSON.stringify({ poseidon: poseidonVectors, eddsa: eddsaVectors, points }, null, 1) + "\n");
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
