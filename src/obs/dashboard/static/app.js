/*
 * Tessera dashboard page: polls /api/dashboard every second and renders nodes, groups, leader changes
 * and two uPlot charts. Every value goes into the page through textContent (never parsed as markup), so node
 * addresses and keys cannot inject markup. Served by the node itself (src/obs/dashboard/routes.ts).
 */
(function () {
  'use strict';
  var POLL_MS = 1000;
  var TIMEOUT_MS = 2500;
  var charts = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells, attrs) {
    var tr = document.createElement('tr');
    Object.keys(attrs || {}).forEach(function (k) {
      tr.setAttribute(k, String(attrs[k]));
    });
    cells.forEach(function (c) {
      var td = document.createElement('td');
      if (c instanceof Node) td.appendChild(c);
      else td.textContent = c === null || c === undefined ? '' : String(c);
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(tableId, rows) {
    var body = document.querySelector('#' + tableId + ' tbody');
    body.replaceChildren.apply(body, rows);
  }

  function ago(ms) {
    if (ms === null) return '-';
    return ms < 1000 ? ms + ' ms ago' : (ms / 1000).toFixed(1) + ' s ago';
  }

  function renderNodes(s) {
    fill(
      'nodes',
      s.nodes.map(function (n) {
        var state = el('span', n.up ? 'up' : 'down', n.up ? 'up' : 'down');
        // The node registry's state (meta shard) when it is not "up": down, draining, removed.
        var registry = n.state && n.state !== 'up' ? ' (registry: ' + n.state + ')' : '';
        var cell = el('span');
        cell.append(state, registry);
        var id = n.self ? n.id + ' (this node)' : n.id;
        var heard = n.self ? 'now' : ago(n.heardAgoMs);
        var tr = row([id, n.address, cell, heard, n.leads], { 'data-node': n.id, 'data-state': n.up ? 'up' : 'down' });
        if (n.state === 'removed') tr.className = 'dim';
        return tr;
      }),
    );
  }

  function renderGroups(s) {
    var down = {};
    s.nodes.forEach(function (n) {
      if (!n.up) down[n.id] = true;
    });
    fill(
      'groups',
      s.groups.map(function (g) {
        var replicas = g.replicas
          .map(function (r) {
            var name = (r.id === g.leader ? '*' : '') + r.id + (r.voter ? '' : ' (learner)');
            return r.behind === null || r.id === g.leader ? name : name + ' (' + r.behind + ')';
          })
          .join(', ');
        var leaderDown = g.leader !== 0 && down[g.leader] === true;
        var leader =
          g.leader === 0
            ? el('span', 'none', 'down')
            : leaderDown
              ? el('span', g.leader + ' (down)', 'down')
              : String(g.leader);
        var tr = row([g.id, g.range, leader, g.term, g.role, g.applied, g.lag, replicas], {
          'data-group': g.id,
          'data-leader': g.leader,
        });
        if (g.leader === 0 || leaderDown) tr.className = 'warn';
        return tr;
      }),
    );
    document.getElementById('groups-count').textContent =
      s.groupsCut > 0
        ? '(' + s.groups.length + ' of ' + s.groupsTotal + ' shown, ' + s.groupsCut + ' cut)'
        : '(' + s.groupsTotal + ')';
  }

  function renderChanges(s) {
    fill(
      'changes',
      s.leaderChanges.map(function (c) {
        return row([new Date(c.atMs).toLocaleTimeString(), c.group, c.from || 'none', c.to || 'none', c.term], {
          'data-change-group': c.group,
        });
      }),
    );
  }

  function chartWidth() {
    return Math.max(300, Math.min(900, document.querySelector('main').clientWidth - 20));
  }

  function makeCharts() {
    if (typeof uPlot === 'undefined') {
      document.getElementById('charts-note').textContent =
        'charts unavailable (uPlot asset missing: run npm run build)';
      return null;
    }
    var w = chartWidth();
    var rate = {
      scale: 'y',
      value: function (u, v) {
        return v === null ? '-' : v.toFixed(1) + '/s';
      },
    };
    var ms = {
      scale: 'y',
      value: function (u, v) {
        return v === null ? '-' : v.toFixed(2) + ' ms';
      },
    };
    var throughput = new uPlot(
      {
        title: 'Throughput (per second)',
        width: w,
        height: 180,
        series: [
          {},
          Object.assign({ label: 'writes', stroke: '#1f77b4' }, rate),
          Object.assign({ label: 'reads', stroke: '#2ca02c' }, rate),
          Object.assign({ label: 'entries applied', stroke: '#ff7f0e' }, rate),
        ],
        axes: [{}, { label: 'per second' }],
      },
      [[], [], [], []],
      document.getElementById('chart-throughput'),
    );
    var latency = new uPlot(
      {
        title: 'Latency (ms)',
        width: w,
        height: 180,
        series: [
          {},
          Object.assign({ label: 'commit p50', stroke: '#9467bd' }, ms),
          Object.assign({ label: 'commit p99', stroke: '#d62728' }, ms),
          Object.assign({ label: 'fsync p99', stroke: '#8c564b' }, ms),
        ],
        axes: [{}, { label: 'ms' }],
      },
      [[], [], [], []],
      document.getElementById('chart-latency'),
    );
    return { throughput: throughput, latency: latency };
  }

  function renderCharts(s) {
    if (charts === null) charts = makeCharts();
    if (charts === null) return;
    var t = s.series;
    charts.throughput.setData([t.t, t.writesPerSec, t.readsPerSec, t.appliedPerSec]);
    charts.latency.setData([t.t, t.commitP50Ms, t.commitP99Ms, t.fsyncP99Ms]);
  }

  function setStatus(text, bad) {
    var status = document.getElementById('status');
    status.textContent = text;
    status.className = bad ? 'status bad' : 'status';
  }

  function render(s) {
    renderNodes(s);
    renderGroups(s);
    renderChanges(s);
    renderCharts(s);
    var when = s.sampledAtMs ? new Date(s.sampledAtMs).toLocaleTimeString() : 'no sample yet';
    setStatus(
      'updated ' + when + ' (every ' + POLL_MS / 1000 + ' s; a peer is down after ' + s.downAfterMs + ' ms unheard)',
      false,
    );
  }

  function poll() {
    var ctrl = new AbortController();
    var timer = setTimeout(function () {
      ctrl.abort();
    }, TIMEOUT_MS);
    fetch('/api/dashboard', { cache: 'no-store', signal: ctrl.signal })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(render)
      .catch(function (e) {
        setStatus('this node does not answer (' + e.message + '); retrying', true);
      })
      .finally(function () {
        clearTimeout(timer);
        setTimeout(poll, POLL_MS);
      });
  }

  window.addEventListener('resize', function () {
    if (charts === null) return;
    var w = chartWidth();
    charts.throughput.setSize({ width: w, height: 180 });
    charts.latency.setSize({ width: w, height: 180 });
  });
  poll();
})();
