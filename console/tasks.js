// Tasks: the purpose's dead and retrying tasks (GET /v1/tasks?state=), or any state chosen, with
// retry and cancel (POST /v1/tasks/{n}/retry, /cancel) for roles with tasks.write. After a retry
// the row follows the task until it settles (delivered, dead, suppressed).
'use strict';

const Tasks = {
  states: ['dead', 'retrying', 'pending', 'sending', 'delivered', 'suppressed', 'cancelled'],

  async render(view) {
    if (!Api.can('tasks.read')) {
      Dom.fill(view, Dom.el('h1', null, 'Tasks'), Dom.note('This role has no tasks.read permission.'));
      return;
    }
    const pick = Dom.el('select', {id: 'task-state'},
      Dom.el('option', {value: ''}, 'dead and retrying'),
      Tasks.states.map((s) => Dom.el('option', {value: s}, s)));
    const body = Dom.el('div');
    const load = () => Tasks.load(body, pick.value ? [pick.value] : ['dead', 'retrying']);
    pick.addEventListener('change', load);
    Dom.fill(view, Dom.el('h1', null, 'Tasks'),
             Dom.el('div', {class: 'toolbar'}, 'state', pick,
                    Dom.el('button', {type: 'button', onclick: load}, 'Reload')), body);
    await load();
  },

  async load(body, states) {
    const answers = await Promise.all(
        states.map((s) => Api.get('/v1/tasks?state=' + s + '&limit=100')));
    Dom.fill(body, states.map((s, i) => {
      const r = answers[i];
      if (!r.ok) {
        return Dom.card(s, Dom.note(Api.problem(r), 'error'));
      }
      const tasks = r.body.tasks;
      return Dom.card(s + ' (' + tasks.length + (r.body.next_after !== null ? '+' : '') + ')',
        tasks.length ? Dom.table(['#', 'trigger', 'customer', 'channel', 'sink', 'state', 'reason',
                                  'attempts', 'updated', ''],
                                 tasks.map((t) => ({cells: Tasks.cells(t), attrs: {id: 'task-' + t.id}})),
                                 {id: 'tasks-' + s}) :
                       Dom.note('None.'));
    }));
  },

  cells(t) {
    const actions = Dom.el('span');
    if (Api.can('tasks.write')) {
      if (['dead', 'suppressed', 'cancelled'].includes(t.state)) {
        actions.appendChild(Dom.el('button', {type: 'button', class: 'retry',
                                              onclick: () => Tasks.change(t, 'retry')}, 'Retry'));
      }
      if (['pending', 'retrying'].includes(t.state)) {
        actions.appendChild(Dom.el('button', {type: 'button', class: 'cancel',
                                              onclick: () => Tasks.change(t, 'cancel')}, 'Cancel'));
      }
    }
    return [t.id, t.trigger, Dom.el('span', {class: 'mono'}, t.internal_id), t.channel, t.sink,
            Dom.el('span', {class: 'state'}, t.state), Dom.text(t.reason), t.attempts,
            Dom.time(t.updated), actions];
  },

  // Retries or cancels `t`, then shows its state until it settles (at most ~30 s).
  async change(t, verb) {
    const row = document.getElementById('task-' + t.id);
    const r = await Api.post('/v1/tasks/' + t.id + '/' + verb);
    if (!r.ok) {
      alert(Api.problem(r));
      return;
    }
    const show = (task) => Dom.fill(row, Tasks.cells(task).map((c) => Dom.el('td', null, c)));
    show(r.body);
    const settled = ['delivered', 'dead', 'suppressed', 'cancelled'];
    for (let i = 0; i < 60 && !settled.includes(r.body.state); ++i) {
      await new Promise((done) => setTimeout(done, 500));
      const now = await Api.get('/v1/tasks?after=' + (t.id - 1) + '&limit=1');
      if (!now.ok || now.body.tasks.length === 0 || now.body.tasks[0].id !== t.id) {
        return;
      }
      show(now.body.tasks[0]);
      if (settled.includes(now.body.tasks[0].state)) {
        return;
      }
    }
  },
};
