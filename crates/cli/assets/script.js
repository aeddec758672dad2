// Glinto tracker (Plausible Events API format); documented in crates/cli/src/tracker.rs
(function (w, d) {
  var s = d.currentScript, l = w.location, src = s.src,
    api = s.getAttribute('data-api') || new URL(src).origin + '/api/event',
    dom = s.getAttribute('data-domain') || l.hostname,
    hash = s.hasAttribute('data-hash') || /\.hash\./.test(src),
    last, q = w.plausible && w.plausible.q || [];

  function send(n, o) {
    o = o || {};
    if (/^file:/.test(l.protocol) || w.localStorage && localStorage.plausible_ignore == 'true') return o.callback && o.callback();
    var b = {n: n, u: o.u || l.href, d: dom, r: d.referrer || null, w: w.innerWidth};
    if (o.props) b.p = o.props;
    if (o.revenue) b.$ = o.revenue;
    if (o.interactive === false) b.i = false;
    if (hash) b.h = 1;
    fetch(api, {method: 'POST', headers: {'Content-Type': 'text/plain'}, body: JSON.stringify(b), keepalive: true})
      .then(function () { o.callback && o.callback(); }, function () {});
  }

  function page() {
    var p = hash ? l.pathname + l.hash : l.pathname;
    if (p != last) { last = p; send('pageview'); }
  }

  if (s.hasAttribute('data-outbound') || /\.outbound-links\./.test(src))
    d.addEventListener('click', function (e) {
      var a = e.target.closest && e.target.closest('a[href]');
      if (a && a.host && a.host != l.host) send('Outbound Link: Click', {props: {url: a.href}});
    }, true);

  var push = history.pushState;
  if (push && !hash) {
    history.pushState = function () { push.apply(this, arguments); page(); };
    w.addEventListener('popstate', page);
  }
  if (hash) w.addEventListener('hashchange', page);

  w.plausible = send;
  for (var i = 0; i < q.length; i++) send.apply(this, q[i]);
  d.visibilityState == 'prerender'
    ? d.addEventListener('visibilitychange', function v() { if (d.visibilityState == 'visible') { d.removeEventListener('visibilitychange', v); page(); } })
    : page();
})(window, document);
