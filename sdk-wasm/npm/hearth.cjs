// Node (CommonJS) entry: the wasm-bindgen module, plus the HearthError class for `instanceof`.
const m = require("./hearth_wasm.js");
module.exports = { ...m, HearthError: m.hearthErrorClass() };
