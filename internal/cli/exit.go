package cli

import "errors"

func asExitCoder(err error, target *exitCoder) bool { return errors.As(err, target) }
