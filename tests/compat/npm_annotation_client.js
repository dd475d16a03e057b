// Drive the npm `scaleapi` client (2.3.2) through the image annotation types:
//   node npm_annotation_client.js BASE_URL LIVE_KEY
// As in npm_client.js, the only change from a customer's code is rewriting the client's
// hard-coded https://api.scaleapi.com/v1/ prefix on the `request` instance it uses.
'use strict';
const BASE = process.argv[2].replace(/\/$/, '') + '/v1/';
const KEY = process.argv[3];
const request = require('request');
for (const m of ['get', 'post']) {
  const orig = request[m];
  request[m] = function (opts, cb) {
    if (opts && typeof opts.url === 'string') opts.url = opts.url.replace('https://api.scaleapi.com/v1/', BASE);
    return orig.call(this, opts, cb);
  };
}
const { ScaleClient, ScaleException } = require('scaleapi');
const client = new ScaleClient(KEY);
const p = fn => new Promise((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));
const base = { callback_url: 'http://127.0.0.1:9/callback', attachment_type: 'image',
               attachment: 'http://i.imgur.com/v4cBreD.jpg', with_labels: true };

(async () => {
  const out = { client: 'npm', created: {} };
  const made = {
    annotation: await p(cb => client.createAnnotationTask(Object.assign({}, base, {
      instruction: 'Box the cows', objects_to_annotate: ['baby cow', 'big cow'], min_width: 30, min_height: 30 }), cb)),
    polygonannotation: await p(cb => client.createPolygonannotationTask(Object.assign({}, base, {
      instruction: 'Outline the cars', objects_to_annotate: ['car'], min_vertices: 4, max_vertices: 12 }), cb)),
    lineannotation: await p(cb => client.createLineannotationTask(Object.assign({}, base, {
      instruction: 'Trace the lanes', objects_to_annotate: ['lane'], splines: true }), cb)),
    pointannotation: await p(cb => client.createPointannotationTask(Object.assign({}, base, {
      instruction: 'Mark the heads', objects_to_annotate: ['head'] }), cb)),
  };
  for (const [k, t] of Object.entries(made)) out.created[k] = { id: t.id, type: t.type, status: t.status, params: t.params };
  try {
    await p(cb => client.createAnnotationTask(Object.assign({}, base, { instruction: 'x', objects_to_annotate: [] }), cb));
    out.invalid = { class: null };
  } catch (e) {
    out.invalid = { class: e instanceof ScaleException ? 'ScaleException' : String(e), code: e.errcode, message: e.message };
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
