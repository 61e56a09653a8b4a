// The person's own check of their access log, in their browser: the
// checkpoint's Ed25519 signature (C2SP signed note, WebCrypto Ed25519) and
// each entry's RFC 6962 inclusion proof (WebCrypto SHA-256) against the
// signed root. The page then marks each entry data-proof-status =
// "verified" or "failed"; an entry the server shows without a valid proof
// is "failed". Nothing here trusts the server's word that it verified.
(function () {
  'use strict';
  var P = window.AssentProof, b64 = P.b64, hex = P.hex, sha256 = P.sha256;
  var words = document.getElementById('proof-words');
  var summary = document.getElementById('log-summary');
  var rows = document.querySelectorAll('tr[data-entry]');
  function mark(row, ok) {
    row.setAttribute('data-proof-status', ok ? 'verified' : 'failed');
    var cell = row.querySelector('[data-proof-cell]');
    if (cell) cell.textContent = ok ? words.dataset.verified : words.dataset.failed;
  }
  function finish(allOK, detail) {
    summary.setAttribute('data-log-status', allOK ? 'verified' : 'failed');
    summary.textContent = allOK ? words.dataset.allVerified : words.dataset.someFailed + (detail ? ' (' + detail + ')' : '');
  }

  async function run() {
    var res = await fetch('/portal/access-log.json', { credentials: 'same-origin', headers: { 'Accept': 'application/json' } });
    if (!res.ok) throw new Error('access log ' + res.status);
    var log = await res.json();
    var vk = await P.parseVerifierKey(log.verifier_key);
    var fp = hex((await sha256(vk.pub)).slice(0, 8));
    var keyCell = document.getElementById('audit-key');
    keyCell.textContent = fp.slice(0, 4) + ' ' + fp.slice(4, 8) + ' ' + fp.slice(8, 12) + ' ' + fp.slice(12, 16);
    keyCell.setAttribute('data-audit-key', keyCell.textContent);
    var cp = await P.openNote(log.checkpoint, vk);
    var byIndex = {};
    (log.entries || []).forEach(function (e) { byIndex[e.index] = e; });
    var allOK = true;
    for (var i = 0; i < rows.length; i++) {
      var e = byIndex[rows[i].getAttribute('data-entry')];
      var ok = false;
      if (e && e.leaf_hash) {
        try {
          ok = await P.verifyInclusion(e.index, cp.size, b64(e.leaf_hash), (e.inclusion_proof || []).map(b64), cp.root);
        } catch (err) { ok = false; }
      }
      mark(rows[i], ok);
      allOK = allOK && ok;
    }
    finish(allOK, '');
  }

  run().catch(function (err) {
    rows.forEach(function (r) { mark(r, false); });
    finish(false, String(err && err.message || err));
  });
})();
