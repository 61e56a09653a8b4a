package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// careRetention is the --care-retention flag: how long the care data of a
// person who withdrew their registration is kept, readable only for care,
// before maintenance erases it (registry.Options.CareRetention). It takes
// days ("90d") or a Go duration ("2160h"); 0, the default, erases care data
// with the person. serve and maintain must be given the same value: it is
// what every receipt tells the person.
type careRetention time.Duration

func (c *careRetention) String() string {
	d := time.Duration(*c)
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

func (c *careRetention) Set(s string) error {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("care retention %q: days must be a whole number", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("care retention %q: give days (90d) or a duration (2160h)", s)
		}
	}
	if d < 0 {
		return fmt.Errorf("care retention %q: must not be negative", s)
	}
	*c = careRetention(d)
	return nil
}

func (c *careRetention) Type() string { return "days" }

func addCareRetentionFlag(fs *pflag.FlagSet, c *careRetention) {
	fs.Var(c, "care-retention", "keep a withdrawn person's care data (exams, blood type, specimen custody) this long, readable only for care, then erase it (days like 90d, or a duration); 0 erases it with the person. Give serve and maintain the same value")
}
