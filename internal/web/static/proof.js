// Checks of Assent's signed audit log, run in the reader's own browser with
// WebCrypto: the checkpoint's Ed25519 signature (C2SP signed note, note
// verifier key) and RFC 6962 / RFC 9162 inclusion proofs (SHA-256).
// verify.js (the person's portal) and audit.js (the auditor) use it.
window.AssentProof = (function () {
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

  return { b64: b64, hex: hex, sha256: sha256, parseVerifierKey: parseVerifierKey, openNote: openNote, verifyInclusion: verifyInclusion };
})();
