// The person's own check of their access log, in their browser: the
// checkpoint's Ed25519 signature (C2SP signed note, WebCrypto Ed25519) and
// each entry's RFC 6962 inclusion proof (WebCrypto SHA-256) against the
// signed root. The page then marks each entry data-proof-status =
// "verified" or "failed"; an entry the server shows without a valid proof
// is "failed". Nothing here trusts the server's word that it verified.
(function () {
  'use strict';
  var enc = new TextEncoder();

  function b64(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function concat() {
    var n = 0, i, off = 0;
    for (i = 0; i < arguments.length; i++) n += arguments[i].length;
    var out = new Uint8Array(n);
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], off); off += arguments[i].length; }
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  async function sha256(b) { return new Uint8Array(await crypto.subtle.digest('SHA-256', b)); }
  function hex(b) { return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join(''); }

  // A note verifier key: name+hash(8 hex)+base64(0x01 || 32-byte Ed25519 key).
  async function parseVerifierKey(vkey) {
    // The base64 key may itself contain '+': split at the first two only.
    var i1 = vkey.indexOf('+'), i2 = vkey.indexOf('+', i1 + 1);
    if (i1 < 0 || i2 < 0) throw new Error('verifier key');
    var parts = [vkey.slice(0, i1), vkey.slice(i1 + 1, i2), vkey.slice(i2 + 1)];
    var name = parts[0], raw = b64(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error('verifier key type');
    var id = (await sha256(concat(enc.encode(name + '\n'), raw))).slice(0, 4);
    if (hex(id) !== parts[1].toLowerCase()) throw new Error('verifier key hash');
    var pub = raw.slice(1);
    var key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    return { name: name, id: id, pub: pub, key: key };
  }

  // openNote checks the note's signature by vk and returns the checkpoint.
  async function openNote(noteText, vk) {
    var split = noteText.lastIndexOf('\n\n');
    if (split < 0) throw new Error('note format');
    var text = noteText.slice(0, split + 1);
    var sigs = noteText.slice(split + 2).split('\n');
    var ok = false;
    for (var i = 0; i < sigs.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(sigs[i]);
      if (!m || m[1] !== vk.name) continue;
      var sig = b64(m[2]);
      if (sig.length !== 68 || !equal(sig.slice(0, 4), vk.id)) continue;
      if (await crypto.subtle.verify({ name: 'Ed25519' }, vk.key, sig.slice(4), enc.encode(text))) ok = true;
    }
    if (!ok) throw new Error('checkpoint signature');
    var lines = text.slice(0, -1).split('\n');
    if (lines.length < 3 || lines[0] !== vk.name || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('checkpoint body');
    var root = b64(lines[2]);
    if (root.length !== 32) throw new Error('checkpoint root');
    return { size: Number(lines[1]), root: root };
  }

  // RFC 9162 section 2.1.3.2: verify an inclusion proof.
  async function verifyInclusion(index, size, leafHash, proof, root) {
    if (index >= size) return false;
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (p.length !== 32 || sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(new Uint8Array([1]), p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha256(concat(new Uint8Array([1]), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  }

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
    var vk = await parseVerifierKey(log.verifier_key);
    var fp = hex((await sha256(vk.pub)).slice(0, 8));
    var keyCell = document.getElementById('audit-key');
    keyCell.textContent = fp.slice(0, 4) + ' ' + fp.slice(4, 8) + ' ' + fp.slice(8, 12) + ' ' + fp.slice(12, 16);
    keyCell.setAttribute('data-audit-key', keyCell.textContent);
    var cp = await openNote(log.checkpoint, vk);
    var byIndex = {};
    (log.entries || []).forEach(function (e) { byIndex[e.index] = e; });
    var allOK = true;
    for (var i = 0; i < rows.length; i++) {
      var e = byIndex[rows[i].getAttribute('data-entry')];
      var ok = false;
      if (e && e.leaf_hash) {
        try {
          ok = await verifyInclusion(e.index, cp.size, b64(e.leaf_hash), (e.inclusion_proof || []).map(b64), cp.root);
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
