// webpack 5 as its documentation sets it up: nothing for the package's worker, wasm or engine
// files, which webpack finds by their new URL(…, import.meta.url).
module.exports = {
  mode: 'production',
  entry: './app.js',
  output: { path: `${__dirname}/dist`, filename: 'main.js', clean: true },
};
