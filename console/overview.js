// The overview: counts, activity per hour, tasks by state, lifecycle stages (GET /v1/stats and
// /v1/stats/activity, role admin), segment sizes (GET /v1/segments, segments.read) and the RFM
// grid as a heat map (GET /v1/scores/{name}, models.read). A part the role may not read says so
// and sends no request.
'use strict';

const Overview = {
  palette: ['#2f5da8', '#4f8fd9', '#1e7b34', '#8a5a00', '#b3261e', '#6b4fa8', '#5b6575', '#0f7c7c'],

  async render(view) {
    const stats = Dom.el('div');
    const activity = Dom.el('div');
    const segments = Dom.el('div');
    const rfm = Dom.el('div');
    Dom.fill(view, Dom.el('h1', null, 'Overview'), stats, activity,
             Dom.el('div', {class: 'grid'}, segments, rfm));
    await Promise.all([Overview.stats(stats), Overview.activity(activity),
                       Overview.segments(segments), Overview.rfm(rfm)]);
  },

  chart(kind, labels, datasets, options) {
    const canvas = Dom.el('canvas');
    const box = Dom.el('div', {class: 'chart'}, canvas);
    const chart = new Chart(canvas, {
      type: kind,
      data: {labels, datasets},
      options: Object.assign({animation: false, maintainAspectRatio: false, responsive: true,
                              plugins: {legend: {display: datasets.length > 1}}}, options || {}),
    });
    App.charts.push(chart);
    return box;
  },

  async stats(box) {
    if (!Api.can('admin')) {
      Dom.fill(box, Dom.card('Counts', Dom.note('Counts over the whole base need the admin ' +
                                                'permission, which this role does not have.')));
      return;
    }
    const r = await Api.get('/v1/stats');
    if (!r.ok) {
      Dom.fill(box, Dom.card('Counts', Dom.note(Api.problem(r), 'error')));
      return;
    }
    const s = r.body;
    const figure = (n, label) => Dom.el('div', {class: 'figure'},
                                        Dom.el('div', {class: 'n'}, Number(n).toLocaleString()),
                                        Dom.el('div', {class: 'l'}, label));
    const tasks = Object.keys(s.tasks);
    const stages = Object.keys(s.lifecycle);
    Dom.fill(box,
      Dom.card('Counts', Dom.el('div', {class: 'figures', id: 'figures'},
        figure(s.profiles, 'profiles'), figure(s.events, 'events'),
        figure(Object.values(s.tasks).reduce((a, b) => a + b, 0), 'tasks'),
        figure(s.timers_due_24h, 'timers due in 24 h')),
        Dom.note('as of ' + s.at)),
      Dom.el('div', {class: 'grid'},
        Dom.card('Tasks by state', Overview.chart('bar', tasks, [{
          label: 'tasks', data: tasks.map((k) => s.tasks[k]), backgroundColor: Overview.palette}])),
        Dom.card('Lifecycle stages', Overview.chart('bar', stages, [{
          label: 'profiles', data: stages.map((k) => s.lifecycle[k]),
          backgroundColor: Overview.palette}]))));
  },

  async activity(box) {
    if (!Api.can('admin')) {
      return;
    }
    const r = await Api.get('/v1/stats/activity');
    if (!r.ok) {
      Dom.fill(box, Dom.card('Activity per hour', Dom.note(Api.problem(r), 'error')));
      return;
    }
    const hours = r.body.hours;
    const labels = hours.map((h) => new Date(h.hour).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'}));
    const series = {profiles: 'profiles created', events: 'events (by their time)',
                    tasks: 'tasks created'};
    Dom.fill(box, Dom.card('Activity per hour (last ' + hours.length + ' hours)',
      Overview.chart('line', labels, Object.entries(series).map(([name, label], i) => ({
        label, data: hours.map((h) => h[name]),
        borderColor: Overview.palette[i], backgroundColor: Overview.palette[i], tension: 0.2})))));
  },

  async segments(box) {
    if (!Api.can('segments.read')) {
      Dom.fill(box, Dom.card('Segments', Dom.note('This role may not read segments.')));
      return;
    }
    const r = await Api.get('/v1/segments');
    if (!r.ok) {
      Dom.fill(box, Dom.card('Segments', Dom.note(Api.problem(r), 'error')));
      return;
    }
    const list = r.body.segments;
    if (list.length === 0) {
      Dom.fill(box, Dom.card('Segments', Dom.note('No segment this purpose may use.')));
      return;
    }
    Dom.fill(box, Dom.card('Segment sizes (' + Api.purpose() + ')',
      Overview.chart('bar', list.map((s) => s.name), [{
        label: 'members', data: list.map((s) => s.members), backgroundColor: Overview.palette[1]}],
        {indexAxis: 'y'}),
      Dom.table(['segment', 'members', 'complete'], list.map((s) => [
        s.name, s.members, s.complete ? 'yes' : 'no (a lower bound)']))));
  },

  // The eight RFM groups as a 2 x 4 grid: recency high/low by frequency and monetary high/low.
  groups: [
    ['important_value', 'general_value', 'important_development', 'general_development'],
    ['important_retention', 'general_retention', 'important_winback', 'general_winback'],
  ],

  async rfm(box) {
    if (!Api.can('models.read')) {
      Dom.fill(box, Dom.card('RFM grid', Dom.note('This role may not read scores.')));
      return;
    }
    const name = sessionStorage.getItem('portrait.score') || 'rfm';
    const input = Dom.el('input', {id: 'score-name', value: name, size: 10});
    const body = Dom.el('div');
    const load = async () => {
      sessionStorage.setItem('portrait.score', input.value);
      const r = await Api.get('/v1/scores/' + Api.seg(input.value));
      if (!r.ok) {
        Dom.fill(body, Dom.note(r.status === 404 ? 'No refreshed score of that name.' :
                                Api.problem(r), 'muted'));
        return;
      }
      Dom.fill(body, Overview.heat(r.body));
    };
    Dom.fill(box, Dom.card('RFM grid', Dom.el('div', {class: 'toolbar'}, 'score', input,
                                              Dom.el('button', {type: 'button', onclick: load}, 'Show')),
                           body));
    await load();
  },

  heat(score) {
    const groups = score.groups || {};
    const max = Math.max(1, ...Object.values(groups));
    const cell = (group) => {
      const n = groups[group] || 0;
      const td = Dom.el('td', {class: 'cell', 'data-group': group}, String(n),
                        Dom.el('span', {class: 'g'}, group.replace('_', ' ')));
      const a = 0.12 + 0.88 * (n / max);
      td.style.backgroundColor = 'rgba(47, 93, 168, ' + a.toFixed(2) + ')';
      td.style.color = a > 0.45 ? '#fff' : '#1d2430';
      return td;
    };
    const head = ['', 'F high, M high', 'F high, M low', 'F low, M high', 'F low, M low'];
    return Dom.el('div', null,
      Dom.el('table', {class: 'heat', id: 'rfm-grid'},
        Dom.el('thead', null, Dom.el('tr', null, head.map((h) => Dom.el('th', null, h)))),
        Dom.el('tbody', null,
          Dom.el('tr', null, Dom.el('th', null, 'R high'), Overview.groups[0].map(cell)),
          Dom.el('tr', null, Dom.el('th', null, 'R low'), Overview.groups[1].map(cell)))),
      Dom.note('version ' + score.version + ', ' + score.customers + ' customers, refreshed ' +
               score.refreshed_at));
  },
};
