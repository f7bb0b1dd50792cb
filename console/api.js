// The console's one way to the API: same origin, the token from sessionStorage in the
// Authorization header (never in a URL or a cookie), the chosen purpose in X-Purpose. Every view
// is made from these answers only, so it shows what the token could read with curl, no more.
'use strict';

const Api = {
  tokenKey: 'portrait.token',
  purposeKey: 'portrait.purpose',
  me: null,  // GET /v1/whoami: {token, role, purposes, can}

  token() {
    return sessionStorage.getItem(Api.tokenKey);
  },
  purpose() {
    return sessionStorage.getItem(Api.purposeKey) || (Api.me ? Api.me.purposes[0] : '');
  },
  setPurpose(purpose) {
    sessionStorage.setItem(Api.purposeKey, purpose);
  },
  can(permission) {
    return !!Api.me && Api.me.can.includes(permission);
  },
  // Forgets the token and everything else the tab kept.
  signOut() {
    sessionStorage.clear();
    Api.me = null;
  },

  // Signs in with `token`: kept only once /v1/whoami accepts it. Returns an error text or ''.
  async signIn(token) {
    const r = await Api.request('GET', '/v1/whoami', {token, purpose: false});
    if (r.status !== 200) {
      return r.status === 401 ? 'That token is not valid (or was revoked).' : Api.problem(r);
    }
    sessionStorage.setItem(Api.tokenKey, token);
    Api.me = r.body;
    if (!Api.me.purposes.includes(sessionStorage.getItem(Api.purposeKey))) {
      Api.setPurpose(Api.me.purposes[0]);
    }
    return '';
  },

  // {status, ok, body, type}: body parsed as JSON for JSON answers, else text.
  async request(method, path, options) {
    const opts = options || {};
    const headers = {'Authorization': 'Bearer ' + (opts.token || Api.token())};
    if (opts.purpose !== false && Api.purpose()) {
      headers['X-Purpose'] = Api.purpose();
    }
    let response;
    try {
      response = await fetch(path, {
        method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error',
        referrerPolicy: 'no-referrer', mode: 'same-origin',
      });
    } catch (e) {
      return {status: 0, ok: false, body: {detail: 'portraitd did not answer'}, type: ''};
    }
    const type = (response.headers.get('content-type') || '').split(';')[0].trim();
    const json = type === 'application/json' || type === 'application/problem+json';
    const body = json ? await response.json() : await response.text();
    if (response.status === 401 && !opts.token) {
      window.dispatchEvent(new Event('portrait-unauthorised'));
    }
    return {status: response.status, ok: response.ok, body, type};
  },
  get(path) {
    return Api.request('GET', path);
  },
  post(path) {
    return Api.request('POST', path);
  },
  // The text of a refusal: the problem's detail.
  problem(r) {
    const detail = r.body && typeof r.body === 'object' ? r.body.detail : '';
    return (r.status ? r.status + ' ' : '') + (detail || 'request failed');
  },
  // A path segment: an external id or a name, percent-encoded.
  seg(value) {
    return encodeURIComponent(value);
  },
};
