// OneCity operator dashboard: refreshes the server-rendered page every 5 s
// from /api/v1/day and /api/v1/series (docs/web-api.md).  Our own code,
// under the project's licence; no library, nothing fetched from elsewhere.
// Each figure has data-k (its path in the day's JSON) and data-f (int,
// money, ms), formatted as engine/web-dash.c formats them.
'use strict';
(function () {
  var main = document.getElementById('dashboard');
  if (!main) return;
  var day = main.getAttribute('data-day');
  var cur = main.getAttribute('data-currency');
  var H = 100;

  // As money_text() (fare/explain.c): "€1,234.56", "USD 2.90".
  function money(c) {
    var a = Math.abs(c), s = String(Math.floor(a / 100)).replace(
        /\B(?=(\d{3})+(?!\d))/g, ',') + '.' +
        String(a % 100).padStart(2, '0');
    s = (cur === 'EUR' || cur === '') ? '\u20ac' + s : cur + ' ' + s;
    return (c < 0 ? '-' : '') + s;
  }
  function get(o, path) {
    var parts = path.split('.');
    for (var i = 0; i < parts.length && o != null; i++) {
      // Keys may hold dots (a network id): try the longest match first.
      var k = parts.slice(i).join('.');
      if (Object.prototype.hasOwnProperty.call(o, k)) return o[k];
      o = o[parts[i]];
    }
    return o;
  }
  function fmt(f, v) {
    if (f === 'money') return money(v);
    if (f === 'ms') return v.toFixed(1) + ' ms';
    return String(v);
  }
  function cell(tag, k, f, v, cls) {
    var e = document.createElement(tag);
    if (k) { e.setAttribute('data-k', k); e.setAttribute('data-f', f); }
    if (cls) e.className = cls;
    if (tag === 'th') e.setAttribute('scope', 'row');
    e.textContent = f ? fmt(f, v) : v;
    return e;
  }
  function rows(id, list) {
    var tb = document.getElementById(id);
    if (!tb) return;
    tb.replaceChildren.apply(tb, list);
  }
  function tr(children) {
    var r = document.createElement('tr');
    children.forEach(function (c) { r.appendChild(c); });
    return r;
  }
  function keyed(d) {
    var rb = d.taps.refused_by_reason;
    rows('refused', Object.keys(rb).map(function (k) {
      return tr([cell('th', null, null, k),
        cell('td', 'taps.refused_by_reason.' + k, 'int', rb[k], 'num')]);
    }));
    var js = d.journeys_by_status;
    rows('statuses', Object.keys(js).map(function (k) {
      return tr([cell('th', null, null, k),
        cell('td', 'journeys_by_status.' + k + '.legs', 'int', js[k].legs,
            'num'),
        cell('td', 'journeys_by_status.' + k + '.fares_cents', 'money',
            js[k].fares_cents, 'num')]);
    }));
    var rv = d.revenue_cents, max = 1;
    Object.keys(rv).forEach(function (k) { if (rv[k] > max) max = rv[k]; });
    rows('operators', Object.keys(rv).map(function (k) {
      var bar = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      bar.setAttribute('class', 'bar');
      bar.setAttribute('viewBox', '0 0 100 10');
      bar.setAttribute('preserveAspectRatio', 'none');
      bar.setAttribute('aria-hidden', 'true');
      var rect = document.createElementNS('http://www.w3.org/2000/svg',
          'rect');
      rect.setAttribute('width', rv[k] > 0 ? Math.floor(rv[k] * 100 / max) :
          0);
      rect.setAttribute('height', '10');
      bar.appendChild(rect);
      var td = document.createElement('td');
      td.appendChild(bar);
      var th = document.createElement('th'), ab = document.createElement(
          'abbr');
      ab.title = d.operators[k] || k;
      ab.textContent = k;
      th.appendChild(ab);
      return tr([th,
        cell('td', 'revenue_cents.' + k, 'money', rv[k], 'num'), td]);
    }));
    rows('silent', d.validators.silent.map(function (v) {
      return cell('li', null, null, v.device_id + ', last tap received ' +
          v.last_utc);
    }));
  }
  function figures(d) {
    document.querySelectorAll('[data-k]').forEach(function (e) {
      var v = get(d, e.getAttribute('data-k'));
      if (v === undefined || v === null) return;
      e.textContent = fmt(e.getAttribute('data-f'), v);
    });
  }
  function chart(s) {
    var max = 0, peak = 0, d = 'M0,' + H;
    s.taps_per_minute.forEach(function (v, i) {
      if (v > max) { max = v; peak = i; }
    });
    s.taps_per_minute.forEach(function (v, i) {
      d += 'V' + (H - Math.floor(v * H / (max || 1))) + 'H' + (i + 1);
    });
    document.getElementById('chart-line').setAttribute('d', d + 'V' + H +
        'Z');
    document.getElementById('peak').textContent = String(max);
  }
  function refresh() {
    var q = '?day=' + encodeURIComponent(day);
    Promise.all([fetch('/api/v1/day' + q), fetch('/api/v1/series' + q)])
      .then(function (r) {
        if (!r[0].ok || !r[1].ok) throw new Error('HTTP ' + r[0].status);
        return Promise.all([r[0].json(), r[1].json()]);
      })
      .then(function (j) {
        keyed(j[0]);
        figures(j[0]);
        chart(j[1]);
        main.setAttribute('data-refreshes',
            String(Number(main.getAttribute('data-refreshes')) + 1));
        main.classList.remove('stale');
      })
      .catch(function () { main.classList.add('stale'); })
      .finally(function () { setTimeout(refresh, 5000); });
  }
  setTimeout(refresh, 5000);
})();
