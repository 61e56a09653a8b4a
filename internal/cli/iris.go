package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// This file is owned by the iris engine work; it is replaced when the engine lands.

func newEvalIrisCmd() *cobra.Command {
	return &cobra.Command{Use: "iris", Short: "Evaluate the iris engine (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errors.New("eval iris: engine not built yet") }}
}

func newBenchIrisCmd() *cobra.Command {
	return &cobra.Command{Use: "iris", Short: "Benchmark the iris 1:N scan (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errors.New("bench iris: engine not built yet") }}
}
