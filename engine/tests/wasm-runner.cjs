// Runs the committed wasm engine (dist/thumbnail-engine-<variant>.js) under Node for the Rust tests
// in wasm.rs, which hold every assertion: this file only drives the engine's C API and reports.
//
//   node --no-experimental-fetch wasm-runner.cjs <st|mt> <jobs.json> <out-dir>
//
// jobs.json: [{ "file": "/abs/path.mp4", "threads": 0, "save": true, "frames": [{ "t": 1, "width": 0,
// "height": 0, "mode": 0 }] }]. Writes <out-dir>/results.json (same order) and each frame's RGBA as
// <out-dir>/<job>-<frame>.rgba, with the time te_open and each te_decode took (open_ms, ms; the
// benchmark reads them). Node has no File, so the video is copied into MEMFS here; the
// browser mounts it with WORKERFS instead.
'use strict';
const fs = require('fs');
const path = require('path');

const [variant, jobsPath, outDir] = process.argv.slice(2);
const createEngine = require(path.join(__dirname, '..', 'dist', `thumbnail-engine-${variant}.js`));

// te_info / te_image layouts from engine/c/engine.h.
function readInfo(m, ptr) {
  return {
    duration: m.HEAPF64[ptr >> 3],
    fps: m.HEAPF64[(ptr + 8) >> 3],
    width: m.HEAP32[(ptr + 16) >> 2],
    height: m.HEAP32[(ptr + 20) >> 2],
    display_width: m.HEAP32[(ptr + 24) >> 2],
    display_height: m.HEAP32[(ptr + 28) >> 2],
    rotation: m.HEAP32[(ptr + 32) >> 2],
    codec: m.UTF8ToString(ptr + 40, 24),
  };
}

function readImage(m, ptr) {
  const width = m.HEAP32[(ptr + 8) >> 2];
  const height = m.HEAP32[(ptr + 12) >> 2];
  const rgba = m.HEAPU32[(ptr + 16) >> 2];
  return { time: m.HEAPF64[ptr >> 3], width, height, pixels: m.HEAPU8.slice(rgba, rgba + width * height * 4) };
}

function failure(m, e, status) {
  return { status: m.UTF8ToString(m._te_error_name(status)), message: m.UTF8ToString(m._te_message(e)) };
}

async function main() {
  const m = await createEngine({ printErr: () => {} });
  const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
  const results = [];
  m.FS.mkdir('/in');
  const e = m._te_new();
  jobs.forEach((job, j) => {
    const name = `/in/${j}-${path.basename(job.file)}`;
    m.FS.writeFile(name, fs.readFileSync(job.file));
    const cPath = m._malloc(m.lengthBytesUTF8(name) + 1);
    m.stringToUTF8(name, cPath, m.lengthBytesUTF8(name) + 1);
    const opening = process.hrtime.bigint();
    const status = m._te_open(e, cPath, job.threads || 0);
    const openMs = Number(process.hrtime.bigint() - opening) / 1e6;
    m._free(cPath);
    if (status !== 0) {
      results.push({ file: job.file, ...failure(m, e, status), frames: [] });
      m.FS.unlink(name);
      return;
    }
    const result = { file: job.file, status: 'ok', info: readInfo(m, m._te_probe(e)), open_ms: openMs, frames: [] };
    job.frames.forEach((f, i) => {
      const started = process.hrtime.bigint();
      const s = f.next
        ? m._te_decode_next(e, f.t, f.width || 0, f.height || 0)
        : m._te_decode(e, f.t, f.width || 0, f.height || 0, f.mode || 0);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (s !== 0) {
        result.frames.push(failure(m, e, s));
        return;
      }
      const image = readImage(m, m._te_result(e));
      let out = null;
      if (job.save !== false) {
        out = path.join(outDir, `${j}-${i}.rgba`);
        fs.writeFileSync(out, image.pixels);
      }
      result.frames.push({ status: 'ok', time: image.time, width: image.width, height: image.height, rgba: out, ms });
    });
    result.packets = [m._te_packets_decoded(e, 0), m._te_packets_decoded(e, 1)];
    m._te_close(e);
    m.FS.unlink(name);
    results.push(result);
  });
  m._te_free(e);
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results));
  process.exit(0); // the mt build keeps its pthread pool alive
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
