package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version, the VCS revision it was built from, and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			return printVersion(cmd.OutOrStdout(), bi)
		},
	}
}

// printVersion writes one line: the version (Version when set at link
// time, else the module version: a tag for `go install ...@vX`, "(devel)"
// for a build in a checkout), the VCS revision and time the build recorded
// (with "+dirty" for uncommitted changes), and the Go version.
func printVersion(w io.Writer, bi *debug.BuildInfo) error {
	version, rev, when, dirty, goVersion := Version, "unknown", "", false, ""
	if bi != nil {
		goVersion = bi.GoVersion
		if version == "dev" && bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if dirty {
		rev += "+dirty"
	}
	line := fmt.Sprintf("assent %s revision %s", version, rev)
	if when != "" {
		line += " (" + when + ")"
	}
	if goVersion != "" {
		line += " " + goVersion
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
