package cli

import (
	"strings"
	"testing"
)

// TestGalleryRefusesBadSnapshotInterval: a snapshot interval that is not
// positive, or longer than half the stream's retention (the changes after a
// snapshot would be gone before the next), is refused with one line.
func TestGalleryRefusesBadSnapshotInterval(t *testing.T) {
	for _, every := range []string{"-5s", "0s", "200h"} {
		code, out := run("gallery", "--snapshot-every", every)
		if code == 0 || !strings.Contains(out, "--snapshot-every") || !strings.Contains(out, "at most 84h0m0s") {
			t.Errorf("gallery --snapshot-every %s: exit %d, output %q; want it refused", every, code, out)
		}
	}
}
