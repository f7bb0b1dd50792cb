// A customer: the role's view of the profile (GET /v1/profiles/{id}), the consent history with
// source, notice and evidence (GET .../consents), the events timeline (GET .../events), the tasks
// with the consent record that authorised each (GET /v1/tasks?profile=), and the data-subject
// bundle to download (GET .../export) for roles with `export`. Each part is asked only when the
// role holds its permission; masked values are shown as the API masks them and withheld fields
// are named as withheld.
'use strict';

const Customer = {
  async render(view, id) {
    const input = Dom.el('input', {id: 'customer-id', placeholder: 'external id', value: id || '',
                                   size: 24, spellcheck: 'false'});
    const field = Dom.el('select', {id: 'find-field'},
                         ['email', 'phone'].map((f) => Dom.el('option', {value: f}, f)));
    const value = Dom.el('input', {id: 'find-value', placeholder: 'value', size: 24});
    const found = Dom.el('span', {id: 'found'});
    const open = () => {
      location.hash = '#/customer/' + Api.seg(input.value.trim());
    };
    const find = async () => {
      const r = await Api.get('/v1/profiles?' + encodeURIComponent(field.value) + '=' +
                              encodeURIComponent(value.value));
      if (!r.ok) {
        Dom.fill(found, Dom.el('span', {class: 'error'}, Api.problem(r)));
        return;
      }
      Dom.fill(found, r.body.ids.length === 0 ? 'nobody found' :
        r.body.ids.map((x) => Dom.el('a', {href: '#/customer/' + Api.seg(x), class: 'tag'}, x)));
    };
    input.addEventListener('keydown', (e) => e.key === 'Enter' && open());
    const body = Dom.el('div', {id: 'customer'});
    Dom.fill(view, Dom.el('h1', null, 'Customer'),
      Dom.el('div', {class: 'toolbar'}, input,
             Dom.el('button', {type: 'button', class: 'primary', id: 'open-customer', onclick: open}, 'Open'),
             Api.can('profiles.read') ? [Dom.el('span', {class: 'muted'}, 'or find by'), field, value,
               Dom.el('button', {type: 'button', onclick: find}, 'Find'), found] : null),
      body);
    if (id) {
      await Customer.show(body, id);
    }
  },

  async show(body, id) {
    const path = '/v1/profiles/' + Api.seg(id);
    const parts = {profile: Dom.el('div'), consents: Dom.el('div'), events: Dom.el('div'),
                   tasks: Dom.el('div'), exportPart: Dom.el('div')};
    Dom.fill(body, parts.exportPart, Dom.el('div', {class: 'grid'}, parts.profile, parts.events),
             parts.consents, parts.tasks);
    const ask = (permission, url) => Api.can(permission) ? Api.get(url) : Promise.resolve(null);
    const [profile, consents, events, tasks] = await Promise.all([
      ask('profiles.read', path), ask('consents.read', path + '/consents'),
      ask('profiles.read', path + '/events'),
      ask('tasks.read', '/v1/tasks?profile=' + encodeURIComponent(id) + '&limit=100')]);
    Customer.profile(parts.profile, profile);
    Customer.consents(parts.consents, consents);
    Customer.events(parts.events, events);
    Customer.tasks(parts.tasks, tasks, consents);
    if (Api.can('export')) {
      Dom.fill(parts.exportPart, Dom.el('div', {class: 'toolbar'},
        Dom.el('button', {type: 'button', id: 'export', onclick: async () => {
          const r = await Api.get(path + '/export');
          if (r.ok) {
            Dom.download(id + '-export.json', JSON.stringify(r.body, null, 2));
          } else {
            alert(Api.problem(r));
          }
        }}, 'Download the data-subject bundle')));
    }
  },

  refused(box, title, r, permission) {
    if (r === null) {
      Dom.fill(box, Dom.card(title, Dom.note('This role has no ' + permission + ' permission.')));
      return true;
    }
    if (!r.ok) {
      Dom.fill(box, Dom.card(title, Dom.note(Api.problem(r), 'error')));
      return true;
    }
    return false;
  },

  profile(box, r) {
    if (Customer.refused(box, 'Profile', r, 'profiles.read')) {
      return;
    }
    const p = r.body;
    const rows = Object.entries(p.fields).map(([name, value]) => {
      const masked = p.masked.includes(name);
      return {cells: [name, Dom.el('span', {class: masked ? 'masked' : null}, Dom.text(value)),
                      masked ? 'masked' : 'clear'],
              attrs: {'data-field': name}};
    });
    for (const name of p.withheld) {
      rows.push({cells: [name, Dom.el('span', {class: 'withheld'}, 'withheld'), 'withheld'],
                 attrs: {'data-field': name}});
    }
    const list = (values) => (values && values.length) ?
        values.map((v) => Dom.el('span', {class: 'tag'}, v)) : '—';
    const derived = [['internal id', p.internal_id], ['basis', p.basis],
                     ['lifecycle', p.lifecycle], ['timezone', p.timezone]];
    Dom.fill(box, Dom.card('Profile ' + p.id,
      Dom.table(['field', 'value', 'shown'], rows, {id: 'fields'}),
      Dom.table(['', ''], [...derived.map(([k, v]) => [k, Dom.text(v)]),
                           ['tags', list(p.tags)], ['segments', list(p.segments)],
                           ...Object.entries(p.metrics || {}).map(([k, v]) => ['metric ' + k, Dom.text(v)]),
                           ...Object.entries(p.scores || {}).map(([k, v]) => ['score ' + k, Dom.text(v)]),
                           ...Object.entries(p.predictions || {}).map(([k, v]) => ['prediction ' + k, Dom.text(v)])],
                {id: 'derived'})));
  },

  consents(box, r) {
    if (Customer.refused(box, 'Consent history', r, 'consents.read')) {
      return;
    }
    const rows = r.body.history.map((c) => ({
      cells: [c.id, Dom.time(c.time), c.purpose, c.scope, c.channel, c.status, Dom.text(c.source),
              Dom.text(c.notice), Dom.text(c.evidence), c.actor, Dom.time(c.expires)],
      attrs: {id: 'consent-' + c.id}}));
    Dom.fill(box, Dom.card('Consent history',
      rows.length ? Dom.table(['#', 'time', 'purpose', 'scope', 'channel', 'status', 'source', 'notice',
                               'evidence', 'actor', 'expires'], rows, {id: 'consents'}) :
                    Dom.note('No consent record.')));
  },

  events(box, r) {
    if (Customer.refused(box, 'Events', r, 'profiles.read')) {
      return;
    }
    const e = r.body;
    if (!e.shown) {
      Dom.fill(box, Dom.card('Events', Dom.note(e.reason)));
      return;
    }
    const withData = e.events.some((x) => 'data' in x);
    Dom.fill(box, Dom.card('Events (' + e.events.length + (e.more ? ', the latest' : '') + ')',
      Dom.table(withData ? ['time', 'type', 'data'] : ['time', 'type'],
                e.events.map((x) => withData ? [Dom.time(x.time), x.type, Dom.text(x.data)] :
                                               [Dom.time(x.time), x.type]), {id: 'events'})));
  },

  tasks(box, r, consents) {
    if (Customer.refused(box, 'Tasks', r, 'tasks.read')) {
      return;
    }
    const known = new Set(consents && consents.ok ? consents.body.history.map((c) => c.id) : []);
    const consentCell = (t) => {
      if (t.consent === null || t.consent === undefined) {
        return Dom.el('span', {class: 'muted'}, 'no consent record (another lawful basis)');
      }
      if (!known.has(t.consent)) {
        return '#' + t.consent;
      }
      return Dom.el('a', {href: '#', class: 'consent-link', onclick: (ev) => {
        ev.preventDefault();
        document.querySelectorAll('tr.highlight').forEach((x) => x.classList.remove('highlight'));
        const row = document.getElementById('consent-' + t.consent);
        row.classList.add('highlight');
        row.scrollIntoView({block: 'center'});
      }}, 'record #' + t.consent);
    };
    const tasks = r.body.tasks;
    Dom.fill(box, Dom.card('Tasks (' + Api.purpose() + ')', tasks.length ?
      Dom.table(['#', 'trigger', 'channel', 'sink', 'state', 'reason', 'attempts', 'created',
                 'authorised by'],
                tasks.map((t) => [t.id, t.trigger, t.channel, t.sink, t.state, Dom.text(t.reason),
                                  t.attempts, Dom.time(t.created), consentCell(t)]), {id: 'tasks'}) :
      Dom.note('No task of this purpose.')));
  },
};
