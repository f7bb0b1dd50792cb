// Audit: records after a sequence number (GET /v1/audit), the chain check when asked (GET
// /v1/audit/verify: where it breaks, when it does), the signed export to download (GET /v1/audit/export) and the
// public key that verifies it offline, to hand to auditors. Needs audit.read.
'use strict';

const Audit = {
  async render(view) {
    if (!Api.can('audit.read')) {
      Dom.fill(view, Dom.el('h1', null, 'Audit'), Dom.note('This role has no audit.read permission.'));
      return;
    }
    const after = Dom.el('input', {id: 'audit-after', type: 'number', min: 0, size: 8});
    const records = Dom.el('div');
    const check = Dom.el('div', {id: 'verify-result'});
    const load = () => Audit.records(records, Number(after.value || 0));
    after.addEventListener('keydown', (e) => e.key === 'Enter' && load());
    Dom.fill(view, Dom.el('h1', null, 'Audit'),
      Dom.card('Chain', Dom.el('div', {class: 'toolbar'},
        Dom.el('button', {type: 'button', class: 'primary', id: 'verify',
                          onclick: () => Audit.verify(check, after, load)}, 'Check the chain'),
        Dom.el('button', {type: 'button', id: 'audit-export', onclick: Audit.exportLog},
               'Download the signed export')), check),
      Dom.card('Records', Dom.el('div', {class: 'toolbar'}, 'after sequence number', after,
                                 Dom.el('button', {type: 'button', onclick: load}, 'Show')), records));
    // The chain check reads the whole log (seconds on a large one): it runs when asked.
    Dom.fill(check, Dom.note('Check the chain to verify every record, and to see the latest.'));
    await load();
  },

  // Checks the whole chain; shows the verdict, the public key, and the last records (or, when
  // the chain is broken, the records around the first bad one).
  async verify(box, after, load) {
    Dom.fill(box, Dom.note('checking…'));
    const r = await Api.get('/v1/audit/verify');
    if (!r.ok) {
      Dom.fill(box, Dom.note(Api.problem(r), 'error'));
      return;
    }
    const v = r.body;
    const key = v.public_key ? Dom.el('p', null, 'Public key (Ed25519, for ',
      Dom.el('code', null, 'portraitctl audit verify --file F --pubkey KEY'), '): ',
      Dom.el('code', {id: 'public-key', class: 'mono'}, v.public_key)) : null;
    Dom.fill(box, v.ok ?
      Dom.el('p', {class: 'ok', id: 'verdict'}, 'Intact: ' + v.records + ' records, ' +
             v.checkpoints + ' signed checkpoints.') :
      Dom.el('p', {class: 'bad', id: 'verdict'}, 'Broken at record ' + v.first_bad_seq + ': ' +
             Dom.text(v.problem)), key);
    const bad = v.ok ? null : v.first_bad_seq;
    after.value = String(Math.max(0, (bad !== null ? bad - 5 : v.records - 50)));
    await load();
    if (bad !== null) {
      const row = document.getElementById('audit-' + bad);
      if (row) {
        row.classList.add('highlight');
      }
    }
  },

  async records(box, after) {
    const r = await Api.get('/v1/audit?after=' + after + '&limit=100');
    if (!r.ok) {
      Dom.fill(box, Dom.note(Api.problem(r), 'error'));
      return;
    }
    Dom.fill(box, Dom.table(['seq', 'time', 'actor', 'action', 'profile', 'purpose', 'detail', 'hash'],
      r.body.records.map((a) => ({
        cells: [a.seq, Dom.time(a.time), a.actor, a.action, Dom.text(a.profile_id), Dom.text(a.purpose),
                Dom.el('span', {class: 'mono'}, Dom.text(a.detail)),
                Dom.el('span', {class: 'mono', title: a.hash}, String(a.hash).slice(0, 12) + '…')],
        attrs: {id: 'audit-' + a.seq}})), {id: 'audit-records'}));
  },

  async exportLog() {
    const r = await Api.get('/v1/audit/export');
    if (!r.ok) {
      alert(Api.problem(r));
      return;
    }
    Dom.download('audit-export.jsonl', r.body, 'application/jsonl');
  },
};
