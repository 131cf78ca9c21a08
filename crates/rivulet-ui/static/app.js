// Rivulet UI script: local times, copy buttons, keyboard use, auto-refresh, and the trace
// waterfall. No dependencies; pages work without it except for the waterfall.
(function () {
  'use strict';
  var base = document.body.dataset.base || '';

  // MLflow's UI links (#/experiments/3/traces) keep working after the switch.
  var legacy = location.hash.match(/^#\/experiments\/(\d+)(?:\/([\w-]+))?/);
  if (legacy) {
    var tabs = { runs: 'runs', traces: 'traces', 'chat-sessions': 'sessions' };
    location.replace(base + '/ui/experiments/' + legacy[1] + '/' + (tabs[legacy[2]] || 'traces'));
    return;
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  var timeFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  function localize(root) {
    root.querySelectorAll('time[data-ms]').forEach(function (el) {
      var date = new Date(Number(el.dataset.ms));
      el.textContent = timeFormat.format(date);
      el.title = date.toISOString();
    });
  }
  localize(document);

  // Clipboard: the async API needs a secure context, which plain-http ingresses are not.
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); } finally { area.remove(); }
    return Promise.resolve();
  }

  document.addEventListener('click', function (event) {
    var target = event.target;
    var button = target.closest('button[data-copy]');
    if (button) {
      copy(button.dataset.copy).then(function () {
        var label = button.textContent;
        button.textContent = 'copied';
        button.classList.add('done');
        setTimeout(function () { button.textContent = label; button.classList.remove('done'); }, 1200);
      });
      return;
    }
    if (target.closest('[data-back]')) {
      event.preventDefault();
      history.back();
      return;
    }
    var row = target.closest('tr[data-href]');
    if (row && !target.closest('a, button, input, label, select, summary')) location.href = row.dataset.href;
  });

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // Keyboard: "/" searches, j/k walk table rows, Enter opens the focused row.
  function typing(el) {
    return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
  }
  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (event.target.closest && event.target.closest('#waterfall')) return;
    if (event.key === '/') {
      var search = document.querySelector('[data-search]');
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    var rows = Array.prototype.slice.call(document.querySelectorAll('table[data-rows] tbody tr[data-href]'));
    if (!rows.length) return;
    var at = rows.indexOf(document.activeElement);
    if (event.key === 'j' || event.key === 'k') {
      var next = event.key === 'j' ? Math.min(rows.length - 1, at + 1) : Math.max(0, at < 0 ? 0 : at - 1);
      rows[next].focus();
      event.preventDefault();
    } else if (event.key === 'Enter' && at >= 0) {
      location.href = rows[at].dataset.href;
    }
  });

  // Auto-refresh of the traces table: only the rows are fetched and swapped.
  var refresh = document.getElementById('autorefresh');
  if (refresh) {
    var timer = null;
    var tbody = document.getElementById(refresh.dataset.target);
    var tick = function () {
      if (document.hidden) return;
      var url = new URL(location.href);
      url.searchParams.set('fragment', 'rows');
      fetch(url, { headers: { 'x-requested-with': 'rivulet' } }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (html !== null && tbody) { tbody.innerHTML = html; localize(tbody); }
      }).catch(function () {});
    };
    var apply = function () {
      clearInterval(timer);
      timer = refresh.checked ? setInterval(tick, 5000) : null;
      try { localStorage.setItem('rivulet.autorefresh', refresh.checked ? '1' : ''); } catch (e) { /* private mode */ }
    };
    try { refresh.checked = localStorage.getItem('rivulet.autorefresh') === '1'; } catch (e) { /* private mode */ }
    refresh.addEventListener('change', apply);
    apply();
  }

  var onlyDiff = document.querySelector('[data-only-diff]');
  if (onlyDiff) {
    onlyDiff.addEventListener('change', function () {
      document.querySelectorAll('table.compare').forEach(function (t) { t.classList.toggle('only-diff', onlyDiff.checked); });
    });
  }

  var waterfall = document.getElementById('waterfall');
  if (waterfall) initWaterfall(waterfall);

  function formatDuration(us) {
    if (us < 1000) return us + ' µs';
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 1 : 0) + ' ms';
    if (us < 6e7) return (us / 1e6).toFixed(2) + ' s';
    return Math.floor(us / 6e7) + ' min ' + Math.round((us % 6e7) / 1e6) + ' s';
  }

  // The waterfall renders only the rows in view (plus a margin), so 30,000 spans cost what 40 do.
  function initWaterfall(wf) {
    var ROW = 26;
    var OVERSCAN = 12;
    var panel = document.getElementById('span-panel');
    var filterBox = document.getElementById('span-filter');
    var counter = document.getElementById('wf-count');
    var cache = new Map();
    var S, n, kids, roots, depth, collapsed, visible, total, selected = -1, matches = null;
    var viewport, spacer, rowsBox, rendered = { from: -1, to: -1 }, pending = false;

    fetch(wf.dataset.tree).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(build).catch(function (error) {
      wf.innerHTML = '<p class="notice error">Could not load the spans: ' + esc(error.message) + '</p>';
    });

    function build(data) {
      S = data.spans;
      n = S.length;
      kids = new Array(n);
      roots = [];
      depth = new Int32Array(n);
      collapsed = new Uint8Array(n);
      total = 1;
      for (var i = 0; i < n; i++) {
        var end = S[i][4] + S[i][5];
        if (end > total) total = end;
        var p = S[i][1];
        if (p < 0 || p >= n || p === i) { roots.push(i); continue; }
        (kids[p] || (kids[p] = [])).push(i);
      }
      // Depths by walking down from the roots (spans come in start order, parents first or not).
      var stack = roots.slice();
      while (stack.length) {
        var at = stack.pop();
        var children = kids[at];
        if (children) for (var c = 0; c < children.length; c++) { depth[children[c]] = depth[at] + 1; stack.push(children[c]); }
      }
      wf.innerHTML = '<div class="wf-head" aria-hidden="true"><div>Span</div><div class="wf-axis">' + axis() + '</div></div>' +
        '<div class="wf-viewport"><div class="wf-spacer"><div class="wf-rows"></div></div></div>';
      viewport = wf.querySelector('.wf-viewport');
      spacer = wf.querySelector('.wf-spacer');
      rowsBox = wf.querySelector('.wf-rows');
      viewport.addEventListener('scroll', schedule, { passive: true });
      window.addEventListener('resize', schedule);
      rowsBox.addEventListener('click', onClick);
      wf.addEventListener('keydown', onKey);
      if (filterBox) filterBox.addEventListener('input', function () { setFilter(filterBox.value); });
      document.querySelectorAll('[data-wf]').forEach(function (b) {
        b.addEventListener('click', function () { setAll(b.dataset.wf === 'collapse'); });
      });
      panel.addEventListener('click', function (event) {
        var link = event.target.closest('[data-span-link]');
        if (!link) return;
        var idx = indexOf(link.dataset.spanLink);
        if (idx >= 0) { event.preventDefault(); select(idx, true); }
      });
      relayout();
      var wanted = wf.dataset.selected ? indexOf(wf.dataset.selected) : -1;
      select(wanted >= 0 ? wanted : (roots.length ? roots[0] : -1), true, wanted >= 0 && panel.querySelector('.span-head'));
      wf.dataset.ready = '1';
      window.__rivuletWaterfallReady = performance.now();
    }

    function axis() {
      var out = '';
      for (var k = 0; k <= 4; k++) out += '<span style="left:' + (k * 25) + '%">' + formatDuration(Math.round(total * k / 4)) + '</span>';
      return out;
    }

    function indexOf(spanId) {
      for (var i = 0; i < n; i++) if (S[i][0] === spanId) return i;
      return -1;
    }

    function relayout() {
      visible = [];
      var stack = roots.slice().reverse();
      while (stack.length) {
        var at = stack.pop();
        if (matches && !matches[at]) continue;
        visible.push(at);
        var children = kids[at];
        if (children && (!collapsed[at] || matches)) for (var c = children.length - 1; c >= 0; c--) stack.push(children[c]);
      }
      spacer.style.height = (visible.length * ROW) + 'px';
      if (counter) counter.textContent = matches ? visible.length + ' of ' + n + ' spans' : n + ' spans';
      rendered = { from: -1, to: -1 };
      draw();
    }

    function schedule() {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; draw(); });
    }

    function draw() {
      var top = viewport.scrollTop;
      var from = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
      var to = Math.min(visible.length, Math.ceil((top + viewport.clientHeight) / ROW) + OVERSCAN);
      if (from === rendered.from && to === rendered.to) return;
      rendered = { from: from, to: to };
      var html = '';
      for (var v = from; v < to; v++) html += rowHtml(visible[v], v);
      rowsBox.style.transform = 'translateY(' + (from * ROW) + 'px)';
      rowsBox.innerHTML = html;
    }

    function rowHtml(i, v) {
      var s = S[i];
      var hasKids = !!kids[i];
      var left = (s[4] / total) * 100;
      var width = Math.max((s[5] / total) * 100, 0.15);
      var type = s[3] || '';
      var cls = 'wf-row' + (i === selected ? ' sel' : '') + (s[6] === 2 ? ' error' : '');
      var caret = hasKids ? '<span class="caret" data-toggle="' + i + '">' + (collapsed[i] && !matches ? '▸' : '▾') + '</span>' : '<span class="caret"></span>';
      var meta = (s[7] ? ' · ' + esc(s[7]) : '') + (s[8] != null ? ' · ' + s[8] + ' tok' : '');
      return '<div class="' + cls + '" role="treeitem" id="wf-' + i + '" data-i="' + i + '" aria-level="' + (depth[i] + 1) + '"' +
        (hasKids ? ' aria-expanded="' + (!collapsed[i]) + '"' : '') + ' aria-selected="' + (i === selected) + '" aria-setsize="' + visible.length + '" aria-posinset="' + (v + 1) + '">' +
        '<div class="wf-label" style="padding-left:' + Math.min(depth[i], 30) * 14 + 'px">' + caret +
        (type ? '<span class="type t-' + esc(type) + '">' + esc(type) + '</span>' : '') + '<span class="wf-name">' + esc(s[2]) + '</span></div>' +
        '<div class="wf-track"><div class="wf-bar" style="left:' + left + '%;width:' + width + '%"></div>' +
        label(left, width, formatDuration(s[5]) + meta) + '</div></div>';
    }

    // The duration label sits after the bar, before it when the bar reaches the right edge, or
    // inside a bar that spans nearly the whole trace.
    function label(left, width, text) {
      if (left + width <= 78) return '<span class="wf-dur" style="left:' + (left + width) + '%">' + text + '</span>';
      if (left >= 22) return '<span class="wf-dur before" style="right:' + (100 - left) + '%">' + text + '</span>';
      return '<span class="wf-dur inside" style="left:' + left + '%">' + text + '</span>';
    }

    function onClick(event) {
      var toggle = event.target.closest('[data-toggle]');
      var row = event.target.closest('.wf-row');
      if (!row) return;
      var i = Number(row.dataset.i);
      if (toggle) { collapsed[i] = collapsed[i] ? 0 : 1; relayout(); return; }
      select(i, false);
      wf.focus({ preventScroll: true });
    }

    function setAll(collapse) {
      for (var i = 0; i < n; i++) collapsed[i] = collapse && kids[i] ? 1 : 0;
      relayout();
      if (selected >= 0) reveal(selected);
    }

    function setFilter(text) {
      text = text.trim().toLowerCase();
      if (!text) { matches = null; relayout(); return; }
      matches = new Uint8Array(n);
      var parentOf = function (i) { var p = S[i][1]; return p >= 0 && p < n && p !== i ? p : -1; };
      for (var i = 0; i < n; i++) {
        if (S[i][2].toLowerCase().indexOf(text) >= 0 || S[i][3].toLowerCase().indexOf(text) >= 0 || S[i][7].toLowerCase().indexOf(text) >= 0) {
          // A match keeps its ancestors visible, so the tree stays a tree.
          for (var at = i, guard = 0; at >= 0 && !matches[at] && guard < 10000; at = parentOf(at), guard++) matches[at] = 1;
        }
      }
      relayout();
    }

    function reveal(i) {
      var changed = false;
      for (var p = S[i][1], guard = 0; p >= 0 && p < n && guard < 10000; p = S[p][1], guard++) {
        if (collapsed[p]) { collapsed[p] = 0; changed = true; }
      }
      if (changed) relayout();
      var v = visible.indexOf(i);
      if (v < 0) return;
      var top = v * ROW;
      if (top < viewport.scrollTop || top + ROW > viewport.scrollTop + viewport.clientHeight) {
        viewport.scrollTop = Math.max(0, top - viewport.clientHeight / 3);
      }
    }

    function select(i, scroll, keepPanel) {
      if (i < 0) return;
      selected = i;
      wf.setAttribute('aria-activedescendant', 'wf-' + i);
      if (scroll) reveal(i);
      rendered = { from: -1, to: -1 };
      draw();
      var spanId = S[i][0];
      var url = new URL(location.href);
      url.searchParams.set('span', spanId);
      history.replaceState(null, '', url);
      if (keepPanel) { cache.set(spanId, panel.innerHTML); return; }
      if (cache.has(spanId)) { panel.innerHTML = cache.get(spanId); localize(panel); return; }
      panel.setAttribute('aria-busy', 'true');
      fetch(wf.dataset.spans + encodeURIComponent(spanId)).then(function (r) { return r.text(); }).then(function (html) {
        cache.set(spanId, html);
        if (selected === i) { panel.innerHTML = html; localize(panel); }
        panel.removeAttribute('aria-busy');
      });
    }

    function onKey(event) {
      if (!visible || !visible.length) return;
      var v = Math.max(0, visible.indexOf(selected));
      var page = Math.max(1, Math.floor(viewport.clientHeight / ROW) - 1);
      var move = function (to) { select(visible[Math.max(0, Math.min(visible.length - 1, to))], true); event.preventDefault(); };
      switch (event.key) {
        case 'ArrowDown': case 'j': move(v + 1); break;
        case 'ArrowUp': case 'k': move(v - 1); break;
        case 'PageDown': move(v + page); break;
        case 'PageUp': move(v - page); break;
        case 'Home': move(0); break;
        case 'End': move(visible.length - 1); break;
        case 'ArrowRight':
          if (kids[selected] && collapsed[selected]) { collapsed[selected] = 0; relayout(); event.preventDefault(); } else if (kids[selected]) move(v + 1);
          break;
        case 'ArrowLeft':
          if (kids[selected] && !collapsed[selected]) { collapsed[selected] = 1; relayout(); event.preventDefault(); } else if (S[selected][1] >= 0) { select(S[selected][1], true); event.preventDefault(); }
          break;
        case 'Enter': panel.focus(); event.preventDefault(); break;
        default:
      }
    }
  }
})();
