// The auditor's check of the latest checkpoint, in the browser: fetch the
// signed note and the verifier key from the public audit routes and verify
// the Ed25519 signature with WebCrypto (proof.js).
(function () {
  'use strict';
  var btn = document.querySelector('[data-verify-checkpoint]');
  var out = document.getElementById('checkpoint-status');
  if (!btn || !out) return;
  btn.addEventListener('click', async function () {
    out.setAttribute('data-checkpoint-status', 'checking');
    try {
      var note = await (await fetch('/v1/audit/checkpoint', { credentials: 'same-origin' })).text();
      var key = (await (await fetch('/v1/audit/key', { credentials: 'same-origin' })).json()).verifier_key;
      var vk = await window.AssentProof.parseVerifierKey(key);
      var cp = await window.AssentProof.openNote(note, vk);
      out.setAttribute('data-checkpoint-status', 'verified');
      out.textContent = out.dataset.ok + ' (' + cp.size + ')';
    } catch (err) {
      out.setAttribute('data-checkpoint-status', 'failed');
      out.textContent = out.dataset.bad + ' (' + String(err && err.message || err) + ')';
    }
  });
})();
