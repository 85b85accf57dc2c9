// Compile a Solidity standard-JSON input with solc-js (npm `solc`).
// Reads the input on stdin, writes the output JSON on stdout. All sources are
// inlined by the caller, so no import callback is needed.
const solc = require("solc");
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const output = solc.compile(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write(output);
});
