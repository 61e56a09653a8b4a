package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// This file is owned by the fingerprint engine work; it is replaced when the engine lands.

func newEvalFingerprintCmd() *cobra.Command {
	return &cobra.Command{Use: "fingerprint", Short: "Evaluate the fingerprint engine (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errors.New("eval fingerprint: engine not built yet") }}
}

func newBenchFingerprintCmd() *cobra.Command {
	return &cobra.Command{Use: "fingerprint", Short: "Benchmark the fingerprint 1:N scan (not built yet)",
		RunE: func(*cobra.Command, []string) error { return errors.New("bench fingerprint: engine not built yet") }}
}
