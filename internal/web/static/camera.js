// Face capture from the device camera (progressive enhancement). Without
// JavaScript, without getUserMedia or without a camera the page stays a
// plain file upload. With them, the registrar starts the camera, takes a
// still into a canvas, and the still goes into the form's file input as a
// JPEG file, so the same form post stores it. No inline script: the page's
// CSP allows only 'self' scripts with the nonce.
(function () {
  var box = document.querySelector('[data-camera]');
  if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
      typeof DataTransfer === 'undefined' || !HTMLCanvasElement.prototype.toBlob) {
    return;
  }
  var input = document.getElementById(box.getAttribute('data-camera-for'));
  var position = document.getElementById(box.getAttribute('data-camera-position'));
  var start = box.querySelector('[data-camera-start]');
  var take = box.querySelector('[data-camera-take]');
  var video = box.querySelector('[data-camera-video]');
  var still = box.querySelector('[data-camera-still]');
  var status = box.querySelector('[data-camera-status]');
  var stream = null;
  if (!input || !start || !take || !video || !still || !status) {
    return;
  }
  box.hidden = false;

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }
  }

  start.addEventListener('click', function () {
    status.textContent = '';
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      take.hidden = false;
      start.hidden = true;
      box.setAttribute('data-camera-state', 'live');
    }, function () {
      box.setAttribute('data-camera-state', 'unavailable');
      status.textContent = box.getAttribute('data-msg-denied');
    });
  });

  take.addEventListener('click', function () {
    var w = video.videoWidth, h = video.videoHeight;
    if (!stream || !w || !h) {
      return;
    }
    still.width = w;
    still.height = h;
    still.getContext('2d').drawImage(video, 0, 0, w, h);
    still.toBlob(function (blob) {
      if (!blob) {
        status.textContent = box.getAttribute('data-msg-denied');
        return;
      }
      var dt = new DataTransfer();
      dt.items.add(new File([blob], 'face.jpg', { type: 'image/jpeg', lastModified: Date.now() }));
      input.files = dt.files;
      if (position && position.querySelector('option[value="face"]')) {
        position.value = 'face';
      }
      still.hidden = false;
      status.textContent = box.getAttribute('data-msg-taken');
      box.setAttribute('data-camera-state', 'taken');
    }, 'image/jpeg', 0.92);
  });

  // Release the camera when the still is submitted or the page is left.
  if (input.form) {
    input.form.addEventListener('submit', stop);
  }
  window.addEventListener('pagehide', stop);
})();
