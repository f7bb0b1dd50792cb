// The console's shell: sign-in (the token kept in sessionStorage only), the purpose picker for
// roles with several, sign-out (which forgets the token), and the views by the URL's fragment:
// #/overview, #/customer/ID, #/tasks, #/audit. When a view has drawn, <body data-view> names it
// and data-ms holds how long it took (the tests and the timing script read them).
'use strict';

const App = {
  charts: [],
  generation: 0,  // of route(): a view drawn after another was asked for marks nothing
  views: {overview: Overview, customer: Customer, tasks: Tasks, audit: Audit},

  async start() {
    document.getElementById('signin').addEventListener('submit', App.signIn);
    document.getElementById('signout').addEventListener('click', App.signOut);
    document.getElementById('purpose').addEventListener('change', (e) => {
      Api.setPurpose(e.target.value);
      App.route();
    });
    window.addEventListener('hashchange', App.route);
    window.addEventListener('portrait-unauthorised', () => App.signOut('Signed out: the token ' +
                                                                       'was refused.'));
    if (Api.token()) {
      const error = await Api.signIn(Api.token());
      if (error) {
        return App.signOut(error);
      }
      return App.enter();
    }
    App.showSignIn('');
  },

  showSignIn(message) {
    document.getElementById('bar').hidden = true;
    document.getElementById('view').hidden = true;
    document.getElementById('signin-view').hidden = false;
    document.getElementById('signin-error').textContent = message || '';
    document.getElementById('token').value = '';
    document.body.dataset.view = 'signin';
  },

  async signIn(event) {
    event.preventDefault();
    const token = document.getElementById('token').value.trim();
    document.getElementById('token').value = '';
    const error = await Api.signIn(token);
    if (error) {
      return App.showSignIn(error);
    }
    App.enter();
  },

  signOut(message) {
    Api.signOut();
    App.clearCharts();
    Dom.fill(document.getElementById('view'));
    history.replaceState(null, '', location.pathname);
    App.showSignIn(typeof message === 'string' ? message : 'Signed out.');
  },

  enter() {
    document.getElementById('signin-view').hidden = true;
    document.getElementById('bar').hidden = false;
    document.getElementById('view').hidden = false;
    Dom.fill(document.getElementById('who'), Api.me.token + ' (' + Api.me.role + ')');
    const pick = document.getElementById('purpose');
    Dom.fill(pick, Api.me.purposes.map((p) => Dom.el('option', {value: p}, p)));
    pick.value = Api.purpose();
    pick.parentElement.hidden = Api.me.purposes.length < 2;
    App.route();
  },

  clearCharts() {
    App.charts.forEach((c) => c.destroy());
    App.charts = [];
  },

  async route() {
    if (!Api.me) {
      return;
    }
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    const name = App.views[parts[0]] ? parts[0] : 'overview';
    const arg = parts.length > 1 ? decodeURIComponent(parts.slice(1).join('/')) : '';
    for (const v of Object.keys(App.views)) {
      document.getElementById('nav-' + v).classList.toggle('current', v === name);
    }
    App.clearCharts();
    const view = document.getElementById('view');
    delete document.body.dataset.view;
    const generation = ++App.generation;
    const started = performance.now();
    await App.views[name].render(view, arg);
    if (generation !== App.generation) {
      return;
    }
    document.body.dataset.ms = String(Math.round(performance.now() - started));
    document.body.dataset.view = name;
  },
};

document.addEventListener('DOMContentLoaded', App.start);
