// The receipt's print button (no inline handlers: the page's CSP forbids them).
document.querySelectorAll('[data-print]').forEach(function (b) {
  b.addEventListener('click', function () { window.print(); });
});
