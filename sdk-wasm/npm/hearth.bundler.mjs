// Bundler entry (webpack, Vite, …: they load the .wasm through the generated module).
import { hearthErrorClass } from "./hearth_wasm.js";
export * from "./hearth_wasm.js";
export const HearthError = hearthErrorClass();
