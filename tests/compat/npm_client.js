// Drive the npm `scaleapi` client (2.3.2) against a Taskforce server:
//   node npm_client.js BASE_URL API_KEY
// The client hard-codes https://api.scaleapi.com/v1/ in a private variable, so the only change
// from a customer's code is rewriting that prefix on the `request` instance it uses.
// Prints one JSON object with what each call returned; exits 1 on anything unexpected.
'use strict';
const BASE = process.argv[2].replace(/\/$/, '') + '/v1/';
const KEY = process.argv[3];
const request = require('request'); // the same (deduplicated) instance scaleapi requires
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
const CALLBACK = 'http://127.0.0.1:9/callback';
const json = t => t.param_dict || t.json || Object.assign({}, t);

async function error(fn) {
  try { await p(fn); return { class: null }; }
  catch (e) { return { class: e instanceof ScaleException ? 'ScaleException' : String(e), code: e.errcode, message: e.message }; }
}

(async () => {
  const out = { client: 'npm' };
  const created = {};
  created.categorization = await p(cb => client.createCategorizationTask({
    callback_url: CALLBACK, instruction: 'Is this company public or private?', attachment_type: 'website',
    attachment: 'http://www.google.com/', categories: ['public', 'private'], urgency: 'immediate',
    metadata: { ref: 'npm' } }, cb));
  created.transcription = await p(cb => client.createTranscriptionTask({
    callback_url: CALLBACK, instruction: 'Write down the fields.', attachment_type: 'website',
    attachment: 'http://www.reddit.com/', fields: { title: 'Title' }, row_fields: { user: 'User' } }, cb));
  // No helper for phone calls in this client: its generic createTask.
  created.phonecall = await p(cb => client.createTask('phonecall', {
    callback_url: CALLBACK, instruction: 'Call', phone_number: '+1 505 500 6865', entity_name: 'Acme',
    fields: { email: 'Email' } }, cb));
  created.comparison = await p(cb => client.createComparisonTask({
    callback_url: CALLBACK, instruction: 'Same?', attachment_type: 'image',
    attachments: ['http://a.example/1.png', 'http://a.example/2.png'], choices: ['yes', 'no'] }, cb));
  out.created = {};
  for (const [k, t] of Object.entries(created)) out.created[k] = { id: t.id, type: t.type, status: t.status, params: t.params, urgency: t.urgency, metadata: t.metadata };
  const first = created.categorization;
  const fetched = await p(cb => client.fetchTask(first.id, cb));
  out.fetched = { id: fetched.id, status: fetched.status, params: fetched.params };
  const canceled = await p(cb => client.cancelTask(first.id, cb));
  out.canceled = { id: canceled.id, status: canceled.status };
  const page = await p(cb => client.tasks({ limit: 2, offset: 0 }, cb));
  out.list = { ids: page.docs.map(d => d.id), total: page.total, limit: page.limit, offset: page.offset, has_more: page.has_more, next_token: page.next_token };
  const page2 = await p(cb => client.tasks({ limit: 2, offset: 2 }, cb));
  out.list_page2 = page2.docs.map(d => d.id);
  const filtered = await p(cb => client.tasks({ status: 'canceled', type: 'categorization' }, cb));
  out.list_filtered = filtered.docs.map(d => d.id);
  out.errors = {
    fetch_unknown: await error(cb => client.fetchTask('000000000000000000000000', cb)),
    cancel_twice: await error(cb => client.cancelTask(first.id, cb)),
    invalid: await error(cb => client.createComparisonTask({ callback_url: CALLBACK, instruction: 'x',
      attachment_type: 'image', attachments: ['http://a.example/1.png'], choices: ['a'] }, cb)),
  };
  console.log(JSON.stringify(out));
})().catch(e => { console.error('FAIL', e && e.stack || e); process.exit(1); });
