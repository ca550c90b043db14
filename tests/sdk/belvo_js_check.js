// Belvo's official Node SDK (`belvo` on npm), unmodified, against the emulator.
//
// Run by scripts/sdk_checks.sh with NODE_PATH pointing at the installed package and
// BELVO_EMULATOR_URL, BELVO_SECRET_ID, BELVO_SECRET_PASSWORD. Exits non-zero when any check
// fails; the last line reads "N passed, N failed".
'use strict';

const path = require('path');
const Client = require('belvo').default;
const fixtures = require(path.join(__dirname, 'fixtures.json'));

const URL = process.env.BELVO_EMULATOR_URL.replace(/\/+$/, '');
const SECRET_ID = process.env.BELVO_SECRET_ID || 'dev-secret-id';
const SECRET_PASSWORD = process.env.BELVO_SECRET_PASSWORD || 'dev-secret-password';

let passed = 0;
let failed = 0;

function check(name, ok, detail) {
  if (ok) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name} ${detail === undefined ? '' : JSON.stringify(detail)}`);
  }
}

/** The RequestError a promise rejects with (null when it resolves). */
async function refused(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  return null;
}

function belvoShaped(error, status, code, field) {
  const detail = error && error.detail;
  return Boolean(
    error &&
      error.statusCode === status &&
      Array.isArray(detail) &&
      detail[0].code === code &&
      typeof detail[0].request_id === 'string' &&
      detail[0].field === field,
  );
}

/** Every item of a list endpoint, following `next` to the end (the SDK's own generator). */
async function every(client, endpoint, params) {
  const items = [];
  for await (const item of client.session.getAll(endpoint, params)) {
    items.push(item);
  }
  return items;
}

async function main() {
  // Login: the SDK checks the credentials with GET /api/ and refuses wrong ones.
  const quiet = console.log;
  console.log = () => {}; // the SDK logs the refused login's error object
  const wrong = await refused(new Client(SECRET_ID, 'wrong-password', URL).connect());
  console.log = quiet;
  check('login refuses a wrong password', wrong && /Login failed/.test(wrong.message), wrong && wrong.message);
  const client = new Client(SECRET_ID, SECRET_PASSWORD, URL);
  await client.connect();
  check('login', Boolean(client.links));

  const reset = await client.session.post('control/reset', {});
  check('control reset', reset.cleared.includes('attempt_counters'), reset);

  // Widget tokens: the SDK's create cannot send fetch_resources; the session can.
  const missing = await refused(
    client.widgetToken.create({ widget: { callback_urls: fixtures.callback_urls } }),
  );
  check(
    "widgetToken.create without fetch_resources is 'required'",
    belvoShaped(missing, 400, 'required', 'fetch_resources'),
    missing && missing.detail,
  );
  for (const [product, body] of Object.entries(fixtures.token_bodies)) {
    const token = await client.session.post('api/token/', {
      id: SECRET_ID,
      password: SECRET_PASSWORD,
      ...body,
    });
    check(`token for ${product}`, Boolean(token.access && token.refresh), token);
  }

  // Institutions, every page.
  const institutions = await every(client, 'api/institutions/', { page_size: 2 });
  const names = new Set(institutions.map((i) => i.name));
  check(
    'institutions listed across pages',
    ['imss_mx_employment', 'inss_br_employment', 'pila_co_employment', 'erebor_br_retail'].every((n) =>
      names.has(n),
    ),
    [...names],
  );
  const viaResource = await client.institutions.list({ limit: 3 });
  check('institutions.list', viaResource.length === 3, viaResource.length);

  // Links through the API flow, MX / BR / CO.
  const links = {};
  for (const [country, [institution, username]] of Object.entries(fixtures.api_links)) {
    const link = await client.links.register(institution, username, undefined, {
      accessMode: 'single',
      externalId: `sdk-js-${country}`,
    });
    links[country] = link.id;
    check(`link created (${country})`, link.institution === institution, link);
  }
  const missingMode = await refused(client.links.register('pila_co_employment', '1020304050'));
  check(
    "a link without access_mode is 'required'",
    belvoShaped(missingMode, 400, 'required', 'access_mode'),
    missingMode && missingMode.detail,
  );

  const detail = await client.links.detail(links.MX);
  check('link detail', detail.id === links.MX && detail.external_id === 'sdk-js-MX', detail);
  const listed = (await every(client, 'api/links/', { page_size: 1 })).map((l) => l.id);
  check('links listed across pages', Object.values(links).every((id) => listed.includes(id)), listed);
  const viaList = await client.links.list({ filters: { institution: 'pila_co_employment' } });
  check('links.list with a filter', viaList.some((l) => l.id === links.CO), viaList.length);

  // Data: owners, employment records, metrics, BR / CO employments page by page to the end.
  const owners = await client.owners.list({ filters: { link: links.MX } });
  check('owners', owners.length === 1 && owners[0].link === links.MX, owners);
  const records = await client.employmentRecords.list({ filters: { link: links.MX } });
  check('employment records', records.length === 1 && records[0].employment_records.length > 0, records);
  const metrics = await every(client, 'api/employment-metrics/', { link: links.MX });
  check('employment metrics', metrics.length === 1, metrics);
  for (const country of ['BR', 'CO']) {
    const endpoint = `api/${country.toLowerCase()}/employments/`;
    const first = (await client.session.session.get(endpoint, { params: { link: links[country], page_size: 1 } })).data;
    const all = await every(client, endpoint, { link: links[country], page_size: 1 });
    check(
      `${country} employments followed to the last page`,
      first.count >= 2 &&
        /^https?:\/\//.test(first.next) &&
        all.length === first.count &&
        new Set(all.map((e) => e.id)).size === first.count &&
        all.every((e) => e.country === country),
      [first.count, all.length],
    );
  }

  // Brazil open finance: accounts and transactions of an open-finance institution's link.
  const ofda = await client.links.register('erebor_br_retail', '76109277673', undefined, { accessMode: 'recurrent' });
  const accounts = await client.accounts.list({ filters: { link: ofda.id } });
  const transactions = await client.transactions.list({ limit: 1000, filters: { link: ofda.id } });
  const accountIds = new Set(accounts.map((a) => a.id));
  check(
    'open-finance accounts and transactions',
    accounts.length > 0 && transactions.length >= 20 && transactions.every((t) => accountIds.has(t.account.id)),
    [accounts.length, transactions.length],
  );

  // Delete: 204 through the SDK, then the link is gone.
  check('link delete', (await client.links.delete(links.CO)) === true);
  const gone = await refused(client.links.detail(links.CO));
  check('a deleted link is 404', belvoShaped(gone, 404, 'not_found'), gone && gone.detail);

  // The IMSS error table, one fixture username per row.
  for (const [username, status, code, message] of fixtures.imss_errors) {
    const error = await refused(
      client.links.register('imss_mx_employment', username, undefined, { accessMode: 'single' }),
    );
    check(
      `IMSS row ${code}: ${message.slice(0, 40)}`,
      belvoShaped(error, status, code) && error.detail[0].message === message,
      error && error.detail,
    );
  }

  // forbidden_by_host: the fourth attempt of one username within a day.
  const username = fixtures.forbidden_by_host_username;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    await client.links.register('imss_mx_employment', username, undefined, { accessMode: 'single' });
  }
  const forbidden = await refused(
    client.links.register('imss_mx_employment', username, undefined, { accessMode: 'single' }),
  );
  check('forbidden_by_host on the fourth attempt', belvoShaped(forbidden, 403, 'forbidden_by_host'), forbidden && forbidden.detail);

  // Unknown routes and wrong methods answer Belvo's error list too.
  const unknown = await refused(client.session.get('api/nothing-here/', ''));
  check('unknown route is a Belvo 404', belvoShaped(unknown, 404, 'not_found'), unknown && unknown.detail);
  const wrongMethod = await refused(client.session.patch('api/institutions/', {}));
  check('wrong method is a Belvo 405', belvoShaped(wrongMethod, 405, 'method_not_allowed'), wrongMethod && wrongMethod.detail);
}

main()
  .catch((e) => {
    failed += 1;
    console.log(`FAIL unexpected error: ${e && e.stack}`, e && e.detail ? JSON.stringify(e.detail) : '');
  })
  .finally(() => {
    console.log(`belvo-js: ${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
  });
